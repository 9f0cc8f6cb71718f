/** Operations: liveness, readiness, Prometheus metrics and the OpenAPI document. Public: no key needed. */
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { isHeraldError, STORE_RETRY_AFTER_SECONDS } from "../../errors.js";
import { HERALD_VERSION } from "../../version.js";
import type { ApiContext } from "../context.js";
import { makeProblem, sendProblem } from "../problem.js";
import { problems } from "../schemas.js";

const tags = ["operations"];
const config = { access: "public" as const };

export function registerOperationRoutes(app: FastifyInstance, { herald, config: heraldConfig, metrics }: ApiContext, options: { openApi: boolean }): void {
  app.get(
    "/health",
    {
      config,
      schema: { tags, summary: "Liveness: the process answers", response: { 200: Type.Object({ status: Type.String(), version: Type.String() }) } },
    },
    async () => ({ status: "ok", version: HERALD_VERSION }),
  );

  app.get(
    "/ready",
    {
      config,
      schema: {
        tags, summary: "Readiness: the store answers and can write and, in roles that deliver, the worker runs",
        description:
          "503 HERALD_ERR_STORE_UNAVAILABLE names why the store cannot write (disk full, read-only, connection lost, " +
          "SQLite file deleted or replaced) until it can again; 503 HERALD_ERR_NOT_RUNNING when it does not answer or the worker is stopped.",
        response: { 200: Type.Object({ status: Type.String(), role: Type.String(), store: Type.String(), worker: Type.Boolean() }), ...problems(503) },
      },
    },
    async (request, reply) => {
      try {
        await herald.ping();
      } catch (error) {
        request.log.warn({ err: error }, "readiness: store check failed");
        if (isHeraldError(error) && error.code === "HERALD_ERR_STORE_UNAVAILABLE") {
          reply.header("Retry-After", String(STORE_RETRY_AFTER_SECONDS));
          return sendProblem(reply, makeProblem(error.code, error.message, request.url));
        }
        return sendProblem(reply, makeProblem("HERALD_ERR_NOT_RUNNING", "the store does not answer", request.url));
      }
      const needsWorker = heraldConfig.role !== "api";
      if (needsWorker && !herald.running) {
        return sendProblem(reply, makeProblem("HERALD_ERR_NOT_RUNNING", "the delivery worker is not running", request.url));
      }
      return { status: "ready", role: heraldConfig.role, store: herald.backend, worker: herald.running };
    },
  );

  app.get(
    "/metrics",
    {
      config,
      schema: {
        tags, summary: "Prometheus metrics: events accepted, attempts by outcome, attempt latency, queue depth, in-flight",
        produces: ["text/plain"],
        response: { 200: Type.String({ description: "Prometheus text exposition format" }) },
      },
    },
    async (_request, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );

  if (!options.openApi) return;
  app.get(
    "/openapi.json",
    { config, schema: { tags, summary: "This API's OpenAPI 3 document", response: { 200: Type.Object({}, { additionalProperties: true }) } } },
    async () => app.swagger(),
  );
}
