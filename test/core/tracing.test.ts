/**
 * OpenTelemetry (issue 14): ingest, claim and attempt spans with Herald's ids, the producer's
 * W3C trace context kept with the event and carried to receivers that opt in, failure status on
 * failed attempts, nothing at all when tracing is off, and OTLP/HTTP export to a real collector
 * when the standard OTEL_* variables ask for it. Spans are read from an in-process
 * InMemorySpanExporter; receivers and the collector are real sockets on 127.0.0.1.
 */
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load-config.js";
import { startServer, type RunningServer } from "../../src/api/server.js";
import { redactedUrl } from "../../src/tracing/herald-tracing.js";
import { serverDatabaseUrl, dropServerDatabases } from "../helpers/backends.js";
import { closeEngines, openEngine, reopenEngine, tempDir } from "../helpers/engine.js";
import { startReceiver, type TestReceiver } from "../helpers/receiver.js";

const PRODUCER_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const PRODUCER_SPAN_ID = "00f067aa0ba902b7";
const PRODUCER_TRACEPARENT = `00-${PRODUCER_TRACE_ID}-${PRODUCER_SPAN_ID}-01`;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
  await closeEngines();
  await dropServerDatabases();
});

function inMemoryTracing(): { provider: BasicTracerProvider; exporter: InMemorySpanExporter } {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  cleanups.push(() => provider.shutdown());
  return { provider, exporter };
}

async function receiverFor(respond?: Parameters<typeof startReceiver>[0]): Promise<TestReceiver> {
  const receiver = await startReceiver(respond);
  cleanups.push(() => receiver.close());
  return receiver;
}

/**
 * Waits (bounded) until the exporter holds `count` finished spans named `name` (and matching
 * `filter`: Herald's own events, such as webhook.created, have ingest spans too).
 */
