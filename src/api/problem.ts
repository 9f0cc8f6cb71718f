/**
 * Every error the API answers is `application/problem+json` (RFC 9457, the Identus error
 * shape): `{type, title, status, detail, instance}` plus Herald's stable `code` and, for bad
 * input, the `field` at fault. Bad input never becomes a 500: schema failures, malformed JSON,
 * oversized bodies, HeraldErrors and fastify's framework errors (a bad URL, an over-long path
 * parameter, a connection-level error such as headers too large) are all mapped here.
 */
import { STATUS_CODES, maxHeaderSize } from "node:http";
import type { Socket } from "node:net";
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
  408: "Request Timeout",
  409: "Conflict",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
};

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** `status` is the catalogue's for `code`, except for a connection-level answer HTTP gives a status of its own (431, 408). */
export function makeProblem(code: HeraldErrorCode, detail: string, instance: string, field?: string, status: number = errorCatalogue[code]): Problem {
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

function describeValidation(error: AjvErrorLike, field: string, given: unknown): string {
  if (Array.isArray(given) && error.keyword === "type") return `${field}: is given ${given.length} times; give it once`;
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
    // `?limit=1&limit=2` arrives as an array: say so rather than "must be integer".
    const given = fastifyError.validationContext === "querystring" ? (request.query as Record<string, unknown> | undefined)?.[field] : undefined;
    return makeProblem("HERALD_ERR_BAD_REQUEST", describeValidation(first, field, given), instance, field);
  }
  switch (fastifyError.code) {
    case "FST_ERR_BAD_URL":
      return makeProblem("HERALD_ERR_BAD_REQUEST", `path: ${badEscape(instance.split("?")[0]!)} is not valid percent-encoded UTF-8; percent-encode each byte of the UTF-8 text`, instance, "path");
    case "FST_ERR_MAX_PARAM_LENGTH": {
      const max = request.server.initialConfig.routerOptions?.maxParamLength ?? 100;
      const longest = Math.max(...instance.split("?")[0]!.split("/").map((segment) => segment.length));
      return makeProblem("HERALD_ERR_BAD_REQUEST", `path: a path parameter is ${longest} characters long; ids are at most ${max} characters`, instance, "path");
    }
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

/** The first percent-escape in `path` that does not decode (`%ff`, `%ed%a0%80`, `%zz`), or the path. */
function badEscape(path: string): string {
  for (const [run] of path.matchAll(/(?:%[0-9A-Fa-f]{2})+|%.{0,2}/g)) {
    try {
      decodeURIComponent(run);
    } catch {
      return run;
    }
  }
  return path;
}

/** The error handler, and fastify's `frameworkErrors` (errors raised before a route is found). */
export function answerError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendProblem(reply, problemOf(error, request, reply));
}

/** The problem an error answers, logged as its status deserves, with Retry-After when the store is unavailable. */
export function problemOf(error: unknown, request: FastifyRequest, reply: FastifyReply): Problem {
  const problem = toProblem(error, request);
  if (problem.code === "HERALD_ERR_STORE_UNAVAILABLE") {
    reply.header("Retry-After", String(STORE_RETRY_AFTER_SECONDS));
    request.log.warn({ code: problem.code, detail: problem.detail }, "store unavailable"); // the engine reports the fault once
  } else if (problem.status >= 500 && problem.status !== 501) request.log.error({ err: error }, "request failed");
  return problem;
}

const ROUTED_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

export function installProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler(answerError);
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split("?")[0]!;
    // A path that exists with other methods says which; there is no 405 in the catalogue, so it stays a 404.
    const allowed = ROUTED_METHODS.filter((method) => request.server.findRoute({ method, url: path }) !== null);
    if (allowed.length > 0) reply.header("Allow", allowed.join(", "));
    const detail = `no route ${request.method} ${path}${allowed.length > 0 ? `; ${path} takes ${allowed.join(", ")}` : ""}`;
    return sendProblem(reply, makeProblem("HERALD_ERR_NOT_FOUND", detail, request.url));
  });
}

type ClientError = Error & { code?: string };

/**
 * fastify's `clientErrorHandler`: a request node's HTTP parser refused (headers over
 * `--max-http-header-size`, a malformed request line, a timeout) never reaches fastify, so the
 * problem is written to the socket here. The status is HTTP's (431, 408, 400); the code is
 * HERALD_ERR_BAD_REQUEST, the catalogue having no code of its own for these.
 */
export function answerClientError(error: ClientError, socket: Socket): void {
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  const [status, detail] =
    error.code === "HPE_HEADER_OVERFLOW"
      ? [431, `headers: the request headers are larger than the ${maxHeaderSize} bytes this server accepts; send fewer or shorter headers`]
      : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? [408, "request: was not received in full in time; send it again"]
        : [400, `request: is not a valid HTTP/1.1 request (${error.code ?? error.message})`];
  const body = JSON.stringify(makeProblem("HERALD_ERR_BAD_REQUEST", detail, "", undefined, status));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}
