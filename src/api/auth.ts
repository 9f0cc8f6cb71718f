/**
 * Who is calling. Tenant keys come in `apikey` (Identus; header names are case-insensitive) or
 * `Authorization: Bearer <key>`; the admin key in `x-admin-api-key` (or in either tenant
 * header). Each route declares its access in `config.access`; routes that declare none are
 * tenant routes under /v1, /events and /cloud-agent, and public elsewhere (docs, dashboard).
 * Access follows the route the router matched, not the URL as sent, so every spelling of a path
 * (`/%761/webhooks` is `/v1/webhooks`) is authenticated and limited alike.
 *
 * Guessing keys is throttled per client address (the socket's; X-Forwarded-For is not trusted):
 * after AUTH_FAILURE_BURST wrong keys (tenant or admin), one more is checked every
 * AUTH_FAILURE_REFILL_SECONDS. While an address has none left, every request from it that carries
 * a key is answered 429 with Retry-After without the key being checked, a right key too: checking
 * it would tell a guesser which guess was right. Clients sharing one address (a NAT, or a reverse
 * proxy in front of Herald) share that allowance. A right key does not restore it, or a tenant
 * could interleave its own key with guesses at the admin key.
 *
 * A portal link's token (`hpl_...`, src/engine/portal-links-service.ts) goes where a tenant key
 * goes and acts as its tenant's key, read-only when made so. A forged one counts as a wrong key;
 * an expired or revoked one, or one whose tenant is gone, does not: it was made here, nobody is
 * guessing. A found portal link is cached like a key, never past its expiry.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { LRUCache } from "lru-cache";
import type { Herald, Scope } from "../herald.js";
import { isHeraldError, notFound, unauthorized } from "../errors.js";
import { hashApiKey, secretsEqual } from "../secrets/api-key-text.js";
import { isPortalToken } from "../secrets/portal-token.js";
import { makeProblem, sendProblem } from "./problem.js";
import { FailureThrottle, type RateLimitDecision, type RateLimiter } from "./rate-limit.js";

export type Access = "public" | "tenant" | "admin";

export type Principal =
  | { kind: "admin" }
  | { kind: "tenant"; tenantId: string; keyId: string; portal?: { readOnly: boolean; expiresAt: number } };

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
/** Wrong keys an address may send at once, and the seconds until it may send one more. */
export const AUTH_FAILURE_BURST = 20;
export const AUTH_FAILURE_REFILL_SECONDS = 3;

/** The headers that carry a key; a request with any of them is refused while its address is throttled. */
const CREDENTIAL_HEADERS = ["x-admin-api-key", "apikey", "authorization"] as const;
const FORGED_PORTAL_LINK = "the portal link is not one this server made (changed, cut short, or signed with another master key)";
/** What a read-only portal link may send. */
const READ_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Reads a read-only portal link may not make: a signing secret lets its holder sign deliveries
 * the tenant's receivers would accept, which is more than looking (`/v1/webhooks/:id/secret`,
 * Svix's `.../endpoint/:endpoint_id/secret`).
 */
function revealsSecret(request: FastifyRequest): boolean {
  return /\/secret$/.test(request.routeOptions.url ?? request.url.split("?")[0]!);
}

export class Authenticator {
  private readonly cache = new LRUCache<string, Principal>({ max: KEY_CACHE_MAX, ttl: KEY_CACHE_MS });
  /** Revoked portal links and those of a deleted tenant, by token hash: refused again without a store read. */
  private readonly refusedPortal = new LRUCache<string, string>({ max: KEY_CACHE_MAX, ttl: KEY_CACHE_MS });
  /** Refusals of portal links this server made (expired, revoked, tenant gone): not counted as guesses. */
  private readonly notGuesses = new WeakSet<Error>();

  constructor(
    private readonly herald: Herald,
    /** null: no admin key is accepted. */
    private readonly adminApiKey: string | null,
    private readonly limiter: RateLimiter,
    private readonly rateLimitPerSecond: number,
    private readonly failures = new FailureThrottle({ burst: AUTH_FAILURE_BURST, refillSeconds: AUTH_FAILURE_REFILL_SECONDS }),
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
    const bearer = /^Bearer[ \t]+(.+)$/i.exec(headerValue(request, "authorization") ?? "")?.[1];
    const key = headerValue(request, "apikey") ?? bearer;
    if (key === undefined) return null;
    if (this.adminApiKey !== null && secretsEqual(key, this.adminApiKey)) return { kind: "admin" };
    const hash = hashApiKey(key);
    const cached = this.cache.get(hash);
    if (cached && !(cached.kind === "tenant" && cached.portal && cached.portal.expiresAt <= Date.now())) return cached;
    // A token this server did not sign may still be an API key someone chose (DEFAULT_WALLET_AUTH_API_KEY=hpl_...).
    const portal = isPortalToken(key) ? await this.identifyPortal(key, hash) : null;
    if (portal) return portal;
    const stored = await this.herald.apiKeys.findByHash(hash);
    if (!stored || stored.revokedAt !== null) {
      throw isPortalToken(key) ? unauthorized("portal", FORGED_PORTAL_LINK) : unauthorized("apikey", "the API key is unknown or revoked");
    }
    const principal: Principal = { kind: "tenant", tenantId: stored.tenantId, keyId: stored.id };
    this.cache.set(hash, principal);
    return principal;
  }

