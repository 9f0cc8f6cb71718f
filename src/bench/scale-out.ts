/**
 * Scale-out: one pre-filled backlog on PostgreSQL drained by 1, 2 and 3 worker processes
 * (scale-out-process.ts, each a Herald engine with its own pool) against the same receiver.
 * The clock runs from the moment every worker is told to start until the database counts every
 * delivery succeeded. Each count starts on a fresh schema with the same backlog, so the runs
 * differ only in the number of processes. Reports deliveries/s per count, the ratio to one
 * process, and checks that every delivery succeeded, counting what the receiver saw twice
 * (at-least-once allows it; with no worker killed there should be none).
 */
import { fork, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { createHerald } from "../herald.js";
import { generateMasterKey, makeSecretBox, parseMasterKey } from "../secrets/secret-box.js";
import { PostgresStore } from "../store/postgres/postgres-store.js";
import { round, type Figure } from "./figures.js";
import { dropSchema, EVENT_TYPE, sampleEvent, type BenchContext } from "./herald-under-test.js";
import type { ScaleOutCommand, ScaleOutReport, ScaleOutWorkerConfig } from "./scale-out-process.js";
import type { ScenarioResult } from "./report.js";

export const SCALE_OUT_PROCESSES = [1, 2, 3];
/** Webhooks the backlog fans out to: enough that three processes' caps (10 each) are not the limit. */
const SCALE_OUT_WEBHOOKS = 10;
const POLL_MS = 100;
const QUEUE_BATCH = 500;

interface ScaleOutRun {
  processes: number;
  deliveries: number;
  seconds: number;
  deliveriesPerSecond: number;
  succeeded: number;
  attemptsRecorded: number;
  receiverReceived: number;
  duplicates: number;
}

function postgresUrlIfAny(): string | null {
  const candidates = [process.env.HERALD_DATABASE_URL, process.env.HERALD_TEST_POSTGRES_URL];
  return candidates.find((value) => value !== undefined && /^postgres(ql)?:\/\//.test(value)) ?? null;
}

/** A fresh schema holding `events` events queued to SCALE_OUT_WEBHOOKS webhooks at the receiver. */
async function fillBacklog(context: BenchContext, connectionString: string, schema: string, secretKey: string, events: number): Promise<void> {
  const store = await PostgresStore.open({ connectionString, schema, secretBox: makeSecretBox(parseMasterKey(secretKey, "bench")) });
  const herald = await createHerald({ store, allowPrivateTargets: true });
  try {
    for (let i = 0; i < SCALE_OUT_WEBHOOKS; i++) await herald.webhooks.create({ events: [EVENT_TYPE], url: context.receiver.url(`scale/${i}`) });
    for (let queued = 0; queued < events; queued += QUEUE_BATCH) {
      const size = Math.min(QUEUE_BATCH, events - queued);
      await herald.triggerMany(Array.from({ length: size }, (_, i) => sampleEvent(queued + i)));
    }
  } finally {
    await herald.close();
  }
}

function forkWorker(config: ScaleOutWorkerConfig): { child: ChildProcess; next(type: ScaleOutReport["type"]): Promise<ScaleOutReport> } {
  const child = fork(fileURLToPath(new URL("./scale-out-process.js", import.meta.url)), [], {
    env: { ...process.env, HERALD_BENCH_SCALE_OUT: "1", HERALD_BENCH_SCALE_OUT_CONFIG: JSON.stringify(config) },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    execArgv: [],
  });
  const next = (type: ScaleOutReport["type"]) =>
    new Promise<ScaleOutReport>((resolve, reject) => {
      const onMessage = (message: ScaleOutReport) => {
        if (message.type === "failed") reject(new Error(`scale-out worker: ${message.message}`));
        else if (message.type === type) resolve(message);
        else return;
        child.off("message", onMessage);
      };
      child.on("message", onMessage);
      child.once("exit", (code) => reject(new Error(`scale-out worker exited with code ${code} before "${type}"`)));
    });
  return { child, next };
}

async function countInSchema(connectionString: string, schema: string): Promise<{ succeeded: number; attempts: number }> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    const d = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.deliveries WHERE state = 'succeeded'`);
    const a = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.attempts`);
    return { succeeded: Number(d.rows[0]!.n), attempts: Number(a.rows[0]!.n) };
  } finally {
    await client.end();
  }
}

