/**
 * `npm run bench` / `herald bench`: starts the receiver process, measures the loopback ceiling,
 * runs the chosen scenarios one after another (each on a fresh store) and prints the table or,
 * with --json, one JSON document. Figures and their limits: docs/benchmarks.md.
 */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { runBacklog } from "./backlog.js";
import { runCeiling } from "./ceiling.js";
import { CeilingTable } from "./figures.js";
import { heraldConcurrency, type BenchContext } from "./herald-under-test.js";
import { runIngest } from "./ingest.js";
import { runIsolation } from "./isolation.js";
import { runLatency } from "./latency.js";
import { parseBenchArgs, USAGE, UsageError, type BenchOptions, type ScenarioName } from "./options.js";
import { startReceiver } from "./receiver-handle.js";
import { formatTable, makeReport, toJsonDocument, type BenchReport, type ScenarioResult } from "./report.js";
import { runPeers } from "./peers.js";
import { runScaleOut } from "./scale-out.js";
import { runThroughput } from "./throughput.js";

const SCENARIOS: Record<Exclude<ScenarioName, "ceiling">, (context: BenchContext) => Promise<ScenarioResult>> = {
  throughput: runThroughput,
  peers: runPeers,
  latency: runLatency,
  ingest: runIngest,
  isolation: runIsolation,
  backlog: runBacklog,
  "scale-out": runScaleOut,
};

/** Every concurrency some selected scenario runs at: the ceiling is measured at exactly these. */
function ceilingConcurrencies(options: BenchOptions): number[] {
  const selected = new Set(options.scenarios);
  const levels = new Set<number>();
  const onlyCeiling = selected.size === 1 && selected.has("ceiling");
  if (selected.has("throughput") || onlyCeiling) for (const fanout of options.fanouts) levels.add(heraldConcurrency(fanout));
  if (selected.has("peers")) levels.add(heraldConcurrency(10));
  if (selected.has("latency")) levels.add(heraldConcurrency(1));
  if (selected.has("ingest")) levels.add(options.ingestConcurrency);
  if (selected.has("isolation")) levels.add(heraldConcurrency(options.isolationWebhooks));
  if (selected.has("backlog")) levels.add(heraldConcurrency(options.backlogFanout));
  return [...levels].sort((a, b) => a - b);
}

/** Runs the benchmark; resolves with the report (null on a usage error) after printing it. */
export async function runBench(argv: string[]): Promise<{ exitCode: number; report: BenchReport | null }> {
  let options: BenchOptions;
  try {
    options = parseBenchArgs(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      if (error.requested) process.stdout.write(error.message + "\n");
      else console.error(`${error.message}\n${USAGE}`);
      return { exitCode: error.requested ? 0 : 2, report: null };
    }
    throw error;
  }
  const report = makeReport(options, argv);
  const receiver = await startReceiver();
  const context: BenchContext = {
    options,
    receiver,
    ceiling: new CeilingTable(),
    log: (message) => process.stderr.write(`bench: ${message}\n`),
  };
  let failed = false;
  try {
    // Every other figure is a ratio to the ceiling, so it runs whether or not it was named.
    report.results.ceiling = await runCeiling(context, ceilingConcurrencies(options));
    for (const name of options.scenarios) {
      if (name === "ceiling") continue;
      try {
        report.results[name] = await SCENARIOS[name](context);
      } catch (error) {
        failed = true;
        report.results[name] = { error: error instanceof Error ? error.message : String(error) };
        context.log(`${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      }
    }
  } catch (error) {
    failed = true;
    report.results.ceiling = { error: error instanceof Error ? error.message : String(error) };
  } finally {
    await receiver.close();
  }
  process.stdout.write(options.json ? JSON.stringify(toJsonDocument(report), null, 2) + "\n" : formatTable(report) + "\n");
  return { exitCode: failed ? 1 : 0, report };
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  runBench(process.argv.slice(2)).then(
    ({ exitCode }) => {
      process.exitCode = exitCode;
    },
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
