/**
 * Who is calling. Tenant keys come in `apikey` (Identus; header names are case-insensitive) or
 * `Authorization: Bearer <key>`; the admin key in `x-admin-api-key` (or in either tenant
 * header). Each route declares its access in `config.access`; routes that declare none are
 * tenant routes under /v1, /events and /cloud-agent, and public elsewhere (docs, dashboard).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { LRUCache } from "lru-cache";
import type { Herald, Scope } from "../herald.js";
import { notFound, unauthorized } from "../errors.js";
import { hashApiKey, secretsEqual } from "../secrets/api-key-text.js";
import { makeProblem, sendProblem } from "./problem.js";
import type { RateLimiter } from "./rate-limit.js";

export type Access = "public" | "tenant" | "admin";

export type Principal =
  | { kind: "admin" }
  | { kind: "tenant"; tenantId: string; keyId: string };

declare module "fastify" {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    access?: Access;
  }
}

/** Found keys are remembered briefly (the least recently used dropped past the cap) so each request does not cost a store read; revocation clears it in this process at once. */
const KEY_CACHE_MS = 5_000;
const KEY_CACHE_MAX = 10_000;

export class Authenticator {
  private readonly cache = new LRUCache<string, Principal>({ max: KEY_CACHE_MAX, ttl: KEY_CACHE_MS });

  constructor(
    private readonly herald: Herald,
    /** null: no admin key is accepted. */
    private readonly adminApiKey: string | null,
    private readonly limiter: RateLimiter,
    private readonly rateLimitPerSecond: number,
  ) {}

  forgetKeys(): void {
    this.cache.clear();
  }

  async identify(request: FastifyRequest): Promise<Principal | null> {
    const adminHeader = headerValue(request, "x-admin-api-key");
    if (adminHeader !== undefined) {
      if (this.adminApiKey !== null && secretsEqual(adminHeader, this.adminApiKey)) return { kind: "admin" };
      throw unauthorized("x-admin-api-key", "the admin API key is wrong");
    }
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(headerValue(request, "authorization") ?? "")?.[1];
    const key = headerValue(request, "apikey") ?? bearer;
    if (key === undefined) return null;
    if (this.adminApiKey !== null && secretsEqual(key, this.adminApiKey)) return { kind: "admin" };
    const hash = hashApiKey(key);
    const cached = this.cache.get(hash);
    if (cached) return cached;
    const stored = await this.herald.apiKeys.findByHash(hash);
    if (!stored || stored.revokedAt !== null) {
      throw unauthorized("apikey", "the API key is unknown or revoked");
    }
    const principal: Principal = { kind: "tenant", tenantId: stored.tenantId, keyId: stored.id };
    this.cache.set(hash, principal);
    return principal;
  }

  /** The onRequest hook: runs before the body is read, so an unauthenticated caller cannot make the server parse a large body. */
  install(app: FastifyInstance): void {
    app.decorateRequest("principal", null);
    this.limiter.install(app, (request) => rateKeyOf(principalOf(request)));
    app.addHook("onRequest", async (request, reply) => {
      const access = routeAccess(request);
      if (access === "public") return;
      const principal = await this.identify(request);
      if (principal === null) {
        return sendProblem(
          reply,
          makeProblem("HERALD_ERR_UNAUTHORIZED", "send your API key in the apikey header or as Authorization: Bearer <key>", request.url, "apikey"),
        );
      }
      if (access === "admin" && principal.kind !== "admin") {
        return sendProblem(reply, makeProblem("HERALD_ERR_FORBIDDEN", "this route needs the admin key in x-admin-api-key", request.url, "x-admin-api-key"));
      }
      request.principal = principal;
      return this.limit(request, reply, principal);
    });
  }

  private async limit(request: FastifyRequest, reply: FastifyReply, principal: Principal): Promise<FastifyReply | undefined> {
    const decision = await this.limiter.take(request);
    if (decision.allowed) return undefined;
    if (decision.notify) {
      const tenantId = principal.kind === "tenant" ? principal.tenantId : this.herald.defaultTenantId;
      this.herald.emitSystemEvent(
        "api.limit.exceeded",
        { key_id: rateKeyOf(principal), limit_per_second: this.rateLimitPerSecond, path: request.url.split("?")[0] },
        tenantId,
      );
    }
    reply.header("Retry-After", String(decision.retryAfterSeconds));
    return sendProblem(
      reply,
      makeProblem(
        "HERALD_ERR_RATE_LIMITED",
        `this API key is limited to ${this.rateLimitPerSecond} requests per second (HERALD_RATE_LIMIT_PER_SECOND); retry after ${decision.retryAfterSeconds} s`,
        request.url,
      ),
    );
  }
}

/** Each API key is limited on its own; the admin key is one more key. */
function rateKeyOf(principal: Principal): string {
  return principal.kind === "admin" ? "admin" : principal.keyId;
}

function headerValue(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  const trimmed = first?.trim();
  return trimmed ? trimmed : undefined;
}

const TENANT_PREFIXES = ["/v1/", "/events/", "/cloud-agent/"];

function routeAccess(request: FastifyRequest): Access {
  const declared = request.routeOptions.config?.access;
  if (declared) return declared;
  const path = request.url.split("?")[0] + "/";
  return TENANT_PREFIXES.some((prefix) => path.startsWith(prefix)) ? "tenant" : "public";
}

/** The caller's principal; routes behind auth always have one. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw unauthorized("apikey", "authentication required");
  return request.principal;
}

/**
 * The engine scope for a request. A tenant key is confined to its tenant: naming another
 * tenant answers 404, as if it did not exist. The admin acts on the tenant it names, or with
 * no restriction (reads) / the default tenant (writes) when it names none.
 */
export function scopeOf(request: FastifyRequest, requestedTenantId?: string | null): Scope {
  const principal = principalOf(request);
  if (principal.kind === "tenant") {
    if (requestedTenantId !== undefined && requestedTenantId !== principal.tenantId) {
      throw notFound.tenant(requestedTenantId ?? "null", "tenantId");
    }
    return { tenantId: principal.tenantId };
  }
  return requestedTenantId === undefined ? {} : { tenantId: requestedTenantId };
}

/**
 * How a list of events or deliveries is narrowed for a caller: a tenant (the caller's, or one the
 * admin named) sees that tenant's; the admin without a tenant sees every tenant's.
 */
export function listScope(scope: Scope): { tenantId: string } | { allTenants: true } {
  return typeof scope.tenantId === "string" ? { tenantId: scope.tenantId } : { allTenants: true };
}

/** A single tenant for operations that need one (events, event types): the caller's, or for the admin the named or default tenant. */
export function tenantOf(request: FastifyRequest, herald: Herald, requestedTenantId?: string): string {
  const scope = scopeOf(request, requestedTenantId);
  return scope.tenantId ?? herald.defaultTenantId;
}
