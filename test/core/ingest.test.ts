import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { HeraldError, matchesEventType } from "../../src/index.js";
import { closeEngines, openEngine, storeOf } from "../helpers/engine.js";

afterEach(closeEngines);

const URL_A = "https://a.example.com/hook";
const URL_B = "https://b.example.com/hook";

describe("event matching", () => {
  it("exact types, * and prefix wildcards match as documented", () => {
    expect(matchesEventType(["agent.*"], "agent.started")).toBe(true);
    expect(matchesEventType(["agent.*"], "agent.task.done")).toBe(true);
    expect(matchesEventType(["agent.*"], "agent")).toBe(false);
    expect(matchesEventType(["agent.*"], "agents.started")).toBe(false);
    expect(matchesEventType(["agent.started"], "agent.stopped")).toBe(false);
    expect(matchesEventType(["custom", "agent.started"], "custom")).toBe(true);
    expect(matchesEventType(["*"], "ConnectionUpdated")).toBe(true);
  });

  it("* does not match Herald's own events; naming them does", () => {
    expect(matchesEventType(["*"], "webhook.created")).toBe(false);
    expect(matchesEventType(["webhook.*"], "webhook.created")).toBe(true);
    expect(matchesEventType(["delivery.exhausted"], "delivery.exhausted")).toBe(true);
  });

  it("an event fans out to every matching webhook and to no other", async () => {
    const herald = await openEngine();
    const agents = await herald.webhooks.create({ url: URL_A, events: ["agent.*"] });
    const everything = await herald.webhooks.create({ url: URL_B, events: ["*"] });
    await herald.webhooks.create({ url: URL_B, events: ["workflow.completed"] });
    const { deliveries } = await herald.trigger("agent.started", {});
    const targets = await Promise.all(deliveries.map(async (id) => (await herald.deliveries.get(id)).webhookId));
    expect(targets.sort()).toEqual([agents.id, everything.id].sort());
  });

  it("inactive and disabled webhooks get no new deliveries", async () => {
    const herald = await openEngine();
    const paused = await herald.webhooks.create({ url: URL_A, status: "inactive" });
    const disabled = await herald.webhooks.create({ url: URL_B });
    await (await storeOf(herald)).setWebhookStatus(disabled.id, "disabled", "test", Date.now());
    expect((await herald.trigger("custom", {})).deliveries).toHaveLength(0);
    await herald.webhooks.resume(paused.id);
    expect((await herald.trigger("custom", {})).deliveries).toHaveLength(1);
  });

  it("a global webhook receives every tenant's events; a tenant webhook only its own", async () => {
    const herald = await openEngine();
    const other = await herald.tenants.create({ name: "other" });
    const global = await herald.webhooks.create({ url: URL_A }, { tenantId: null });
    const mine = await herald.webhooks.create({ url: URL_B });
    const theirs = await herald.webhooks.create({ url: URL_B }, { tenantId: other.id });

    const fromDefault = await herald.trigger("custom", {});
    const fromOther = await herald.trigger("custom", {}, null, { tenantId: other.id });
    const webhooksOf = async (ids: string[]) => (await Promise.all(ids.map(async (id) => (await herald.deliveries.get(id)).webhookId))).sort();
    expect(await webhooksOf(fromDefault.deliveries)).toEqual([global.id, mine.id].sort());
    expect(await webhooksOf(fromOther.deliveries)).toEqual([global.id, theirs.id].sort());
  });

  it("one tenant cannot read another tenant's webhooks, events or deliveries", async () => {
    const herald = await openEngine();
    const other = await herald.tenants.create({ name: "other" });
    const webhook = await herald.webhooks.create({ url: URL_A });
    const { event, deliveries } = await herald.trigger("custom", {});
    const scope = { tenantId: other.id };
    await expect(herald.webhooks.get(webhook.id, scope)).rejects.toMatchObject({ code: "HERALD_ERR_WEBHOOK_NOT_FOUND" });
    await expect(herald.events.get(event.id, scope)).rejects.toMatchObject({ code: "HERALD_ERR_EVENT_NOT_FOUND" });
    await expect(herald.deliveries.get(deliveries[0]!, scope)).rejects.toMatchObject({ code: "HERALD_ERR_DELIVERY_NOT_FOUND" });
    expect((await herald.webhooks.list(scope)).items).toHaveLength(0);
  });
});