async function drainWith(context: BenchContext, connectionString: string, processes: number, events: number): Promise<ScaleOutRun> {
  const schema = `herald_bench_${randomBytes(6).toString("hex")}`;
  const secretKey = generateMasterKey();
  const deliveries = events * SCALE_OUT_WEBHOOKS;
  const workers: Array<ReturnType<typeof forkWorker>> = [];
  try {
    await fillBacklog(context, connectionString, schema, secretKey, events);
    await context.receiver.reset();
    for (let i = 0; i < processes; i++) workers.push(forkWorker({ connectionString, schema, secretKey }));
    await Promise.all(workers.map((worker) => worker.next("ready")));
    const started = performance.now();
    for (const worker of workers) worker.child.send({ type: "start" } satisfies ScaleOutCommand);
    const deadline = Date.now() + context.options.scenarioTimeoutMs;
    let counts = await countInSchema(connectionString, schema);
    while (counts.succeeded < deliveries) {
      if (Date.now() > deadline) throw new Error(`scale-out, ${processes} processes: ${counts.succeeded} of ${deliveries} succeeded before the timeout`);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      counts = await countInSchema(connectionString, schema);
    }
    const seconds = (performance.now() - started) / 1000;
    const stopped = await Promise.all(
      workers.map((worker) => {
        const done = worker.next("stopped");
        worker.child.send({ type: "stop" } satisfies ScaleOutCommand);
        return done;
      }),
    );
    const errors = stopped.flatMap((report) => (report.type === "stopped" ? report.errors : []));
    if (errors.length > 0) context.log(`scale-out, ${processes} processes: worker errors: ${errors.join("; ")}`);
    counts = await countInSchema(connectionString, schema);
    const received = (await context.receiver.snapshot()).received;
    return {
      processes, deliveries, seconds: round(seconds, 3), deliveriesPerSecond: round(deliveries / seconds, 1),
      succeeded: counts.succeeded, attemptsRecorded: counts.attempts, receiverReceived: received, duplicates: received - deliveries,
    };
  } finally {
    for (const worker of workers) if (worker.child.exitCode === null) worker.child.kill("SIGKILL");
    await dropSchema(connectionString, schema);
  }
}

export async function runScaleOut(context: BenchContext): Promise<ScenarioResult> {
  const connectionString = postgresUrlIfAny();
  if (connectionString === null) return { unavailable: "needs PostgreSQL: set HERALD_DATABASE_URL or HERALD_TEST_POSTGRES_URL" };
  const events = Math.max(1, Math.ceil(context.options.scaleOutDeliveries / SCALE_OUT_WEBHOOKS));
  const runs: ScaleOutRun[] = [];
  for (const processes of SCALE_OUT_PROCESSES) {
    context.log(`scale-out: ${events} events x ${SCALE_OUT_WEBHOOKS} webhooks drained by ${processes} worker process${processes === 1 ? "" : "es"}`);
    runs.push(await drainWith(context, connectionString, processes, events));
  }
  const single = runs[0]!.deliveriesPerSecond;
  const figures: Figure[] = runs.flatMap((run) => {
    const complete = run.succeeded === run.deliveries && run.attemptsRecorded === run.receiverReceived;
    return [
      { name: `deliveries/s, ${run.processes} worker process${run.processes === 1 ? "" : "es"}`, value: run.deliveriesPerSecond, unit: "deliv/s",
        note: `${round(run.deliveriesPerSecond / single, 2)} x 1 process` },
      { name: "  succeeded / attempts recorded / duplicates", value: `${run.succeeded} / ${run.attemptsRecorded} / ${run.duplicates}`, unit: "",
        target: { goal: "all succeeded, every attempt recorded", met: complete } },
    ];
  });
  return { json: { webhooks: SCALE_OUT_WEBHOOKS, runs: runs.map((run) => ({ ...run, ratioToOneProcess: round(run.deliveriesPerSecond / single, 2) })) }, figures };
}
