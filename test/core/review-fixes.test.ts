/** Regression tests for defects found in review; each fails without its fix. */
import { afterEach, describe, expect, it } from "vitest";
import { closeEngines, eventually, openEngine, reopenEngine, sleep } from "../helpers/engine.js";
import { closeReceivers, receiver } from "../helpers/receiver.js";

afterEach(async () => {
  await closeEngines();
  await closeReceivers();
});

describe("fixes from review", () => {
  it("deleting a webhook mid-request loses no other webhook's attempt record", async () => {
    const slow = await receiver(() => ({ delayMs: 300 }));
    const fast = await receiver(() => ({ delayMs: 300 })); // answers in the same flush window as slow
    const herald = await openEngine();
    await herald.start();
    const doomed = await herald.webhooks.create({ url: slow.url });
    await herald.webhooks.create({ url: fast.url });
    const { deliveries } = await herald.trigger("custom", {});
    await slow.waitFor(1);
    await herald.webhooks.delete(doomed.id);
    const kept = await eventually(async () => {
      for (const id of deliveries) {
        const d = await herald.deliveries.get(id).catch(() => null);
        if (d?.state === "succeeded") return d;
      }
      return undefined;
    }, 5_000, "the other webhook's delivery to be recorded");
    expect(kept.attempts).toHaveLength(1);
    await sleep(300);
    expect(fast.requests).toHaveLength(1); // recorded, so never sent again
  });

  it("a second engine in the same process does not take over the first one's leases", async () => {
    const r = await receiver(() => ({ delayMs: 700 }));
    const first = await openEngine({ dispatch: { leaseCheckIntervalMs: 50, pollIntervalMs: 20 } });
    await first.webhooks.create({ url: r.url, maxConcurrency: 1 });
    await first.start();
    await first.trigger("custom", {});
    await r.waitFor(1);
    const second = await reopenEngine(first, { dispatch: { leaseCheckIntervalMs: 50, pollIntervalMs: 20 } });
    await second.start();
    await sleep(500);
    expect(r.requests).toHaveLength(1);
  });

  it("a webhook's rate limit holds from the first claim after a restart", async () => {
    const r = await receiver();
    const first = await openEngine();
    await first.webhooks.create({ url: r.url, rateLimitPerSecond: 2, maxConcurrency: 10 });
    for (let i = 0; i < 6; i++) await first.trigger("custom", { i });
    await first.close();
    const second = await reopenEngine(first);
    await second.start();
    await sleep(400);
    expect(r.requests.length).toBeLessThanOrEqual(2); // a burst of one second's worth, not all six
    await r.waitFor(6, undefined, 5_000);
  });

  it("a tenant cannot read or retry deliveries to a global webhook", async () => {
    const ok = await receiver();
    const herald = await openEngine();
    await herald.start();
    const tenant = await herald.tenants.create({ name: "t" });
    const global = await herald.webhooks.create({ url: `${ok.url}/ops?token=operator-secret` }, { tenantId: null });
    const own = await herald.webhooks.create({ url: ok.url }, { tenantId: tenant.id });
    const { deliveries } = await herald.trigger("custom", {}, null, { tenantId: tenant.id });
    await ok.waitFor(2);
    const scope = { tenantId: tenant.id };
    const listed = (await herald.deliveries.list(scope)).items;
    expect(listed.map((d) => d.webhookId)).toEqual([own.id]);
    const toGlobal = deliveries.find((id) => !listed.some((d) => d.id === id))!;
    expect((await herald.deliveries.get(toGlobal)).webhookId).toBe(global.id); // the operator sees it
    await expect(herald.deliveries.get(toGlobal, scope)).rejects.toMatchObject({ code: "HERALD_ERR_DELIVERY_NOT_FOUND" });
    await expect(herald.deliveries.retry(toGlobal, scope)).rejects.toMatchObject({ code: "HERALD_ERR_DELIVERY_NOT_FOUND" });
  });

  it("an Idempotency-Key can be used again once its window has passed", async () => {
    const herald = await openEngine({ limits: { idempotencyWindowMs: 100 } });
    const first = await herald.trigger("custom", { n: 1 }, null, { idempotencyKey: "order-7" });
    expect((await herald.trigger("custom", { n: 2 }, null, { idempotencyKey: "order-7" })).duplicate).toBe(true);
    await sleep(150);
    const later = await herald.trigger("custom", { n: 3 }, null, { idempotencyKey: "order-7" });
    expect(later.duplicate).toBe(false);
    expect(later.event.id).not.toBe(first.event.id);
    expect((await herald.trigger("custom", { n: 4 }, null, { idempotencyKey: "order-7" })).event.id).toBe(later.event.id);
  });

  it("recover refuses a start time in the future", async () => {
    const herald = await openEngine();
    const webhook = await herald.webhooks.create({ url: "https://example.com/hook" });
    await expect(herald.webhooks.recover(webhook.id, Date.now() + 86_400_000)).rejects.toMatchObject({ field: "since" });
  });
});
