/**
 * Herald against the queues people build webhook senders on: BullMQ + undici (Redis) and
 * pg-boss + undici (PostgreSQL). Each drains the same pre-filled backlog — `--peer-deliveries`
 * deliveries over 10 receiver paths — through the same receiver, with the same body, at the same
 * concurrency (Herald: 10 webhooks x maxConcurrency 10 = 100 in flight; BullMQ: one worker of
 * concurrency 100; pg-boss: 10 workers fetching 10 jobs each, woken again after each batch). The clock runs from the worker's
 * start until the last job's completion is committed in the peer's store, as Herald's runs until
 * its last attempt record is.
 *
 * The peers do less per delivery than Herald, and the table says what: no attempt record (only a
 * job state), no signature, no per-destination caps, and Redis here keeps nothing on disk.
 * Both are devDependencies; a peer whose server is not reachable is reported unavailable.
 */
import { randomBytes } from "node:crypto";
import { Pool } from "undici";
import { round, type Figure, type ScenarioOutcome } from "./figures.js";
import { sampleRequest } from "./ceiling.js";
import { dropSchema, heraldConcurrency, postgresUrl, type BenchContext } from "./herald-under-test.js";
import { measureDrain } from "./throughput.js";

/** Issue 16's target: Herald's deliveries/s at least this many times each peer's. */
export const PEERS_TARGET_RATIO = 3;
const DESTINATIONS = 10;
const INSERT_CHUNK = 1_000;

export const PEER_KEEPS_LESS = {
  herald: "every attempt recorded (request headers, status, response headers and body, duration), Standard Webhooks signature, per-webhook caps",
  bullmq: "job state only, no attempt record, no signature, no per-destination cap; Redis here has appendonly no, save \"\": nothing on disk",
  pgboss: "job state only (one row per job), no attempt record, no signature, no per-destination cap",
} as const;

interface PeerRun {
  deliveries: number;
  seconds: number;
  deliveriesPerSecond: number;
  cpuMicrosPerDelivery: number;
}

type PeerResult = PeerRun | { unavailable: string };

/** What a peer's worker does per job: POST the fixed body to its destination and read the answer. */
function makePoster(origin: string, concurrency: number) {
  const { body, headers } = sampleRequest(`${origin}/peer`);
  const plainHeaders = { "content-type": headers["content-type"]!, "user-agent": headers["user-agent"]! };
  const pool = new Pool(origin, { connections: concurrency, pipelining: 1 });
  return {
    async post(path: string): Promise<void> {
      const response = await pool.request({ path, method: "POST", headers: plainHeaders, body });
      await response.body.dump();
      if (response.statusCode >= 300) throw new Error(`HTTP ${response.statusCode}`);
    },
    close: () => pool.close(),
  };
}

