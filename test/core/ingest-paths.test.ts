/**
 * Every door into the engine is the same door (issue 11): `trigger`, `triggerMany`, test sends
 * and Herald's own events all validate event-type schemas, apply idempotency with the
 * configured window, and share group commits; a failed shared commit is reported, not dropped.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Store } from "../../src/store/store.js";
import { describeOnPostgresOnly } from "../helpers/backends.js";
import { closeEngines, openEngine, reopenEngine, storeOf } from "../helpers/engine.js";
import { startReceiver, type TestReceiver } from "../helpers/receiver.js";

const receivers: TestReceiver[] = [];
afterEach(async () => {
  await closeEngines();
  for (const r of receivers.splice(0)) await r.close();
});

const ORDER_SCHEMA = { type: "object", required: ["amount"], properties: { amount: { type: "number" } } };

/**
 * The store with its ingest calls counted (and the next `failIngestMany` shared commits
 * failing). `align(n)` holds the answers of the next n event-type reads (the last read before
 * an ingest is submitted) until all n have arrived, so n concurrent calls reach the group
 * commit in the same turn on any backend, however the store's round trips interleave.
 */
function countingStore(store: Store) {
  const counts = { ingest: 0, ingestMany: 0, failIngestMany: 0 };
  let aligned: { left: number; release: () => void; gate: Promise<void> } | null = null;
  const align = (n: number) => {
    let release = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    aligned = { left: n, release, gate };
  };
  const wrapped = new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (property === "getEventType" && aligned) {
        const batch = aligned;
        return async (...args: Parameters<Store["getEventType"]>) => {
          const answer = await target.getEventType(...args);
          if (--batch.left === 0) {
            aligned = null;
            batch.release();
          }
          await batch.gate;
          return answer;
        };
      }
      if (property === "ingest") return (...args: Parameters<Store["ingest"]>) => (counts.ingest++, target.ingest(...args));
      if (property === "ingestMany") {
        return (...args: Parameters<Store["ingestMany"]>) => {
          counts.ingestMany++;
          if (counts.failIngestMany > 0) {
            counts.failIngestMany--;
            return Promise.reject(new Error("disk I/O error (injected)"));
          }
          return target.ingestMany(...args);
        };
      }
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store: wrapped, counts, align };
}

