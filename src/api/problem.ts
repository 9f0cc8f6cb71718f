/**
 * Every error the API answers is `application/problem+json` (RFC 9457, the Identus error
 * shape): `{type, title, status, detail, instance}` plus Herald's stable `code` and, for bad
 * input, the `field` at fault. Bad input never becomes a 500: schema failures, malformed JSON,
 * oversized bodies and HeraldErrors are all mapped here.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { type HeraldErrorCode, STORE_RETRY_AFTER_SECONDS, errorCatalogue, isHeraldError } from "../errors.js";

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  code: HeraldErrorCode;
  field?: string;
}

const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  409: "Conflict",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

export function makeProblem(code: HeraldErrorCode, detail: string, instance: string, field?: string, status = errorCatalogue[code]): Problem {
  return {
    type: `urn:herald:error:${code}`,
    title: TITLES[status] ?? "Error",
    status,
    detail,
    instance,
    code,
    ...(field === undefined ? {} : { field }),
  };
}

export function sendProblem(reply: FastifyReply, problem: Problem): FastifyReply {
  return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(problem);
}

interface AjvErrorLike {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** `/retry/maxAttempts` → `retry.maxAttempts`; a missing or unknown property names that property. */
function fieldOf(error: AjvErrorLike, context: string | undefined): string {
  const path = (error.instancePath ?? "")
    .split("/")
    .filter(Boolean)
    .map((part) => part.replace(/~1/g, "/").replace(/~0/g, "~"));
  const missing = error.params?.missingProperty ?? error.params?.additionalProperty;
  if (typeof missing === "string") path.push(missing);
  const joined = path.reduce((acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part), "");
  // Headers and query parameters are named as such so `limit` in the query is not mistaken for a body field.
  if (context === "querystring" || context === "params" || context === "headers") return joined || context;
  return joined || "body";
}

function describeValidation(error: AjvErrorLike, field: string): string {
  if (error.keyword === "additionalProperties") return `${field}: is not a known field; remove it`;
  if (error.keyword === "required") return `${field}: is required`;
  if (error.keyword === "enum" && Array.isArray(error.params?.allowedValues)) {
    return `${field}: must be one of ${(error.params.allowedValues as unknown[]).join(", ")}`;
  }
  return `${field}: ${error.message ?? "is invalid"}`;
}

export function toProblem(error: unknown, request: FastifyRequest): Problem {
  const instance = request.url;
  if (isHeraldError(error)) return makeProblem(error.code, error.message, instance, error.field);
  const fastifyError = error as FastifyError & { validation?: AjvErrorLike[]; validationContext?: string };
  if (Array.isArray(fastifyError.validation) && fastifyError.validation.length > 0) {
    const first = fastifyError.validation[0]!;
    const field = fieldOf(first, fastifyError.validationContext);
    return makeProblem("HERALD_ERR_BAD_REQUEST", describeValidation(first, field), instance, field);
  }
  switch (fastifyError.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return makeProblem(
        "HERALD_ERR_PAYLOAD_TOO_LARGE",
        `body: the request body is larger than the limit of ${request.routeOptions.bodyLimit ?? request.server.initialConfig.bodyLimit} bytes (HERALD_MAX_BODY_BYTES)`,
        instance,
        "body",
      );
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return makeProblem("HERALD_ERR_UNSUPPORTED_MEDIA_TYPE", "body: send JSON with Content-Type: application/json", instance, "Content-Type");
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return makeProblem("HERALD_ERR_BAD_REQUEST", "body: is empty but Content-Type is application/json; send a JSON body", instance, "body");
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return makeProblem("HERALD_ERR_BAD_REQUEST", `body: is not valid JSON (${fastifyError.message})`, instance, "body");
  }
  if (error instanceof SyntaxError || fastifyError.statusCode === 400) {
    return makeProblem("HERALD_ERR_BAD_REQUEST", `body: ${fastifyError.message}`, instance, "body");
  }
  if (fastifyError.statusCode === 413) return makeProblem("HERALD_ERR_PAYLOAD_TOO_LARGE", fastifyError.message, instance);
  if (fastifyError.statusCode === 415) return makeProblem("HERALD_ERR_UNSUPPORTED_MEDIA_TYPE", fastifyError.message, instance);
  return makeProblem("HERALD_ERR_INTERNAL", "an internal error occurred; it has been logged", instance);
}

export function installProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => {
    const problem = toProblem(error, request);
    if (problem.code === "HERALD_ERR_STORE_UNAVAILABLE") {
      reply.header("Retry-After", String(STORE_RETRY_AFTER_SECONDS));
      request.log.error({ err: error }, "store unavailable");
    } else if (problem.status >= 500) request.log.error({ err: error }, "request failed");
    return sendProblem(reply, problem);
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, makeProblem("HERALD_ERR_NOT_FOUND", `no route ${request.method} ${request.url.split("?")[0]}`, request.url)),
  );
}
