/**
 * The loopback ceiling is the bare client: an undici Pool posting a fixed body — Herald's own
 * request for a sample event, same bytes and headers — to the receiver, reading each answer
 * with `body.dump()`, and no Herald code at all. Every other rate is divided by it.
 *
 * Next to it, at every concurrency, Herald's sender (makeSender: the Agent, handler and
 * timeout the dispatcher uses) posts the same request: the sender's share of the bare client
 * is its own per-request cost, with no store or queue in it. The two are interleaved, three
 * rounds each, and compared median to median, so a neighbour's burst on this shared machine
 * lands on both rather than on one.
 */
import { Pool } from "undici";
import { makeSender } from "../dispatch/send-request.js";
import { buildRequest, type OutgoingRequest } from "../dispatch/build-request.js";
import { buildWebhook } from "../domain/webhook-input.js";
import { DEFAULT_TENANT_ID } from "../domain/types.js";
import type { DueDelivery } from "../store/store.js";
import { CEILING_SPREAD_LIMIT, median, round, type Figure, type ScenarioOutcome } from "./figures.js";
import { EVENT_TYPE, sampleEvent, type BenchContext } from "./herald-under-test.js";

/** Issue 16's target: Herald's sender reaches at least this share of the bare client at every concurrency. */
export const SENDER_TARGET_RATIO = 0.9;
const ROUNDS = 3;
const REQUEST_TIMEOUT_MS = 30_000;

/** Herald's request for one sample event, built by the same code the dispatcher runs. */
export function sampleRequest(url: string): OutgoingRequest {
  const now = Date.now();
  const webhook = buildWebhook({ url, events: [EVENT_TYPE] }, { tenantId: DEFAULT_TENANT_ID, now });
  const event = sampleEvent(0);
  const delivery: DueDelivery = {
    id: "00000000-0000-7000-8000-000000000001",
    webhookId: webhook.id,
    tenantId: DEFAULT_TENANT_ID,
    attemptCount: 0,
    createdAt: now,
    dueAt: now,
    event: { id: "00000000-0000-7000-8000-000000000002", type: event.type, data: JSON.stringify(event.data), metadata: null, createdAt: now },
  };
  return buildRequest(webhook, delivery, now);
}

/** One round's figures (not a Rate: a ratio of a sample to the median would mean nothing). */
interface Sample {
  requestsPerSecond: number;
  /** CPU time the client process spent per request. */
  cpuMicrosPerRequest: number;
}

type Client = { post(): Promise<boolean>; close(): Promise<void> };

/** The bare client: undici's Pool, the fixed request, the answer dumped. */
function bareClient(request: OutgoingRequest, concurrency: number): Client {
  const url = new URL(request.url);
  const pool = new Pool(url.origin, { connections: concurrency, pipelining: 1 });
  const options = { path: url.pathname, method: "POST" as const, headers: request.headers, body: request.body };
  return {
    async post() {
      const response = await pool.request(options);
      await response.body.dump();
      return response.statusCode < 300;
    },
    close: () => pool.close(),
  };
}

function heraldSender(request: OutgoingRequest): Client {
  const sender = makeSender();
  return {
    post: async () => (await sender.send(request, REQUEST_TIMEOUT_MS)).errorClass === null,
    close: () => sender.close(),
  };
}

/** `total` requests, `concurrency` at a time, within the scenario timeout. */
async function drive(context: BenchContext, client: Client, concurrency: number, total: number): Promise<Sample> {
  const deadline = performance.now() + context.options.scenarioTimeoutMs;
  let next = 0;
  let failed = 0;
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < total && performance.now() < deadline) {
      next++;
      if (!(await client.post())) failed++;
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  if (failed > 0) throw new Error(`ceiling: ${failed} of ${next} requests failed at concurrency ${concurrency}`);
  return { requestsPerSecond: round(next / seconds, 1), cpuMicrosPerRequest: round((cpu.user + cpu.system) / next, 1) };
}

/** One sample of a fresh client: warmed (connections open, as a long-running sender's are), then measured. */
async function sampleClient(context: BenchContext, make: () => Client, concurrency: number, total: number): Promise<Sample> {
  const client = make();
  try {
    await drive(context, client, concurrency, Math.min(total, concurrency * 20));
    return await drive(context, client, concurrency, total);
  } finally {
    await client.close();
  }
}

