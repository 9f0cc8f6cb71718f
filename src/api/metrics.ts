/**
 * Prometheus metrics for /metrics. Counters and the latency histogram are fed by the engine's
 * onEventAccepted/onAttempt callbacks (so they count what this process did); queue depth and
 * in-flight are read from the store and the dispatcher when scraped. Each server has its own
 * registry, so several servers in one process (tests) do not collide.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { Herald } from "../herald.js";
import type { Attempt, HeraldEvent } from "../domain/types.js";
import { DELIVERY_STATES } from "./schemas.js";

export interface HeraldMetrics {
  readonly registry: Registry;
  onEventAccepted(event: HeraldEvent, deliveryCount: number): void;
  onAttempt(attempt: Attempt): void;
  /** Lets the scrape-time gauges read this engine. */
  bind(herald: Herald): void;
}

export function makeMetrics(options: { processMetrics?: boolean } = {}): HeraldMetrics {
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry, prefix: "herald_" });
  let bound: Herald | null = null;

  const eventsAccepted = new Counter({ name: "herald_events_accepted_total", help: "Events accepted and committed", registers: [registry] });
  const deliveriesCreated = new Counter({
    name: "herald_deliveries_created_total",
    help: "Deliveries created by fan-out of accepted events",
    registers: [registry],
  });
  const attempts = new Counter({
    name: "herald_delivery_attempts_total",
    help: "Delivery attempts by outcome (success: a 2xx) and error class",
    labelNames: ["outcome", "error_class"] as const,
    registers: [registry],
  });
  // Buckets from 5 ms (a receiver on the same host) to the 30 s default timeout.
  const latency = new Histogram({
    name: "herald_delivery_attempt_duration_seconds",
    help: "Duration of delivery attempts, request start to response end",
    labelNames: ["outcome"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  new Gauge({
    name: "herald_deliveries",
    help: "Deliveries in the store by status (pending is the queue depth)",
    labelNames: ["status"] as const,
    registers: [registry],
    async collect() {
      if (!bound) return;
      const counts = await bound.deliveries.countByState();
      for (const state of DELIVERY_STATES) this.set({ status: state }, counts[state]);
    },
  });
  new Gauge({
    name: "herald_deliveries_in_flight",
    help: "Requests in flight from this process",
    registers: [registry],
    collect() {
      this.set(bound ? bound.inFlight : 0);
    },
  });

  return {
    registry,
    onEventAccepted(_event, deliveryCount) {
      eventsAccepted.inc();
      deliveriesCreated.inc(deliveryCount);
    },
    onAttempt(attempt) {
      const status = attempt.response?.status;
      const success = status !== undefined && status >= 200 && status <= 299;
      const outcome = success ? "success" : "failure";
      attempts.inc({ outcome, error_class: success ? "none" : (attempt.errorClass ?? "http") });
      latency.observe({ outcome }, attempt.durationMs / 1000);
    },
    bind(herald) {
      bound = herald;
    },
  };
}
