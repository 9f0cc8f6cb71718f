/**
 * The server's tracer provider when the OTEL_* variables turn export on (otlp-env.ts): spans
 * batched and POSTed to the collector as OTLP/HTTP with JSON bodies
 * (@opentelemetry/exporter-trace-otlp-http). Imported by the server only then, so a server
 * without tracing loads none of the SDK.
 */
import type { TracerProvider } from "@opentelemetry/api";
import { AlwaysOffSampler, AlwaysOnSampler, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, type Sampler } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { ATTR_SERVICE_VERSION } from "@opentelemetry/semantic-conventions";
import { HERALD_VERSION } from "../version.js";
import type { OtlpTracingConfig } from "./otlp-env.js";

export interface OtlpTracing {
  provider: TracerProvider;
  /** Exports what is still buffered, then stops the exporter. */
  shutdown(): Promise<void>;
}

function samplerOf(config: OtlpTracingConfig): Sampler {
  switch (config.sampler) {
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
      return new TraceIdRatioBasedSampler(config.samplerRatio);
    case "parentbased_always_on":
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.samplerRatio) });
  }
}

export function startOtlpTracing(config: OtlpTracingConfig): OtlpTracing {
  const exporter = new OTLPTraceExporter({ url: config.tracesUrl, headers: config.headers, timeoutMillis: config.timeoutMs });
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_VERSION]: HERALD_VERSION, ...config.resource }),
    sampler: samplerOf(config),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  return { provider, shutdown: () => provider.shutdown() };
}
