/**
 * The Svix-compatible API driven by the official `svix` client, unchanged but for the server URL
 * and the token, against a running Herald on a real socket (both stores): applications,
 * endpoints, messages, attempts, event types, auth and errors, and the same data through /v1.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Svix, Webhook } from "svix";
import { adminHeaders, closeAll, makeTenant, startReceiver, startTestServer, type TestServer } from "./helpers.js";
import { rejection } from "./svix-rejection.js";

afterEach(closeAll);

/** Polls until `check` returns a value (not undefined), or fails after `timeoutMs`. */
async function eventually<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function setup(): Promise<{ server: TestServer; svix: Svix }> {
  const server = await startTestServer({ HERALD_RATE_LIMIT_PER_SECOND: "100000" });
  return { server, svix: new Svix(server.adminApiKey, { serverUrl: server.url }) };
}

async function v1(server: TestServer, method: "GET" | "PATCH", url: string, payload?: object) {
  const response = await fetch(`${server.url}${url}`, {
    method,
    headers: { ...adminHeaders(server), ...(payload ? { "content-type": "application/json" } : {}) },
    ...(payload ? { body: JSON.stringify(payload) } : {}),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const DEFAULT_APP = "00000000-0000-0000-0000-000000000000"; // the default tenant: an application like any other
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

describe("svix client: applications", () => {
  it("create (with and without uid), get by id and uid, list pages, update, patch, getOrCreate, delete; each is a tenant in /v1", async () => {
    const { server, svix } = await setup();
    const acme = await svix.application.create({ name: "Acme", uid: "acme", metadata: { plan: "pro" } });
    expect(acme).toMatchObject({ name: "Acme", uid: "acme", metadata: { plan: "pro" } });
    expect(acme.createdAt).toBeInstanceOf(Date);
    const plain = await svix.application.create({ name: "Plain" });
    expect(plain.uid).toBeNull();
    expect((await svix.application.get("acme")).id).toBe(acme.id);
    expect((await svix.application.get(acme.id)).uid).toBe("acme");

    // The default tenant, Acme, Plain: one per page.
    const seen: string[] = [];
    let page = await svix.application.list({ limit: 1 });
    for (let i = 0; i < 5; i++) {
      seen.push(...page.data.map((a) => a.id));
      if (page.done) break;
      page = await svix.application.list({ limit: 1, iterator: page.iterator });
    }
    expect(page.done).toBe(true);
    expect(seen).toEqual([server.herald.defaultTenantId, acme.id, plain.id]);

    expect(await svix.application.update("acme", { name: "Acme Inc", uid: "acme" })).toMatchObject({ name: "Acme Inc", uid: "acme", metadata: {} });
    expect(await svix.application.patch(acme.id, { metadata: { tier: "gold" } })).toMatchObject({ name: "Acme Inc", metadata: { tier: "gold" } });
    expect((await svix.application.getOrCreate({ name: "ignored", uid: "acme" })).id).toBe(acme.id);
    const made = await svix.application.getOrCreate({ name: "New", uid: "new-app" });
    expect(made.id).not.toBe(acme.id);
    expect((await v1(server, "GET", `/v1/tenants/${made.id}`)).body).toMatchObject({ id: made.id, name: "New" });

    const taken = await rejection(svix.application.create({ name: "Again", uid: "acme" }));
    expect([taken.code, taken.body.code]).toEqual([409, "conflict"]);
    const limited = await rejection(svix.application.create({ name: "Limited", rateLimit: 5 }));
    expect([limited.code, limited.body.code]).toEqual([501, "not_supported"]);
    expect(String(limited.body.detail)).toContain("rateLimit");

    await svix.application.delete("acme");
    const gone = await rejection(svix.application.get(acme.id));
    expect([gone.code, gone.body.code]).toEqual([404, "not_found"]);
    expect((await v1(server, "GET", `/v1/tenants/${acme.id}`)).status).toBe(404);
  });
});

describe("svix client: endpoints", () => {
  it("every field round-trips; get by uid, list, update, patch, secrets, headers, stats, recover, delete; the same webhook in /v1", async () => {
    const { server, svix } = await setup();
    const receiver = await startReceiver();
    const app = await svix.application.create({ name: "Shop", uid: "shop" });
    const created = await svix.endpoint.create("shop", {
      url: receiver.url, description: "orders", filterTypes: ["order.paid", "order.sent"], channels: ["eu"], rateLimit: 50,
      uid: "orders", disabled: false, metadata: { team: "billing" }, secret: SECRET,
    });
    expect(created).toMatchObject({
      url: receiver.url, description: "orders", filterTypes: ["order.paid", "order.sent"], channels: ["eu"], rateLimit: 50,
      uid: "orders", disabled: false, metadata: { team: "billing" },
    });
    expect((await svix.endpoint.get("shop", "orders")).id).toBe(created.id);
    expect((await svix.endpoint.get(app.id, created.id)).uid).toBe("orders");
    expect((await svix.endpoint.list("shop")).data.map((e) => e.id)).toEqual([created.id]);
    expect((await svix.endpoint.getSecret("shop", "orders")).key).toBe(SECRET);

    const webhook = await v1(server, "GET", `/v1/webhooks/${created.id}`);
    expect(webhook.body).toMatchObject({ tenantId: app.id, events: ["order.paid", "order.sent"], channels: ["eu"], uid: "orders", payloadFormat: "svix", rateLimitPerSecond: 50 });

    const replaced = await svix.endpoint.update("shop", "orders", { url: receiver.url, uid: "orders" });
    expect(replaced).toMatchObject({ description: "", filterTypes: null, channels: null, rateLimit: null, metadata: {}, disabled: false });
    const patched = await svix.endpoint.patch("shop", created.id, { disabled: true, description: "paused" });
    expect(patched).toMatchObject({ disabled: true, description: "paused", uid: "orders" });
    expect((await v1(server, "GET", `/v1/webhooks/${created.id}`)).body.status).toBe("inactive");

    await svix.endpoint.rotateSecret("shop", created.id, {});
    const rotated = (await svix.endpoint.getSecret("shop", created.id)).key;
    expect(rotated).toMatch(/^whsec_/);
    expect(rotated).not.toBe(SECRET);
    await svix.endpoint.rotateSecret("shop", created.id, { key: "whsec_b2xkc2VjcmV0b2xkc2VjcmV0b2xkc2Vj" });
    expect((await svix.endpoint.getSecret("shop", created.id)).key).toBe("whsec_b2xkc2VjcmV0b2xkc2VjcmV0b2xkc2Vj");

    await svix.endpoint.updateHeaders("shop", created.id, { headers: { "X-Team": "billing", Authorization: "Bearer s3cret" } });
    expect(await svix.endpoint.getHeaders("shop", created.id)).toEqual({ headers: { "X-Team": "billing", Authorization: expect.not.stringContaining("s3cret") }, sensitive: ["Authorization"] });
    await svix.endpoint.patchHeaders("shop", created.id, { headers: { "X-Region": "eu" }, deleteHeaders: ["Authorization"] });
    expect(await svix.endpoint.getHeaders("shop", created.id)).toEqual({ headers: { "X-Team": "billing", "X-Region": "eu" }, sensitive: [] });

    expect(await svix.endpoint.getStats("shop", created.id)).toEqual({ success: 0, pending: 0, sending: 0, fail: 0, canceled: 0 });
    const recovery = await svix.endpoint.recover("shop", created.id, { since: new Date(Date.now() - 3_600_000) });
    expect(recovery).toMatchObject({ task: "endpoint.recover" });
    expect(["running", "finished"]).toContain(recovery.status);

    await svix.endpoint.delete("shop", "orders");
    const gone = await rejection(svix.endpoint.get("shop", created.id));
    expect([gone.code, gone.body.code]).toEqual([404, "not_found"]);
    expect((await v1(server, "GET", `/v1/webhooks/${created.id}`)).status).toBe(404);
  });
});

describe("svix client: messages", () => {
  it("the receiver gets the payload itself, verifiable with svix's Webhook; eventId and idempotency-key deliver once; get, list and /v1 see it", async () => {
    const { server, svix } = await setup();
    const receiver = await startReceiver();
    await svix.application.create({ name: "Shop", uid: "shop" });
    await svix.endpoint.create("shop", { url: receiver.url, secret: SECRET });
    const first = await svix.message.create("shop", { eventType: "order.paid", eventId: "ord_1", payload: { id: "ord_1", total: 42 } });
    expect(first).toMatchObject({ eventType: "order.paid", eventId: "ord_1", payload: { id: "ord_1", total: 42 } });
    const [request] = await receiver.waitFor(1);
    expect(JSON.parse(request!.body)).toEqual({ id: "ord_1", total: 42 });
    expect(request!.headers["webhook-id"]).toBe(first.id);
    const verified = new Webhook(SECRET).verify(request!.body, request!.headers as Record<string, string>);
    expect(verified).toEqual({ id: "ord_1", total: 42 });

    const again = await svix.message.create("shop", { eventType: "order.paid", eventId: "ord_1", payload: { id: "ord_1", total: 42 } });
    expect(again.id).toBe(first.id);
    const keyed = await svix.message.create("shop", { eventType: "order.sent", payload: { id: "ord_2" } }, { idempotencyKey: "send-ord-2" });
    expect((await svix.message.create("shop", { eventType: "order.sent", payload: { id: "ord_2" } }, { idempotencyKey: "send-ord-2" })).id).toBe(keyed.id);
    const last = await svix.message.create("shop", { eventType: "order.done", payload: { id: "ord_3" } });
    // The last message arrived, so the repeats would have too: each message was delivered once.
    await eventually(async () => (receiver.requests.some((r) => r.headers["webhook-id"] === last.id) ? true : undefined), "the last message");
    expect(receiver.requests.map((r) => r.headers["webhook-id"]).sort(), receiver.requests.map((r) => `${String(r.headers["webhook-id"])} ${r.body}`).join("\n")).toEqual([first.id, keyed.id, last.id].sort());

    expect(await svix.message.get("shop", first.id)).toMatchObject({ id: first.id, eventId: "ord_1", payload: { id: "ord_1", total: 42 } });
    // Herald's own events are the application's messages too (webhook.created when the endpoint was made).
    const listed = (await svix.message.list("shop")).data;
    expect(listed.filter((m) => !m.eventType.startsWith("webhook.")).map((m) => m.id)).toEqual([last.id, keyed.id, first.id]);
    expect(listed.map((m) => m.eventType)).toContain("webhook.created");
    expect((await svix.message.list("shop", { eventTypes: ["order.paid", "order.done"] })).data.map((m) => m.id)).toEqual([last.id, first.id]);
    const lastTime = (await svix.message.get("shop", last.id)).timestamp;
    expect((await svix.message.list("shop", { before: lastTime })).data.map((m) => m.id)).not.toContain(last.id);
    expect((await svix.message.list("shop", { after: lastTime })).data.map((m) => m.id)).toEqual([last.id]);
    expect((await v1(server, "GET", `/v1/events/${first.id}`)).body).toMatchObject({ id: first.id, type: "order.paid", data: { id: "ord_1", total: 42 } });
  });

  it("filterTypes, channels and disabled decide which endpoints get a message", async () => {
    const { svix } = await setup();
    const [typed, channelled, disabled, everything] = await Promise.all([startReceiver(), startReceiver(), startReceiver(), startReceiver()]);
    await svix.application.create({ name: "Shop", uid: "shop" });
    await svix.endpoint.create("shop", { url: typed!.url, filterTypes: ["order.paid"] });
    await svix.endpoint.create("shop", { url: channelled!.url, channels: ["eu"] });
    await svix.endpoint.create("shop", { url: disabled!.url, disabled: true });
    await svix.endpoint.create("shop", { url: everything!.url });
    const other = await svix.message.create("shop", { eventType: "order.sent", payload: { n: 1 } });
    const paidEu = await svix.message.create("shop", { eventType: "order.paid", payload: { n: 2 }, channels: ["eu"] });
    const paidUs = await svix.message.create("shop", { eventType: "order.paid", payload: { n: 3 }, channels: ["us"] });
    await everything!.waitFor(3);
    await typed!.waitFor(2);
    await channelled!.waitFor(1);
    const ids = (r: typeof typed) => r!.requests.map((request) => request.headers["webhook-id"]).sort();
    expect(ids(typed)).toEqual([paidEu.id, paidUs.id].sort());
    expect(ids(channelled)).toEqual([paidEu.id]);
    expect(ids(disabled)).toEqual([]);
    expect(ids(everything)).toEqual([other.id, paidEu.id, paidUs.id].sort());
    expect((await svix.message.get("shop", paidEu.id)).channels).toEqual(["eu"]);
    expect((await svix.message.list("shop", { channel: "eu" })).data.map((m) => m.id)).toEqual([paidEu.id]);
  });
});

describe("svix client: attempts", () => {
  it("a receiver answering 500 then 200: both attempts listed by endpoint and by message, got by id, filtered by status; resend makes another", async () => {
    const { server, svix } = await setup();
    const receiver = await startReceiver();
    receiver.status = 500;
    await svix.application.create({ name: "Shop", uid: "shop" });
    const endpoint = await svix.endpoint.create("shop", { url: receiver.url });
    // The retry schedule is /v1's to shorten: the same webhook.
    expect((await v1(server, "PATCH", `/v1/webhooks/${endpoint.id}`, { retry: { initialDelayMs: 200, maxDelayMs: 400, jitter: 0 } })).status).toBe(200);
    const message = await svix.message.create("shop", { eventType: "order.paid", payload: { id: 1 } });
    await receiver.waitFor(1);
    receiver.status = 200;
    const attempts = await eventually(async () => {
      const page = await svix.messageAttempt.listByMsg("shop", message.id);
      return page.data.length === 2 ? page.data : undefined;
    }, "two attempts");
    expect(attempts.map((a) => [a.status, a.responseStatusCode, a.msgId, a.endpointId])).toEqual([
      [0, 200, message.id, endpoint.id],
      [2, 500, message.id, endpoint.id],
    ]);
    expect(attempts[0]!.response).toBe("ok");
    expect(attempts[0]!.url).toBe(receiver.url);
    expect((await svix.messageAttempt.listByEndpoint("shop", endpoint.id)).data.map((a) => a.id)).toEqual(attempts.map((a) => a.id));
    expect((await svix.messageAttempt.listByEndpoint("shop", endpoint.id, { status: 2 })).data.map((a) => a.responseStatusCode)).toEqual([500]);
    expect((await svix.messageAttempt.listByMsg("shop", message.id, { status: 0 })).data.map((a) => a.responseStatusCode)).toEqual([200]);
    expect(await svix.messageAttempt.get("shop", message.id, attempts[1]!.id)).toMatchObject({ id: attempts[1]!.id, status: 2, responseStatusCode: 500 });
    expect(await svix.endpoint.getStats("shop", endpoint.id)).toMatchObject({ success: 1, fail: 0, pending: 0 });

    await svix.messageAttempt.resend("shop", message.id, endpoint.id);
    await receiver.waitFor(3);
    await eventually(async () => ((await svix.messageAttempt.listByMsg("shop", message.id)).data.length === 3 ? true : undefined), "the resent attempt");
    const unknown = await rejection(svix.messageAttempt.get("shop", message.id, "01a00000-0000-7000-8000-000000000000"));
    expect([unknown.code, unknown.body.code]).toEqual([404, "not_found"]);
  });
});

describe("svix client: event types", () => {
  it("create, list, get, update, patch, delete; a payload that breaks schemas[\"1\"] is a 422 naming the field, for every application", async () => {
    const { svix } = await setup();
    await svix.application.create({ name: "Shop", uid: "shop" });
    const schema = { type: "object", required: ["id"], properties: { id: { type: "string" } } };
    const created = await svix.eventType.create({ name: "order.paid", description: "An order was paid", schemas: { "1": schema } });
    expect(created).toMatchObject({ name: "order.paid", description: "An order was paid", schemas: { "1": schema }, deprecated: false });
    expect((await svix.eventType.list()).data.map((t) => t.name)).toEqual(["order.paid"]);
    expect((await svix.eventType.get("order.paid")).schemas).toEqual({ "1": schema });
    const taken = await rejection(svix.eventType.create({ name: "order.paid", description: "again" }));
    expect([taken.code, taken.body.code]).toEqual([409, "conflict"]);

    const invalid = await rejection(svix.message.create("shop", { eventType: "order.paid", payload: { total: 1 } }));
    expect(invalid.code).toBe(422);
    const detail = invalid.body.detail as Array<{ loc: unknown[]; msg: string; type: string }>;
    expect(detail[0]).toMatchObject({ loc: ["body", "payload", "id"], type: "value_error" });
    expect(detail[0]!.msg).toContain("order.paid");
    // The admin's event types hold for every application, the default tenant's too.
    expect((await rejection(svix.message.create(DEFAULT_APP, { eventType: "order.paid", payload: {} }))).code).toBe(422);
    await svix.message.create("shop", { eventType: "order.paid", payload: { id: "o1" } });

    expect(await svix.eventType.update("order.paid", { description: "Paid", schemas: { "1": { type: "object", required: ["total"] } } })).toMatchObject({ description: "Paid" });
    await svix.message.create("shop", { eventType: "order.paid", payload: { total: 1 } });
    expect(await svix.eventType.patch("order.paid", { description: "Paid in full" })).toMatchObject({ description: "Paid in full", schemas: { "1": { type: "object", required: ["total"] } } });
    expect((await rejection(svix.message.create("shop", { eventType: "order.paid", payload: { id: "o2" } }))).code).toBe(422);

    await svix.eventType.delete("order.paid");
    expect((await rejection(svix.eventType.get("order.paid"))).code).toBe(404);
    await svix.message.create("shop", { eventType: "order.paid", payload: { anything: true } });
  });
});

describe("svix client: tokens and errors", () => {
  it("a tenant key reaches its own application only; a wrong token is 401; unknown ids 404; bad fields 422; what Herald lacks 501", async () => {
    const { server, svix } = await setup();
    const tenant = await makeTenant(server, "own");
    const key = tenant.headers.authorization!.replace("Bearer ", "");
    const own = new Svix(key, { serverUrl: server.url });
    const other = await svix.application.create({ name: "Other", uid: "other" });

    expect((await own.application.list()).data.map((a) => a.id)).toEqual([tenant.id]);
    expect((await own.application.get(tenant.id)).name).toBe("own");
    // One call at a time: a promise made before the previous one is awaited would reject unhandled meanwhile.
    for (const call of [() => own.application.get(other.id), () => own.application.get("other"), () => own.endpoint.list(other.id), () => own.message.list(other.id)]) {
      const error = await rejection(call());
      expect([error.code, error.body.code]).toEqual([404, "not_found"]);
    }
    const forbidden = await rejection(own.application.create({ name: "mine" }));
    expect([forbidden.code, forbidden.body.code]).toEqual([403, "insufficient_access"]);
    const wrong = await rejection(new Svix("not-a-key", { serverUrl: server.url }).application.list());
    expect([wrong.code, wrong.body.code]).toEqual([401, "authentication_failed"]);

    const receiver = await startReceiver();
    const endpoint = await own.endpoint.create(tenant.id, { url: receiver.url });
    await own.message.create(tenant.id, { eventType: "own.thing", payload: { ok: true } });
    await receiver.waitFor(1);
    // The admin sees the tenant's endpoint through /v1.
    expect((await v1(server, "GET", `/v1/webhooks?tenantId=${tenant.id}`)).body.data).toMatchObject([{ id: endpoint.id, payloadFormat: "svix" }]);

    for (const call of [() => svix.endpoint.get("other", "01a00000-0000-7000-8000-000000000000"), () => svix.message.get("other", "01a00000-0000-7000-8000-000000000000")]) {
      const error = await rejection(call());
      expect([error.code, error.body.code]).toEqual([404, "not_found"]);
    }
    const badUrl = await rejection(svix.endpoint.create("other", { url: "not a url" }));
    expect(badUrl.code).toBe(422);
    expect((badUrl.body.detail as Array<{ loc: unknown[] }>)[0]!.loc).toEqual(["body", "url"]);
    const badChannel = await rejection(svix.endpoint.create("other", { url: receiver.url, channels: ["has space"] }));
    expect((badChannel.body.detail as Array<{ loc: unknown[] }>)[0]!.loc).toEqual(["body", "channels", 0]);

    const transformation = await rejection(svix.endpoint.transformationGet("other", endpoint.id));
    expect([transformation.code, transformation.body.code]).toEqual([501, "not_supported"]);
    const scheduled = await rejection(svix.message.create("other", { eventType: "a.b", payload: {}, deliverAt: new Date(Date.now() + 60_000) }));
    expect([scheduled.code, scheduled.body.code]).toEqual([501, "not_supported"]);
    expect(String(scheduled.body.detail)).toContain("deliverAt");
  });
});
