/**
 * What every Svix-compatible route shares: who the caller may act for (an application is a
 * tenant: the admin key reaches every one, a tenant key its own), Svix's error bodies, and the
 * 501 for what Herald does not do.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Tenant } from "../../domain/types.js";
import { HeraldError, type HeraldErrorCode, invalidField, isHeraldError } from "../../errors.js";
import type { Herald } from "../../herald.js";
import { principalOf } from "../auth.js";
import { PROBLEM_CONTENT_TYPE, type Problem, problemOf } from "../problem.js";

/** Herald's error codes as Svix's `code`s. */
const SVIX_CODES: Partial<Record<HeraldErrorCode, string>> = {
  HERALD_ERR_BAD_REQUEST: "bad_request",
  HERALD_ERR_PAYLOAD_TOO_LARGE: "payload_too_large",
  HERALD_ERR_UNSUPPORTED_MEDIA_TYPE: "unsupported_media_type",
  HERALD_ERR_UNAUTHORIZED: "authentication_failed",
  HERALD_ERR_FORBIDDEN: "insufficient_access",
  HERALD_ERR_RATE_LIMITED: "rate_limited",
  HERALD_ERR_EVENT_ID_CONFLICT: "conflict",
  HERALD_ERR_CONFLICT: "conflict",
  HERALD_ERR_NOT_RUNNING: "service_unavailable",
  HERALD_ERR_STORE_UNAVAILABLE: "service_unavailable",
  HERALD_ERR_INTERNAL: "internal_server_error",
  HERALD_ERR_CONFIG: "internal_server_error",
};

/** Fields whose problems Svix reports as 422 validation errors, not 400s: everything in a body or query but the body as a whole. */
const NOT_A_FIELD = new Set(["body", "path", "Content-Type", "Content-Encoding", "headers", "request"]);

/** `events[0].data.name` → ["events", 0, "data", "name"]. */
function locOf(field: string): Array<string | number> {
  return field
    .split(/\.|\[(\d+)\]/)
    .filter((part) => part !== undefined && part !== "")
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
}

/** Herald's field names in Svix's terms: an event's `data` is a message's `payload`, an event type's `schema` its `schemas`. */
const SVIX_FIELDS: Record<string, string> = { data: "payload", type: "eventType", rateLimitPerSecond: "rateLimit", events: "filterTypes", schema: "schemas" };

/** A problem+json body (however the error arose: auth hook, validation, engine) in Svix's shape. */
export function toSvixError(problem: Problem, request: FastifyRequest): { status: number; body: unknown } {
  const validation = problem.status === 422 || (problem.code === "HERALD_ERR_BAD_REQUEST" && problem.field !== undefined && !NOT_A_FIELD.has(problem.field));
  if (validation) {
    const loc = locOf(problem.field ?? "body");
    if (typeof loc[0] === "string" && SVIX_FIELDS[loc[0]]) loc[0] = SVIX_FIELDS[loc[0]]!;
    const where = request.method === "GET" || request.method === "DELETE" ? "query" : "body";
    return { status: 422, body: { detail: [{ loc: [where, ...loc], msg: problem.detail, type: "value_error" }] } };
  }
  const code = problem.status === 404 ? "not_found" : problem.status === 501 ? "not_supported" : (SVIX_CODES[problem.code] ?? "error");
  return { status: problem.status, body: { code, detail: problem.detail } };
}

/**
 * Every error of the Svix routes in Svix's body, so the official clients raise ApiException with
 * it: errors the routes and the validator raise through the error handler, and the problem+json
 * answers the shared auth and rate-limit hooks send (401, 403, 429) as they go out.
 */
export function installSvixErrors(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => {
    const { status, body } = toSvixError(problemOf(error, request, reply), request);
    return reply.code(status).type("application/json").send(body);
  });
  app.addHook("onSend", async (request, reply, payload) => {
    if (!String(reply.getHeader("content-type") ?? "").startsWith(PROBLEM_CONTENT_TYPE) || typeof payload !== "string") return payload;
    const sent = JSON.parse(payload) as Partial<Problem>;
    const problem = { status: reply.statusCode, code: sent.code ?? "HERALD_ERR_INTERNAL", detail: sent.detail ?? "" } as Problem;
    const { status, body } = toSvixError(problem, request);
    reply.code(status).type("application/json");
    return JSON.stringify(body);
  });
}

/** A 501 for a Svix feature Herald does not have; `what` names it and the detail says what to do instead. */
export function notSupported(what: string, instead = "see docs/svix.md for what Herald supports"): HeraldError {
  return new HeraldError("HERALD_ERR_NOT_SUPPORTED", `${what} is not supported by Herald's Svix-compatible API; ${instead}`);
}

/** A field given with a value Herald cannot honour answers 501 naming it; absent, null or `allowed` passes. */
export function refuseUnsupported(body: Record<string, unknown>, fields: Record<string, string>, allowed: unknown[] = [undefined, null, false]): void {
  for (const [field, why] of Object.entries(fields)) {
    if (!allowed.includes(body[field])) throw notSupported(`${field}`, why);
  }
}

/** An ISO-8601 time (as the clients send Dates) in epoch ms. */
export function parseTime(value: string | null | undefined, field: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) throw invalidField(field, `${JSON.stringify(value)} is not an ISO-8601 date-time such as 2026-01-31T12:00:00Z`);
  return ms;
}

/** Svix's event_types query: comma-separated, or repeated. */
export function parseList(value: string | string[] | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const items = [value].flat().flatMap((part) => part.split(",")).map((part) => part.trim()).filter(Boolean);
  return items.length > 0 ? items : undefined;
}

export function isAdmin(request: FastifyRequest): boolean {
  return principalOf(request).kind === "admin";
}

/** Application routes that only the admin key may call (creating and deleting applications). */
export function requireAdmin(request: FastifyRequest, what: string): void {
  if (!isAdmin(request)) throw new HeraldError("HERALD_ERR_FORBIDDEN", `${what} needs the admin key as the token; a tenant key reaches only its own application`);
}

/**
 * The application an `app_id` names (its id or its uid). A tenant key reaches only its own; any
 * other answers 404 exactly as an unknown one.
 */
export async function resolveApp(herald: Herald, request: FastifyRequest, appId: string): Promise<Tenant> {
  const principal = principalOf(request);
  let tenant: Tenant | null = null;
  try {
    tenant = await herald.tenants.get(appId);
  } catch (error) {
    if (!isHeraldError(error) || error.status !== 404) throw error;
    try {
      tenant = await herald.tenants.getByUid(appId);
    } catch (inner) {
      if (!isHeraldError(inner) || inner.status !== 404) throw inner;
    }
  }
  if (tenant === null || (principal.kind === "tenant" && principal.tenantId !== tenant.id)) {
    throw new HeraldError("HERALD_ERR_TENANT_NOT_FOUND", `application ${appId} not found`, { field: "app_id" });
  }
  return tenant;
}

/** Replies 204 with no body: the clients read no body for these calls. */
export function noContent(reply: FastifyReply): FastifyReply {
  return reply.code(204).send();
}