  /** null: not a token this server signed. */
  private async identifyPortal(token: string, hash: string): Promise<Principal | null> {
    const refused = this.refusedPortal.get(hash);
    if (refused !== undefined) this.refusePortal(refused);
    const access = await this.herald.portalLinks.check(token);
    if (!access.ok && access.reason === "forged") return null;
    if (!access.ok) {
      if (access.reason !== "expired") this.refusedPortal.set(hash, access.detail);
      this.refusePortal(access.detail);
    }
    const { tenantId, linkId, readOnly, expiresAt } = access;
    const principal: Principal = { kind: "tenant", tenantId, keyId: `portal:${linkId}`, portal: { readOnly, expiresAt } };
    this.cache.set(hash, principal, { ttl: Math.max(1, Math.min(KEY_CACHE_MS, expiresAt - Date.now())) });
    return principal;
  }

  /** A link this server made that no longer opens: not a guessed key, so the wrong-key throttle does not count it. */
  private refusePortal(detail: string): never {
    const refusal = unauthorized("portal", detail);
    this.notGuesses.add(refusal);
    throw refusal;
  }

  /** The onRequest hook: runs before the body is read, so an unauthenticated caller cannot make the server parse a large body. */
  install(app: FastifyInstance): void {
    app.decorateRequest("principal", null);
    this.limiter.install(app, (request) => rateKeyOf(principalOf(request)));
    app.addHook("onRequest", async (request, reply) => {
      const access = routeAccess(request);
      if (access === "public") return;
      if (CREDENTIAL_HEADERS.some((name) => request.headers[name] !== undefined)) {
        const throttled = this.failures.check(request.ip);
        if (!throttled.allowed) return this.refuseGuesses(request, reply, throttled);
      }
      let principal: Principal | null;
      try {
        principal = await this.identify(request);
      } catch (error) {
        if (isHeraldError(error) && error.code === "HERALD_ERR_UNAUTHORIZED" && !this.notGuesses.has(error)) this.failures.fail(request.ip);
        throw error;
      }
      if (principal === null) {
        return sendProblem(
          reply,
          makeProblem("HERALD_ERR_UNAUTHORIZED", "send your API key in the apikey header or as Authorization: Bearer <key>", request.url, "apikey"),
        );
      }
      if (access === "admin" && principal.kind !== "admin") {
        return sendProblem(reply, makeProblem("HERALD_ERR_FORBIDDEN", "this route needs the admin key in x-admin-api-key", request.url, "x-admin-api-key"));
      }
      if (principal.kind === "tenant" && principal.portal?.readOnly && (!READ_METHODS.has(request.method) || revealsSecret(request))) {
        return sendProblem(reply, makeProblem("HERALD_ERR_FORBIDDEN", "this portal link is read-only: it can look but not change anything; ask for a link made without readOnly", request.url, "portal"));
      }
      request.principal = principal;
      return this.limit(request, reply, principal);
    });
  }

  private refuseGuesses(request: FastifyRequest, reply: FastifyReply, decision: RateLimitDecision): FastifyReply {
    const { burst, refillSeconds } = this.failures.options;
    if (decision.notify) {
      request.log.warn(`authentication: ${burst} wrong API keys from ${request.ip}; its keys are refused for ${decision.retryAfterSeconds} s (one more try every ${refillSeconds} s)`);
    }
    reply.header("Retry-After", String(decision.retryAfterSeconds));
    return sendProblem(
      reply,
      makeProblem(
        "HERALD_ERR_RATE_LIMITED",
        `too many wrong API keys from this address: after ${burst}, one more is checked every ${refillSeconds} s, and until then no key from it is checked; retry after ${decision.retryAfterSeconds} s with the right key (apikey, Authorization: Bearer or x-admin-api-key)`,
        request.url,
      ),
    );
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

/**
 * A credential header: sent once (a repeated one is refused, not read as its first or joined
 * copy), only HTTP whitespace (space, tab) around it dropped, so `key\u00a0` is not `key`.
 */
function headerValue(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  if (value === undefined) return undefined;
  const raw = request.raw.rawHeaders;
  let copies = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) copies++;
  if (Array.isArray(value) || copies > 1) throw unauthorized(name, "was sent more than once; send the key in one header");
  const trimmed = value.replace(/^[ \t]+|[ \t]+$/g, "");
  return trimmed ? trimmed : undefined;
}

const TENANT_PREFIXES = ["/v1/", "/events/", "/cloud-agent/", "/api/v1/"];

/**
 * By the matched route's pattern (`/v1/webhooks/:id`); a path no route matches (404) by the
 * path decoded, its slashes collapsed and lowercased, so `/V1/nope` answers 401 without a key
 * and 404 with one, like `/v1/nope`: a caller without a key learns nothing of which routes exist.
 */
function routeAccess(request: FastifyRequest): Access {
  const declared = request.routeOptions.config?.access;
  if (declared) return declared;
  const path = (request.routeOptions.url ?? unmatchedPath(request.url)) + "/";
  return TENANT_PREFIXES.some((prefix) => path.startsWith(prefix)) ? "tenant" : "public";
}

function unmatchedPath(url: string): string {
  const path = url.split("?")[0]!;
  let decoded = path;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    // Malformed percent-encoding: classified as sent.
  }
  return decoded.replace(/\/{2,}/g, "/").toLowerCase();
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