async function spansNamed(
  exporter: InMemorySpanExporter, name: string, count = 1, filter: (span: ReadableSpan) => boolean = () => true, timeoutMs = 5_000,
): Promise<ReadableSpan[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const spans = exporter.getFinishedSpans().filter((span) => span.name === name && filter(span));
    if (spans.length >= count) return spans;
    if (Date.now() > deadline) throw new Error(`${spans.length} of ${count} "${name}" spans within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A server as `herald serve` starts it (loadConfig, startServer), on this project's store. */
async function startHeraldServer(env: Record<string, string> = {}, tracerProvider?: BasicTracerProvider): Promise<RunningServer> {
  const dir = tempDir("herald-tracing-");
  const config = loadConfig({
    HERALD_DATABASE_URL: await serverDatabaseUrl(dir), HERALD_DATA_DIR: dir, HERALD_LOG_LEVEL: "silent", HERALD_ALLOW_PRIVATE_TARGETS: "true", PORT: "0",
    ...env,
  });
  const server = await startServer(config, { print: () => undefined, dispatch: { pollIntervalMs: 20 }, ...(tracerProvider ? { tracerProvider } : {}) });
  cleanups.push(() => server.close());
  return server;
}

async function post(server: RunningServer, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", apikey: server.defaultTenantApiKey!, ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

/** The trace id and parent span id of a received `traceparent` header. */
function parsedTraceparent(headers: IncomingHttpHeaders): { traceId: string; spanId: string } | null {
  const value = headers.traceparent;
  if (typeof value !== "string") return null;
  const [, traceId, spanId] = value.split("-");
  return { traceId: traceId!, spanId: spanId! };
}

describe("spans", () => {
  it("ingest, claim and attempt spans carry the ids; the attempt is the ingest span's child, linked to its claim", async () => {
    const { provider, exporter } = inMemoryTracing();
    const receiver = await receiverFor();
    const herald = await openEngine({ tracerProvider: provider });
    await herald.start();
    const webhook = await herald.webhooks.create({ url: `${receiver.url}/hook` });
    const { event, deliveries } = await herald.trigger("agent.started", { agent_id: "a1" }, null, { traceHeaders: { traceparent: PRODUCER_TRACEPARENT } });
    await receiver.waitFor(1);
    const [attempt] = await spansNamed(exporter, "herald.attempt");
    const [ingest] = await spansNamed(exporter, "herald.ingest", 1, (span) => span.attributes["herald.event.id"] === event.id);
    const [claim] = await spansNamed(exporter, "herald.claim", 1, (span) => String(span.attributes["herald.delivery.ids"]) === deliveries[0]);

    expect(ingest!.kind).toBe(SpanKind.PRODUCER);
    expect(ingest!.spanContext().traceId).toBe(PRODUCER_TRACE_ID);
    expect(ingest!.parentSpanContext?.spanId).toBe(PRODUCER_SPAN_ID);
    expect(ingest!.attributes).toMatchObject({
      "herald.tenant.id": herald.defaultTenantId, "herald.event.id": event.id, "herald.event.type": "agent.started", "herald.delivery.count": 1,
      "herald.delivery.ids": deliveries,
    });

    expect(claim!.kind).toBe(SpanKind.INTERNAL);
    expect(claim!.attributes["herald.delivery.ids"]).toEqual(deliveries);
    expect(claim!.links.map((link) => link.context.spanId)).toEqual([ingest!.spanContext().spanId]);

    expect(attempt!.kind).toBe(SpanKind.CLIENT);
    expect(attempt!.spanContext().traceId).toBe(PRODUCER_TRACE_ID);
    expect(attempt!.parentSpanContext?.spanId).toBe(ingest!.spanContext().spanId);
    expect(attempt!.links.map((link) => link.context.spanId)).toEqual([claim!.spanContext().spanId]);
    expect(attempt!.attributes).toMatchObject({
      "herald.event.id": event.id, "herald.webhook.id": webhook.id, "herald.delivery.id": deliveries[0], "herald.tenant.id": herald.defaultTenantId,
      "herald.attempt.number": 1, "herald.delivery.state": "succeeded",
      "http.request.method": "POST", "url.full": `${receiver.url}/hook`, "server.address": "127.0.0.1", "server.port": receiver.port,
      "http.response.status_code": 200,
    });
    expect(attempt!.attributes["error.type"]).toBeUndefined();
    expect(attempt!.status.code).toBe(SpanStatusCode.UNSET);
  });

  it("an event accepted without a producer's trace starts one, and its attempts join it", async () => {
    const { provider, exporter } = inMemoryTracing();
    const receiver = await receiverFor();
    const herald = await openEngine({ tracerProvider: provider });
    await herald.start();
    await herald.webhooks.create({ url: `${receiver.url}/hook` });
    const { event } = await herald.trigger("agent.started", {});
    await receiver.waitFor(1);
    const [attempt] = await spansNamed(exporter, "herald.attempt");
    const [ingest] = await spansNamed(exporter, "herald.ingest", 1, (span) => span.attributes["herald.event.id"] === event.id);
    expect(ingest!.parentSpanContext).toBeUndefined();
    expect(attempt!.spanContext().traceId).toBe(ingest!.spanContext().traceId);
    expect(attempt!.parentSpanContext?.spanId).toBe(ingest!.spanContext().spanId);
  });

  it("the trace context is stored with the event: an attempt made after a restart is still in the producer's trace", async () => {
    const first = inMemoryTracing();
    const receiver = await receiverFor();
    const herald = await openEngine({ tracerProvider: first.provider });
    const webhook = await herald.webhooks.create({ url: `${receiver.url}/hook`, propagateTraceContext: true });
    await herald.trigger("agent.started", {}, null, { traceHeaders: { traceparent: PRODUCER_TRACEPARENT, tracestate: "vendor=abc" } });
    await herald.close(); // never started: the delivery waits in the store

    const second = inMemoryTracing();
    const restarted = await reopenEngine(herald, { tracerProvider: second.provider });
    await restarted.start();
    const [request] = await receiver.waitFor(1);
    const [attempt] = await spansNamed(second.exporter, "herald.attempt");
    expect(attempt!.spanContext().traceId).toBe(PRODUCER_TRACE_ID);
    expect(attempt!.attributes["herald.webhook.id"]).toBe(webhook.id);
    expect(parsedTraceparent(request!.headers)).toEqual({ traceId: PRODUCER_TRACE_ID, spanId: attempt!.spanContext().spanId });
    expect(request!.headers.tracestate).toBe("vendor=abc");
  });

  it("a failed attempt's span has error status and error.type: the status code, or the class of a failure with no answer", async () => {
    const { provider, exporter } = inMemoryTracing();
    const failing = await receiverFor(() => ({ status: 503 }));
    const gone = await startReceiver();
    const closedPort = gone.port;
    await gone.close();
    const herald = await openEngine({ tracerProvider: provider });
    await herald.start();
    const answering = await herald.webhooks.create({ url: `${failing.url}/hook`, retry: { maxAttempts: 1 } });
    const refused = await herald.webhooks.create({ url: `http://127.0.0.1:${closedPort}/hook`, retry: { maxAttempts: 1 } });
    await herald.trigger("agent.started", {});
    const attempts = await spansNamed(exporter, "herald.attempt", 2);
    const of = (webhookId: string) => attempts.find((span) => span.attributes["herald.webhook.id"] === webhookId)!;

    expect(of(answering.id).status.code).toBe(SpanStatusCode.ERROR);
    expect(of(answering.id).attributes).toMatchObject({ "error.type": "503", "http.response.status_code": 503, "herald.delivery.state": "failed" });
    expect(of(refused.id).status.code).toBe(SpanStatusCode.ERROR);
    expect(of(refused.id).attributes["error.type"]).toBe("refused");
    expect(of(refused.id).attributes["http.response.status_code"]).toBeUndefined();
  });

  it("an ingest that fails has an error span and stores nothing", async () => {
    const { provider, exporter } = inMemoryTracing();
    const herald = await openEngine({ tracerProvider: provider });
    await expect(herald.trigger("agent.started", undefined)).rejects.toMatchObject({ code: "HERALD_ERR_VALIDATION" });
    const [ingest] = await spansNamed(exporter, "herald.ingest", 1, (span) => span.status.code === SpanStatusCode.ERROR);
    expect(ingest!.status.code).toBe(SpanStatusCode.ERROR);
    expect(ingest!.attributes["error.type"]).toBe("HERALD_ERR_VALIDATION");
  });

  it("url.full carries no credentials and no query values", () => {
    expect(redactedUrl("https://user:pw@example.com:8443/hook?token=s3cret&token=x&plain=1")).toBe(
      "https://REDACTED:REDACTED@example.com:8443/hook?token=REDACTED&plain=REDACTED",
    );
    expect(redactedUrl("https://example.com/hook")).toBe("https://example.com/hook");
  });
});