describe("idempotent ingest", () => {
  it("an event posted again with the same id returns the original and is not delivered twice", async () => {
    const herald = await openEngine();
    await herald.webhooks.create({ url: URL_A });
    const id = randomUUID();
    const first = await herald.trigger("custom", { n: 1 }, null, { id });
    const again = await herald.trigger("custom", { n: 2 }, null, { id });
    expect(again.duplicate).toBe(true);
    expect(again.event.id).toBe(id);
    expect(again.event.data).toEqual({ n: 1 });
    expect(again.deliveries).toEqual(first.deliveries);
    expect((await herald.deliveries.countByState()).pending).toBe(1);
  });

  it("the same Idempotency-Key returns the original event", async () => {
    const herald = await openEngine();
    await herald.webhooks.create({ url: URL_A });
    const first = await herald.trigger("custom", {}, null, { idempotencyKey: "order-42" });
    const again = await herald.trigger("custom", {}, null, { idempotencyKey: "order-42" });
    expect(again.duplicate).toBe(true);
    expect(again.event.id).toBe(first.event.id);
    expect((await herald.deliveries.list()).items).toHaveLength(1);
  });

  it("concurrent triggers share a commit, and each caller gets its own event and deliveries", async () => {
    const herald = await openEngine();
    await herald.webhooks.create({ url: URL_A });
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => herald.trigger("custom", { i })));
    expect(new Set(results.map((r) => r.event.id)).size).toBe(50);
    results.forEach((r, i) => expect(r.event.data).toEqual({ i }));
    for (const r of results) {
      expect(r.deliveries).toHaveLength(1);
      expect((await herald.deliveries.get(r.deliveries[0]!)).eventId).toBe(r.event.id);
    }
  });

  it("one conflicting event among concurrent triggers fails only its own caller", async () => {
    const herald = await openEngine();
    const other = await herald.tenants.create({ name: "other" });
    await herald.webhooks.create({ url: URL_A });
    const taken = randomUUID();
    await herald.trigger("custom", {}, null, { id: taken, tenantId: other.id });
    const outcomes = await Promise.allSettled([
      herald.trigger("custom", { n: 1 }),
      herald.trigger("custom", { n: 2 }, null, { id: taken }), // that id belongs to another tenant's event
      herald.trigger("custom", { n: 3 }),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ code: "HERALD_ERR_EVENT_ID_CONFLICT", field: "id" });
    const kept = outcomes.filter((o): o is PromiseFulfilledResult<Awaited<ReturnType<typeof herald.trigger>>> => o.status === "fulfilled");
    for (const o of kept) expect((await herald.events.get(o.value.event.id)).data).toHaveProperty("n");
  });

  it("a batch is written whole: one bad event rejects the batch and writes nothing", async () => {
    const herald = await openEngine();
    await herald.webhooks.create({ url: URL_A });
    await expect(herald.triggerMany([{ type: "ok", data: {} }, { type: "bad type!", data: {} }])).rejects.toMatchObject({
      field: "events[1].type",
    });
    expect((await herald.events.list()).items.filter((e) => e.type === "ok")).toHaveLength(0);
    const results = await herald.triggerMany([{ type: "a", data: 1 }, { type: "b", data: 2 }]);
    expect(results.map((r) => r.deliveries.length)).toEqual([1, 1]);
  });
});

