/**
 * The HTTP server (`herald serve`): `buildApp` assembles the fastify instance over an engine
 * (tests drive it with app.inject), `startServer` opens the engine, bootstraps the environment,
 * starts the worker as HERALD_ROLE says and listens.
 */
import type { TracerProvider } from "@opentelemetry/api";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from "fastify";
import { levels, pino, type DestinationStream, type Logger } from "pino";
import { engineOptionsFrom, type HeraldConfig } from "../config/load-config.js";
import { readOrCreateSecretFile } from "../config/secret-files.js";
import { registerDashboard } from "../dashboard/register.js";
import type { DispatchOptions } from "../dispatch/dispatcher.js";
import { assertStorableText } from "../domain/json-limits.js";
import { createHerald, type Herald } from "../herald.js";
import { generateMasterKey } from "../secrets/secret-box.js";
import { Authenticator } from "./auth.js";
import { bootstrapEnvironment } from "./bootstrap.js";
import type { ApiContext } from "./context.js";
import { type HeraldMetrics, makeMetrics } from "./metrics.js";
import { registerOpenApi } from "./openapi.js";
import { answerClientError, answerError, installProblemHandlers, makeProblem, sendProblem } from "./problem.js";
import { RateLimiter } from "./rate-limit.js";
import { registerDeliveryRoutes } from "./routes/deliveries.js";
import { registerEventTypeRoutes } from "./routes/event-types.js";
import { registerEventRoutes } from "./routes/events.js";
import { identusRoutes } from "./routes/identus.js";
import { registerOperationRoutes } from "./routes/operations.js";
import { registerPortalLinkRoutes } from "./routes/portal-links.js";
import { registerTenantRoutes } from "./routes/tenants.js";
import { registerWebhookRoutes } from "./routes/webhooks.js";
import { svixRoutes } from "./svix/index.js";
import { Problem } from "./schemas.js";
import { makeRequestValidatorCompiler, parseJsonBody } from "./validation.js";

export interface BuildAppOptions {
  metrics?: HeraldMetrics;
  logger?: Logger;
  /** The admin key in force when the configuration names none (startServer resolves admin.key); null: no admin key is accepted. */
  adminApiKey?: string | null;
}

export interface RegisteredRoute {
  method: string;
  url: string;
  hidden: boolean;
  /** The route's body schema, if it takes a body (tests send hostile bodies to every such route). */
  body?: unknown;
}

const routeLists = new WeakMap<FastifyInstance, RegisteredRoute[]>();

/** Every route the app registered (for the test that checks /openapi.json lists them all). */
export function registeredRoutes(app: FastifyInstance): RegisteredRoute[] {
  return routeLists.get(app) ?? [];
}

const REDACTED_HEADERS = ["req.headers.apikey", "req.headers.authorization", 'req.headers["x-admin-api-key"]'];

/**
 * The server's logger: pino at HERALD_LOG_LEVEL with credentials redacted. `destination` decides
 * how the lines look (`herald serve` gives readable lines on a terminal); default: JSON on stdout.
 */
export function makeServerLogger(config: Pick<HeraldConfig, "logLevel">, destination?: DestinationStream): Logger {
  const options = { level: config.logLevel, redact: REDACTED_HEADERS };
  return destination === undefined ? pino(options) : pino(options, destination);
}

