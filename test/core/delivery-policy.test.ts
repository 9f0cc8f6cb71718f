import { afterEach, describe, expect, it } from "vitest";
import type { Herald } from "../../src/index.js";
import { purgeExpiredRecords } from "../../src/maintenance/retention.js";
import { closeEngines, eventually, openEngine, reopenEngine, sleep, storeOf } from "../helpers/engine.js";
import { closeReceivers, receiver } from "../helpers/receiver.js";

afterEach(async () => {
  await closeEngines();
  await closeReceivers();
});

async function stateOf(herald: Herald, id: string) {
  return (await herald.deliveries.get(id)).state;
}

describe("receiver signals", () => {
  it("410 Gone gives up at once, disables the webhook and emits webhook.disabled", async () => {
    const gone = await receiver(() => ({ status: 410 }));
    const watcher = await receiver();
    const herald = await openEngine();
    await herald.start();
    const webhook = await herald.webhooks.create({ url: gone.url, retry: { maxAttempts: 5, initialDelayMs: 10 } });
    await herald.webhooks.create({ url: watcher.url, events: ["webhook.disabled"] });
    const { deliveries } = await herald.trigger("custom", {});
    await eventually(async () => (await stateOf(herald, deliveries[0]!)) === "failed", 5_000, "the delivery to fail");
    expect(gone.requests).toHaveLength(1);
    expect((await herald.webhooks.get(webhook.id)).status).toBe("disabled");
    const [notice] = await watcher.waitFor(1);
    expect(JSON.parse(notice!.body)).toMatchObject({ type: "webhook.disabled", data: { webhook_id: webhook.id } });
    // A disabled webhook gets no new deliveries.
    expect((await herald.trigger("custom", {})).deliveries).toHaveLength(0);
  });

  it("429 with Retry-After in seconds delays the next attempt by that much", async () => {
    const r = await receiver((req) => (req.n === 1 ? { status: 429, headers: { "retry-after": "1" } } : { status: 200 }));
    const herald = await openEngine();
    await herald.start();
    await herald.webhooks.create({ url: r.url, retry: { initialDelayMs: 10, maxDelayMs: 10_000 } });
    await herald.trigger("custom", {});
    const [first, second] = await r.waitFor(2, undefined, 5_000);
    expect(second!.receivedAt - first!.receivedAt).toBeGreaterThanOrEqual(950);
  });

  it("503 with Retry-After as an HTTP date is honoured, bounded by the policy's maximum delay", async () => {
    const r = await receiver((req) =>
      req.n === 1 ? { status: 503, headers: { "retry-after": new Date(Date.now() + 3_600_000).toUTCString() } } : { status: 200 },
    );
    const herald = await openEngine();
    await herald.start();
    await herald.webhooks.create({ url: r.url, retry: { initialDelayMs: 10, maxDelayMs: 400 } });
    await herald.trigger("custom", {});
    const [first, second] = await r.waitFor(2, undefined, 5_000);
    const gap = second!.receivedAt - first!.receivedAt;
    expect(gap).toBeGreaterThanOrEqual(380);
    expect(gap).toBeLessThan(1_500); // the hour the receiver asked for is capped at maxDelayMs
  });

  it("a 429 also holds back the webhook's other deliveries, but not other webhooks", async () => {
    let throttled = true;
    const busy = await receiver(() => (throttled ? { status: 429 } : { status: 200 }));
    const healthy = await receiver();
    const herald = await openEngine();
    await herald.start();
    await herald.webhooks.create({ url: busy.url, maxConcurrency: 1, retry: { maxAttempts: 5, initialDelayMs: 10 } });
    await herald.webhooks.create({ url: healthy.url });
    await herald.trigger("custom", { n: 1 });
    await busy.waitFor(1);
    throttled = false;
    const sentAt = Date.now();
    for (let i = 2; i <= 5; i++) await herald.trigger("custom", { n: i });
    await healthy.waitFor(5, undefined, 1_000);
    expect(busy.requests).toHaveLength(1); // held back ~1 s after the 429, though its retry was due in 10 ms
    await busy.waitFor(5, undefined, 5_000);
    expect(busy.requests[1]!.receivedAt - sentAt).toBeGreaterThanOrEqual(700);
  });
});

