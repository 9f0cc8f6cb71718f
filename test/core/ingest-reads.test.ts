/**
 * The subscribers and event types every ingest reads are kept in memory on SQLite
 * (src/store/sql/ingest-reads.ts). What each test shows: nothing kept outlives a change, made
 * through the engine, through another store on the same file, or by another connection
 * writing the file behind Herald's back (another process), which reaches ingest within a second.
 */
import { afterEach, describe, expect, it } from "vitest";
import { KeptReads } from "../../src/store/sql/ingest-reads.js";
import type { SqliteStore } from "../../src/index.js";
import { closeEngines, engineBackend, openEngine, sleep, storeOf } from "../helpers/engine.js";

afterEach(closeEngines);

const URL_A = "https://a.example.com/hook";
const ORDER = { type: "object", required: ["total"], properties: { total: { type: "number" } } };

describe("ingest's kept reads", () => {
  it("a webhook's events, status, filter and deletion count from the next ingest", async () => {
    const herald = await openEngine();
    const count = async (type: string, data: unknown = {}) => (await herald.trigger(type, data)).deliveries.length;
    const webhook = await herald.webhooks.create({ url: URL_A, events: ["a.*"] });
    expect(await count("a.x")).toBe(1);
    await herald.webhooks.update(webhook.id, { events: ["b.*"] });
    expect([await count("a.x"), await count("b.x")]).toEqual([0, 1]);
    await herald.webhooks.pause(webhook.id);
    expect(await count("b.x")).toBe(0);
    await herald.webhooks.resume(webhook.id);
    expect(await count("b.x")).toBe(1);
    await herald.webhooks.update(webhook.id, { filter: { "data.total": { $gt: 10 } } });
    expect([await count("b.x", { total: 5 }), await count("b.x", { total: 50 })]).toEqual([0, 1]);
    const second = await herald.webhooks.create({ url: URL_A, events: ["b.*"] });
    expect(await count("b.x", { total: 50 })).toBe(2);
    await herald.webhooks.delete(webhook.id);
    await herald.webhooks.delete(second.id);
    expect(await count("b.x", { total: 50 })).toBe(0);
  });

  it("an event type's schema applies from the next ingest, and stops when the type is deleted", async () => {
    const herald = await openEngine();
    const tenant = herald.defaultTenantId;
    await herald.trigger("order.paid", { total: "ten" }); // read and kept: no event type
    await herald.eventTypes.upsert(tenant, { name: "order.paid", schema: ORDER });
    await expect(herald.trigger("order.paid", { total: "ten" })).rejects.toMatchObject({ code: "HERALD_ERR_VALIDATION", field: "data.total" });
    await herald.eventTypes.upsert(tenant, { name: "order.paid", schema: { type: "object" } });
    await herald.trigger("order.paid", { total: "ten" });
    await herald.eventTypes.upsert(tenant, { name: "order.paid", schema: ORDER });
    await expect(herald.trigger("order.paid", { total: "ten" })).rejects.toMatchObject({ field: "data.total" });
    await herald.eventTypes.delete(tenant, "order.paid");
    await herald.trigger("order.paid", { total: "ten" });
  });

  it("a deleted tenant's webhooks and event types are not kept for a tenant made again under its id", async () => {
    const herald = await openEngine();
    const tenant = await herald.tenants.create({ name: "t", id: "tenant-kept" });
    await herald.webhooks.create({ url: URL_A }, { tenantId: tenant.id });
    await herald.eventTypes.upsert(tenant.id, { name: "order.paid", schema: ORDER });
    expect((await herald.trigger("order.paid", { total: 1 }, null, { tenantId: tenant.id })).deliveries).toHaveLength(1);
    await herald.tenants.delete(tenant.id);
    await herald.tenants.create({ name: "t", id: "tenant-kept" });
    const again = await herald.trigger("order.paid", { total: "any" }, null, { tenantId: tenant.id });
    expect(again.deliveries).toHaveLength(0);
  });

  it("tenant ids and type names that run together never share a kept answer", async () => {
    const herald = await openEngine();
    await herald.tenants.create({ name: "a", id: "a" });
    await herald.tenants.create({ name: "a-b", id: "a\nb" });
    await herald.eventTypes.upsert("a\nb", { name: "c", schema: ORDER });
    await expect(herald.eventTypes.get("a", "b\nc")).rejects.toMatchObject({ code: "HERALD_ERR_EVENT_TYPE_NOT_FOUND" });
    await expect(herald.trigger("c", { total: "ten" }, null, { tenantId: "a\nb" })).rejects.toMatchObject({ field: "data.total" });
    await expect(herald.eventTypes.get("a", "b\nc")).rejects.toMatchObject({ code: "HERALD_ERR_EVENT_TYPE_NOT_FOUND" });
  });

  it("an event type read through the engine is the caller's own copy", async () => {
    const herald = await openEngine();
    await herald.eventTypes.upsert(herald.defaultTenantId, { name: "order.paid", description: "paid", schema: ORDER });
    await expect(herald.trigger("order.paid", { total: "ten" })).rejects.toMatchObject({ field: "data.total" }); // kept now
    const got = await herald.eventTypes.get(herald.defaultTenantId, "order.paid");
    got.description = "changed";
    (got.schema as { required: string[] }).required.push("currency");
    const again = await herald.eventTypes.get(herald.defaultTenantId, "order.paid");
    expect({ description: again.description, required: (again.schema as { required: string[] }).required }).toEqual({ description: "paid", required: ["total"] });
    expect((await herald.trigger("order.paid", { total: 10 })).event.type).toBe("order.paid"); // no currency needed
  });

  it.skipIf(engineBackend !== "sqlite")("another connection's write to the SQLite file reaches ingest within a second", async () => {
    const herald = await openEngine();
    const webhook = await herald.webhooks.create({ url: URL_A });
    await herald.eventTypes.upsert(herald.defaultTenantId, { name: "order.paid", schema: { type: "object" } });
    expect((await herald.trigger("order.paid", { total: "ten" })).deliveries).toHaveLength(1);
    // A raw connection, as another process would write: no Herald store hears of it.
    const other = (await storeOf(herald)) as SqliteStore;
    other.db.prepare("UPDATE webhooks SET status = 'inactive' WHERE id = ?").run(webhook.id);
    other.db.prepare("UPDATE event_types SET schema = ? WHERE name = 'order.paid'").run(JSON.stringify(ORDER));
    const started = Date.now();
    let seen = false;
    while (!seen && Date.now() - started < 3_000) {
      const outcome = await herald.trigger("order.paid", { total: 1 });
      const refused = await herald.trigger("order.paid", { total: "ten" }).then(() => false, () => true);
      seen = outcome.deliveries.length === 0 && refused;
      if (!seen) await sleep(50);
    }
    expect(seen).toBe(true);
    expect(Date.now() - started).toBeLessThan(1_600);
  });
});

