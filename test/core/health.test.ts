import { afterEach, describe, expect, it } from "vitest";
import type { Store } from "../../src/store/store.js";
import { closeEngines, openEngine, storeOf } from "../helpers/engine.js";
import { startReceiver, type TestReceiver } from "../helpers/receiver.js";

/** The store with the health monitor's query (oldestDueAt) counted. */
function countingHealthChecks(store: Store) {
  const checks = { count: 0 };
  const wrapped = new Proxy(store, {
    get(target, property, receiver) {
      if (property === "oldestDueAt") return () => (checks.count++, target.oldestDueAt());
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store: wrapped, checks };
}

const receivers: TestReceiver[] = [];
afterEach(async () => {
  await closeEngines();
  for (const r of receivers.splice(0)) await r.close();
});

describe("system health events", () => {
  it("deliveries running late announce system.health.degraded, and catching up announces restored", async () => {
    const slow = await startReceiver(() => ({ delayMs: 150 }));
    const watcher = await startReceiver();
    receivers.push(slow, watcher);
    const herald = await openEngine({ health: { intervalMs: 50, lagThresholdMs: 200 } });
    await herald.webhooks.create({ url: watcher.url, events: ["system.health.*"] });
    await herald.webhooks.create({ url: slow.url, maxConcurrency: 1, events: ["order.*"] });
    await herald.start();
    for (let i = 0; i < 8; i++) await herald.trigger("order.created", { i }); // ~1.2 s of work, one at a time

    const [degraded, restored] = await watcher.waitFor(2, undefined, 10_000);
    const first = JSON.parse(degraded!.body) as { type: string; data: { reasons: string[]; delivery_lag_ms: number } };
    expect(first.type).toBe("system.health.degraded");
    expect(first.data.delivery_lag_ms).toBeGreaterThan(200);
    expect(first.data.reasons[0]).toMatch(/late/);
    const second = JSON.parse(restored!.body) as { type: string; data: { degraded_for_ms: number } };
    expect(second.type).toBe("system.health.restored");
    expect(second.data.degraded_for_ms).toBeGreaterThan(0);
    expect(slow.requests).toHaveLength(8); // restored only once the backlog was delivered
    expect(restored!.receivedAt).toBeGreaterThanOrEqual(slow.requests[7]!.receivedAt);
  });

  it("a healthy Herald announces nothing", async () => {
    const watcher = await startReceiver();
    const fast = await startReceiver();
    receivers.push(watcher, fast);
    // Silence proves nothing unless the monitor ran: count its checks (the store's oldestDueAt
    // is the health monitor's query, and only its).
    const { store, checks } = countingHealthChecks(await storeOf(await openEngine({ health: false })));
    const herald = await openEngine({ store, createDefaultTenant: false, health: { intervalMs: 30, lagThresholdMs: 500 } });
    await herald.webhooks.create({ url: watcher.url, events: ["system.health.*"] });
    await herald.webhooks.create({ url: fast.url, events: ["order.*"] });
    await herald.start();
    for (let i = 0; i < 5; i++) await herald.trigger("order.created", { i });
    await fast.waitFor(5);
    const checksBefore = checks.count;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(watcher.requests).toHaveLength(0);
    // 300 ms at one check per 30 ms is ten; three leaves room for a loaded machine.
    expect(checks.count - checksBefore).toBeGreaterThanOrEqual(3);
  });
});