/** A bare-client sample at `concurrency`, added to the ceiling table: scenarios take one next to each figure they divide. */
export async function sampleCeiling(context: BenchContext, concurrency: number, total = context.options.ceilingRequests): Promise<number> {
  const request = sampleRequest(context.receiver.url("ceiling"));
  const sample = await sampleClient(context, () => bareClient(request, concurrency), concurrency, total);
  context.ceiling.add(concurrency, sample.requestsPerSecond);
  return sample.requestsPerSecond;
}

interface Level {
  concurrency: number;
  bare: Sample[];
  sender: Sample[];
}

const medianOf = (samples: Sample[], key: keyof Sample) => round(median(samples.map((s) => s[key])), 1);
const spreadOf = (samples: Sample[]) => round(Math.max(...samples.map((s) => s.requestsPerSecond)) / Math.min(...samples.map((s) => s.requestsPerSecond)), 2);

export async function runCeiling(context: BenchContext, concurrencies: number[]): Promise<ScenarioOutcome> {
  const request = sampleRequest(context.receiver.url("ceiling"));
  const total = context.options.ceilingRequests;
  const levels: Level[] = [];
  for (const concurrency of concurrencies) {
    context.log(`ceiling: bare client and Herald's sender, ${ROUNDS} x ${total} requests each at concurrency ${concurrency}`);
    const level: Level = { concurrency, bare: [], sender: [] };
    for (let round = 0; round < ROUNDS; round++) {
      level.bare.push(await sampleClient(context, () => bareClient(request, concurrency), concurrency, total));
      level.sender.push(await sampleClient(context, () => heraldSender(request), concurrency, total));
    }
    for (const sample of level.bare) context.ceiling.add(concurrency, sample.requestsPerSecond);
    levels.push(level);
  }

  const figures: Figure[] = [];
  const byConcurrency = levels.map((level) => {
    const bare = medianOf(level.bare, "requestsPerSecond");
    const sender = medianOf(level.sender, "requestsPerSecond");
    const spread = spreadOf(level.bare);
    const steady = spread <= CEILING_SPREAD_LIMIT;
    const ratio = round(sender / bare, 3);
    const unsteady = `bare client varied ${spread}x across rounds: no ratio`;
    figures.push(
      { name: `bare undici Pool, requests/s at concurrency ${level.concurrency}`, value: bare, unit: "req/s", ratioToCeiling: 1, ...(steady ? {} : { note: unsteady }) },
      { name: "  CPU per request (bare client)", value: medianOf(level.bare, "cpuMicrosPerRequest"), unit: "µs" },
      {
        name: `Herald sender, requests/s at concurrency ${level.concurrency}`, value: sender, unit: "req/s",
        ...(steady ? { ratioToCeiling: ratio } : { note: unsteady }),
        target: { goal: `>= ${SENDER_TARGET_RATIO} x ceiling`, met: steady && ratio >= SENDER_TARGET_RATIO },
      },
      { name: "  CPU per request (Herald sender)", value: medianOf(level.sender, "cpuMicrosPerRequest"), unit: "µs" },
    );
    return {
      concurrency: level.concurrency,
      requestsPerRound: total,
      rounds: ROUNDS,
      bareSpread: spread,
      rate: { perSecond: bare, ratioToCeiling: 1, ceilingConcurrency: level.concurrency, ceilingSpread: spread },
      bare: level.bare,
      cpuMicrosPerRequest: medianOf(level.bare, "cpuMicrosPerRequest"),
      sender: {
        samples: level.sender,
        rate: { perSecond: sender, ratioToCeiling: ratio, ceilingConcurrency: level.concurrency, ceilingSpread: spread },
        cpuMicrosPerRequest: medianOf(level.sender, "cpuMicrosPerRequest"),
        target: { goal: `>= ${SENDER_TARGET_RATIO} of ceiling`, met: steady && ratio >= SENDER_TARGET_RATIO },
      },
    };
  });
  return { json: { bodyBytes: Buffer.byteLength(request.body), headers: Object.keys(request.headers).length, byConcurrency }, figures };
}