/** The API over an engine. With neither `options.adminApiKey` nor `config.adminApiKey`, no admin key is accepted. */
export async function buildApp(herald: Herald, config: HeraldConfig, options: BuildAppOptions = {}): Promise<FastifyInstance> {
  const logger: FastifyBaseLogger = options.logger ?? makeServerLogger(config);
  const app: FastifyInstance = Fastify({
    bodyLimit: config.maxBodyBytes,
    loggerInstance: logger,
    // Identus clients send `apiKey`; node lowercases header names, so `apikey` matches any case.
    ajv: { customOptions: { removeAdditional: false } },
    return503OnClosing: true,
    // One access-log line per request drowns the start-up lines people need at the default
    // level; they are logged at debug (HERALD_LOG_LEVEL=debug) by the hook below instead.
    logController: new LogController({ disableRequestLogging: true }),
    // Errors raised before a route is found (a bad percent-escape, an over-long path parameter)
    // and those node's HTTP parser raises (headers too large) are problem+json like the rest.
    frameworkErrors: (error, request, reply) => void answerError(error, request, reply),
    clientErrorHandler: answerClientError,
  });
  app.addHook("onResponse", async (request, reply) => {
    request.log.debug({ method: request.method, url: request.url, status: reply.statusCode, ms: reply.elapsedTime }, "request");
  });
  const routes: RegisteredRoute[] = [];
  routeLists.set(app, routes);
  app.addHook("onRoute", (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const schema = route.schema as { hide?: boolean; body?: unknown } | undefined;
    const hidden = Boolean(schema?.hide);
    for (const method of methods) routes.push({ method, url: route.url, hidden, ...(schema?.body !== undefined ? { body: schema.body } : {}) });
  });

  app.setValidatorCompiler(makeRequestValidatorCompiler());
  // Response schemas document the API; responses are written with JSON.stringify so no field is ever dropped or coerced.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  installProblemHandlers(app);
  // The API takes JSON only; text bodies answer 415 instead of failing schema validation as a string.
  app.removeContentTypeParser("text/plain");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
  // A compressed body would be read as text and fail as "not valid JSON"; say what is wrong instead.
  app.addHook("preParsing", async (request, reply, payload) => {
    const encoding = request.headers["content-encoding"];
    if (encoding === undefined || /^\s*(identity)?\s*$/i.test(encoding)) return payload;
    const detail = `Content-Encoding: ${encoding} is not supported; send the body uncompressed`;
    await sendProblem(reply, makeProblem("HERALD_ERR_UNSUPPORTED_MEDIA_TYPE", detail, request.url, "Content-Encoding"));
    return payload;
  });
  // Path and query parameters, headers (Idempotency-Key) and a body's tenantId reach the store as
  // text, which PostgreSQL refuses with a NUL in it: refused here, naming the parameter, for every route.
  app.addHook("preValidation", async (request) => {
    const tenantId = (request.body as { tenantId?: unknown } | null | undefined)?.tenantId;
    for (const part of [request.params, request.query, request.headers, { tenantId }]) {
      for (const [name, value] of Object.entries((part ?? {}) as Record<string, unknown>)) {
        for (const text of [value].flat()) if (typeof text === "string") assertStorableText(text, name);
      }
    }
  });
  app.addSchema(Problem);

  const metrics = options.metrics ?? makeMetrics();
  metrics.bind(herald);
  const limiter = new RateLimiter({ perSecond: config.rateLimitPerSecond, burst: config.rateLimitBurst });
  const auth = new Authenticator(herald, options.adminApiKey !== undefined ? options.adminApiKey : config.adminApiKey, limiter, config.rateLimitPerSecond);
  auth.install(app);
  const context: ApiContext = { herald, config, auth, metrics };

  if (config.role === "worker") {
    registerOperationRoutes(app, context, { openApi: false });
    return app;
  }
  await registerOpenApi(app);
  registerOperationRoutes(app, context, { openApi: true });
  await app.register(identusRoutes(context));
  await app.register(identusRoutes(context), { prefix: "/cloud-agent" });
  registerWebhookRoutes(app, context);
  registerEventRoutes(app, context);
  registerDeliveryRoutes(app, context);
  registerTenantRoutes(app, context);
  registerPortalLinkRoutes(app, context);
  registerEventTypeRoutes(app, context);
  await app.register(svixRoutes(context));
  await registerDashboard(app, { herald });
  return app;
}

export interface StartServerOptions {
  /** Where generated keys are shown once (default: stdout). */
  print?: (line: string) => void;
  logger?: Logger;
  /** Where the start ("listening on") is logged (default: `logger`); `herald serve` passes one that shows it at any log level. */
  notices?: Logger;
  /** Worker tuning (tests use a short poll interval). */
  dispatch?: Partial<DispatchOptions>;
  /** The embedder's own tracer provider; it then wins over the OTEL_* variables' OTLP export (docs/observability.md). */
  tracerProvider?: TracerProvider;
}

export interface RunningServer {
  url: string;
  app: FastifyInstance;
  herald: Herald;
  /** The admin key in force (from HERALD_ADMIN_API_KEY or admin.key). */
  adminApiKey: string;
  /** The default tenant's key when known to this process. */
  defaultTenantApiKey: string | null;
  close(): Promise<void>;
}

