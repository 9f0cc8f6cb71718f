/**
 * The spans, over @opentelemetry/api (loaded only when tracing is on, see tracing.ts):
 *
 * - `herald.ingest` (PRODUCER): one per ingest call, a child of the producer's `traceparent`
 *   when the request carried one. Its context is stored with every event it accepted, because
 *   the attempt may be made much later, by another process, after a restart.
 * - `herald.claim` (INTERNAL): one per claim that leased deliveries, a root span linked to the
 *   ingest span of each event it took (a batch serves many traces: links, not a parent).
 * - `herald.attempt` (CLIENT): one per HTTP attempt, a child of the stored ingest context (so it
 *   is in the producer's trace), linked to its claim, with the HTTP semantic-convention
 *   attributes. Its own context is what a webhook with propagateTraceContext sends on.
 *
 * Parents are passed explicitly (no context manager): nothing here depends on async context.
 */
import {
  ROOT_CONTEXT, SpanKind, SpanStatusCode, defaultTextMapGetter, defaultTextMapSetter, trace,
  type Context, type Link, type Span, type SpanContext, type Tracer, type TracerProvider,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import {
  ATTR_ERROR_TYPE, ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_SERVER_ADDRESS, ATTR_SERVER_PORT, ATTR_URL_FULL,
} from "@opentelemetry/semantic-conventions";
import type { Attempt, Webhook } from "../domain/types.js";
import { HERALD_VERSION } from "../version.js";
import type { DueDelivery, IngestResult } from "../store/store.js";
import type { AttemptSpan, HeraldTracing, IngestSpan, TraceHeaders } from "./tracing.js";

const propagator = new W3CTraceContextPropagator();

/** Herald's own attribute names. */
export const HERALD_ATTRIBUTES = {
  tenantId: "herald.tenant.id",
  eventId: "herald.event.id",
  eventIds: "herald.event.ids",
  eventType: "herald.event.type",
  eventCount: "herald.event.count",
  webhookId: "herald.webhook.id",
  deliveryId: "herald.delivery.id",
  deliveryIds: "herald.delivery.ids",
  deliveryCount: "herald.delivery.count",
  deliveryState: "herald.delivery.state",
  attemptNumber: "herald.attempt.number",
  duplicate: "herald.event.duplicate",
  workerId: "herald.worker.id",
} as const;

/** Most ids listed on one span (a batch of 1000 events, a claim of 256): the rest are counted, not listed. */
const MAX_LISTED_IDS = 100;

function contextFrom(headers: TraceHeaders): Context {
  return propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
}

function headersOf(span: Span): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagator.inject(trace.setSpan(ROOT_CONTEXT, span), carrier, defaultTextMapSetter);
  return carrier;
}

/** The stored ingest context of an event, parsed once per claimed event object (its deliveries share it). */
const storedContexts = new WeakMap<DueDelivery["event"], SpanContext | null>();

function storedContextOf(event: DueDelivery["event"]): SpanContext | null {
  let context = storedContexts.get(event);
  if (context !== undefined) return context;
  context = null;
  if (event.traceContext) {
    try {
      context = trace.getSpanContext(contextFrom(JSON.parse(event.traceContext) as TraceHeaders)) ?? null;
    } catch {
      context = null; // not ours to fail a delivery over: the attempt starts a trace of its own
    }
  }
  storedContexts.set(event, context);
  return context;
}

/**
 * `url.full` without credentials: user and password become REDACTED (as the semantic
 * conventions ask), and so does every query value, since a receiver's token often rides there.
 */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username !== "" || parsed.password !== "") {
      parsed.username = "REDACTED";
      parsed.password = "REDACTED";
    }
    if (parsed.search !== "") {
      const names = [...new Set(parsed.searchParams.keys())];
      parsed.search = names.map((name) => `${encodeURIComponent(name)}=REDACTED`).join("&");
    }
    return parsed.href;
  } catch {
    return "REDACTED";
  }
}

interface UrlAttributes {
  full: string;
  address: string;
  port: number;
}

/** Per webhook object (the cache hands out the same one until it changes), so an attempt parses no URL. */
const urlAttributes = new WeakMap<Webhook, UrlAttributes>();

function urlAttributesOf(webhook: Webhook): UrlAttributes {
  let attributes = urlAttributes.get(webhook);
  if (attributes === undefined) {
    const parsed = new URL(webhook.url);
    const port = parsed.port !== "" ? Number(parsed.port) : parsed.protocol === "https:" ? 443 : 80;
    attributes = { full: redactedUrl(webhook.url), address: parsed.hostname, port };
    urlAttributes.set(webhook, attributes);
  }
  return attributes;
}

function failSpan(span: Span, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  span.setStatus({ code: SpanStatusCode.ERROR, message });
  span.setAttribute(ATTR_ERROR_TYPE, error instanceof Error ? ((error as { code?: unknown }).code as string | undefined) ?? error.name : "Error");
  if (error instanceof Error) span.recordException(error);
}

