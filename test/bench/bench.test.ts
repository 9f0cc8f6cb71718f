/**
 * The benchmark harness on a tiny load, run as a user runs it (the built dist, a subprocess):
 * checks that every scenario reports real figures — rates above zero, every delivery counted,
 * finite ratios — not how fast they are.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const MAIN = fileURLToPath(new URL("../../dist/bench/main.js", import.meta.url));

const TINY = [
  "--quick", "--json",
  "--ceiling-requests", "200",
  "--deliveries", "200", "--fanouts", "1,10", "--peer-deliveries", "200",
  "--latency-rate", "200", "--latency-seconds", "1",
  "--ingest-requests", "200", "--ingest-concurrency", "10", "--ingest-batch-size", "20",
  "--isolation-webhooks", "10", "--isolation-events", "20", "--hang-timeout-ms", "300",
  "--backlog-small", "100", "--backlog-large", "400",
  "--scale-out-deliveries", "200",
  "--scenario-timeout-ms", "20000",
];

function runBenchProcess(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 100_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

interface RateLike {
  perSecond: number;
  ratioToCeiling: number;
}

/** Every object carrying a perSecond anywhere in the document, with where it was found. */
function collectRates(value: unknown, path: string, out: Array<{ path: string; rate: RateLike }>): void {
  if (typeof value !== "object" || value === null) return;
  if ("perSecond" in value) out.push({ path, rate: value as RateLike });
  for (const [key, child] of Object.entries(value)) collectRates(child, `${path}.${key}`, out);
}