describe("giving up and disabling", () => {
  it("delivery.exhausted fires when a delivery gives up", async () => {
    const failing = await receiver(() => ({ status: 500 }));
    const watcher = await receiver();
    const herald = await openEngine();
    await herald.start();
    const webhook = await herald.webhooks.create({ url: failing.url, retry: { maxAttempts: 2, initialDelayMs: 10 } });
    await herald.webhooks.create({ url: watcher.url, events: ["delivery.*"] });
    const { event, deliveries } = await herald.trigger("order.created", {});
    const [notice] = await watcher.waitFor(1, undefined, 5_000);
    expect(JSON.parse(notice!.body)).toMatchObject({
      type: "delivery.exhausted",
      data: { delivery_id: deliveries[0], webhook_id: webhook.id, event_id: event.id, attempts: 2, last_status: 500 },
    });
  });

  it("a webhook whose deliveries keep giving up for the disable span is disabled; a success resets the count", async () => {
    let healthy = false;
    const r = await receiver(() => ({ status: healthy ? 200 : 500 }));
    const herald = await openEngine({ dispatch: { disableFailingAfterMs: 400, pollIntervalMs: 20 } });
    await herald.start();
    const webhook = await herald.webhooks.create({ url: r.url, retry: { maxAttempts: 1 } });

    const first = await herald.trigger("custom", {});
    await eventually(async () => (await stateOf(herald, first.deliveries[0]!)) === "failed");
    expect((await herald.webhooks.get(webhook.id)).failingSince).not.toBeNull();
    // A success clears the failing streak...
    healthy = true;
    const ok = await herald.trigger("custom", {});
    await eventually(async () => (await stateOf(herald, ok.deliveries[0]!)) === "succeeded");
    await eventually(async () => (await herald.webhooks.get(webhook.id)).failingSince === null, 2_000, "the streak to clear");
    // ...so failures after it start a new streak, which disables the webhook only once it spans 400 ms.
    healthy = false;
    const again = await herald.trigger("custom", {});
    await eventually(async () => (await stateOf(herald, again.deliveries[0]!)) === "failed");
    expect((await herald.webhooks.get(webhook.id)).status).toBe("active");
    await sleep(450);
    const last = await herald.trigger("custom", {});
    await eventually(async () => (await stateOf(herald, last.deliveries[0]!)) === "failed");
    await eventually(async () => (await herald.webhooks.get(webhook.id)).status === "disabled", 2_000, "the webhook to be disabled");
    expect((await herald.webhooks.get(webhook.id)).disabledReason).toMatch(/kept failing/);
  });
});

describe("recovery", () => {
  it("recover re-queues the webhook's failed deliveries since a time and they are delivered", async () => {
    let healthy = false;
    const r = await receiver(() => ({ status: healthy ? 200 : 500 }));
    const herald = await openEngine();
    await herald.start();
    const webhook = await herald.webhooks.create({ url: r.url, retry: { maxAttempts: 1 } });
    const before = await herald.trigger("custom", { old: true });
    await eventually(async () => (await stateOf(herald, before.deliveries[0]!)) === "failed");
    const since = Date.now() + 1;
    await sleep(5);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(...(await herald.trigger("custom", { i })).deliveries);
    await eventually(async () => (await Promise.all(ids.map((id) => stateOf(herald, id)))).every((s) => s === "failed"));
    healthy = true;
    const job = await herald.webhooks.recover(webhook.id, since);
    await eventually(async () => (await herald.webhooks.recovery(job.id)).status === "done");
    await eventually(async () => (await Promise.all(ids.map((id) => stateOf(herald, id)))).every((s) => s === "succeeded"));
    expect(await stateOf(herald, before.deliveries[0]!)).toBe("failed"); // older than `since`: left alone
    expect((await herald.webhooks.recovery(job.id)).requeued).toBe(5);
  });

  it("a recovery interrupted half-way resumes after a restart", async () => {
    let healthy = false;
    const r = await receiver(() => ({ status: healthy ? 200 : 500 }));
    const first = await openEngine();
    await first.start();
    const webhook = await first.webhooks.create({ url: r.url, retry: { maxAttempts: 1 } });
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(...(await first.trigger("custom", { i })).deliveries);
    await eventually(async () => (await Promise.all(ids.map((id) => stateOf(first, id)))).every((s) => s === "failed"));
    await first.stop();
    // The job is a row; one batch of 2 is committed, then the process goes away.
    const now = Date.now();
    const firstStore = await storeOf(first);
    await firstStore.insertRecoveryJob({ id: "job-1", webhookId: webhook.id, since: 0, cursor: null, requeued: 0, status: "running", createdAt: now, updatedAt: now });
    const partial = await firstStore.advanceRecoveryJob("job-1", 2, now);
    expect(partial).toMatchObject({ status: "running", requeued: 2 });
    await first.close();

    healthy = true;
    const second = await reopenEngine(first);
    await second.start();
    await eventually(async () => (await second.webhooks.recovery("job-1"))?.status === "done", 5_000, "the job to finish");
    await eventually(async () => (await Promise.all(ids.map((id) => stateOf(second, id)))).every((s) => s === "succeeded"), 5_000, "all six delivered");
    expect((await second.webhooks.recovery("job-1")).requeued).toBe(6);
  });
});