export function makeHeraldTracing(provider: TracerProvider): HeraldTracing {
  const tracer: Tracer = provider.getTracer("herald", HERALD_VERSION);
  /** The claim span each claimed delivery came in, for its attempt's link. */
  const claimOf = new WeakMap<DueDelivery, SpanContext>();

  return {
    startIngest(tenantId, eventCount, parent): IngestSpan {
      const span = tracer.startSpan(
        "herald.ingest",
        { kind: SpanKind.PRODUCER, attributes: { [HERALD_ATTRIBUTES.tenantId]: tenantId, [HERALD_ATTRIBUTES.eventCount]: eventCount } },
        parent ? contextFrom(parent) : ROOT_CONTEXT,
      );
      const headers = headersOf(span);
      return {
        stored: headers.traceparent === undefined ? null : JSON.stringify(headers),
        accepted(results: readonly IngestResult[]) {
          if (results.length === 1) {
            span.setAttribute(HERALD_ATTRIBUTES.eventId, results[0]!.event.id);
            span.setAttribute(HERALD_ATTRIBUTES.eventType, results[0]!.event.type);
            span.setAttribute(HERALD_ATTRIBUTES.duplicate, results[0]!.duplicate);
          } else {
            span.setAttribute(HERALD_ATTRIBUTES.eventIds, results.slice(0, MAX_LISTED_IDS).map((result) => result.event.id));
          }
          const deliveryIds = results.flatMap((result) => result.deliveryIds);
          span.setAttribute(HERALD_ATTRIBUTES.deliveryCount, deliveryIds.length);
          span.setAttribute(HERALD_ATTRIBUTES.deliveryIds, deliveryIds.slice(0, MAX_LISTED_IDS));
          span.end();
        },
        failed(error) {
          failSpan(span, error);
          span.end();
        },
      };
    },

    claimed(deliveries, startedAt, workerId) {
      const links: Link[] = [];
      const linked = new Set<DueDelivery["event"]>();
      for (const delivery of deliveries) {
        if (linked.has(delivery.event)) continue;
        linked.add(delivery.event);
        const context = storedContextOf(delivery.event);
        if (context) links.push({ context, attributes: { [HERALD_ATTRIBUTES.eventId]: delivery.event.id } });
      }
      const span = tracer.startSpan(
        "herald.claim",
        {
          kind: SpanKind.INTERNAL,
          startTime: startedAt,
          links,
          attributes: {
            [HERALD_ATTRIBUTES.workerId]: workerId,
            [HERALD_ATTRIBUTES.deliveryCount]: deliveries.length,
            [HERALD_ATTRIBUTES.deliveryIds]: deliveries.slice(0, MAX_LISTED_IDS).map((delivery) => delivery.id),
          },
        },
        ROOT_CONTEXT,
      );
      span.end();
      const context = span.spanContext();
      for (const delivery of deliveries) claimOf.set(delivery, context);
    },

    startAttempt(delivery, webhook): AttemptSpan {
      const parent = storedContextOf(delivery.event);
      const claim = claimOf.get(delivery);
      const url = urlAttributesOf(webhook);
      const span = tracer.startSpan(
        "herald.attempt",
        {
          kind: SpanKind.CLIENT,
          ...(claim ? { links: [{ context: claim }] } : {}),
          attributes: {
            [HERALD_ATTRIBUTES.tenantId]: delivery.tenantId,
            [HERALD_ATTRIBUTES.eventId]: delivery.event.id,
            [HERALD_ATTRIBUTES.eventType]: delivery.event.type,
            [HERALD_ATTRIBUTES.webhookId]: webhook.id,
            [HERALD_ATTRIBUTES.deliveryId]: delivery.id,
            [HERALD_ATTRIBUTES.attemptNumber]: delivery.attemptCount + 1,
            [ATTR_HTTP_REQUEST_METHOD]: webhook.method,
            [ATTR_URL_FULL]: url.full,
            [ATTR_SERVER_ADDRESS]: url.address,
            [ATTR_SERVER_PORT]: url.port,
          },
        },
        parent ? trace.setSpanContext(ROOT_CONTEXT, parent) : ROOT_CONTEXT,
      );
      return {
        inject(headers) {
          Object.assign(headers, headersOf(span));
        },
        end(attempt: Attempt, state: string) {
          span.setAttribute(HERALD_ATTRIBUTES.deliveryState, state);
          const status = attempt.response?.status ?? null;
          if (status !== null) span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
          // The semantic conventions' error.type: the status code of an answer that is a failure (any
          // non-2xx to Herald), else the class of the failure that left no answer (timeout, refused, ...).
          const errorType = attempt.errorClass === null ? null : status !== null ? String(status) : attempt.errorClass;
          if (errorType !== null) {
            span.setAttribute(ATTR_ERROR_TYPE, errorType);
            span.setStatus({ code: SpanStatusCode.ERROR, message: attempt.errorMessage ?? `the receiver answered ${status}` });
          }
          span.end(attempt.startedAt + attempt.durationMs);
        },
      };
    },
  };
}