function timedOut(context: BenchContext, what: string): Promise<never> {
  return new Promise((_, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: not drained within ${context.options.scenarioTimeoutMs / 1000} s`)), context.options.scenarioTimeoutMs);
    timer.unref();
  });
}

async function runBullmq(context: BenchContext, deliveries: number, concurrency: number): Promise<PeerResult> {
  const { Queue, Worker } = await import("bullmq");
  const url = new URL(process.env.HERALD_BENCH_REDIS_URL ?? "redis://127.0.0.1:6379");
  if (url.hostname !== "127.0.0.1" && url.hostname !== "localhost") return { unavailable: "HERALD_BENCH_REDIS_URL must be on 127.0.0.1" };
  const connection = { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null, lazyConnect: false };
  const name = `herald-bench-${randomBytes(4).toString("hex")}`;
  const queue = new Queue(name, { connection });
  try {
    await Promise.race([queue.waitUntilReady(), new Promise((_, reject) => setTimeout(() => reject(new Error("no answer in 3 s")), 3_000).unref())]);
  } catch (error) {
    await queue.close().catch(() => {});
    return { unavailable: `Redis at ${url.host}: ${error instanceof Error ? error.message : String(error)}` };
  }
  const poster = makePoster(`http://127.0.0.1:${context.receiver.port}`, concurrency);
  try {
    for (let queued = 0; queued < deliveries; queued += INSERT_CHUNK) {
      const size = Math.min(INSERT_CHUNK, deliveries - queued);
      await queue.addBulk(Array.from({ length: size }, (_, i) => ({ name: "deliver", data: { path: `/peer/bullmq/${(queued + i) % DESTINATIONS}` } })));
    }
    await context.receiver.reset();
    let completed = 0;
    let resolveDone!: () => void;
    const done = new Promise<void>((resolve) => (resolveDone = resolve));
    const worker = new Worker(name, (job) => poster.post((job.data as { path: string }).path), { connection, concurrency, autorun: false });
    // 'completed' is emitted after the job's move to the completed set is written to Redis.
    worker.on("completed", () => {
      if (++completed === deliveries) resolveDone();
    });
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    void worker.run();
    try {
      await Promise.race([done, timedOut(context, "BullMQ")]);
    } finally {
      await worker.close(true);
    }
    return finish(deliveries, started, cpuBefore);
  } finally {
    await poster.close();
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
  }
}

async function runPgBoss(context: BenchContext, deliveries: number, concurrency: number): Promise<PeerResult> {
  let connectionString: string;
  try {
    connectionString = postgresUrl();
  } catch (error) {
    return { unavailable: error instanceof Error ? error.message : String(error) };
  }
  if (!/@(127\.0\.0\.1|localhost)[:/]/.test(connectionString)) return { unavailable: "the PostgreSQL URL must be on 127.0.0.1" };
  const { default: PgBoss } = await import("pg-boss");
  const schema = `pgboss_bench_${randomBytes(4).toString("hex")}`;
  const boss = new PgBoss({ connectionString, schema, supervise: false, schedule: false, max: 12 });
  boss.on("error", (error) => context.log(`pg-boss: ${error.message}`));
  const poster = makePoster(`http://127.0.0.1:${context.receiver.port}`, concurrency);
  const name = "deliver";
  try {
    await boss.start();
    await boss.createQueue(name);
    for (let queued = 0; queued < deliveries; queued += INSERT_CHUNK) {
      const size = Math.min(INSERT_CHUNK, deliveries - queued);
      await boss.insert(Array.from({ length: size }, (_, i) => ({ name, data: { path: `/peer/pgboss/${(queued + i) % DESTINATIONS}` } })));
    }
    await context.receiver.reset();
    const workers = DESTINATIONS;
    const batchSize = Math.max(1, Math.round(concurrency / workers));
    const deadline = performance.now() + context.options.scenarioTimeoutMs;
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    for (let i = 0; i < workers; i++) {
      let id: string | null = null;
      id = await boss.work<{ path: string }>(name, { batchSize, pollingIntervalSeconds: 0.5 }, async (jobs) => {
        await Promise.all(jobs.map((job) => poster.post(job.data.path)));
        // pg-boss 10 sleeps out its polling interval after every batch, full or not (204 deliveries/s
        // here); notifyWorker is its own way to fetch again at once, the fastest it can drain.
        if (id !== null) boss.notifyWorker(id);
      });
    }
    // A batch is completed in the database after its handler resolves: wait for that, not for the posts.
    while ((await boss.getQueueSize(name, { before: "completed" })) > 0) {
      if (performance.now() > deadline) throw new Error(`pg-boss: not drained within ${context.options.scenarioTimeoutMs / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return finish(deliveries, started, cpuBefore);
  } finally {
    await boss.stop({ graceful: false, wait: true, close: true }).catch(() => {});
    await poster.close();
    await dropSchema(connectionString, schema);
  }
}

function finish(deliveries: number, started: number, cpuBefore: NodeJS.CpuUsage): PeerRun {
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  return { deliveries, seconds: round(seconds, 3), deliveriesPerSecond: round(deliveries / seconds, 1), cpuMicrosPerDelivery: round((cpu.user + cpu.system) / deliveries, 1) };
}

async function guarded(context: BenchContext, what: string, run: () => Promise<PeerResult>): Promise<PeerResult> {
  context.log(`peers: ${what}`);
  try {
    return await run();
  } catch (error) {
    // A peer failing is not Herald failing: report it and go on.
    return { unavailable: `${what} failed: ${error instanceof Error ? error.message : String(error)}` };
  }
}

export async function runPeers(context: BenchContext): Promise<ScenarioOutcome> {
  const deliveries = Math.max(DESTINATIONS, Math.round(context.options.peerDeliveries / DESTINATIONS) * DESTINATIONS);
  const concurrency = heraldConcurrency(DESTINATIONS);
  context.log(`peers: Herald, ${deliveries / DESTINATIONS} events x ${DESTINATIONS} webhooks`);
  const drain = await measureDrain(context, DESTINATIONS, deliveries / DESTINATIONS);
  const herald: PeerRun = {
    deliveries,
    seconds: round(drain.drainSeconds, 3),
    deliveriesPerSecond: round(deliveries / drain.drainSeconds, 1),
    cpuMicrosPerDelivery: drain.cpuMicrosPerDelivery,
  };
  const bullmq = await guarded(context, "BullMQ + undici", () => runBullmq(context, deliveries, concurrency));
  const pgboss = await guarded(context, "pg-boss + undici", () => runPgBoss(context, deliveries, concurrency));

  const figures: Figure[] = [
    { name: `Herald deliveries/s, ${deliveries} over ${DESTINATIONS} webhooks`, value: herald.deliveriesPerSecond, unit: "deliv/s", note: PEER_KEEPS_LESS.herald },
    { name: "  CPU per delivery (Herald process)", value: herald.cpuMicrosPerDelivery, unit: "µs" },
  ];
  const json: Record<string, unknown> = { deliveries, concurrency, herald };
  for (const [key, label, result] of [["bullmq", "BullMQ + undici", bullmq], ["pgboss", "pg-boss + undici", pgboss]] as const) {
    if ("unavailable" in result) {
      json[key] = result;
      figures.push({ name: `${label}`, value: "unavailable", unit: "", note: result.unavailable });
      continue;
    }
    const ratio = round(herald.deliveriesPerSecond / result.deliveriesPerSecond, 2);
    json[key] = { ...result, heraldRatio: ratio, keepsLess: PEER_KEEPS_LESS[key] };
    figures.push(
      { name: `${label} deliveries/s`, value: result.deliveriesPerSecond, unit: "deliv/s", note: PEER_KEEPS_LESS[key] },
      { name: `  Herald / ${label}`, value: ratio, unit: "ratio", target: { goal: `>= ${PEERS_TARGET_RATIO}x`, met: ratio >= PEERS_TARGET_RATIO } },
      { name: "  CPU per delivery (bench process)", value: result.cpuMicrosPerDelivery, unit: "µs" },
    );
  }
  return { json, figures };
}
