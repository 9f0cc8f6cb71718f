/**
 * The store conformance suite: every backend passes it unchanged (SQLite always; PostgreSQL
 * when HERALD_TEST_POSTGRES_URL is set, and always in CI). Each test opens its own empty store.
 */
import { afterAll, describe, expect, it } from "vitest";
import { uuidv7 } from "../../src/domain/ids.js";
import type { DeliveryState } from "../../src/domain/types.js";
import { isHeraldError } from "../../src/errors.js";
import type { Store } from "../../src/store/store.js";
import { storeBackends } from "../helpers/backends.js";
import {
  DAY_MS, failedAttempt, ingestEvents, ingestRequest, makeClaimer, makeEvent, makeWebhook, succeeded,
} from "../helpers/store-fixtures.js";

const NOW = 1_700_000_000_000;
const TENANT = "tenant-a";
const OTHER = "tenant-b";

async function withTenants(store: Store): Promise<Store> {
  await store.insertTenant({ id: TENANT, name: "A", createdAt: NOW });
  await store.insertTenant({ id: OTHER, name: "B", createdAt: NOW + 1 });
  return store;
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(() => null, (e: unknown) => e);
  expect(isHeraldError(error) ? error.code : error).toBe(code);
}

describe.each(storeBackends)("$name store", (backend) => {
  afterAll(() => backend.cleanup());
  const open = async () => withTenants(await backend.open());

  describe("lifecycle", () => {
    it("migrating an up-to-date store again changes nothing", async () => {
      const store = await open();
      await store.migrate();
      expect(await store.listTenants()).toHaveLength(2);
    });

    it("declares its capabilities, and offers wake-ups exactly when it declares them", async () => {
      const store = await backend.open();
      expect(store.backend).toBe(backend.name);
      expect(store.capabilities.multiProcess).toBe(backend.name === "postgres");
      expect(store.capabilities.crossProcessWakeups).toBe(backend.name === "postgres");
      expect(typeof store.onWorkAvailable === "function").toBe(store.capabilities.crossProcessWakeups);
    });

    it("closing twice is harmless", async () => {
      const store = await backend.open();
      await store.close();
      await store.close();
    });
  });

  describe("tenants and API keys", () => {
    it("inserts a tenant once, lists tenants oldest first, and deletes one", async () => {
      const store = await open();
      expect(await store.insertTenant({ id: TENANT, name: "again", createdAt: NOW })).toBe(false);
      expect(await store.getTenant(TENANT)).toEqual({ id: TENANT, name: "A", uid: null, metadata: {}, createdAt: NOW, updatedAt: NOW });
      expect(await store.getTenant("nobody")).toBeNull();
      expect((await store.listTenants()).map((t) => t.id)).toEqual([TENANT, OTHER]);
      expect(await store.deleteTenant(OTHER)).toBe(true);
      expect(await store.deleteTenant(OTHER)).toBe(false);
      expect((await store.listTenants()).map((t) => t.id)).toEqual([TENANT]);
    });

    it("deleting a tenant removes its keys, webhooks, events, deliveries and event types, and nothing of other tenants", async () => {
      const store = await open();
      const mine = makeWebhook({ tenantId: OTHER });
      const theirs = makeWebhook({ tenantId: TENANT });
      await store.insertWebhook(mine);
      await store.insertWebhook(theirs);
      await store.insertApiKey({ id: uuidv7(), tenantId: OTHER, name: "k", prefix: "hk_1", hash: "h-other", createdAt: NOW, revokedAt: null });
      await store.upsertEventType({ tenantId: OTHER, name: "a.b", description: "", schema: null, createdAt: NOW });
      const [gone] = await ingestEvents(store, OTHER, [mine.id]);
      const [kept] = await ingestEvents(store, TENANT, [theirs.id]);
      expect(await store.deleteTenant(OTHER)).toBe(true);
      expect(await store.getWebhook(mine.id)).toBeNull();
      expect(await store.findApiKeyByHash("h-other")).toBeNull();
      expect(await store.getEvent(gone!.event.id)).toBeNull();
      expect(await store.getDelivery(gone!.deliveryIds[0]!)).toBeNull();
      expect(await store.listEventTypes(OTHER)).toEqual([]);
      expect(await store.getDelivery(kept!.deliveryIds[0]!)).not.toBeNull();
    });

    it("stores API keys by hash, lists them without the hash, and revokes each once", async () => {
      const store = await open();
      const key = { id: uuidv7(), tenantId: TENANT, name: "ci", prefix: "hk_abcd", hash: "sha256-abc", createdAt: NOW, revokedAt: null };
      await store.insertApiKey(key);
      expect(await store.findApiKeyByHash("sha256-abc")).toEqual(key);
      expect(await store.findApiKeyByHash("nope")).toBeNull();
      expect(await store.getApiKey(key.id)).toEqual(key);
      const listed = await store.listApiKeys(TENANT);
      expect(listed).toEqual([{ id: key.id, tenantId: TENANT, name: "ci", prefix: "hk_abcd", createdAt: NOW, revokedAt: null }]);
      expect(await store.listApiKeys(OTHER)).toEqual([]);
      expect(await store.revokeApiKey(key.id, NOW + 5)).toBe(true);
      expect(await store.revokeApiKey(key.id, NOW + 6)).toBe(false);
      expect((await store.getApiKey(key.id))?.revokedAt).toBe(NOW + 5);
    });

    it("records when a tenant's portal links were revoked, the latest time winning, and forgets it with the tenant", async () => {
      const store = await open();
      expect(await store.portalLinkState(TENANT)).toEqual({ revokedBefore: null, createdAt: NOW });
      expect(await store.portalLinkState("no-such-tenant")).toBeNull();
      await store.revokePortalLinks(TENANT, NOW + 10);
      await store.revokePortalLinks(TENANT, NOW + 20);
      expect(await store.portalLinkState(TENANT)).toEqual({ revokedBefore: NOW + 20, createdAt: NOW });
      // A revocation from a process whose clock is behind does not bring earlier links back.
      await store.revokePortalLinks(TENANT, NOW + 15);
      expect(await store.portalLinkState(TENANT)).toEqual({ revokedBefore: NOW + 20, createdAt: NOW });
      expect(await store.portalLinkState(OTHER)).toEqual({ revokedBefore: null, createdAt: NOW + 1 });
      await store.deleteTenant(TENANT);
      expect(await store.portalLinkState(TENANT)).toBeNull();
      await store.insertTenant({ id: TENANT, name: "A again", createdAt: NOW + 30 });
      expect(await store.portalLinkState(TENANT)).toEqual({ revokedBefore: null, createdAt: NOW + 30 });
    });
  });

  describe("webhooks", () => {
    it("round-trips every field, sealed secrets and credentials included", async () => {
      const store = await open();
      const webhook = makeWebhook({
        tenantId: TENANT,
        kind: "identus",
        events: ["agent.*", "custom"],
        method: "PUT",
        headers: { "X-Custom": "1" },
        auth: { type: "basic", credentials: { username: "u", password: "p" } },
        secrets: [{ secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", expiresAt: null }, { secret: "whsec_b2xkc2VjcmV0b2xkc2VjcmV0", expiresAt: NOW + 99 }],
        rateLimitPerSecond: 2.5,
        maxConcurrency: 3,
        ordered: true,
        propagateTraceContext: true,
        metadata: { team: "x", nested: { a: [1, 2] } },
        payloadFormat: "standard",
        description: "d",
        uid: "billing-main",
        channels: ["project.1", "eu"],
        filter: { "data.amount": { $gte: 100 }, $or: [{ type: "a.b" }, { "metadata.x": { $exists: true } }] },
      });
      await store.insertWebhook(webhook);
      expect(await store.getWebhook(webhook.id)).toEqual(webhook);
      expect(await store.getWebhook(uuidv7())).toBeNull();
    });

    it("updates and deletes a webhook, answering false for an unknown one", async () => {
      const store = await open();
      const webhook = makeWebhook({ tenantId: TENANT });
      await store.insertWebhook(webhook);
      const changed = { ...webhook, url: "https://elsewhere.example/", maxConcurrency: 1, updatedAt: NOW + 10 };
      expect(await store.updateWebhook(changed)).toBe(true);
      expect(await store.getWebhook(webhook.id)).toEqual(changed);
      expect(await store.updateWebhook(makeWebhook())).toBe(false);
      expect(await store.setWebhookStatus(webhook.id, "disabled", "410 Gone", NOW + 20)).toBe(true);
      expect(await store.getWebhook(webhook.id)).toMatchObject({ status: "disabled", disabledReason: "410 Gone", updatedAt: NOW + 20 });
      expect(await store.setWebhookStatus(uuidv7(), "active", null, NOW)).toBe(false);
      expect(await store.deleteWebhook(webhook.id)).toBe(true);
      expect(await store.deleteWebhook(webhook.id)).toBe(false);
    });

    it("filters webhooks by tenant, global, status, kind and subscribed event", async () => {
      const store = await open();
      const global = makeWebhook({ tenantId: null, events: ["*"] });
      const agents = makeWebhook({ tenantId: TENANT, events: ["agent.*"], kind: "identus" });
      const paused = makeWebhook({ tenantId: TENANT, events: ["invoice.paid"], status: "inactive" });
      const other = makeWebhook({ tenantId: OTHER });
      for (const w of [global, agents, paused, other]) await store.insertWebhook(w);
      const ids = async (filter: Parameters<Store["listWebhooks"]>[0]) => (await store.listWebhooks(filter)).items.map((w) => w.id);
      expect(await ids({})).toEqual([global.id, agents.id, paused.id, other.id]);
      expect(await ids({ tenantId: TENANT })).toEqual([agents.id, paused.id]);
      expect(await ids({ tenantId: TENANT, includeGlobal: true })).toEqual([global.id, agents.id, paused.id]);
      expect(await ids({ tenantId: null })).toEqual([global.id]);
      expect(await ids({ status: "inactive" })).toEqual([paused.id]);
      expect(await ids({ kind: "identus" })).toEqual([agents.id]);
      expect(await ids({ tenantId: TENANT, event: "agent.created" })).toEqual([agents.id]);
      expect(await ids({ event: "invoice.paid" })).toEqual([global.id, paused.id, other.id]);
    });

    it("pages webhooks by id with a cursor", async () => {
      const store = await open();
      const made = [];
      for (let i = 0; i < 5; i++) made.push(makeWebhook({ tenantId: TENANT, name: `w${i}` }));
      for (const w of made) await store.insertWebhook(w);
      const first = await store.listWebhooks({ tenantId: TENANT, limit: 2 });
      expect(first.items.map((w) => w.name)).toEqual(["w0", "w1"]);
      const second = await store.listWebhooks({ tenantId: TENANT, limit: 2, cursor: first.nextCursor! });
      expect(second.items.map((w) => w.name)).toEqual(["w2", "w3"]);
      const last = await store.listWebhooks({ tenantId: TENANT, limit: 2, cursor: second.nextCursor! });
      expect(last.items.map((w) => w.name)).toEqual(["w4"]);
      expect(last.nextCursor).toBeNull();
    });

    it("lists as subscribers a tenant's active webhooks and the active global ones, with their patterns and owners (null: global)", async () => {
      const store = await open();
      const global = makeWebhook({ tenantId: null, events: ["*"] });
      const own = makeWebhook({ tenantId: TENANT, events: ["a.*"], channels: ["eu"], filter: { "data.amount": { $gte: 100 } } });
      const inactive = makeWebhook({ tenantId: TENANT, status: "inactive" });
      const disabledGlobal = makeWebhook({ tenantId: null, status: "disabled" });
      const other = makeWebhook({ tenantId: OTHER });
      for (const w of [global, own, inactive, disabledGlobal, other]) await store.insertWebhook(w);
      const subscribers = await store.listSubscribers(TENANT);
      expect(subscribers.sort((a, b) => a.id.localeCompare(b.id))).toEqual([
        { id: global.id, events: ["*"], tenantId: null, channels: null, filter: null },
        { id: own.id, events: ["a.*"], tenantId: TENANT, channels: ["eu"], filter: '{"data.amount":{"$gte":100}}' },
      ]);
    });
  });

  describe("ingest", () => {
    it("writes the event and one pending delivery per webhook, due at once", async () => {
      const store = await open();
      const a = makeWebhook({ tenantId: TENANT });
      const b = makeWebhook({ tenantId: null });
      await store.insertWebhook(a);
      await store.insertWebhook(b);
      const event = makeEvent(TENANT, { data: { z: 1, a: [true, null, "é"], n: 1.5 }, metadata: { source: "test" } });
      const result = await store.ingest(ingestRequest(event, [a.id, b.id]));
      expect(result.duplicate).toBe(false);
      expect(result.event).toEqual(event);
      expect(result.deliveryIds).toHaveLength(2);
      expect(await store.getEvent(event.id)).toEqual(event);
      const delivery = await store.getDelivery(result.deliveryIds[0]!);
      expect(delivery).toEqual({
        id: result.deliveryIds[0], eventId: event.id, webhookId: a.id, tenantId: TENANT, eventType: event.type, state: "pending",
        attemptCount: 0, nextAttemptAt: event.createdAt, lastStatus: null, lastError: null,
        createdAt: event.createdAt, updatedAt: event.createdAt, completedAt: null,
      });
      expect(await store.nextDueAt(event.createdAt - 1)).toBe(event.createdAt);
    });

    it("keeps an event's data exactly as given, key order included", async () => {
      const store = await open();
      const webhook = makeWebhook({ tenantId: TENANT });
      await store.insertWebhook(webhook);
      await ingestEvents(store, TENANT, [webhook.id], 1, { data: { zeta: 1, alpha: { y: 2, b: 3 } } });
      const [claimed] = await makeClaimer(store, "w1").claim();
      expect(claimed!.event.data).toBe('{"zeta":1,"alpha":{"y":2,"b":3}}');
      expect(claimed!.event.metadata).toBeNull();
    });

    it("returns the original event when the same id is posted again within the window, writing nothing new", async () => {
      const store = await open();
      const webhook = makeWebhook({ tenantId: TENANT });
      await store.insertWebhook(webhook);
      const event = makeEvent(TENANT);
      const first = await store.ingest(ingestRequest(event, [webhook.id]));
      const again = await store.ingest(ingestRequest({ ...event, data: { other: true }, createdAt: NOW + DAY_MS - 1 }, [webhook.id]));
      expect(again).toEqual({ event, deliveryIds: first.deliveryIds, duplicate: true });
      expect((await store.countDeliveriesByState()).pending).toBe(1);
    });

    it("returns the original event for a repeated Idempotency-Key under a new id, per tenant", async () => {
      const store = await open();
      const webhook = makeWebhook({ tenantId: null });
      await store.insertWebhook(webhook);
      const first = await store.ingest(ingestRequest(makeEvent(TENANT), [webhook.id], "order-42"));
      const again = await store.ingest(ingestRequest(makeEvent(TENANT, { createdAt: NOW + 1000 }), [webhook.id], "order-42"));
      expect(again.duplicate).toBe(true);
      expect(again.event.id).toBe(first.event.id);
      expect(again.deliveryIds).toEqual(first.deliveryIds);
      // The same key from another tenant is another event.
      const elsewhere = await store.ingest(ingestRequest(makeEvent(OTHER), [webhook.id], "order-42"));
      expect(elsewhere.duplicate).toBe(false);
      expect((await store.countDeliveriesByState()).pending).toBe(2);
    });

    it("refuses an id already used by another tenant, or used longer ago than the window", async () => {
      const store = await open();
      const event = makeEvent(TENANT);
      await store.ingest(ingestRequest(event, []));
      await expectCode(store.ingest(ingestRequest({ ...event, tenantId: OTHER }, [])), "HERALD_ERR_EVENT_ID_CONFLICT");
      await expectCode(store.ingest(ingestRequest({ ...event, createdAt: NOW + DAY_MS + 1 }, [])), "HERALD_ERR_EVENT_ID_CONFLICT");
    });

    it("frees an Idempotency-Key once its window has passed: the next event with it is new", async () => {
      const store = await open();
      const keyed = await store.ingest(ingestRequest(makeEvent(TENANT), [], "k1"));
      const later = await store.ingest(ingestRequest(makeEvent(TENANT, { createdAt: NOW + DAY_MS + 1 }), [], "k1"));
      expect([keyed.duplicate, later.duplicate]).toEqual([false, false]);
      expect(later.event.id).not.toBe(keyed.event.id);
      const again = await store.ingest(ingestRequest(makeEvent(TENANT, { createdAt: NOW + DAY_MS + 2 }), [], "k1"));
      expect(again).toMatchObject({ duplicate: true, event: { id: later.event.id } });
      expect(await store.getEvent(keyed.event.id)).not.toBeNull(); // the earlier event stays; only its key is let go
    });

    it("ingests a batch in one transaction: one bad event writes none of them", async () => {
      const store = await open();
      const webhook = makeWebhook({ tenantId: TENANT });
      await store.insertWebhook(webhook);
      const taken = makeEvent(TENANT);
      await store.ingest(ingestRequest(taken, []));
      const good = makeEvent(TENANT);
      await expectCode(
        store.ingestMany([ingestRequest(good, [webhook.id]), ingestRequest({ ...taken, tenantId: OTHER }, [webhook.id])]),
        "HERALD_ERR_EVENT_ID_CONFLICT",
      );
      expect(await store.getEvent(good.id)).toBeNull();
      expect((await store.countDeliveriesByState()).pending).toBe(0);
    });

    it("ingests a batch whose repeated event comes back as a duplicate of the first", async () => {
      const store = await open();
      const webhook = makeWebhook({ tenantId: TENANT });
      await store.insertWebhook(webhook);
      const event = makeEvent(TENANT);
      const [first, second, third] = await store.ingestMany([
        ingestRequest(event, [webhook.id]), ingestRequest(event, [webhook.id]), ingestRequest(makeEvent(TENANT), [webhook.id]),
      ]);
      expect(first!.duplicate).toBe(false);
      expect(second).toEqual({ event, deliveryIds: first!.deliveryIds, duplicate: true });
      expect(third!.duplicate).toBe(false);
      expect((await store.countDeliveriesByState()).pending).toBe(2);
      expect(await store.ingestMany([])).toEqual([]);
    });

    it("lists events newest first, filtered by tenant, type and time, page by page", async () => {
      const store = await open();
      const made = [];
      for (let i = 0; i < 5; i++) {
        made.push((await store.ingest(ingestRequest(makeEvent(TENANT, { type: i % 2 ? "odd" : "even", createdAt: NOW + i }), []))).event);
      }
      await store.ingest(ingestRequest(makeEvent(OTHER), []));
      const ids = (items: Array<{ id: string }>) => items.map((e) => e.id);
      const page1 = await store.listEvents({ tenantId: TENANT, limit: 3 });
      expect(ids(page1.items)).toEqual(ids(made.slice(2).reverse()));
      const page2 = await store.listEvents({ tenantId: TENANT, limit: 3, cursor: page1.nextCursor! });
      expect(ids(page2.items)).toEqual(ids(made.slice(0, 2).reverse()));
      expect(page2.nextCursor).toBeNull();
      expect(ids((await store.listEvents({ tenantId: TENANT, type: "odd" })).items)).toEqual([made[3]!.id, made[1]!.id]);
      expect(ids((await store.listEvents({ tenantId: TENANT, since: NOW + 3 })).items)).toEqual([made[4]!.id, made[3]!.id]);
      expect((await store.listEvents({})).items).toHaveLength(6);
    });
  });

  describe("claiming", () => {
    it("a claimed delivery carries the trace context its event was stored with, alone and in a batch", async () => {
      const store = await open();
      const webhook = makeWebhook({ tenantId: TENANT });
      await store.insertWebhook(webhook);
      const traceContext = '{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}';
      const one = await store.ingest({ ...ingestRequest(makeEvent(TENANT, { createdAt: NOW - 10 }), [webhook.id]), traceContext });
      const batch = await store.ingestMany([
        { ...ingestRequest(makeEvent(TENANT, { createdAt: NOW - 9 }), [webhook.id]), traceContext },
        ingestRequest(makeEvent(TENANT, { createdAt: NOW - 8 }), [webhook.id]),
      ]);
      const claimed = await makeClaimer(store, "w1").claim({ now: NOW });
      const contextOf = (eventId: string) => claimed.find((delivery) => delivery.event.id === eventId)?.event.traceContext;
      expect(contextOf(one.event.id)).toBe(traceContext);
      expect(contextOf(batch[0]!.event.id)).toBe(traceContext);
      expect(contextOf(batch[1]!.event.id)).toBeNull();
      // It is no part of the event as callers read it.
      expect(Object.keys((await store.getEvent(one.event.id))!)).not.toContain("traceContext");
    });

    it("claims only deliveries that are due, oldest first, with what dispatch needs", async () => {
      const store = await open();
      const webhook = makeWebhook({ tenantId: TENANT });
      await store.insertWebhook(webhook);
      const [early] = await ingestEvents(store, TENANT, [webhook.id], 1, { createdAt: NOW - 10, metadata: { m: 1 } });
      const [late] = await ingestEvents(store, TENANT, [webhook.id], 1, { createdAt: NOW - 5 });
      await ingestEvents(store, TENANT, [webhook.id], 1, { createdAt: NOW + 1000 });
      const claimed = await makeClaimer(store, "w1").claim({ now: NOW });
      expect(claimed.map((d) => d.id)).toEqual([early!.deliveryIds[0], late!.deliveryIds[0]]);
      expect(claimed[0]).toEqual({
        id: early!.deliveryIds[0], webhookId: webhook.id, tenantId: TENANT, attemptCount: 0, createdAt: NOW - 10, dueAt: NOW - 10,
        event: { id: early!.event.id, type: "agent.created", data: '{"n":1}', metadata: '{"m":1}', createdAt: NOW - 10, traceContext: null },
      });
      expect((await store.getDelivery(early!.deliveryIds[0]!))?.state).toBe("in_flight");
      expect(await store.listLeaseOwners()).toEqual(["w1"]);
      expect(await store.nextDueAt(NOW)).toBe(NOW + 1000);
    });

    it("never hands out a claimed delivery again, and respects the limit", async () => {
      const store = await open();
      const webhook = makeWebhook({ tenantId: TENANT, maxConcurrency: 100 });
      await store.insertWebhook(webhook);
      await ingestEvents(store, TENANT, [webhook.id], 5);
      const claimer = makeClaimer(store, "w1");
      const first = await claimer.claim({ limit: 3 });
      const second = await claimer.claim({ limit: 3 });
      expect(first).toHaveLength(3);
      expect(second).toHaveLength(2);
      expect(new Set([...first, ...second].map((d) => d.id)).size).toBe(5);
      expect(await claimer.claim()).toEqual([]);
      expect(await claimer.claim({ limit: 0 })).toEqual([]);
    });

    it("leaves deliveries of inactive and disabled webhooks, and of webhooks the claimer says are saturated", async () => {
      const store = await open();
      const inactive = makeWebhook({ tenantId: TENANT, status: "inactive" });
      const disabled = makeWebhook({ tenantId: TENANT, status: "disabled" });
      const saturated = makeWebhook({ tenantId: TENANT });
      const healthy = makeWebhook({ tenantId: TENANT });
      for (const w of [inactive, disabled, saturated, healthy]) await store.insertWebhook(w);
      await ingestEvents(store, TENANT, [inactive.id, disabled.id, saturated.id, healthy.id], 2);
      const claimed = await makeClaimer(store, "w1").claim({ saturatedWebhookIds: [saturated.id] });
      expect(claimed.map((d) => d.webhookId)).toEqual([healthy.id, healthy.id]);
    });

    it("a saturated webhook's backlog, due earlier, does not hide another webhook's due delivery", async () => {
      const store = await open();
      const busy = makeWebhook({ tenantId: TENANT, maxConcurrency: 2 });
      const quiet = makeWebhook({ tenantId: TENANT });
      await store.insertWebhook(busy);
      await store.insertWebhook(quiet);
      await ingestEvents(store, TENANT, [busy.id], 300, { createdAt: NOW - 10_000 });
      const [late] = await ingestEvents(store, TENANT, [quiet.id], 1, { createdAt: NOW });
      const claimer = makeClaimer(store, "w1", { limit: 10 });
      const first = await claimer.claim();
      // busy is now at its cap with 298 due deliveries ahead of quiet's one; the next claim at the latest finds it.
      const claimed = [...first, ...(await claimer.claim({ saturatedWebhookIds: [busy.id] }))];
      expect(claimed.filter((d) => d.webhookId === busy.id)).toHaveLength(2);
      expect(claimed.filter((d) => d.webhookId === quiet.id).map((d) => d.id)).toEqual(late!.deliveryIds);
    });

    it("tops each webhook up to its maxConcurrency, counting what the claimer already holds", async () => {
      const store = await open();
      const narrow = makeWebhook({ tenantId: TENANT, maxConcurrency: 2 });
      const wide = makeWebhook({ tenantId: TENANT, maxConcurrency: 10 });
      await store.insertWebhook(narrow);
      await store.insertWebhook(wide);
      await ingestEvents(store, TENANT, [narrow.id, wide.id], 5);
      const claimer = makeClaimer(store, "w1");
      const first = await claimer.claim();
      expect(first.filter((d) => d.webhookId === narrow.id)).toHaveLength(2);
      expect(first.filter((d) => d.webhookId === wide.id)).toHaveLength(5);
      expect(await claimer.claim()).toEqual([]);
      // One narrow delivery settles: exactly one slot frees.
      await claimer.settle([succeeded(first.find((d) => d.webhookId === narrow.id)!)]);
      const next = await claimer.claim();
      expect(next.map((d) => d.webhookId)).toEqual([narrow.id]);
    });

    it("a claimer that already holds a webhook's full share gets none of its deliveries", async () => {
      const store = await open();
      const webhook = makeWebhook({ tenantId: TENANT, maxConcurrency: 3 });
      await store.insertWebhook(webhook);
      await ingestEvents(store, TENANT, [webhook.id], 4);
      expect(await makeClaimer(store, "w1").claim({ inFlight: () => 3 })).toEqual([]);
      expect(await makeClaimer(store, "w1").claim({ inFlight: () => 2 })).toHaveLength(1);
    });

    it("leases ahead of the cap up to the claimer's capacity, for that many timeouts", async () => {
      const store = await open();
      const webhook = makeWebhook({ tenantId: TENANT, maxConcurrency: 2, timeoutMs: 5_000 });
      await store.insertWebhook(webhook);
      await ingestEvents(store, TENANT, [webhook.id], 8);
      const claimer = makeClaimer(store, "w1", { now: NOW, leaseMarginMs: 1_000, leaseTimeouts: 3 });
      const capacities: number[] = [];
      const first = await claimer.claim({ capacity: (_id, max) => (capacities.push(max), max * 3) });
      expect(capacities).toContain(2); // the store passes the webhook's own maxConcurrency
      expect(first).toHaveLength(6);
      expect(await claimer.claim({ capacity: (_id, max) => max * 3 })).toEqual([]);
      // Held 6: a capacity of 7 tops up by one, and without a capacity the cap is maxConcurrency again.
      expect(await claimer.claim({ capacity: () => 7 })).toHaveLength(1);
      expect(await claimer.claim()).toEqual([]);
      // The lease spans three timeouts plus the margin.
      expect(await store.releaseLeases({ expiredBefore: NOW + 16_000 }, NOW + 17_000)).toBe(0);
      expect(await store.releaseLeases({ expiredBefore: NOW + 16_001 }, NOW + 17_000)).toBe(7);
    });

    it("another claimer's leases on a webhook limit this claimer to the cap, whatever its capacity", async () => {
      const store = await open();
      const webhook = makeWebhook({ tenantId: TENANT, maxConcurrency: 4 });
      await store.insertWebhook(webhook);
      await ingestEvents(store, TENANT, [webhook.id], 20);
      expect(await makeClaimer(store, "w1").claim({ capacity: () => 1 })).toHaveLength(1);
      const other = makeClaimer(store, "w2");
      // On PostgreSQL w2 counts w1's lease: 3 left; SQLite serves one worker process, whose own count is all it has.
      const taken = await other.claim({ capacity: (_id, max) => max * 3 });
      expect(taken).toHaveLength(store.capabilities.multiProcess ? 3 : 12);
    });

    it("hands out an ordered webhook's deliveries one at a time, oldest first", async () => {
      const store = await open();
      const ordered = makeWebhook({ tenantId: TENANT, ordered: true });
      const unordered = makeWebhook({ tenantId: TENANT });
      await store.insertWebhook(ordered);
      await store.insertWebhook(unordered);
      const events = await ingestEvents(store, TENANT, [ordered.id, unordered.id], 3);
      const orderedIds = events.map((e) => e.deliveryIds[0]);
      const claimer = makeClaimer(store, "w1");
      const first = await claimer.claim();
      expect(first.filter((d) => d.webhookId === ordered.id).map((d) => d.id)).toEqual([orderedIds[0]]);
      expect(first.filter((d) => d.webhookId === unordered.id)).toHaveLength(3);
      expect(await claimer.claim()).toEqual([]);
      // A retry scheduled for later still holds the line.
      await claimer.settle([failedAttempt(first.find((d) => d.webhookId === ordered.id)!, "pending", NOW + 60_000)]);
      expect(await claimer.claim()).toEqual([]);
      const [retried] = await claimer.claim({ now: NOW + 60_000 });
      expect(retried!.id).toBe(orderedIds[0]);
      await claimer.settle([succeeded(retried!)]);
      expect((await claimer.claim({ now: NOW + 60_000 })).map((d) => d.id)).toEqual([orderedIds[1]]);
    });

    it("leases for the webhook's timeout plus the margin", async () => {
      const store = await open();
      const webhook = makeWebhook({ tenantId: TENANT, timeoutMs: 5_000 });
      await store.insertWebhook(webhook);
      await ingestEvents(store, TENANT, [webhook.id]);
      const [claimed] = await makeClaimer(store, "w1").claim({ now: NOW, leaseMarginMs: 1_000 });
      const expiresAt = NOW + 6_000;
      expect(await store.releaseLeases({ expiredBefore: expiresAt }, NOW + 7_000)).toBe(0);
      expect(await store.releaseLeases({ expiredBefore: expiresAt + 1 }, NOW + 7_000)).toBe(1);
      expect(await store.getDelivery(claimed!.id)).toMatchObject({ state: "pending", nextAttemptAt: NOW + 7_000 });
      expect(await store.listLeaseOwners()).toEqual([]);
    });
  });

  describe("recording attempts", () => {
    async function claimOne(store: Store, overrides: Parameters<typeof makeWebhook>[0] = {}) {
      const webhook = makeWebhook({ tenantId: TENANT, ...overrides });
      await store.insertWebhook(webhook);
      await ingestEvents(store, TENANT, [webhook.id]);
      const claimer = makeClaimer(store, "w1");
      const [delivery] = await claimer.claim();
      return { webhook, claimer, delivery: delivery! };
    }

    it("settles a success: state, attempt count, status, completion time and the full attempt record", async () => {
      const store = await open();
      const { claimer, delivery } = await claimOne(store);
      const outcome = succeeded(delivery, { startedAt: NOW + 100, durationMs: 49.6 });
      await claimer.settle([outcome]);
      expect(await store.getDelivery(delivery.id)).toMatchObject({
        state: "succeeded", attemptCount: 1, lastStatus: 200, lastError: null, nextAttemptAt: null, completedAt: NOW + 150, updatedAt: NOW + 150,
      });
      expect(await store.listAttempts(delivery.id)).toEqual([outcome.attempt]);
      expect(await store.listLeaseOwners()).toEqual([]);
    });

    it("schedules a retry: pending again, due at the next attempt time, attempts listed in order", async () => {
      const store = await open();
      const { claimer, delivery } = await claimOne(store);
      const first = failedAttempt(delivery, "pending", NOW + 5_000, { startedAt: NOW });
      await claimer.settle([first]);
      expect(await store.getDelivery(delivery.id)).toMatchObject({
        state: "pending", attemptCount: 1, lastStatus: 500, lastError: "HTTP 500", nextAttemptAt: NOW + 5_000, completedAt: null,
      });
      expect(await store.nextDueAt(NOW)).toBe(NOW + 5_000);
      expect(await claimer.claim({ now: NOW + 4_999 })).toEqual([]);
      const [again] = await claimer.claim({ now: NOW + 5_000 });
      expect(again!.attemptCount).toBe(1);
      const second = failedAttempt(again!, "failed", null, { startedAt: NOW + 5_000, response: null, errorClass: "timeout", errorMessage: "timed out" });
      await claimer.settle([second]);
      expect(await store.getDelivery(delivery.id)).toMatchObject({ state: "failed", attemptCount: 2, lastStatus: null, lastError: "timed out" });
      expect((await store.listAttempts(delivery.id)).map((a) => a.attemptNumber)).toEqual([1, 2]);
      expect((await store.listAttempts(delivery.id))[1]).toEqual(second.attempt);
      expect(await store.nextDueAt(0)).toBeNull();
    });

    it("records a stale worker's attempt but leaves the delivery to the worker that holds its lease now", async () => {
      const store = await open();
      const { delivery } = await claimOne(store, { timeoutMs: 100 });
      await store.releaseLeases({ owners: ["w1"] }, NOW);
      const [reclaimed] = await makeClaimer(store, "w2").claim();
      expect(reclaimed!.id).toBe(delivery.id);
      await store.recordAttempts([succeeded(delivery)], "w1");
      expect(await store.getDelivery(delivery.id)).toMatchObject({ state: "in_flight", attemptCount: 0 });
      expect(await store.listAttempts(delivery.id)).toHaveLength(1);
      expect(await store.listLeaseOwners()).toEqual(["w2"]);
    });

    it("settles a batch of outcomes at once", async () => {
      const store = await open();
      const webhook = makeWebhook({ tenantId: TENANT });
      await store.insertWebhook(webhook);
      await ingestEvents(store, TENANT, [webhook.id], 3);
      const claimer = makeClaimer(store, "w1");
      const [a, b, c] = await claimer.claim();
      await claimer.settle([succeeded(a!), failedAttempt(b!, "failed", null), failedAttempt(c!, "pending", NOW + 1)]);
      expect(await store.countDeliveriesByState()).toEqual({ pending: 1, in_flight: 0, succeeded: 1, failed: 1, cancelled: 0 });
      await store.recordAttempts([], "w1");
    });
  });

  describe("leases", () => {
    it("releases only expired leases, or those of the given owners, making them due now", async () => {
      const store = await open();
      const short = makeWebhook({ tenantId: TENANT, timeoutMs: 1_000 });
      const long = makeWebhook({ tenantId: TENANT, timeoutMs: 60_000 });
      await store.insertWebhook(short);
      await store.insertWebhook(long);
      await ingestEvents(store, TENANT, [short.id, long.id]);
      const [one] = await makeClaimer(store, "w1").claim({ now: NOW, leaseMarginMs: 0, saturatedWebhookIds: [long.id] });
      const [two] = await makeClaimer(store, "w2").claim({ now: NOW, leaseMarginMs: 0 });
      expect((await store.listLeaseOwners()).sort()).toEqual(["w1", "w2"]);
      expect(await store.releaseLeases({ expiredBefore: NOW + 2_000 }, NOW + 2_000)).toBe(1);
      expect(await store.getDelivery(one!.id)).toMatchObject({ state: "pending", nextAttemptAt: NOW + 2_000 });
      expect(await store.getDelivery(two!.id)).toMatchObject({ state: "in_flight" });
      expect(await store.releaseLeases({ owners: ["w9"] }, NOW)).toBe(0);
      expect(await store.releaseLeases({ owners: ["w2"] }, NOW + 3_000)).toBe(1);
      expect(await store.getDelivery(two!.id)).toMatchObject({ state: "pending", nextAttemptAt: NOW + 3_000 });
      expect(await store.releaseLeases({}, NOW)).toBe(0);
      expect(await store.listLeaseOwners()).toEqual([]);
    });

    it("gives back deliveries a live worker holds, by id, only if it holds them", async () => {
      const store = await open();
      const webhook = makeWebhook({ tenantId: TENANT });
      await store.insertWebhook(webhook);
      await ingestEvents(store, TENANT, [webhook.id], 3);
      const [a, b, c] = await makeClaimer(store, "w1").claim({ now: NOW });
      expect(await store.releaseLeases({ held: { owner: "w2", ids: [a!.id] } }, NOW + 1)).toBe(0);
      expect(await store.releaseLeases({ held: { owner: "w1", ids: [a!.id, b!.id] } }, NOW + 1)).toBe(2);
      expect(await store.getDelivery(a!.id)).toMatchObject({ state: "pending", nextAttemptAt: NOW + 1 });
      expect(await store.getDelivery(c!.id)).toMatchObject({ state: "in_flight" });
      expect(await store.releaseLeases({ held: { owner: "w1", ids: [] } }, NOW + 1)).toBe(0);
    });

    it("reports the earliest pending due time after a given time, ignoring deliveries in flight or done", async () => {
      const store = await open();
      expect(await store.nextDueAt(0)).toBeNull();
      const webhook = makeWebhook({ tenantId: TENANT });
      await store.insertWebhook(webhook);
      await ingestEvents(store, TENANT, [webhook.id], 1, { createdAt: NOW - 1 });
      await ingestEvents(store, TENANT, [webhook.id], 1, { createdAt: NOW + 50 });
      expect(await store.nextDueAt(0)).toBe(NOW - 1);
      expect(await store.nextDueAt(NOW - 1)).toBe(NOW + 50); // strictly after the given time
      await makeClaimer(store, "w1").claim({ now: NOW });
      expect(await store.nextDueAt(0)).toBe(NOW + 50);
      expect(await store.nextDueAt(NOW + 50)).toBeNull();
    });
  });

  describe("deliveries", () => {
    it("lists deliveries newest first, by tenant, webhook, event, event type, state and time, page by page", async () => {
      const store = await open();
      const a = makeWebhook({ tenantId: TENANT });
      const b = makeWebhook({ tenantId: null });
      await store.insertWebhook(a);
      await store.insertWebhook(b);
      const e1 = await store.ingest(ingestRequest(makeEvent(TENANT, { createdAt: NOW }), [a.id, b.id]));
      const e2 = await store.ingest(ingestRequest(makeEvent(TENANT, { type: "x.y", createdAt: NOW + 10 }), [a.id]));
      const e3 = await store.ingest(ingestRequest(makeEvent(OTHER, { createdAt: NOW + 20 }), [b.id]));
      const all = [...e1.deliveryIds, ...e2.deliveryIds, ...e3.deliveryIds];
      const ids = async (filter: Parameters<Store["listDeliveries"]>[0]) => (await store.listDeliveries(filter)).items.map((d) => d.id);
      expect(await ids({})).toEqual([...all].reverse());
      expect(await ids({ tenantId: OTHER })).toEqual(e3.deliveryIds);
      expect(await ids({ webhookId: a.id })).toEqual([e2.deliveryIds[0], e1.deliveryIds[0]]);
      expect(await ids({ eventId: e1.event.id })).toEqual([...e1.deliveryIds].reverse());
      expect(await ids({ eventType: "x.y" })).toEqual(e2.deliveryIds);
      expect(await ids({ since: NOW + 10, until: NOW + 20 })).toEqual(e2.deliveryIds);
      const [claimed] = await makeClaimer(store, "w1").claim({ saturatedWebhookIds: [b.id], limit: 1 });
      expect(await ids({ state: "in_flight" })).toEqual([claimed!.id]);
      const page1 = await store.listDeliveries({ limit: 3 });
      const page2 = await store.listDeliveries({ limit: 3, cursor: page1.nextCursor! });
      expect([...page1.items, ...page2.items].map((d) => d.id)).toEqual([...all].reverse());
      expect(page2.nextCursor).toBeNull();
      expect(await store.getDelivery(uuidv7())).toBeNull();
      expect(await store.listAttempts(uuidv7())).toEqual([]);
    });

    it("requeues a finished delivery, keeping its history, but never one in flight", async () => {
      const store = await open();
      const webhook = makeWebhook({ tenantId: TENANT });
      await store.insertWebhook(webhook);
      await ingestEvents(store, TENANT, [webhook.id], 2);
      const claimer = makeClaimer(store, "w1");
      const [done, busy] = await claimer.claim();
      await claimer.settle([failedAttempt(done!, "failed", null)]);
      expect(await store.requeueDelivery(done!.id, NOW + 500)).toBe(true);
      expect(await store.getDelivery(done!.id)).toMatchObject({ state: "pending", nextAttemptAt: NOW + 500, completedAt: null, attemptCount: 1 });
      expect(await store.listAttempts(done!.id)).toHaveLength(1);
      expect(await store.requeueDelivery(busy!.id, NOW)).toBe(false);
      expect(await store.requeueDelivery(uuidv7(), NOW)).toBe(false);
    });

    it("requeues a webhook's failed deliveries created since a time, and no others", async () => {
      const store = await open();
      const webhook = makeWebhook({ tenantId: TENANT });
      const other = makeWebhook({ tenantId: TENANT });
      await store.insertWebhook(webhook);
      await store.insertWebhook(other);
      await ingestEvents(store, TENANT, [webhook.id, other.id], 1, { createdAt: NOW - 100 });
      await ingestEvents(store, TENANT, [webhook.id, other.id], 2, { createdAt: NOW });
      const claimer = makeClaimer(store, "w1");
      const claimed = await claimer.claim();
      const [keepSucceeded, ...rest] = claimed.filter((d) => d.createdAt === NOW && d.webhookId === webhook.id);
      await claimer.settle([
        succeeded(keepSucceeded!),
        ...rest.map((d) => failedAttempt(d, "failed", null)),
        ...claimed.filter((d) => d.createdAt !== NOW || d.webhookId !== webhook.id).map((d) => failedAttempt(d, "failed", null)),
      ]);
      await store.insertRecoveryJob({ id: "job-since", webhookId: webhook.id, since: NOW, cursor: null, requeued: 0, status: "running", createdAt: NOW, updatedAt: NOW });
      expect(await store.advanceRecoveryJob("job-since", 100, NOW + 10)).toMatchObject({ requeued: 1, status: "done" });
      const pending = (await store.listDeliveries({ state: "pending" })).items;
      expect(pending.map((d) => d.id)).toEqual([rest[0]!.id]);
      expect(pending[0]).toMatchObject({ nextAttemptAt: NOW + 10, completedAt: null });
    });

    it("counts deliveries by state, every state present", async () => {
      const store = await open();
      const zero: Record<DeliveryState, number> = { pending: 0, in_flight: 0, succeeded: 0, failed: 0, cancelled: 0 };
      expect(await store.countDeliveriesByState()).toEqual(zero);
      const webhook = makeWebhook({ tenantId: TENANT });
      await store.insertWebhook(webhook);
      await ingestEvents(store, TENANT, [webhook.id], 3);
      await makeClaimer(store, "w1").claim({ limit: 1 });
      expect(await store.countDeliveriesByState()).toEqual({ ...zero, pending: 2, in_flight: 1 });
    });
  });

  describe("statistics", () => {
    it("summarises a webhook's deliveries and attempts", async () => {
      const store = await open();
      const webhook = makeWebhook({ tenantId: TENANT });
      await store.insertWebhook(webhook);
      expect(await store.webhookStats(webhook.id)).toEqual({
        total_deliveries: 0, successful_deliveries: 0, failed_deliveries: 0, failure_rate: 0, total_attempts: 0, failed_attempts: 0,
        average_duration: null, p95_duration: null, last_delivery: null, last_success: null, last_failure: null,
      });
      await ingestEvents(store, TENANT, [webhook.id], 4);
      const claimer = makeClaimer(store, "w1");
      const [a, b, c, d] = await claimer.claim();
      await claimer.settle([
        succeeded(a!, { startedAt: NOW + 1_000, durationMs: 10 }),
        succeeded(b!, { startedAt: NOW + 2_000, durationMs: 20 }),
        failedAttempt(c!, "failed", null, { startedAt: NOW + 3_000, durationMs: 40.25 }),
        // A failed attempt that is retried: a failed attempt, not a failed delivery.
        failedAttempt(d!, "pending", NOW + 60_000, { startedAt: NOW + 500, durationMs: 5 }),
      ]);
      expect(await store.webhookStats(webhook.id)).toEqual({
        total_deliveries: 4, successful_deliveries: 2, failed_deliveries: 1, failure_rate: 0.33, total_attempts: 4, failed_attempts: 2,
        average_duration: 18.81, p95_duration: 40.25, last_delivery: new Date(NOW + 3_000).toISOString(), last_success: new Date(NOW + 2_000).toISOString(),
        last_failure: new Date(NOW + 3_000).toISOString(),
      });
    });

    it("buckets a webhook's attempts over time with success counts and percentiles", async () => {
      const store = await open();
      const webhook = makeWebhook({ tenantId: TENANT });
      await store.insertWebhook(webhook);
      await ingestEvents(store, TENANT, [webhook.id], 3);
      const claimer = makeClaimer(store, "w1");
      const [a, b, c] = await claimer.claim();
      await claimer.settle([
        succeeded(a!, { startedAt: NOW + 100, durationMs: 10 }),
        failedAttempt(b!, "failed", null, { startedAt: NOW + 200, durationMs: 30 }),
        succeeded(c!, { startedAt: NOW + 1_500, durationMs: 5 }),
      ]);
      const series = await store.webhookAttemptSeries(webhook.id, { since: NOW, until: NOW + 3_000, bucketMs: 1_000 });
      expect(series).toEqual([
        { start: NOW, attempts: 2, succeeded: 1, failed: 1, p50DurationMs: 10, p95DurationMs: 30 },
        { start: NOW + 1_000, attempts: 1, succeeded: 1, failed: 0, p50DurationMs: 5, p95DurationMs: 5 },
        { start: NOW + 2_000, attempts: 0, succeeded: 0, failed: 0, p50DurationMs: null, p95DurationMs: null },
      ]);
    });
  });

  describe("failure tracking, recovery and retention", () => {
    it("marks a webhook failing once, keeping the first time, until a success clears it", async () => {
      const store = await open();
      const webhook = makeWebhook({ tenantId: TENANT });
      await store.insertWebhook(webhook);
      expect(await store.markWebhookFailing(webhook.id, NOW)).toBe(NOW);
      expect(await store.markWebhookFailing(webhook.id, NOW + 100)).toBe(NOW);
      expect((await store.getWebhook(webhook.id))?.failingSince).toBe(NOW);
      await store.clearWebhookFailing(webhook.id);
      expect((await store.getWebhook(webhook.id))?.failingSince).toBeNull();
      expect(await store.markWebhookFailing(webhook.id, NOW + 200)).toBe(NOW + 200);
      expect(await store.markWebhookFailing(uuidv7(), NOW)).toBeNull();
    });

    it("runs a recovery job in batches, moving its cursor, until it is done", async () => {
      const store = await open();
      const webhook = makeWebhook({ tenantId: TENANT });
      await store.insertWebhook(webhook);
      await ingestEvents(store, TENANT, [webhook.id], 1, { createdAt: NOW - 1_000 });
      await ingestEvents(store, TENANT, [webhook.id], 5, { createdAt: NOW });
      const claimer = makeClaimer(store, "w1");
      const claimed = await claimer.claim();
      await claimer.settle(claimed.map((d) => failedAttempt(d, "failed", null)));
      const recent = claimed.filter((d) => d.createdAt === NOW).map((d) => d.id);
      const job = { id: uuidv7(), webhookId: webhook.id, since: NOW, cursor: null, requeued: 0, status: "running" as const, createdAt: NOW, updatedAt: NOW };
      await store.insertRecoveryJob(job);
      expect(await store.getRecoveryJob(job.id)).toEqual(job);
      expect(await store.listRunningRecoveryJobs()).toEqual([job]);
      const step1 = await store.advanceRecoveryJob(job.id, 2, NOW + 1);
      expect(step1).toMatchObject({ cursor: recent[1], requeued: 2, status: "running", updatedAt: NOW + 1 });
      await store.advanceRecoveryJob(job.id, 2, NOW + 2);
      const step3 = await store.advanceRecoveryJob(job.id, 2, NOW + 3);
      expect(step3).toMatchObject({ cursor: recent[4], requeued: 5, status: "done" });
      expect(await store.advanceRecoveryJob(job.id, 2, NOW + 4)).toEqual(step3);
      expect(await store.listRunningRecoveryJobs()).toEqual([]);
      expect((await store.listDeliveries({ state: "pending" })).items.map((d) => d.id).sort()).toEqual([...recent].sort());
      expect(await store.advanceRecoveryJob(uuidv7(), 2, NOW)).toBeNull();
      expect(await store.getRecoveryJob(uuidv7())).toBeNull();
    });

    it("deletes finished deliveries completed before the cutoff, with their attempts, then events left without deliveries", async () => {
      const store = await open();
      const webhook = makeWebhook({ tenantId: TENANT });
      await store.insertWebhook(webhook);
      const [old] = await ingestEvents(store, TENANT, [webhook.id], 1, { createdAt: NOW - 10_000 });
      const [open1, open2] = await ingestEvents(store, TENANT, [webhook.id], 2, { createdAt: NOW - 10_000 });
      const [undelivered] = await ingestEvents(store, TENANT, [], 1, { createdAt: NOW - 10_000 });
      const claimer = makeClaimer(store, "w1");
      const claimed = await claimer.claim({ limit: 2 });
      const settled = claimed.find((d) => d.id === old!.deliveryIds[0])!;
      await claimer.settle([succeeded(settled, { startedAt: NOW - 9_000, durationMs: 1 })]);
      expect(await store.deleteFinishedBefore(NOW, 100)).toBe(1);
      expect(await store.getDelivery(settled.id)).toBeNull();
      expect(await store.listAttempts(settled.id)).toEqual([]);
      expect(await store.getEvent(old!.event.id)).toBeNull();
      expect(await store.getEvent(undelivered!.event.id)).toBeNull();
      // Open deliveries (in flight or pending) stay, and so do their events.
      expect(await store.getEvent(open1!.event.id)).not.toBeNull();
      expect(await store.getDelivery(open2!.deliveryIds[0]!)).not.toBeNull();
      expect(await store.deleteFinishedBefore(NOW, 100)).toBe(0);
    });
  });

  describe("event types", () => {
    it("upserts, gets and lists a tenant's event types by name", async () => {
      const store = await open();
      const schema = { type: "object", required: ["id"] };
      await store.upsertEventType({ tenantId: TENANT, name: "order.paid", description: "paid", schema, createdAt: NOW });
      await store.upsertEventType({ tenantId: TENANT, name: "Order.created", description: "", schema: null, createdAt: NOW });
      await store.upsertEventType({ tenantId: OTHER, name: "order.paid", description: "theirs", schema: null, createdAt: NOW });
      expect(await store.getEventType(TENANT, "order.paid")).toEqual({ tenantId: TENANT, name: "order.paid", description: "paid", schema, createdAt: NOW });
      await store.upsertEventType({ tenantId: TENANT, name: "order.paid", description: "changed", schema: null, createdAt: NOW + 1 });
      expect(await store.getEventType(TENANT, "order.paid")).toEqual({ tenantId: TENANT, name: "order.paid", description: "changed", schema: null, createdAt: NOW });
      expect((await store.listEventTypes(TENANT)).map((t) => t.name)).toEqual(["Order.created", "order.paid"]);
      expect(await store.getEventType(TENANT, "missing")).toBeNull();
    });
  });
});