describe("ordering and pacing", () => {
  it("an ordered webhook gets events strictly in order, the next waiting until the previous succeeds", async () => {
    const r = await receiver((req) => ({ status: req.n <= 2 ? 500 : 200 })); // the first event fails twice
    const herald = await openEngine();
    await herald.start();
    await herald.webhooks.create({ url: r.url, ordered: true, maxConcurrency: 10, retry: { maxAttempts: 5, initialDelayMs: 50 } });
    for (let i = 1; i <= 5; i++) await herald.trigger("custom", { seq: i });
    await r.waitFor(7, undefined, 5_000);
    expect(r.requests.map((q) => (JSON.parse(q.body) as { data: { seq: number } }).data.seq)).toEqual([1, 1, 1, 2, 3, 4, 5]);
  });

  it("an ordered webhook moves on once a delivery gives up", async () => {
    const r = await receiver((req) => ({ status: (JSON.parse(req.body) as { data: { seq: number } }).data.seq === 1 ? 500 : 200 }));
    const herald = await openEngine();
    await herald.start();
    await herald.webhooks.create({ url: r.url, ordered: true, retry: { maxAttempts: 2, initialDelayMs: 20 } });
    for (let i = 1; i <= 3; i++) await herald.trigger("custom", { seq: i });
    await r.waitFor(4, undefined, 5_000);
    expect(r.requests.map((q) => (JSON.parse(q.body) as { data: { seq: number } }).data.seq)).toEqual([1, 1, 2, 3]);
  });

  it("maxConcurrency caps the requests in flight to one webhook", async () => {
    let inFlight = 0;
    let peak = 0;
    const r = await receiver(() => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      setTimeout(() => inFlight--, 100);
      return { delayMs: 100 };
    });
    const herald = await openEngine();
    await herald.start();
    await herald.webhooks.create({ url: r.url, maxConcurrency: 3 });
    for (let i = 0; i < 12; i++) await herald.trigger("custom", { i });
    await r.waitFor(12, undefined, 5_000);
    expect(peak).toBe(3);
  });

  it("rateLimitPerSecond spaces requests to the webhook", async () => {
    const r = await receiver();
    const herald = await openEngine();
    await herald.start();
    await herald.webhooks.create({ url: r.url, rateLimitPerSecond: 5 });
    for (let i = 0; i < 12; i++) await herald.trigger("custom", { i });
    const requests = await r.waitFor(12, undefined, 5_000);
    // A burst of 5, then 5 per second: the 12th goes out no sooner than ~1.4 s after the first.
    expect(requests[11]!.receivedAt - requests[0]!.receivedAt).toBeGreaterThanOrEqual(1_300);
  });
});

describe("retention", () => {
  it("finished delivery records older than the cutoff are deleted; open ones are kept", async () => {
    const ok = await receiver();
    const herald = await openEngine();
    const webhook = await herald.webhooks.create({ url: ok.url });
    await herald.start();
    const done = await herald.trigger("custom", {});
    await eventually(async () => (await stateOf(herald, done.deliveries[0]!)) === "succeeded");
    await herald.webhooks.pause(webhook.id);
    await herald.webhooks.resume(webhook.id);
    await herald.stop();
    const open = await herald.trigger("custom", {}); // stays pending: the worker is stopped
    const deleted = await purgeExpiredRecords(await storeOf(herald), Date.now() + 1_000, 1);
    expect(deleted).toBe(1);
    await expect(herald.deliveries.get(done.deliveries[0]!)).rejects.toMatchObject({ code: "HERALD_ERR_DELIVERY_NOT_FOUND" });
    await expect(herald.events.get(done.event.id)).rejects.toMatchObject({ code: "HERALD_ERR_EVENT_NOT_FOUND" });
    expect(await stateOf(herald, open.deliveries[0]!)).toBe("pending");
  });
});
