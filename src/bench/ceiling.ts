/**
 * The loopback ceiling: Herald's own sender (makeSender, the same undici Agent settings and
 * response handling) posting Herald's own request for a sample event — same body, same
 * headers — straight to the receiver, with no store, signing or queue in between. Measured at
 * each concurrency another scenario runs at, because that is what a rate is divided by.
 */
import { makeSender } from "../dispatch/send-request.js";
import { buildRequest, type OutgoingRequest } from "../dispatch/build-request.js";
import { buildWebhook } from "../domain/webhook-input.js";
import { DEFAULT_TENANT_ID } from "../domain/types.js";
import type { DueDelivery } from "../store/store.js";
import { round, type Figure, type ScenarioOutcome } from "./figures.js";
import { EVENT_TYPE, sampleEvent, type BenchContext } from "./herald-under-test.js";

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
    event: { id: "00000000-0000-7000-8000-000000000002", type: event.type, data: JSON.stringify(event.data), metadata: null, createdAt: now },
  };
  return buildRequest(webhook, delivery, now);
}

interface CeilingLevel {
  concurrency: number;
  requests: number;
  failed: number;
  seconds: number;
  perSecond: number;
  /** CPU time the client process spent per request: the ceiling's cost, to compare with Herald's per delivery. */
  cpuMicrosPerRequest: number;
}

const REQUEST_TIMEOUT_MS = 30_000;

async function measureAt(context: BenchContext, request: OutgoingRequest, concurrency: number, total: number): Promise<CeilingLevel> {
  const sender = makeSender();
  const deadline = performance.now() + context.options.scenarioTimeoutMs;
  try {
    // Warm the connection pool so the figure is steady state, as Herald's long-running sender is.
    const warmup = Math.min(total, concurrency * 20);
    await Promise.all(Array.from({ length: concurrency }, async (_, worker) => {
      for (let i = worker; i < warmup; i += concurrency) await sender.send(request, REQUEST_TIMEOUT_MS);
    }));
    let next = 0;
    let failed = 0;
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < total && performance.now() < deadline) {
        next++;
        const result = await sender.send(request, REQUEST_TIMEOUT_MS);
        if (result.errorClass !== null) failed++;
      }
    }));
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    return {
      concurrency, requests: next, failed, seconds: round(seconds, 3), perSecond: round((next - failed) / seconds, 1),
      cpuMicrosPerRequest: round((cpu.user + cpu.system) / next, 1),
    };
  } finally {
    await sender.close();
  }
}

export async function runCeiling(context: BenchContext, concurrencies: number[]): Promise<ScenarioOutcome> {
  const request = sampleRequest(context.receiver.url("ceiling"));
  const levels: CeilingLevel[] = [];
  for (const concurrency of concurrencies) {
    context.log(`ceiling: ${context.options.ceilingRequests} requests at concurrency ${concurrency}`);
    const level = await measureAt(context, request, concurrency, context.options.ceilingRequests);
    if (level.failed > 0) throw new Error(`ceiling: ${level.failed} of ${level.requests} requests failed at concurrency ${concurrency}`);
    context.ceiling.set(concurrency, level.perSecond);
    levels.push(level);
  }
  const figures: Figure[] = levels.flatMap((level): Figure[] => [
    { name: `requests/s at concurrency ${level.concurrency}`, value: level.perSecond, unit: "req/s", ratioToCeiling: 1 },
    { name: "  CPU per request (client process)", value: level.cpuMicrosPerRequest, unit: "µs" },
  ]);
  return {
    json: {
      bodyBytes: Buffer.byteLength(request.body),
      headers: Object.keys(request.headers).length,
      byConcurrency: levels.map((level) => ({
        concurrency: level.concurrency,
        requests: level.requests,
        seconds: level.seconds,
        cpuMicrosPerRequest: level.cpuMicrosPerRequest,
        rate: { perSecond: level.perSecond, ratioToCeiling: 1, ceilingConcurrency: level.concurrency },
      })),
    },
    figures,
  };
}