describe("one ingest path", () => {
  it("herald.trigger() and triggerMany() enforce the event type's JSON Schema, naming the field", async () => {
    const herald = await openEngine();
    await herald.eventTypes.upsert(herald.defaultTenantId, { name: "order.paid", schema: ORDER_SCHEMA });
    await expect(herald.trigger("order.paid", { amount: "ten" })).rejects.toMatchObject({ code: "HERALD_ERR_VALIDATION", field: "data.amount" });
    await expect(herald.trigger("order.paid", {})).rejects.toMatchObject({ code: "HERALD_ERR_VALIDATION", field: "data.amount" });
    await expect(
      herald.triggerMany([{ type: "order.paid", data: { amount: 1 } }, { type: "order.paid", data: { amount: null } }]),
    ).rejects.toMatchObject({ code: "HERALD_ERR_VALIDATION", field: "events[1].data.amount" });
    // All or none: the valid first event of the refused batch was not kept either.
    expect((await herald.events.list({ type: "order.paid" })).items).toHaveLength(0);
    const ok = await herald.trigger("order.paid", { amount: 10 });
    expect((await herald.events.get(ok.event.id)).data).toEqual({ amount: 10 });
  });

  it("an event for a tenant that does not exist is refused by the engine, not only by the API", async () => {
    const herald = await openEngine();
    await expect(herald.trigger("custom", {}, null, { tenantId: "01900000-0000-7000-8000-000000000000" })).rejects.toMatchObject({
      code: "HERALD_ERR_TENANT_NOT_FOUND",
      field: "tenantId",
    });
  });

  it("single triggers, a batch and system events in the same turn share one commit", async () => {
    const base = await openEngine();
    const { store, counts, align } = countingStore(await storeOf(base));
    const herald = await openEngine({ store, createDefaultTenant: false });
    const before = { ...counts };
    align(3);
    await Promise.all([
      herald.trigger("custom", { n: 1 }),
      herald.trigger("custom", { n: 2 }),
      herald.triggerMany([{ type: "custom", data: { n: 3 } }, { type: "custom", data: { n: 4 } }]),
    ]);
    expect(counts.ingestMany - before.ingestMany).toBe(1);
    expect(counts.ingest - before.ingest).toBe(0);
    expect((await herald.events.list({ type: "custom" })).items).toHaveLength(4);
  });

  it("a shared commit that fails for no input's fault is reported through onError, and every event is still committed alone", async () => {
    const base = await openEngine();
    const { store, counts, align } = countingStore(await storeOf(base));
    const reported: Array<{ error: unknown; context: string }> = [];
    const herald = await openEngine({ store, createDefaultTenant: false, onError: (error, context) => reported.push({ error, context }) });
    counts.failIngestMany = 1;
    align(2);
    const results = await Promise.all([herald.trigger("custom", { n: 1 }), herald.trigger("custom", { n: 2 })]);
    expect(results.every((r) => !r.duplicate)).toBe(true);
    expect(reported).toHaveLength(1);
    expect(String(reported[0]!.error)).toContain("disk I/O error (injected)");
    expect(reported[0]!.context).toContain("committing 2 ingests together");
    for (const r of results) expect((await herald.events.get(r.event.id)).id).toBe(r.event.id);
  });

  it("a test send goes through the same path: recorded, to that webhook only; Herald's own types take no schema", async () => {
    const r = await startReceiver();
    receivers.push(r);
    const herald = await openEngine();
    await herald.start();
    const target = await herald.webhooks.create({ url: `${r.url}/target`, events: ["order.paid"] });
    await herald.webhooks.create({ url: `${r.url}/other`, events: ["*", "webhook.test"] });
    const { delivery, attempt } = await herald.webhooks.sendTest(target.id);
    expect(delivery.webhookId).toBe(target.id);
    expect(attempt?.response?.status).toBe(200);
    const event = await herald.events.get(delivery.eventId);
    expect(event.type).toBe("webhook.test");
    expect((await herald.deliveries.list({ eventId: event.id })).items.map((d) => d.webhookId)).toEqual([target.id]);
    // Herald's own event types take no schema: one would only make Herald drop its own events.
    for (const name of ["webhook.test", "webhook.created", "delivery.exhausted"]) {
      await expect(herald.eventTypes.upsert(herald.defaultTenantId, { name, schema: { type: "object", required: ["nope"] } })).rejects.toMatchObject({
        code: "HERALD_ERR_VALIDATION",
        field: "schema",
      });
    }
    expect((await herald.eventTypes.upsert(herald.defaultTenantId, { name: "webhook.test", description: "test sends" })).created).toBe(true);
  });

  it("the idempotency window is the configured one, and the conflict says how long it is", async () => {
    const herald = await openEngine({ limits: { idempotencyWindowMs: 1_000 } });
    expect(herald.config.limits.idempotencyWindowMs).toBe(1_000);
    const id = "0190a0b0-0000-7000-8000-000000000001";
    const first = await herald.trigger("custom", {}, null, { id });
    expect((await herald.trigger("custom", {}, null, { id })).duplicate).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const late = herald.trigger("custom", {}, null, { id });
    await expect(late).rejects.toMatchObject({ code: "HERALD_ERR_EVENT_ID_CONFLICT", field: "id" });
    await expect(late).rejects.toThrow(/more than 1 s ago/);
    await expect(late).rejects.not.toThrow(/24 h/);
    expect(first.duplicate).toBe(false);
  });

  it("the engine's configuration is resolved once and frozen", async () => {
    const herald = await openEngine({ retention: { retentionDays: 3, intervalMs: 5_000 } });
    expect(herald.config.retention).toEqual({ retentionDays: 3, intervalMs: 5_000 });
    expect(Object.isFrozen(herald.config)).toBe(true);
    expect(Object.isFrozen(herald.config.dispatch)).toBe(true);
    expect(() => {
      (herald.config.limits as { maxPayloadBytes: number }).maxPayloadBytes = 1;
    }).toThrow(TypeError);
  });
});

describeOnPostgresOnly("one ingest path, several processes", () => {
  it("a tenant deleted by another process takes no more events in this one", async () => {
    const here = await openEngine();
    const tenant = await here.tenants.create({ name: "short-lived" });
    await here.trigger("custom", {}, null, { tenantId: tenant.id });
    const elsewhere = await reopenEngine(here);
    await elsewhere.tenants.delete(tenant.id);
    await expect(here.trigger("custom", {}, null, { tenantId: tenant.id })).rejects.toMatchObject({ code: "HERALD_ERR_TENANT_NOT_FOUND" });
  });
});