describe("trace context to the receiver", () => {
  it("a producer's traceparent on POST /v1/events reaches a webhook that opts in, with the producer's trace id, and not one that does not", async () => {
    const { provider, exporter } = inMemoryTracing();
    const receiver = await receiverFor();
    const server = await startHeraldServer({}, provider);
    const optedIn = await server.herald.webhooks.create({ url: `${receiver.url}/in`, propagateTraceContext: true });
    await server.herald.webhooks.create({ url: `${receiver.url}/out` });
    const answer = await post(server, "/v1/events", { type: "agent.started", data: {} }, { traceparent: PRODUCER_TRACEPARENT });
    expect(answer.status).toBe(202);
    const requests = await receiver.waitFor(2);
    const attempts = await spansNamed(exporter, "herald.attempt", 2);
    const inAttempt = attempts.find((span) => span.attributes["herald.webhook.id"] === optedIn.id)!;

    const toIn = requests.find((request) => request.path === "/in")!;
    const toOut = requests.find((request) => request.path === "/out")!;
    expect(parsedTraceparent(toIn.headers)).toEqual({ traceId: PRODUCER_TRACE_ID, spanId: inAttempt.spanContext().spanId });
    expect(toOut.headers.traceparent).toBeUndefined();
    expect(toOut.headers.tracestate).toBeUndefined();
    // Both attempts are in the producer's trace all the same: propagation only decides what the receiver sees.
    expect(attempts.map((span) => span.spanContext().traceId)).toEqual([PRODUCER_TRACE_ID, PRODUCER_TRACE_ID]);
  });

  it("the batch route and the Svix message route carry the producer's trace too", async () => {
    const { provider } = inMemoryTracing();
    const receiver = await receiverFor();
    const server = await startHeraldServer({}, provider);
    await server.herald.webhooks.create({ url: `${receiver.url}/in`, propagateTraceContext: true });
    const batchTrace = "0af7651916cd43dd8448eb211c80319c";
    const batch = await post(server, "/v1/events/batch", { events: [{ type: "a.one", data: {} }, { type: "a.two", data: {} }] }, {
      traceparent: `00-${batchTrace}-b7ad6b7169203331-01`,
    });
    expect(batch.status).toBe(202);
    const batchRequests = await receiver.waitFor(2);
    expect(batchRequests.map((request) => parsedTraceparent(request.headers)?.traceId)).toEqual([batchTrace, batchTrace]);

    const svixTrace = "1af7651916cd43dd8448eb211c80319d";
    const tenant = await server.herald.tenants.get(server.herald.defaultTenantId);
    const svix = await fetch(`${server.url}/api/v1/app/${tenant.id}/msg`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${server.defaultTenantApiKey!}`, traceparent: `00-${svixTrace}-b7ad6b7169203332-01` },
      body: JSON.stringify({ eventType: "a.three", payload: {} }),
    });
    expect(svix.status).toBe(202);
    const [svixRequest] = await receiver.waitFor(1, (request) => request.n === 3);
    expect(parsedTraceparent(svixRequest!.headers)?.traceId).toBe(svixTrace);
  });

  it("propagateTraceContext is false unless set, must be a boolean, and can be changed", async () => {
    const server = await startHeraldServer();
    const created = await post(server, "/v1/webhooks", { url: "http://127.0.0.1:9/hook" });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ propagateTraceContext: false });
    // The API's schema refuses a wrong type (400, as for every field); the engine's own check answers library callers.
    const bad = await post(server, "/v1/webhooks", { url: "http://127.0.0.1:9/hook", propagateTraceContext: "yes" });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain("propagateTraceContext");
    await expect(server.herald.webhooks.create({ url: "http://127.0.0.1:9/hook", propagateTraceContext: "yes" as unknown as boolean })).rejects.toMatchObject({
      code: "HERALD_ERR_VALIDATION", field: "propagateTraceContext",
    });
    const id = (created.body as { id: string }).id;
    const patched = await fetch(`${server.url}/v1/webhooks/${id}`, {
      method: "PATCH",
      headers: { "content-type": "application/json", apikey: server.defaultTenantApiKey! },
      body: JSON.stringify({ propagateTraceContext: true }),
    });
    expect(await patched.json()).toMatchObject({ propagateTraceContext: true });
    expect((await server.herald.webhooks.get(id)).propagateTraceContext).toBe(true);
  });
});

describe("tracing off", () => {
  it("makes no spans and sends no traceparent, even to a webhook that opts in and with a global provider registered", async () => {
    const { provider, exporter } = inMemoryTracing();
    // Were Herald to trace through the global API when given no provider, these spans would show.
    trace.setGlobalTracerProvider(provider);
    cleanups.push(async () => trace.disable());
    const receiver = await receiverFor();
    const server = await startHeraldServer();
    await server.herald.webhooks.create({ url: `${receiver.url}/in`, propagateTraceContext: true });
    expect((await post(server, "/v1/events", { type: "agent.started", data: {} }, { traceparent: PRODUCER_TRACEPARENT })).status).toBe(202);
    const [request] = await receiver.waitFor(1);
    expect(request!.headers.traceparent).toBeUndefined();
    expect(request!.headers.tracestate).toBeUndefined();
    await server.herald.flushAttempts();
    expect(exporter.getFinishedSpans()).toEqual([]);
  });
});

describe("loading", () => {
  /**
   * Runs a script in a fresh node process that records, through a module-resolution hook, every
   * @opentelemetry module it loads; the script uses the built package (dist/), as users do.
   */
  async function openTelemetryModulesLoadedBy(body: string): Promise<string[]> {
    const dir = tempDir("herald-otel-load-");
    const dist = (path: string) => pathToFileURL(join(import.meta.dirname, "../../dist", path)).href;
    writeFileSync(join(dir, "hooks.mjs"), `
      let port;
      export function initialize(data) { port = data.port; }
      export async function resolve(specifier, context, next) {
        const result = await next(specifier, context);
        if (result.url.includes("/@opentelemetry/")) port.postMessage(result.url);
        return result;
      }`);
    writeFileSync(join(dir, "main.mjs"), `
      import { register } from "node:module";
      import { MessageChannel } from "node:worker_threads";
      const loaded = new Set();
      const { port1, port2 } = new MessageChannel();
      port1.on("message", (url) => loaded.add("@opentelemetry/" + url.split("/@opentelemetry/")[1].split("/")[0]));
      port1.unref();
      register(${JSON.stringify(pathToFileURL(join(dir, "hooks.mjs")).href)}, { data: { port: port2 }, transferList: [port2] });
      const { createHerald } = await import(${JSON.stringify(dist("index.js"))});
      const { loadConfig } = await import(${JSON.stringify(dist("config/load-config.js"))});
      await import(${JSON.stringify(dist("api/server.js"))});
      ${body}
      await new Promise((resolve) => setTimeout(resolve, 100));
      console.log(JSON.stringify([...loaded].sort()));`);
    const { stdout } = await promisify(execFile)(process.execPath, [join(dir, "main.mjs")], { cwd: dir, timeout: 45_000 });
    return JSON.parse(stdout.trim().split("\n").pop()!) as string[];
  }

  it("with tracing off, no @opentelemetry package is loaded, by the engine or the server's modules; with a provider, they are", async () => {
    const off = await openTelemetryModulesLoadedBy(`
      loadConfig({ HERALD_DATA_DIR: "./data" });
      const herald = await createHerald({ database: "sqlite::memory:", secretKey: "7".repeat(64) });
      await herald.webhooks.create({ url: "https://example.com/hook" });
      await herald.trigger("agent.started", {}, null, { traceHeaders: { traceparent: "${PRODUCER_TRACEPARENT}" } });
      await herald.close();`);
    expect(off).toEqual([]);
    const on = await openTelemetryModulesLoadedBy(`
      const herald = await createHerald({ database: "sqlite::memory:", secretKey: "7".repeat(64), tracerProvider: { getTracer: () => ({}) } });
      await herald.close();`);
    expect(on).toContain("@opentelemetry/api");
  }, 100_000);
});

describe("OTLP export from the OTEL_* variables", () => {
  interface Collected {
    path: string;
    headers: IncomingHttpHeaders;
    body: string;
  }

  async function startCollector(): Promise<{ url: string; received: Collected[] }> {
    const received: Collected[] = [];
    const collector: Server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        received.push({ path: request.url ?? "", headers: request.headers, body: Buffer.concat(chunks).toString("utf8") });
        response.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise<void>((resolve) => collector.close(() => resolve())));
    return { url: `http://127.0.0.1:${(collector.address() as AddressInfo).port}`, received };
  }

  interface OtlpJson {
    resourceSpans: Array<{
      resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> };
      scopeSpans: Array<{ spans: Array<{ name: string; traceId: string; attributes: Array<{ key: string; value: { stringValue?: string } }> }> }>;
    }>;
  }

  it("OTEL_EXPORTER_OTLP_ENDPOINT turns export on: the server posts its spans to <endpoint>/v1/traces with the configured headers", async () => {
    const collector = await startCollector();
    const receiver = await receiverFor();
    const server = await startHeraldServer({
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_EXPORTER_OTLP_HEADERS: "x-collector-token=t%20ok", OTEL_SERVICE_NAME: "herald-test",
    });
    await server.herald.webhooks.create({ url: `${receiver.url}/in`, propagateTraceContext: true });
    expect((await post(server, "/v1/events", { type: "agent.started", data: {} }, { traceparent: PRODUCER_TRACEPARENT })).status).toBe(202);
    const [request] = await receiver.waitFor(1);
    expect(parsedTraceparent(request!.headers)?.traceId).toBe(PRODUCER_TRACE_ID);
    await server.close(); // flushes the batch processor

    expect(collector.received.length).toBeGreaterThan(0);
    expect(collector.received.every((post) => post.path === "/v1/traces" && post.headers["x-collector-token"] === "t ok")).toBe(true);
    const exported = collector.received.flatMap((post) => (JSON.parse(post.body) as OtlpJson).resourceSpans);
    const serviceNames = exported.map((resource) => resource.resource.attributes.find((a) => a.key === "service.name")?.value.stringValue);
    expect(new Set(serviceNames)).toEqual(new Set(["herald-test"]));
    const spans = exported.flatMap((resource) => resource.scopeSpans.flatMap((scope) => scope.spans));
    const names = new Set(spans.map((span) => span.name));
    expect(names).toEqual(new Set(["herald.ingest", "herald.claim", "herald.attempt"]));
    const attempt = spans.find((span) => span.name === "herald.attempt")!;
    expect(attempt.traceId.toLowerCase()).toBe(PRODUCER_TRACE_ID);
  });

  it("without OTEL_* variables the server exports nothing", async () => {
    const collector = await startCollector();
    const receiver = await receiverFor();
    const server = await startHeraldServer({});
    await server.herald.webhooks.create({ url: `${receiver.url}/in` });
    await post(server, "/v1/events", { type: "agent.started", data: {} });
    await receiver.waitFor(1);
    await server.close();
    expect(collector.received).toEqual([]);
  });
});

describe("which variables turn tracing on", () => {
  const base = { HERALD_DATA_DIR: join(tempDir("herald-otel-env-"), "data") };
  const tracing = (env: Record<string, string>) => loadConfig({ ...base, ...env }).tracing;

  it("off by default; on with OTEL_TRACES_EXPORTER=otlp or an OTLP endpoint; OTEL_SDK_DISABLED=true and none win", () => {
    expect(tracing({})).toBeNull();
    expect(tracing({ OTEL_SERVICE_NAME: "x" })).toBeNull();
    expect(tracing({ OTEL_TRACES_EXPORTER: "otlp" })?.tracesUrl).toBe("http://localhost:4318/v1/traces");
    expect(tracing({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/" })?.tracesUrl).toBe("http://collector:4318/v1/traces");
    expect(tracing({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://t:9/custom" })?.tracesUrl).toBe("http://t:9/custom");
    expect(tracing({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_SDK_DISABLED: "true" })).toBeNull();
    expect(tracing({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_TRACES_EXPORTER: "none" })).toBeNull();
    expect(tracing({ OTEL_TRACES_EXPORTER: "otlp" })).toMatchObject({ resource: { "service.name": "herald" }, sampler: "parentbased_always_on" });
    expect(tracing({ OTEL_TRACES_EXPORTER: "otlp", OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.25" })).toMatchObject({ sampler: "traceidratio", samplerRatio: 0.25 });
  });

  it("a bad value stops the start naming the variable", () => {
    const bad = (env: Record<string, string>, variable: string) =>
      expect(() => tracing({ OTEL_TRACES_EXPORTER: "otlp", ...env })).toThrow(expect.objectContaining({ code: "HERALD_ERR_CONFIG", field: variable }));
    bad({ OTEL_TRACES_EXPORTER: "zipkin" }, "OTEL_TRACES_EXPORTER");
    bad({ OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }, "OTEL_EXPORTER_OTLP_PROTOCOL");
    bad({ OTEL_TRACES_SAMPLER: "sometimes" }, "OTEL_TRACES_SAMPLER");
    bad({ OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "2" }, "OTEL_TRACES_SAMPLER_ARG");
    bad({ OTEL_EXPORTER_OTLP_ENDPOINT: "not a url" }, "OTEL_EXPORTER_OTLP_ENDPOINT");
    bad({ OTEL_EXPORTER_OTLP_HEADERS: "novalue" }, "OTEL_EXPORTER_OTLP_HEADERS");
  });
});
