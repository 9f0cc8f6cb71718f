/**
 * Throughput: a queue of deliveries fanned out to 1, 10 and 100 webhooks, drained by Herald's
 * worker; the clock runs from start() until every attempt is committed to the store. Each case
 * has the same number of deliveries (events = deliveries / fan-out), so the cases compare the
 * cost of fan-out rather than of volume. Queueing is timed separately (triggerMany in batches).
 */
import { sampleCeiling } from "./ceiling.js";
import { CEILING_SPREAD_LIMIT, round, rateFigure, type Figure, type Rate, type ScenarioOutcome } from "./figures.js";
import { heraldConcurrency, openHeraldUnderTest, type BenchContext } from "./herald-under-test.js";
import { startProfileWindow } from "./profile-window.js";

/** Issue 16's target: durable deliveries/s at least this share of the bare client (stretch: 0.7), every attempt recorded. */
export const THROUGHPUT_TARGET_RATIO = 0.5;

export interface DrainMeasurement {
  events: number;
  deliveries: number;
  queueSeconds: number;
  drainSeconds: number;
  succeededInStore: number;
  receivedByReceiver: number;
  /** CPU time this process spent per delivery while draining: steadier than wall-clock rates on a shared machine. */
  cpuMicrosPerDelivery: number;
}

/** Queues `events` events to `webhookCount` webhooks, then drains them; the store and Herald are fresh. */
export async function measureDrain(
  context: BenchContext,
  webhookCount: number,
  events: number,
  onPhase?: (phase: "queueing" | "draining" | "done") => void,
): Promise<DrainMeasurement> {
  const { receiver } = context;
  const target = await openHeraldUnderTest(
    context,
    Array.from({ length: webhookCount }, (_, i) => ({ url: receiver.url(`wh/${i}`) })),
  );
  try {
    const deliveries = events * webhookCount;
    onPhase?.("queueing");
    const queueSeconds = await target.queueEvents(events);
    await receiver.reset();
    onPhase?.("draining");
    const profile = await startProfileWindow(`drain-${webhookCount}x${events}`);
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    await target.herald.start();
    await target.waitForSuccesses(deliveries);
    const drainSeconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const profilePath = await profile.stop();
    if (profilePath !== null) context.log(`profile of the drain written to ${profilePath}`);
    onPhase?.("done");
    await target.herald.stop();
    const counts = await target.herald.deliveries.countByState();
    const received = (await receiver.snapshot()).received;
    if (counts.succeeded !== deliveries) {
      throw new Error(`${counts.succeeded} of ${deliveries} deliveries recorded as succeeded; errors: ${target.errors.join("; ") || "none"}`);
    }
    return {
      events, deliveries, queueSeconds, drainSeconds, succeededInStore: counts.succeeded, receivedByReceiver: received,
      cpuMicrosPerDelivery: round((cpu.user + cpu.system) / deliveries, 1),
    };
  } finally {
    await target.close();
  }
}

export async function runThroughput(context: BenchContext): Promise<ScenarioOutcome> {
  const cases: Array<Record<string, unknown>> = [];
  const figures: Figure[] = [];
  for (const fanout of context.options.fanouts) {
    const events = Math.max(1, Math.ceil(context.options.deliveries / fanout));
    context.log(`throughput: ${events} events x ${fanout} webhooks`);
    const concurrency = heraldConcurrency(fanout);
    // The ceiling is sampled again right before and after the drain it divides (issue 16: next to the figure).
    const ceilingSamples = Math.min(context.options.ceilingRequests, 10_000);
    await sampleCeiling(context, concurrency, ceilingSamples);
    const m = await measureDrain(context, fanout, events);
    await sampleCeiling(context, concurrency, ceilingSamples);
    const rate: Rate = context.ceiling.rate(m.deliveries, m.drainSeconds, concurrency);
    const met = rate.ceilingSpread <= CEILING_SPREAD_LIMIT && rate.ratioToCeiling >= THROUGHPUT_TARGET_RATIO;
    cases.push({
      webhooks: fanout,
      events: m.events,
      deliveries: m.deliveries,
      concurrency,
      seconds: round(m.drainSeconds, 3),
      deliveriesPerSecond: rate,
      cpuMicrosPerDelivery: m.cpuMicrosPerDelivery,
      attemptsRecorded: m.succeededInStore,
      receiverReceived: m.receivedByReceiver,
      queueing: { seconds: round(m.queueSeconds, 3), eventsPerSecond: round(m.events / m.queueSeconds, 1), deliveriesPerSecond: round(m.deliveries / m.queueSeconds, 1) },
      target: { goal: `>= ${THROUGHPUT_TARGET_RATIO} of ceiling`, met },
    });
    figures.push(
      rateFigure(`deliveries/s, ${fanout} webhook${fanout === 1 ? "" : "s"}`, rate, "deliv/s", { goal: `>= ${THROUGHPUT_TARGET_RATIO} x ceiling`, met }),
      { name: "  CPU per delivery (Herald process)", value: m.cpuMicrosPerDelivery, unit: "µs" },
      { name: "  queueing (triggerMany)", value: round(m.deliveries / m.queueSeconds, 1), unit: "deliv/s" },
    );
  }
  return { json: { cases }, figures };
}
