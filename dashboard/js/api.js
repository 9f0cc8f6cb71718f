// The dashboard's one door to Herald's HTTP API (SPEC section 6). The key lives in
// sessionStorage so it is gone when the tab closes and never reaches another tab or a cookie jar.
// A portal link's token (#portal=hpl_...) is kept the same way, as a "portal" session.

const SESSION_KEY = "herald.dashboard.session";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

export function loadSession() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? "null");
    if (saved && typeof saved.key === "string" && (saved.role === "admin" || saved.role === "tenant")) return saved;
    if (saved && typeof saved.key === "string" && saved.role === "portal" && typeof saved.expiresAt === "number") return saved;
  } catch {
    // A damaged entry is the same as none: sign in again.
  }
  return null;
}

export function saveSession(session) {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
}

export function clearSession() {
  sessionStorage.removeItem(SESSION_KEY);
}

const PORTAL_PREFIX = "hpl_";

/**
 * The portal session a `#portal=<token>` address carries, or null when the address has none.
 * The token's claims are readable (base64url JSON before the dot; only the server can check the
 * signature after it): the tenant and the expiry are shown from them. A token that cannot be read
 * makes a session that has already ended, so the page says the link is not valid.
 */
export function portalSessionFrom(hash) {
  const match = /^#portal=([^&]+)/.exec(hash);
  if (!match) return null;
  let key = match[1];
  try {
    key = decodeURIComponent(key);
    const claims = key.startsWith(PORTAL_PREFIX) ? key.slice(PORTAL_PREFIX.length).split(".")[0] : "";
    const bytes = Uint8Array.from(atob(claims.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
    const { tid, tn, exp, ro } = JSON.parse(new TextDecoder().decode(bytes));
    if (typeof tid !== "string" || typeof exp !== "number") throw new Error("not a portal token");
    return { key, role: "portal", tenantId: tid, tenantName: typeof tn === "string" ? tn : tid, expiresAt: exp, readOnly: ro === true };
  } catch {
    return { key, role: "portal", tenantId: "", tenantName: "", expiresAt: 0, readOnly: true, ended: "invalid" };
  }
}

/** Why a portal session shows nothing any more ("expired", "invalid"), or null while it works. */
export function portalEnded(session) {
  if (session.role !== "portal") return null;
  if (session.ended) return session.ended;
  return Date.now() >= session.expiresAt ? "expired" : null;
}

function authHeaders(session) {
  return session.role === "admin" ? { "x-admin-api-key": session.key } : { authorization: `Bearer ${session.key}` };
}

/** Drops empty filter values so `?status=` never reaches the server as a filter on "". */
export function queryString(query = {}) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

export function makeApi(session, { onUnauthorized } = {}) {
  async function request(method, path, { query, body } = {}) {
    const headers = { ...authHeaders(session), accept: "application/json, application/problem+json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(path + queryString(query), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let payload = null;
    if (text) {
      try {
        payload = JSON.parse(text);
      } catch {
        payload = { detail: text };
      }
    }
    if (!response.ok) {
      if (response.status === 401 && onUnauthorized) onUnauthorized();
      throw new ApiError(response.status, payload);
    }
    return payload;
  }
  return {
    session,
    get: (path, query) => request("GET", path, { query }),
    post: (path, body) => request("POST", path, { body: body ?? {} }),
    patch: (path, body) => request("PATCH", path, { body }),
    delete: (path) => request("DELETE", path),
  };
}

/**
 * Tells an admin key from a tenant key by asking the server: the admin-only tenant list answers
 * 200 only to an admin key, and a tenant key is then checked against its own webhook list.
 */
export async function signIn(key) {
  const asAdmin = makeApi({ key, role: "admin" });
  try {
    await asAdmin.get("/v1/tenants");
    return { key, role: "admin" };
  } catch (error) {
    if (!(error instanceof ApiError) || (error.status !== 401 && error.status !== 403)) throw error;
  }
  const asTenant = makeApi({ key, role: "tenant" });
  await asTenant.get("/v1/webhooks", { limit: 1 });
  return { key, role: "tenant" };
}