describe("KeptReads", () => {
  it("keeps an answer until forget(), and never keeps one read while a change ran", async () => {
    const reads = new KeptReads<string[]>();
    let loads = 0;
    const load = async () => [`answer ${++loads}`];
    expect(await reads.read("k", load)).toEqual(["answer 1"]);
    expect(await reads.read("k", load)).toEqual(["answer 1"]);
    reads.forget();
    expect(await reads.read("k", load)).toEqual(["answer 2"]);

    let release = () => {};
    const slow = reads.read("racing", () => new Promise<string[]>((resolve) => (release = () => resolve(["old rows"]))));
    reads.forget(); // a write ran while the read was under way
    release();
    expect(await slow).toEqual(["old rows"]);
    expect(await reads.read("racing", async () => ["new rows"])).toEqual(["new rows"]);
  });

  it("hands out a copy of a kept list, whose items are frozen", async () => {
    const reads = new KeptReads<Array<{ id: string }>>();
    const first = await reads.read("k", async () => [{ id: "b" }, { id: "a" }]);
    first.sort((x, y) => x.id.localeCompare(y.id));
    expect((await reads.read("k", async () => [])).map((item) => item.id)).toEqual(["b", "a"]);
    expect(Object.isFrozen(first[0])).toBe(true);
  });
});
