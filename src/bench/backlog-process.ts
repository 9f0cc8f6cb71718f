/**
 * One backlog run in a process of its own (`fork`): Herald queues and drains the backlog here,
 * so the RSS it reports is Herald's alone, not the harness's nor what earlier scenarios left in
 * the bench process (~330 MB before this split). The process starts its own receiver (the
 * same receiver-process.ts, another core's worth of work either way) and reports one result
 * over IPC. RSS is sampled every RSS_SAMPLE_MS per phase; the kernel's high-water mark
 * (`maxRSS`) catches a peak between two samples.
 */
import type { BenchOptions } from "./options.js";
import { CeilingTable, megabytes } from "./figures.js";
import type { BenchContext } from "./herald-under-test.js";
import { startReceiver } from "./receiver-handle.js";
import { measureDrain, type DrainMeasurement } from "./throughput.js";

const RSS_SAMPLE_MS = 100;

export interface BacklogCommand {
  type: "backlog";
  options: BenchOptions;
  deliveries: number;
}

/** Where memory was at the sample with the highest RSS (MB). */
export interface MemoryAtPeak {
  rssMb: number;
  heapUsedMb: number;
  heapTotalMb: number;
  externalMb: number;
  arrayBuffersMb: number;
}

export interface BacklogRun extends DrainMeasurement {
  rssBeforeMb: number;
  rssPeakQueueingMb: number;
  rssPeakDrainingMb: number;
  /** The process's peak RSS as the kernel counts it (getrusage), over the whole run. */
  maxRssMb: number;
  atPeak: MemoryAtPeak;
}

export type BacklogReport = { type: "result"; run: BacklogRun } | { type: "failed"; message: string };

function memoryNow(): MemoryAtPeak {
  const m = process.memoryUsage();
  return { rssMb: megabytes(m.rss), heapUsedMb: megabytes(m.heapUsed), heapTotalMb: megabytes(m.heapTotal), externalMb: megabytes(m.external), arrayBuffersMb: megabytes(m.arrayBuffers) };
}

async function runBacklogHere(command: BacklogCommand): Promise<BacklogRun> {
  const receiver = await startReceiver();
  const context: BenchContext = {
    options: command.options,
    receiver,
    // Rates are divided by the parent's ceiling; this process reports raw counts and seconds.
    ceiling: new CeilingTable(),
    log: (message) => process.stderr.write(`bench: ${message}\n`),
  };
  const fanout = command.options.backlogFanout;
  const peaks = { queueing: 0, draining: 0 };
  let atPeak = memoryNow();
  let phase: keyof typeof peaks | null = null;
  const sample = () => {
    if (phase === null) return;
    const rss = process.memoryUsage.rss();
    peaks[phase] = Math.max(peaks[phase], rss);
    if (rss >= Math.max(peaks.queueing, peaks.draining)) atPeak = memoryNow();
  };
  const sampler = setInterval(sample, RSS_SAMPLE_MS);
  const rssBefore = process.memoryUsage.rss();
  try {
    const m = await measureDrain(context, fanout, Math.max(1, Math.ceil(command.deliveries / fanout)), (next) => {
      sample();
      phase = next === "done" ? null : next;
    });
    return {
      ...m,
      rssBeforeMb: megabytes(rssBefore),
      rssPeakQueueingMb: megabytes(peaks.queueing),
      rssPeakDrainingMb: megabytes(peaks.draining),
      maxRssMb: megabytes(process.resourceUsage().maxRSS * 1024),
      atPeak,
    };
  } finally {
    clearInterval(sampler);
    await receiver.close();
  }
}

if (process.send !== undefined && process.env.HERALD_BENCH_BACKLOG === "1") {
  process.once("message", (command: BacklogCommand) => {
    runBacklogHere(command).then(
      (run) => process.send?.({ type: "result", run } satisfies BacklogReport, () => process.exit(0)),
      (error: unknown) => {
        const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
        process.send?.({ type: "failed", message } satisfies BacklogReport, () => process.exit(1));
      },
    );
  });
  process.on("disconnect", () => process.exit(0));
}