function localUrl(host: string, port: number): string {
  // A wildcard listen address is reachable on loopback; the CLI on this machine uses that.
  const reachable = host === "0.0.0.0" || host === "::" || host === "" ? "127.0.0.1" : host;
  return `http://${reachable.includes(":") ? `[${reachable}]` : reachable}:${port}`;
}

export async function startServer(config: HeraldConfig, options: StartServerOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? makeServerLogger(config);
  const print = options.print ?? ((line: string) => process.stdout.write(line + "\n"));
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });

  const secretPath = join(config.dataDir, "secret.key");
  const secret = config.secretKey === null ? readOrCreateSecretFile(secretPath, generateMasterKey) : { value: config.secretKey, created: false };
  if (secret.created) print(`herald: generated the master key that encrypts stored secrets, saved to ${secretPath}; back it up: without it stored secrets cannot be read`);

  const metrics = makeMetrics({ processMetrics: true });
  // Loaded only when the OTEL_* variables turn export on: a server without tracing imports none of the SDK.
  const tracing = config.tracing === null || options.tracerProvider ? null : (await import("../tracing/otlp-export.js")).startOtlpTracing(config.tracing);
  const tracerProvider = options.tracerProvider ?? tracing?.provider;
  const herald = await createHerald({
    ...engineOptionsFrom(config, secret.value),
    ...(tracerProvider ? { tracerProvider } : {}),
    onAttempt: (attempt) => metrics.onAttempt(attempt),
    onEventAccepted: (event, count) => metrics.onEventAccepted(event, count),
    onError: (error, context) => logger.error({ err: error }, `worker: ${context}`),
    ...(options.dispatch ? { dispatch: options.dispatch } : {}),
  });
  let app: FastifyInstance | null = null;
  try {
    const keys = await bootstrapEnvironment(herald, config, { print, warn: (message) => logger.warn(message) });
    if (config.role !== "all" && !herald.capabilities.multiProcess) {
      logger.warn(`HERALD_ROLE=${config.role} with ${herald.backend}: only one process can use this store; use postgres:// to split roles`);
    }
    if (config.role !== "api") await herald.start();
    app = await buildApp(herald, config, { metrics, logger, adminApiKey: keys.adminApiKey });
    await listenQuietly(app, config);
    const address = app.server.address();
    const port = typeof address === "object" && address !== null ? address.port : config.port;
    const url = localUrl(config.host, port);
    const serverFile = join(config.dataDir, "server.json");
    writeFileSync(serverFile, JSON.stringify({ url, pid: process.pid }) + "\n", { mode: 0o600 });
    chmodSync(serverFile, 0o600);
    (options.notices ?? logger).info({ url, role: config.role, store: herald.backend, dataDir: config.dataDir }, `herald listening on ${url} (data in ${config.dataDir})`);

    const running = app;
    let closed = false;
    return {
      url,
      app: running,
      herald,
      adminApiKey: keys.adminApiKey,
      defaultTenantApiKey: keys.defaultTenantApiKey,
      async close() {
        if (closed) return;
        closed = true;
        await running.close();
        await herald.close();
        await tracing?.shutdown();
        removeServerFile(serverFile);
      },
    };
  } catch (error) {
    await app?.close();
    await herald.close();
    await tracing?.shutdown();
    throw error;
  }
}

/**
 * app.listen without fastify's own "Server listening at <address>" lines: it logs one per address
 * (each interface's for 0.0.0.0), before server.json exists. startServer announces the start once,
 * with the URL the CLI uses. Warnings and errors still show.
 */
async function listenQuietly(app: FastifyInstance, config: HeraldConfig): Promise<void> {
  await app.ready(); // plugins' start-up lines keep the configured level
  // app.log is fastify's own child of the logger it was given: the worker's lines are not affected.
  const level = app.log.level;
  if ((levels.values[level] ?? Infinity) < levels.values.warn!) app.log.level = "warn";
  try {
    await app.listen({ port: config.port, host: config.host });
  } finally {
    app.log.level = level;
  }
}

/** server.json tells the local CLI where the server is; remove it only if it still names this process. */
function removeServerFile(path: string): void {
  try {
    if (!existsSync(path)) return;
    const content = JSON.parse(readFileSync(path, "utf8")) as { pid?: number };
    if (content.pid === process.pid) rmSync(path);
  } catch {
    // A malformed or vanished file needs no cleanup.
  }
}
