-- OpenTelemetry (docs/observability.md): the W3C trace context an event was accepted in, kept
-- with the event so an attempt made later, by any worker process, joins the producer's trace;
-- NULL when tracing was off. A column, not metadata: metadata is the producer's, shown to users.
ALTER TABLE events ADD COLUMN trace_context TEXT;

-- Whether attempts send `traceparent`/`tracestate` to the receiver; off unless asked for.
ALTER TABLE webhooks ADD COLUMN propagate_trace_context INTEGER NOT NULL DEFAULT 0;
