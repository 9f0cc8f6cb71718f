/**
 * Latency: events triggered one at a time at a steady rate (1,000/s by default) to one webhook,
 * timed from "accepted" — trigger() resolved, the event committed — to "received" — the body
 * fully read in the receiver process.
 *
 * The two times come from two processes, so both are read from the same clock: wall-clock
 * milliseconds as performance.timeOrigin + performance.now() (wallClockMs). timeOrigin is each
 * process's start time on the system's realtime clock, and performance.now() runs on the
 * monotonic clock from there, so the two processes agree to well under a millisecond unless
 * the realtime clock is stepped between their starts. Date.now() would do too, but only to
 * the whole millisecond, which is coarse against a 5 ms target.
 */
import { percentiles, rateFigure, round, sleep, type ScenarioOutcome } from "./figures.js";
import { heraldConcurrency, openHeraldUnderTest, sampleEvent, type BenchContext } from "./herald-under-test.js";
import { wallClockMs } from "./receiver-process.js";

export const LATENCY_TARGETS = { p50Ms: 5, p99Ms: 25 };
/** How long to wait, after the last trigger, for its delivery to arrive. */
const SETTLE_MS = 5_000;
/** The pacing loop wakes this often and triggers however many events are due by then. */
const TICK_MS = 1;

export async function runLatency(context: BenchContext): Promise<ScenarioOutcome> {
  const { receiver, options } = context;
  const total = Math.round(options.latencyRate * options.latencySeconds);
  context.log(`latency: ${total} events at ${options.latencyRate}/s`);
  const target = await openHeraldUnderTest(context, [{ url: receiver.url("latency") }]);
  const acceptedAt = new Map<string, number>();
  const latencies: number[] = [];
  let lateReceipts = 0;
  try {
    await target.herald.start();
    await receiver.reset(true);
    receiver.onReceipt = (eventId, receivedAt) => {
      const accepted = acceptedAt.get(eventId);
      if (accepted === undefined) {
        lateReceipts++; // a receipt reported before its trigger's continuation ran: cannot happen unless clocks disagree
        return;
      }
      acceptedAt.delete(eventId);
      latencies.push(receivedAt - accepted);
    };

    let triggered = 0;
    let failed = 0;
    const started = performance.now();
    const deadline = started + options.latencySeconds * 1000 + options.scenarioTimeoutMs;
    while (triggered < total && performance.now() < deadline) {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * options.latencyRate) + 1);
      for (; triggered < due; triggered++) {
        const event = sampleEvent(triggered);
        target.herald.trigger(event.type, event.data).then(
          (result) => acceptedAt.set(result.event.id, wallClockMs()),
          () => failed++,
        );
      }
      await sleep(TICK_MS);
    }
    const triggerSeconds = (performance.now() - started) / 1000;

    const settleDeadline = performance.now() + SETTLE_MS;
    while (latencies.length < triggered - failed && performance.now() < settleDeadline) await sleep(20);
    await receiver.snapshot(); // flushes the receiver's last batch of receipts
    const stats = percentiles(latencies);
    const achieved = context.ceiling.rate(triggered, triggerSeconds, heraldConcurrency(1));
    const met = stats.p50Ms <= LATENCY_TARGETS.p50Ms && stats.p99Ms <= LATENCY_TARGETS.p99Ms;
    const goal = `p50 <= ${LATENCY_TARGETS.p50Ms} ms, p99 <= ${LATENCY_TARGETS.p99Ms} ms`;
    return {
      json: {
        targetRatePerSecond: options.latencyRate,
        seconds: round(triggerSeconds, 3),
        triggered,
        triggerFailures: failed,
        received: stats.count,
        missing: triggered - failed - stats.count,
        unmatchedReceipts: lateReceipts,
        eventsPerSecond: achieved,
        ...stats,
        clock: "performance.timeOrigin + performance.now() in both processes",
        target: { goal, met },
      },
      figures: [
        rateFigure("events/s triggered (paced)", achieved, "events/s"),
        { name: "accepted -> received p50", value: stats.p50Ms, unit: "ms", target: { goal: `<= ${LATENCY_TARGETS.p50Ms} ms`, met: stats.p50Ms <= LATENCY_TARGETS.p50Ms } },
        { name: "accepted -> received p95", value: stats.p95Ms, unit: "ms" },
        { name: "accepted -> received p99", value: stats.p99Ms, unit: "ms", target: { goal: `<= ${LATENCY_TARGETS.p99Ms} ms`, met: stats.p99Ms <= LATENCY_TARGETS.p99Ms } },
        { name: "accepted -> received max", value: stats.maxMs, unit: "ms" },
      ],
    };
  } finally {
    receiver.onReceipt = null;
    await target.close();
  }
}
