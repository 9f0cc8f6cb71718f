/**
 * Claiming ahead (src/dispatch/dispatcher.ts, AHEAD_WINDOWS): a healthy webhook's deliveries
 * are leased to the worker beyond its free slots and wait in memory. These tests hold the
 * guarantees around that: the cap on requests, and what waits being given back, unsent, when
 * the webhook is paused or starts to be paced.
 */
import { afterEach, describe, expect, it } from "vitest";
import { closeEngines, eventually, openEngine, sleep } from "../helpers/engine.js";
import { closeReceivers, receiver } from "../helpers/receiver.js";
import type { Herald } from "../../src/index.js";

afterEach(async () => {
  await closeEngines();
  await closeReceivers();
});

async function states(herald: Herald, ids: string[]): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const id of ids) {
    const { state } = await herald.deliveries.get(id);
    counts[state] = (counts[state] ?? 0) + 1;
  }
  return counts;
}

async function triggerMany(herald: Herald, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push(...(await herald.trigger("custom", { i })).deliveries);
  return ids;
}

describe("claiming ahead of free slots", () => {
  it("leases more than maxConcurrency deliveries, yet never has more than maxConcurrency requests in flight", async () => {
    let inFlight = 0;
    let peak = 0;
    const r = await receiver(() => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      setTimeout(() => inFlight--, 150);
      return { delayMs: 150 };
    });
    const herald = await openEngine();
    await herald.webhooks.create({ url: r.url, maxConcurrency: 2 });
    const ids = await triggerMany(herald, 12);
    await herald.start();
    await r.waitFor(2);
    // Two requests out, and more leased to this worker, waiting for a slot.
    const leased = (await states(herald, ids)).in_flight ?? 0;
    expect(leased).toBeGreaterThan(2);
    expect(leased).toBeLessThanOrEqual(6);
    await r.waitFor(12, undefined, 10_000);
    expect(peak).toBe(2);
    await eventually(async () => (await states(herald, ids)).succeeded === 12, 5_000, "all twelve recorded");
  });

  it("pausing a webhook gives back what waits for a slot: only the request already out is sent", async () => {
    const r = await receiver(() => ({ delayMs: 300 }));
    const herald = await openEngine();
    const webhook = await herald.webhooks.create({ url: r.url, maxConcurrency: 1 });
    const ids = await triggerMany(herald, 5);
    await herald.start();
    await r.waitFor(1);
    expect((await states(herald, ids)).in_flight).toBeGreaterThan(1); // claimed ahead
    await herald.webhooks.pause(webhook.id);
    await eventually(async () => (await states(herald, ids)).succeeded === 1, 5_000, "the request out to be recorded");
    await sleep(400); // time for a second request, had one been started
    expect(r.requests).toHaveLength(1);
    expect(await states(herald, ids)).toEqual({ succeeded: 1, pending: 4 });
    await herald.webhooks.resume(webhook.id);
    await r.waitFor(5, undefined, 10_000);
    await eventually(async () => (await states(herald, ids)).succeeded === 5, 5_000, "the rest delivered on resume");
  });

  it("a 429 gives back what waits: nothing stays leased through the back-off", async () => {
    const r = await receiver((req) => (req.n === 1 ? { status: 429, headers: { "retry-after": "1" } } : { status: 204 }));
    const herald = await openEngine();
    await herald.webhooks.create({ url: r.url, maxConcurrency: 1, retry: { maxAttempts: 3, initialDelayMs: 10 } });
    const ids = await triggerMany(herald, 4);
    await herald.start();
    await r.waitFor(1);
    // Within the 1 s back-off: none of the four is held by the worker, none was sent again.
    await eventually(async () => (await states(herald, ids)).pending === 4, 900, "the waiting deliveries to be released");
    expect(r.requests).toHaveLength(1);
    await r.waitFor(5, undefined, 10_000);
    await eventually(async () => (await states(herald, ids)).succeeded === 4, 5_000, "all four delivered after the back-off");
  });
});
