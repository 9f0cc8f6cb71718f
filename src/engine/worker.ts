/**
 * The engine's background side: the delivery worker (dispatcher and its HTTP sender), recovery
 * jobs, the health monitor and retention, started and stopped together. Its hooks announce
 * Herald's own events through the same ingest path as every other event.
 */
import { Dispatcher } from "../dispatch/dispatcher.js";
import { parseNoProxy } from "../dispatch/no-proxy.js";
import { makeSender } from "../dispatch/send-request.js";
import { HealthMonitor } from "../maintenance/health-monitor.js";
import { startRetention } from "../maintenance/retention.js";
import { guardedConnector } from "../security/target-guard.js";
import type { EngineContext } from "./context.js";

export interface DeliveryWorker {
  start(): Promise<void>;
  /** Stops claiming, drains in-flight deliveries and records them; the rest stay due for the next start. */
  stop(): Promise<void>;
  /** Commits every attempt made so far (benchmarks and tests read the store right after). */
  flushAttempts(): Promise<void>;
  /** stop(), then closes the HTTP connections. */
  close(): Promise<void>;
  /** Requests in flight from this process now. */
  readonly inFlight: number;
}

export function makeDeliveryWorker(ctx: EngineContext): DeliveryWorker {
  const { config, store, emitSystemEvent } = ctx;
  const connect = guardedConnector(config.targetPolicy);
  const sender = makeSender({
    ...config.sender,
    ...(connect ? { connect } : {}),
    egress: { proxyUrl: config.egress.proxyUrl, noProxy: parseNoProxy(config.egress.noProxy), policy: config.targetPolicy },
  });
  const dispatcher = new Dispatcher(store, sender, ctx.webhookCache, config.dispatch, {
    onError: ctx.onError,
    ...(ctx.hooks.onAttempt ? { onAttempt: ctx.hooks.onAttempt } : {}),
    onWebhookDisabled(webhook, reason) {
      emitSystemEvent("webhook.disabled", { webhook_id: webhook.id, url: webhook.url, reason }, webhook.tenantId ?? config.defaultTenantId);
    },
    onExhausted(delivery, webhook, attempt) {
      // Herald's own exhaustion notices are not announced again: that could loop forever.
      if (delivery.event.type === "delivery.exhausted") return;
      emitSystemEvent(
        "delivery.exhausted",
        {
          delivery_id: delivery.id, webhook_id: webhook.id, event_id: delivery.event.id, event_type: delivery.event.type,
          attempts: attempt.attemptNumber, last_status: attempt.response?.status ?? null, last_error: attempt.errorMessage,
        },
        delivery.tenantId,
      );
    },
  }, ctx.tracing);
  const health =
    config.health === false
      ? null
      : new HealthMonitor(store, config.health, (a) => emitSystemEvent(a.type, a.data), ctx.report, ctx.takeErrorCount, () =>
          dispatcher.oldestWaitingDueAt(),
        );
  let stopRetention: (() => Promise<void>) | null = null;
  let unlisten: (() => void) | null = null;

  const worker: DeliveryWorker = {
    async start() {
      ctx.state.running = true;
      unlisten ??= ctx.work.listen(() => dispatcher.wake());
      await dispatcher.start();
      if (!ctx.state.running) return; // stopped while the dispatcher was starting
      ctx.recovery.start();
      health?.start();
      if (config.retention !== false && !stopRetention) stopRetention = startRetention(store, config.retention, ctx.onError);
    },
    async stop() {
      ctx.state.running = false;
      const retention = stopRetention?.();
      stopRetention = null;
      await Promise.all([retention, health?.stop()]);
      unlisten?.();
      unlisten = null;
      await ctx.recovery.stop();
      await dispatcher.stop();
    },
    flushAttempts: () => dispatcher.flush(),
    get inFlight() {
      return dispatcher.inFlightCount;
    },
    async close() {
      await worker.stop();
      await sender.close();
    },
  };
  return worker;
}
