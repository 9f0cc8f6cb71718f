/**
 * Backlog: a large queue (1M deliveries by default) built up with the worker stopped, then
 * drained; compared with a small one (10k) drained the same way. It shows whether the claim
 * query and memory stay flat as the pending set grows. RSS is this process's (Herald plus the
 * harness, not the receiver), sampled every RSS_SAMPLE_MS while queueing and while draining.
 */
import { megabytes, round, rateFigure, type ScenarioOutcome } from "./figures.js";
import { heraldConcurrency, type BenchContext } from "./herald-under-test.js";
import { measureDrain, type DrainMeasurement } from "./throughput.js";

export const BACKLOG_TARGETS = { rssMb: 300, drainRatio: 0.8 };
const RSS_SAMPLE_MS = 100;

interface BacklogRun extends DrainMeasurement {
  rssBeforeMb: number;
  rssPeakQueueingMb: number;
  rssPeakDrainingMb: number;
}

async function measureBacklog(context: BenchContext, deliveries: number): Promise<BacklogRun> {
  const fanout = context.options.backlogFanout;
  const peaks = { queueing: 0, draining: 0 };
  let phase: keyof typeof peaks | null = null;
  const sample = () => {
    if (phase !== null) peaks[phase] = Math.max(peaks[phase], process.memoryUsage.rss());
  };
  const sampler = setInterval(sample, RSS_SAMPLE_MS);
  const rssBefore = process.memoryUsage.rss();
  try {
    const m = await measureDrain(context, fanout, Math.max(1, Math.ceil(deliveries / fanout)), (next) => {
      sample();
      phase = next === "done" ? null : next;
    });
    return { ...m, rssBeforeMb: megabytes(rssBefore), rssPeakQueueingMb: megabytes(peaks.queueing), rssPeakDrainingMb: megabytes(peaks.draining) };
  } finally {
    clearInterval(sampler);
  }
}

export async function runBacklog(context: BenchContext): Promise<ScenarioOutcome> {
  const { options } = context;
  const concurrency = heraldConcurrency(options.backlogFanout);
  context.log(`backlog: ${options.backlogSmall} deliveries queued, then drained`);
  const small = await measureBacklog(context, options.backlogSmall);
  context.log(`backlog: ${options.backlogLarge} deliveries queued, then drained`);
  const large = await measureBacklog(context, options.backlogLarge);

  const smallRate = context.ceiling.rate(small.deliveries, small.drainSeconds, concurrency);
  const largeRate = context.ceiling.rate(large.deliveries, large.drainSeconds, concurrency);
  const drainRatio = round(largeRate.perSecond / smallRate.perSecond, 3);
  const rssPeakMb = Math.max(large.rssPeakQueueingMb, large.rssPeakDrainingMb);
  const rssMet = rssPeakMb <= BACKLOG_TARGETS.rssMb;
  const drainMet = drainRatio >= BACKLOG_TARGETS.drainRatio;
  const describe = (run: BacklogRun, rate: typeof smallRate) => ({
    deliveries: run.deliveries,
    events: run.events,
    webhooks: options.backlogFanout,
    queueSeconds: round(run.queueSeconds, 3),
    queueDeliveriesPerSecond: round(run.deliveries / run.queueSeconds, 1),
    drainSeconds: round(run.drainSeconds, 3),
    drainDeliveriesPerSecond: rate,
    rssBeforeMb: run.rssBeforeMb,
    rssPeakQueueingMb: run.rssPeakQueueingMb,
    rssPeakDrainingMb: run.rssPeakDrainingMb,
  });
  return {
    json: {
      small: describe(small, smallRate),
      large: describe(large, largeRate),
      drainRatio,
      rssPeakMb,
      targets: {
        rss: { goal: `<= ${BACKLOG_TARGETS.rssMb} MB`, met: rssMet },
        drain: { goal: `>= ${BACKLOG_TARGETS.drainRatio} of small-backlog rate`, met: drainMet },
      },
    },
    figures: [
      rateFigure(`drain deliveries/s, ${small.deliveries} queued`, smallRate, "deliv/s"),
      rateFigure(`drain deliveries/s, ${large.deliveries} queued`, largeRate, "deliv/s"),
      { name: "large / small drain rate", value: drainRatio, unit: "ratio", target: { goal: `>= ${BACKLOG_TARGETS.drainRatio}`, met: drainMet } },
      { name: `queueing ${large.deliveries} (triggerMany)`, value: round(large.deliveries / large.queueSeconds, 1), unit: "deliv/s" },
      { name: "RSS peak, large backlog", value: rssPeakMb, unit: "MB", target: { goal: `<= ${BACKLOG_TARGETS.rssMb} MB`, met: rssMet } },
    ],
  };
}