describe("npm run bench", () => {
  it("prints one JSON document with every scenario's figures, each rate with its ratio to the ceiling", { timeout: 110_000 }, async () => {
    expect(existsSync(MAIN), `${MAIN} is missing: build first (npx tsc -p .)`).toBe(true);
    const { code, stdout, stderr } = await runBenchProcess(TINY);
    expect(code, stderr).toBe(0);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the report is read field by field below, each asserted
    const report = JSON.parse(stdout) as Record<string, any>;

    for (const name of ["ceiling", "throughput", "peers", "latency", "isolation", "backlog"]) {
      expect(report[name], `${name} missing`).toBeTypeOf("object");
      expect(report[name].error, `${name} failed: ${report[name].error}`).toBeUndefined();
    }
    // ingest needs the HTTP API; until it exists the harness says so rather than inventing numbers.
    expect(report.ingest).toBeTypeOf("object");
    expect(report.ingest.error).toBeUndefined();

    const rates: Array<{ path: string; rate: RateLike }> = [];
    collectRates(report, "report", rates);
    expect(rates.length).toBeGreaterThan(8);
    for (const { path, rate } of rates) {
      expect(rate.perSecond, path).toBeGreaterThan(0);
      expect(Number.isFinite(rate.ratioToCeiling) && rate.ratioToCeiling > 0, `${path}.ratioToCeiling`).toBe(true);
    }

    // The ceiling is the bare client; Herald's sender is measured next to it at every concurrency used.
    expect(report.ceiling.byConcurrency.map((level: { concurrency: number }) => level.concurrency)).toEqual(expect.arrayContaining([10, 100]));
    for (const level of report.ceiling.byConcurrency) {
      expect(level.rate.ratioToCeiling).toBe(1);
      expect(level.bare).toHaveLength(3);
      for (const sample of [...level.bare, ...level.sender.samples]) {
        expect(sample.requestsPerSecond).toBeGreaterThan(0);
        expect(sample.cpuMicrosPerRequest).toBeGreaterThan(0);
      }
      expect(Number.isFinite(level.bareSpread) && level.bareSpread >= 1).toBe(true);
      expect(level.sender.rate.perSecond).toBeGreaterThan(0);
      expect(Number.isFinite(level.sender.rate.ratioToCeiling)).toBe(true);
      expect(typeof level.sender.target.met).toBe("boolean");
    }

    expect(report.throughput.cases.map((row: { webhooks: number }) => row.webhooks)).toEqual([1, 10]);
    for (const row of report.throughput.cases) {
      expect(row.deliveries).toBe(200);
      expect(row.attemptsRecorded).toBe(row.deliveries);
      expect(row.receiverReceived).toBeGreaterThanOrEqual(row.deliveries);
      expect(row.deliveriesPerSecond.perSecond).toBeGreaterThan(0);
      expect(row.deliveriesPerSecond.ceilingConcurrency).toBe(row.concurrency);
      expect(Number.isFinite(row.deliveriesPerSecond.ratioToCeiling)).toBe(true);
      expect(row.deliveriesPerSecond.ceilingSpread).toBeGreaterThanOrEqual(1);
      expect(row.cpuMicrosPerDelivery).toBeGreaterThan(0);
    }

    // Peers: Herald's drain always; a peer whose server is missing says so instead of a number.
    const peers = report.peers;
    expect(peers.deliveries).toBe(200);
    expect(peers.herald.deliveries).toBe(200);
    expect(peers.herald.deliveriesPerSecond).toBeGreaterThan(0);
    for (const key of ["bullmq", "pgboss"]) {
      const peer = peers[key];
      if ("unavailable" in peer) {
        expect(peer.unavailable).toMatch(/\w/);
        continue;
      }
      expect(peer.deliveries).toBe(200);
      expect(peer.deliveriesPerSecond).toBeGreaterThan(0);
      expect(Number.isFinite(peer.heraldRatio) && peer.heraldRatio > 0).toBe(true);
      expect(peer.keepsLess).toMatch(/no attempt record/);
    }

    const latency = report.latency;
    expect(latency.received).toBe(latency.triggered);
    expect(latency.p50Ms).toBeGreaterThan(0);
    expect(latency.p50Ms).toBeLessThanOrEqual(latency.p95Ms);
    expect(latency.p95Ms).toBeLessThanOrEqual(latency.p99Ms);
    expect(latency.p99Ms).toBeLessThanOrEqual(latency.maxMs);

    expect(latency.triggered).toBeGreaterThan(0);
    expect(latency.missing).toBe(0);

    const isolation = report.isolation;
    expect(isolation.allHealthy.deliveries).toBe(isolation.webhooks * isolation.events);
    expect(isolation.withHanging.healthyDeliveries).toBe((isolation.webhooks - isolation.hangingWebhooks) * isolation.events);
    expect(isolation.healthyRatio).toBeGreaterThan(0);
    expect(Number.isFinite(isolation.healthyRatio)).toBe(true);
    expect(report.backlog.large.deliveries).toBeGreaterThanOrEqual(400);
    expect(report.backlog.small.deliveries).toBeGreaterThanOrEqual(100);
    expect(Number.isFinite(report.backlog.drainRatio) && report.backlog.drainRatio > 0).toBe(true);
    expect(report.backlog.rssPeakMb).toBeGreaterThan(0);
    // Scale-out needs PostgreSQL: without a URL it says so; with one, 1, 2 and 3 processes each drain every delivery.
    const scaleOut = report["scale-out"];
    if ("unavailable" in scaleOut) {
      expect(scaleOut.unavailable).toMatch(/PostgreSQL/);
    } else {
      expect(scaleOut.runs.map((run: { processes: number }) => run.processes)).toEqual([1, 2, 3]);
      for (const run of scaleOut.runs) {
        expect(run.deliveries).toBe(200);
        expect(run.succeeded).toBe(run.deliveries);
        expect(run.attemptsRecorded).toBe(run.receiverReceived);
        expect(run.duplicates).toBeGreaterThanOrEqual(0);
        expect(run.deliveriesPerSecond).toBeGreaterThan(0);
        expect(Number.isFinite(run.ratioToOneProcess) && run.ratioToOneProcess > 0).toBe(true);
      }
    }
    expect(report.machine.nproc).toBeGreaterThan(0);
    expect(Array.isArray(report.targetsMissed)).toBe(true);
  });

  it("refuses an unknown scenario with a usage message and exit code 2", async () => {
    const { code, stderr, stdout } = await runBenchProcess(["throughputs"]);
    expect(code).toBe(2);
    expect(stderr).toContain("unknown scenario throughputs");
    expect(stdout).toBe("");
  });
});
