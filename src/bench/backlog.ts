/**
 * Backlog: a large queue (1M deliveries by default) built up with the worker stopped, then
 * drained; compared with a small one (10k) drained the same way. It shows whether the claim
 * query and memory stay flat as the pending set grows. Each run is a process of its own
 * (backlog-process.ts), so the RSS is Herald's (not the harness's, nor what earlier scenarios
 * left behind, nor the receiver's), sampled while queueing and while draining.
 * HERALD_BENCH_BACKLOG_NODE_ARGS passes node flags to that process (`--heap-prof`, say).
 */
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { BacklogCommand, BacklogReport, BacklogRun } from "./backlog-process.js";
import { round, rateFigure, type ScenarioOutcome } from "./figures.js";
import { heraldConcurrency, type BenchContext } from "./herald-under-test.js";

export const BACKLOG_TARGETS = { rssMb: 300, drainRatio: 0.8 };

function measureBacklog(context: BenchContext, deliveries: number): Promise<BacklogRun> {
  const child = fork(fileURLToPath(new URL("./backlog-process.js", import.meta.url)), [], {
    env: { ...process.env, HERALD_BENCH_BACKLOG: "1" },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    execArgv: (process.env.HERALD_BENCH_BACKLOG_NODE_ARGS ?? "").split(" ").filter(Boolean),
  });
  return new Promise((resolve, reject) => {
    let report: BacklogReport | null = null;
    child.once("message", (message: BacklogReport) => (report = message));
    child.once("error", reject);
    child.once("exit", (code) => {
      if (report?.type === "result") resolve(report.run);
      else reject(new Error(report?.type === "failed" ? `backlog process: ${report.message}` : `backlog process exited with code ${code} before reporting`));
    });
    child.send({ type: "backlog", options: context.options, deliveries } satisfies BacklogCommand);
  });
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
  const rssPeakMb = Math.max(large.rssPeakQueueingMb, large.rssPeakDrainingMb, large.maxRssMb);
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
    maxRssMb: run.maxRssMb,
    memoryAtPeak: run.atPeak,
    cpuMicrosPerDelivery: run.cpuMicrosPerDelivery,
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
      { name: "RSS peak, large backlog (own process)", value: rssPeakMb, unit: "MB", target: { goal: `<= ${BACKLOG_TARGETS.rssMb} MB`, met: rssMet } },
      { name: "  RSS peak queueing / draining", value: `${large.rssPeakQueueingMb} / ${large.rssPeakDrainingMb}`, unit: "MB" },
      { name: "  at the peak: JS heap used / external", value: `${large.atPeak.heapUsedMb} / ${large.atPeak.externalMb}`, unit: "MB" },
    ],
  };
}
