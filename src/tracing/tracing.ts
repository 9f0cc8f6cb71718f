/**
 * OpenTelemetry tracing, as the engine sees it: three kinds of span (an event's ingest, a claim,
 * an attempt) behind one small interface. Nothing here imports an @opentelemetry package: the
 * implementation (herald-tracing.ts) is loaded with a dynamic import only when a tracer provider
 * is given, so an engine without tracing loads none of the SDK, and its hot paths pay one null
 * check (`ctx.tracing` is null) per ingest call and per attempt.
 */
import type { TracerProvider } from "@opentelemetry/api";
import type { Attempt, Webhook } from "../domain/types.js";
import type { DueDelivery, IngestResult } from "../store/store.js";

/** W3C Trace Context headers as a producer sent them (https://www.w3.org/TR/trace-context/). */
export interface TraceHeaders {
  traceparent?: string;
  tracestate?: string;
}

/** The span of one ingest call (an event, or a batch of them). */
export interface IngestSpan {
  /** The span's context as stored with each event (the events.trace_context column); null when it has none to store. */
  readonly stored: string | null;
  accepted(results: readonly IngestResult[]): void;
  failed(error: unknown): void;
}

/** The span of one attempt: an HTTP client span, a child of its event's ingest span. */
export interface AttemptSpan {
  /** Writes `traceparent` (and `tracestate`) for this attempt into the outgoing request's headers. */
  inject(headers: Record<string, string>): void;
  /** The attempt was made (any answer, or none); `state` is what the delivery becomes. */
  end(attempt: Attempt, state: string): void;
}

export interface HeraldTracing {
  startIngest(tenantId: string, eventCount: number, parent: TraceHeaders | undefined): IngestSpan;
  /** A claim that leased deliveries (empty claims make no span): one span, linked to each event's ingest. */
  claimed(deliveries: readonly DueDelivery[], startedAt: number, workerId: string): void;
  startAttempt(delivery: DueDelivery, webhook: Webhook): AttemptSpan;
}

/** The engine's tracing over a caller's provider; the SDK glue is imported only now. */
export async function loadTracing(provider: TracerProvider): Promise<HeraldTracing> {
  const { makeHeraldTracing } = await import("./herald-tracing.js");
  return makeHeraldTracing(provider);
}

/** The W3C headers of an incoming request, or undefined when it has none (the common case costs no object). */
export function traceHeadersOf(headers: Record<string, string | string[] | undefined>): TraceHeaders | undefined {
  const traceparent = headers.traceparent;
  if (typeof traceparent !== "string") return undefined;
  const tracestate = headers.tracestate;
  return typeof tracestate === "string" ? { traceparent, tracestate } : { traceparent };
}
