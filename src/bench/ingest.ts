/**
 * Ingest over HTTP: POST /v1/events from a concurrent client in another process, against a
 * bare fastify POST route measured in the same run (the cost of HTTP + JSON alone), and
 * POST /v1/events/batch. Herald runs as an API-only process here (the worker is not started),
 * so the figure is what accepting costs: auth, validation, fan-out lookup and the commit of
 * the event and its delivery to one webhook.
 */
import { fork, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import Fastify from "fastify";
import { loadConfig } from "../config/load-config.js";
import { round, rateFigure, type Rate, type ScenarioOutcome } from "./figures.js";
import { openHeraldUnderTest, sampleEvent, type BenchContext } from "./herald-under-test.js";
import type { LoadCommand, LoadResult } from "./load-client-process.js";
import { startProfileWindow } from "./profile-window.js";
import type { ScenarioResult } from "./report.js";

export const INGEST_TARGETS = { singleRatioToBare: 0.5, batchEventsPerSecond: 50_000 };

interface LoadClient {
  load(command: Omit<LoadCommand, "type" | "seq" | "concurrency" | "maxSeconds">): Promise<LoadResult>;
  close(): void;
}

function startLoadClient(context: BenchContext): LoadClient {
  const child: ChildProcess = fork(fileURLToPath(new URL("./load-client-process.js", import.meta.url)), [], {
    env: { ...process.env, HERALD_BENCH_LOAD_CLIENT: "1" },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    execArgv: [],
  });
  let seq = 0;
  return {
    load(command) {
      const full: LoadCommand = {
        ...command,
        type: "load",
        seq: ++seq,
        concurrency: context.options.ingestConcurrency,
        maxSeconds: context.options.scenarioTimeoutMs / 1000,
      };
      return new Promise((resolve, reject) => {
        const onExit = (code: number | null) => reject(new Error(`load client exited with code ${code}`));
        child.once("exit", onExit);
        child.on("message", function onResult(result: LoadResult) {
          if (result.seq !== full.seq) return;
          child.off("message", onResult);
          child.off("exit", onExit);
          resolve(result);
        });
        child.send(full);
      });
    },
    close: () => child.kill(),
  };
}

/** A load's result and the CPU this process (the server under test; the client is another process) spent meanwhile, in µs. */
type MeasuredLoad = LoadResult & { cpuMicros: number };

async function measuredLoad(client: LoadClient, command: Parameters<LoadClient["load"]>[0]): Promise<MeasuredLoad> {
  const before = process.cpuUsage();
  const result = await client.load(command);
  const cpu = process.cpuUsage(before);
  return { ...result, cpuMicros: cpu.user + cpu.system };
}

function checkLoad(what: string, result: LoadResult, expected: number): void {
  if (result.failed > 0 || result.sent < expected) {
    throw new Error(`${what}: ${result.failed} of ${result.sent} requests failed (${expected} planned); first: ${result.firstFailure ?? "none"}`);
  }
}

async function measureBareFastify(client: LoadClient, body: string, requests: number): Promise<MeasuredLoad> {
  const app = Fastify({ logger: false });
  app.post("/v1/events", async (_request, reply) => reply.code(202).send({ id: randomUUID() }));
  await app.listen({ port: 0, host: "127.0.0.1" });
  try {
    const { port } = app.server.address() as { port: number };
    const command = { origin: `http://127.0.0.1:${port}`, path: "/v1/events", headers: { "content-type": "application/json" }, body, expectStatus: 202 };
    await client.load({ ...command, requests: Math.min(requests, 500) }); // warm-up
    const result = await measuredLoad(client, { ...command, requests });
    checkLoad("bare fastify", result, requests);
    return result;
  } finally {
    await app.close();
  }
}

export async function runIngest(context: BenchContext): Promise<ScenarioResult> {
  if (!existsSync(new URL("../api/server.js", import.meta.url))) return { unavailable: "API not built (src/api/server.ts)" };
  const { buildApp } = await import("../api/server.js");
  const { options } = context;
  const event = sampleEvent(0);
  const singleBody = JSON.stringify({ type: event.type, data: event.data });
  const batchBody = JSON.stringify({ events: Array.from({ length: options.ingestBatchSize }, (_, i) => sampleEvent(i)) });
  const batchRequests = Math.max(1, Math.round(options.ingestRequests / options.ingestBatchSize));
  const client = startLoadClient(context);
  try {
    context.log(`ingest: ${options.ingestRequests} POSTs to a bare fastify route, concurrency ${options.ingestConcurrency}`);
    const bare = await measureBareFastify(client, singleBody, options.ingestRequests);

    const target = await openHeraldUnderTest(context, [{ url: context.receiver.url("ingest") }]);
    const adminKey = randomBytes(24).toString("hex");
    const config = loadConfig({}, {
      HERALD_DATABASE_URL: "sqlite::memory:", // not opened: buildApp is given the Herald above
      HERALD_ADMIN_API_KEY: adminKey,
      HERALD_LOG_LEVEL: "silent",
      HERALD_ROLE: "api",
      HERALD_RATE_LIMIT_PER_SECOND: 1_000_000,
      HERALD_RATE_LIMIT_BURST: 10_000_000,
      HERALD_MAX_BODY_BYTES: Math.max(1_048_576, batchBody.length * 2),
    });
    const app = await buildApp(target.herald, config);
    try {
      await app.listen({ port: 0, host: "127.0.0.1" });
      const { port } = app.server.address() as { port: number };
      const base = { origin: `http://127.0.0.1:${port}`, headers: { "content-type": "application/json", "x-admin-api-key": adminKey }, expectStatus: 202 };
      context.log(`ingest: ${options.ingestRequests} POST /v1/events`);
      await client.load({ ...base, path: "/v1/events", body: singleBody, requests: Math.min(options.ingestRequests, 500) });
      const singleProfile = await startProfileWindow("ingest-single");
      const single = await measuredLoad(client, { ...base, path: "/v1/events", body: singleBody, requests: options.ingestRequests });
      logProfile(context, await singleProfile.stop());
      checkLoad("POST /v1/events", single, options.ingestRequests);
      context.log(`ingest: ${batchRequests} POST /v1/events/batch of ${options.ingestBatchSize}`);
      const batchProfile = await startProfileWindow("ingest-batch");
      const batch = await measuredLoad(client, { ...base, path: "/v1/events/batch", body: batchBody, requests: batchRequests });
      logProfile(context, await batchProfile.stop());
      checkLoad("POST /v1/events/batch", batch, batchRequests);
      return describeIngest(context, bare, single, batch);
    } finally {
      await app.close();
      await target.close();
    }
  } finally {
    client.close();
  }
}

function logProfile(context: BenchContext, path: string | null): void {
  if (path !== null) context.log(`profile written to ${path}`);
}

function describeIngest(context: BenchContext, bare: MeasuredLoad, single: MeasuredLoad, batch: MeasuredLoad): ScenarioOutcome {
  const { options } = context;
  const concurrency = options.ingestConcurrency;
  const bareRate: Rate = context.ceiling.rate(bare.sent, bare.seconds, concurrency);
  const singleRate: Rate = context.ceiling.rate(single.sent, single.seconds, concurrency);
  const batchEvents = batch.sent * options.ingestBatchSize;
  const batchRate: Rate = context.ceiling.rate(batchEvents, batch.seconds, concurrency);
  const singleRatio = round(singleRate.perSecond / bareRate.perSecond, 3);
  const singleMet = singleRatio >= INGEST_TARGETS.singleRatioToBare;
  const batchMet = batchRate.perSecond >= INGEST_TARGETS.batchEventsPerSecond;
  // CPU per request or event: steadier than a rate on a shared machine, where the rates drift 2x.
  const cpuPer = (load: MeasuredLoad, count: number) => round(load.cpuMicros / Math.max(count, 1), 1);
  const cpu = { bareFastify: cpuPer(bare, bare.sent), single: cpuPer(single, single.sent), batchPerEvent: cpuPer(batch, batchEvents) };
  return {
    json: {
      concurrency,
      cpuMicros: cpu,
      bareFastify: { requests: bare.sent, seconds: round(bare.seconds, 3), requestsPerSecond: bareRate },
      single: { requests: single.sent, seconds: round(single.seconds, 3), eventsPerSecond: singleRate, ratioToBareFastify: singleRatio },
      batch: { requests: batch.sent, batchSize: options.ingestBatchSize, events: batchEvents, seconds: round(batch.seconds, 3), eventsPerSecond: batchRate },
      targets: {
        single: { goal: `>= ${INGEST_TARGETS.singleRatioToBare} of bare fastify`, met: singleMet },
        batch: { goal: `>= ${INGEST_TARGETS.batchEventsPerSecond} events/s`, met: batchMet },
      },
    },
    figures: [
      rateFigure("bare fastify POST route", bareRate, "req/s"),
      { name: "  CPU per request (server process)", value: cpu.bareFastify, unit: "µs" },
      rateFigure("POST /v1/events", singleRate, "events/s"),
      { name: "  CPU per event (server process)", value: cpu.single, unit: "µs" },
      { name: "  POST /v1/events / bare fastify", value: singleRatio, unit: "ratio", target: { goal: `>= ${INGEST_TARGETS.singleRatioToBare}`, met: singleMet } },
      rateFigure(`POST /v1/events/batch (${options.ingestBatchSize} per request)`, batchRate, "events/s", {
        goal: `>= ${INGEST_TARGETS.batchEventsPerSecond.toLocaleString("en-US")}/s`,
        met: batchMet,
      }),
      { name: "  CPU per event (server process)", value: cpu.batchPerEvent, unit: "µs" },
    ],
  };
}