describe("bad input to library calls throws a typed error naming the field", () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ["missing url", {}, "url"],
    ["a url that is not a URL", { url: "not a url" }, "url"],
    ["a url with another scheme", { url: "ftp://example.com/x" }, "url"],
    ["an unknown event pattern", { url: URL_A, events: ["agent.**"] }, "events[0]"],
    ["an empty event list", { url: URL_A, events: [] }, "events"],
    ["an unknown method", { url: URL_A, method: "GET" }, "method"],
    ["a reserved header", { url: URL_A, headers: { "Content-Length": "1" } }, "headers.Content-Length"],
    ["a header value with a line break", { url: URL_A, headers: { "X-A": "a\r\nb" } }, "headers.X-A"],
    ["an unknown auth type", { url: URL_A, auth: { type: "oauth" } }, "auth.type"],
    ["bearer auth without a token", { url: URL_A, auth: { type: "bearer", credentials: {} } }, "auth.credentials.token"],
    ["negative maxAttempts", { url: URL_A, retry: { maxAttempts: -1 } }, "retry.maxAttempts"],
    ["fractional initialDelayMs", { url: URL_A, retry: { initialDelayMs: 1.5 } }, "retry.initialDelayMs"],
    ["maxDelayMs below initialDelayMs", { url: URL_A, retry: { initialDelayMs: 5000, maxDelayMs: 10 } }, "retry.maxDelayMs"],
    ["an unknown strategy", { url: URL_A, retry: { strategy: "random" } }, "retry.strategy"],
    ["jitter above 1", { url: URL_A, retry: { jitter: 2 } }, "retry.jitter"],
    ["an unknown retry setting", { url: URL_A, retry: { tries: 3 } }, "retry.tries"],
    ["a timeout of zero", { url: URL_A, timeoutMs: 0 }, "timeoutMs"],
    ["maxConcurrency of zero", { url: URL_A, maxConcurrency: 0 }, "maxConcurrency"],
    ["an unknown payload format", { url: URL_A, payloadFormat: "xml" }, "payloadFormat"],
    ["a negative rate limit", { url: URL_A, rateLimitPerSecond: -5 }, "rateLimitPerSecond"],
    ["a secret without whsec_", { url: URL_A, secret: "plain" }, "secret"],
    ["an unknown field", { url: URL_A, colour: "red" }, "colour"],
  ];
  it.each(cases)("webhooks.create with %s", async (_name, input, field) => {
    const herald = await openEngine();
    const error = await herald.webhooks.create(input as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HeraldError);
    expect(error).toMatchObject({ code: "HERALD_ERR_VALIDATION", field });
    expect((error as Error).message).toContain(field);
  });

  it("webhooks.update names the bad field and changes nothing", async () => {
    const herald = await openEngine();
    const webhook = await herald.webhooks.create({ url: URL_A, name: "kept" });
    await expect(herald.webhooks.update(webhook.id, { name: "new", timeoutMs: -1 })).rejects.toMatchObject({ field: "timeoutMs" });
    expect((await herald.webhooks.get(webhook.id)).name).toBe("kept");
  });

  it.each([
    ["an event type with spaces", "bad type", {}, "type"],
    ["an empty event type", "", {}, "type"],
    ["missing data", "custom", undefined, "data"],
  ] as const)("trigger with %s", async (_name, type, data, field) => {
    const herald = await openEngine();
    await expect(herald.trigger(type, data)).rejects.toMatchObject({ code: "HERALD_ERR_VALIDATION", field });
  });

  it("trigger with metadata that is not an object", async () => {
    const herald = await openEngine();
    await expect(herald.trigger("custom", {}, [1] as never)).rejects.toMatchObject({ field: "metadata" });
  });

  it("trigger with an id that is not a UUID", async () => {
    const herald = await openEngine();
    await expect(herald.trigger("custom", {}, null, { id: "evt-1" })).rejects.toMatchObject({ field: "id" });
  });

  it("trigger with an oversized payload is refused with HERALD_ERR_PAYLOAD_TOO_LARGE", async () => {
    const herald = await openEngine({ limits: { maxPayloadBytes: 1024 } });
    await expect(herald.trigger("custom", { blob: "x".repeat(2000) })).rejects.toMatchObject({
      code: "HERALD_ERR_PAYLOAD_TOO_LARGE",
      status: 413,
      field: "data",
    });
  });

  it("unknown ids answer not-found errors", async () => {
    const herald = await openEngine();
    const id = randomUUID();
    await expect(herald.webhooks.get(id)).rejects.toMatchObject({ code: "HERALD_ERR_WEBHOOK_NOT_FOUND", status: 404 });
    await expect(herald.webhooks.update(id, {})).rejects.toMatchObject({ code: "HERALD_ERR_WEBHOOK_NOT_FOUND" });
    await expect(herald.webhooks.delete(id)).rejects.toMatchObject({ code: "HERALD_ERR_WEBHOOK_NOT_FOUND" });
    await expect(herald.deliveries.retry(id)).rejects.toMatchObject({ code: "HERALD_ERR_DELIVERY_NOT_FOUND" });
    await expect(herald.events.get(id)).rejects.toMatchObject({ code: "HERALD_ERR_EVENT_NOT_FOUND" });
  });

  it("creating a webhook for an unknown tenant is refused", async () => {
    const herald = await openEngine();
    await expect(herald.webhooks.create({ url: URL_A }, { tenantId: randomUUID() })).rejects.toMatchObject({
      code: "HERALD_ERR_TENANT_NOT_FOUND",
      field: "tenantId",
    });
  });
});
