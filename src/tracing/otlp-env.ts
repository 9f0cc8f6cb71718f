/**
 * The standard OpenTelemetry variables (not Herald's own: https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/)
 * as the server reads them, checked at start like every other variable. Export is off unless
 * asked for:
 *
 * - OTEL_SDK_DISABLED=true: off, whatever else is set.
 * - else OTEL_TRACES_EXPORTER set: on when it lists `otlp`, off for `none`; other exporters are refused.
 * - else on when OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT is set.
 */
import { configError } from "../errors.js";

export const SAMPLERS = [
  "always_on", "always_off", "traceidratio", "parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio",
] as const;
export type SamplerName = (typeof SAMPLERS)[number];

export interface OtlpTracingConfig {
  /** Where spans are POSTed (OTLP/HTTP, JSON bodies). */
  tracesUrl: string;
  headers: Record<string, string>;
  timeoutMs: number;
  /** service.name, and the rest of the resource (OTEL_RESOURCE_ATTRIBUTES). */
  resource: Record<string, string>;
  sampler: SamplerName;
  /** The ratio of the *traceidratio samplers. */
  samplerRatio: number;
}

const DEFAULT_TRACES_URL = "http://localhost:4318/v1/traces";

/** `key=value,key2=value2` with percent-encoded values (the W3C Baggage form the OTEL_* lists use). */
function parseList(variable: string, value: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (value === undefined) return out;
  for (const part of value.split(",")) {
    if (part.trim() === "") continue;
    const eq = part.indexOf("=");
    const key = eq > 0 ? part.slice(0, eq).trim() : "";
    if (key === "") throw configError(variable, `${JSON.stringify(part.trim())} is not key=value; set comma-separated key=value pairs`);
    try {
      out[key] = decodeURIComponent(part.slice(eq + 1).trim());
    } catch (cause) {
      throw configError(variable, `the value of ${key} is not valid percent-encoding`, cause);
    }
  }
  return out;
}

function parseUrl(variable: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw configError(variable, `${JSON.stringify(value)} is not a URL; set the collector's OTLP/HTTP address, such as http://localhost:4318`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw configError(variable, `must use http:// or https://, not ${url.protocol}`);
  return url.href;
}

/** The traces URL: the signal's own endpoint as given, else the base endpoint plus /v1/traces (the specification's rule). */
function tracesUrl(read: (name: string) => string | undefined): string {
  const own = read("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  if (own !== undefined) return parseUrl("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", own);
  const base = read("OTEL_EXPORTER_OTLP_ENDPOINT");
  if (base === undefined) return DEFAULT_TRACES_URL;
  return parseUrl("OTEL_EXPORTER_OTLP_ENDPOINT", base).replace(/\/?$/, "/v1/traces");
}

function isOn(read: (name: string) => string | undefined): boolean {
  if (read("OTEL_SDK_DISABLED")?.toLowerCase() === "true") return false;
  const exporters = read("OTEL_TRACES_EXPORTER");
  if (exporters !== undefined) {
    const names = exporters.split(",").map((name) => name.trim().toLowerCase()).filter((name) => name !== "");
    const other = names.find((name) => name !== "otlp" && name !== "none");
    if (other !== undefined) throw configError("OTEL_TRACES_EXPORTER", `${JSON.stringify(other)} is not supported; set otlp (or none)`);
    return names.includes("otlp");
  }
  return read("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") !== undefined || read("OTEL_EXPORTER_OTLP_ENDPOINT") !== undefined;
}

/** The OTLP export the variables ask for, or null when tracing is off. */
export function otlpTracingFromEnv(read: (name: string) => string | undefined): OtlpTracingConfig | null {
  if (!isOn(read)) return null;
  const protocolName = read("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") !== undefined ? "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL" : "OTEL_EXPORTER_OTLP_PROTOCOL";
  const protocol = read(protocolName);
  if (protocol !== undefined && protocol !== "http/json" && protocol !== "http/protobuf") {
    throw configError(protocolName, `${JSON.stringify(protocol)} is not supported: Herald exports OTLP over HTTP; set http/json (or http/protobuf) and the collector's HTTP port, 4318`);
  }
  const headersName = read("OTEL_EXPORTER_OTLP_TRACES_HEADERS") !== undefined ? "OTEL_EXPORTER_OTLP_TRACES_HEADERS" : "OTEL_EXPORTER_OTLP_HEADERS";
  const timeoutName = read("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT") !== undefined ? "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT" : "OTEL_EXPORTER_OTLP_TIMEOUT";
  const timeoutText = read(timeoutName);
  const timeoutMs = timeoutText === undefined ? 10_000 : Number(timeoutText);
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 600_000) {
    throw configError(timeoutName, `${JSON.stringify(timeoutText)} is not valid; set milliseconds from 1 to 600000`);
  }
  const samplerText = read("OTEL_TRACES_SAMPLER")?.toLowerCase() ?? "parentbased_always_on";
  if (!(SAMPLERS as readonly string[]).includes(samplerText)) {
    throw configError("OTEL_TRACES_SAMPLER", `${JSON.stringify(samplerText)} is not supported; set one of ${SAMPLERS.join(", ")}`);
  }
  const ratioText = read("OTEL_TRACES_SAMPLER_ARG");
  const samplerRatio = ratioText === undefined || !samplerText.endsWith("traceidratio") ? 1 : Number(ratioText);
  if (!Number.isFinite(samplerRatio) || samplerRatio < 0 || samplerRatio > 1) {
    throw configError("OTEL_TRACES_SAMPLER_ARG", `${JSON.stringify(ratioText)} is not valid; set a ratio from 0 to 1`);
  }
  const resource = parseList("OTEL_RESOURCE_ATTRIBUTES", read("OTEL_RESOURCE_ATTRIBUTES"));
  resource["service.name"] = read("OTEL_SERVICE_NAME") ?? resource["service.name"] ?? "herald";
  return {
    tracesUrl: tracesUrl(read),
    headers: parseList(headersName, read(headersName)),
    timeoutMs,
    resource,
    sampler: samplerText as SamplerName,
    samplerRatio,
  };
}
