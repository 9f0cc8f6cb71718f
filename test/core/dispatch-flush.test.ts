/**
 * Attempt records are committed in batches (Dispatcher.flush). When a commit fails, the batch is
 * kept — and must be committed again on its own timer, with back-off, rather than wait for some
 * later attempt to trigger a flush that, on a quiet webhook, never comes.
 */
import { afterEach, describe, expect, it } from "vitest";
import { closeEngines, engineBackend, eventually, openEngine, sleep } from "../helpers/engine.js";
import { storeBackends } from "../helpers/backends.js";
import { closeReceivers, receiver } from "../helpers/receiver.js";
import type { Store } from "../../src/store/store.js";

afterEach(async () => {
  await closeEngines();
  await closeReceivers();
});

/** The backend's store, with recordAttempts failing while `failing()` says so; counts every call. */
async function storeFailingRecords(failing: (call: number) => boolean): Promise<{ store: Store; calls: number[] }> {
  const backend = storeBackends.find((b) => b.name === engineBackend)!;
  const inner = await backend.open();
  const calls: number[] = [];
  const store = new Proxy(inner, {
    get(target, property) {
      if (property === "recordAttempts") {
        return async (...args: Parameters<Store["recordAttempts"]>) => {
          calls.push(Date.now());
          if (failing(calls.length)) throw new Error("disk I/O error (injected)");
          return target.recordAttempts(...args);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { store, calls };
}

describe("attempt-record flush", () => {
  it("a failed attempt-record commit is retried on its own, with no other attempt arriving", async () => {
    const { store, calls } = await storeFailingRecords((call) => call === 1);
    const errors: string[] = [];
    const r = await receiver(() => ({ status: 204 }));
    const herald = await openEngine({ store, onError: (_error, context) => errors.push(context) });
    await herald.webhooks.create({ url: r.url });
    await herald.start();
    const { deliveries } = await herald.trigger("order.created", { n: 1 });

    const delivery = await eventually(
      async () => {
        const d = await herald.deliveries.get(deliveries[0]!);
        return d.state === "succeeded" ? d : undefined;
      },
      3_000,
      "the kept attempt record to be committed",
    );
    expect(delivery.attempts).toHaveLength(1);
    expect(r.requests).toHaveLength(1); // committed from memory, not sent again
    expect(calls.length).toBe(2);
    expect(errors).toEqual(["recording attempts"]);
  });

  it("a store that keeps failing is retried with growing delays, and every attempt is committed once it recovers", async () => {
    let recovered = false;
    const { store, calls } = await storeFailingRecords(() => !recovered);
    const r = await receiver(() => ({ status: 204 }));
    const herald = await openEngine({ store, dispatch: { flushDelayMs: 5 }, onError: () => {} });
    await herald.webhooks.create({ url: r.url });
    await herald.start();
    const { deliveries } = await herald.trigger("order.created", { n: 1 });
    await r.waitFor(1);
    await sleep(400);
    // 5, 10, 20, 40, 80, 160 ms: about seven commits in 400 ms, not one per turn of the event loop.
    expect(calls.length).toBeGreaterThanOrEqual(4);
    expect(calls.length).toBeLessThanOrEqual(9);
    const gaps = calls.slice(1).map((at, i) => at - calls[i]!);
    expect(gaps.at(-1)!).toBeGreaterThan(gaps[0]!);

    recovered = true;
    await eventually(async () => (await herald.deliveries.get(deliveries[0]!)).state === "succeeded", 8_000, "the delivery to be recorded");
    expect(r.requests).toHaveLength(1);
  });
});
