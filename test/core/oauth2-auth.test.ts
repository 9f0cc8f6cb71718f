/**
 * OAuth2 client credentials to receivers: a real token server (node:http) that checks the grant,
 * the client's credentials (HTTP Basic or in the body) and the scope, and issues tokens with
 * expires_in; a real receiver that accepts only a Bearer token the server issued.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { isHeraldError, type Herald, type WebhookInput } from "../../src/index.js";
import { engineBackend } from "../helpers/backends.js";
import { buildWebhook } from "../../src/domain/webhook-input.js";
import { closeEngines, eventually, openEngine, sleep, storeOf } from "../helpers/engine.js";
import { closeProxies, startForwardProxy } from "../helpers/forward-proxy.js";
import { closeReceivers, receiver, type TestReceiver } from "../helpers/receiver.js";
import { closeAll, expectProblem, startTestServer, tenantHeaders } from "../api/helpers.js";

const CLIENT_ID = "herald client";
const CLIENT_SECRET = "s3cret:with/odd+chars-0123456789";

interface TokenRequest {
  headers: IncomingHttpHeaders;
  form: URLSearchParams;
}

/** What the token server answers: tokens, or one of the ways a token request fails. */
type TokenMode = "ok" | "unauthorized" | "error" | "garbage" | "huge" | "no-token" | "hang";

interface TokenServer {
  url: string;
  requests: TokenRequest[];
  mode: TokenMode;
  expiresIn: number | undefined;
  delayMs: number;
  /** Tokens the receiver accepts. */
  valid: Set<string>;
  /** Refuses connections until `up()`: the port stays the same. */
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

const tokenServers: TokenServer[] = [];

async function startTokenServer(expect: { scope?: string; audience?: string } = {}): Promise<TokenServer> {
  let issued = 0;
  let server: Server;
  let port = 0;
  const listen = async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const form = new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
        tokens.requests.push({ headers: req.headers, form });
        const answer = (status: number, body: unknown) => {
          const send = () => res.writeHead(status, { "content-type": "application/json" }).end(typeof body === "string" ? body : JSON.stringify(body));
          if (tokens.delayMs > 0) setTimeout(send, tokens.delayMs);
          else send();
        };
        if (tokens.mode === "hang") return;
        if (tokens.mode === "error") return answer(500, "<html>internal error</html>");
        if (tokens.mode === "garbage") return answer(200, "this is not json");
        if (tokens.mode === "huge") return answer(200, { access_token: "SECRET-ACCESS-TOKEN-abc123", token_type: "Bearer", id_token: "x".repeat(12_000) });
        if (tokens.mode === "no-token") return answer(200, { token_type: "Bearer", expires_in: 3600 });
        if (req.method !== "POST" || req.headers["content-type"] !== "application/x-www-form-urlencoded") {
          return answer(400, { error: "invalid_request", error_description: "POST a form" });
        }
        if (form.get("grant_type") !== "client_credentials") return answer(400, { error: "unsupported_grant_type" });
        if (tokens.mode === "unauthorized" || !clientAuthenticated(req.headers, form)) return answer(401, { error: "invalid_client" });
        if (expect.scope !== undefined && form.get("scope") !== expect.scope) return answer(400, { error: "invalid_scope" });
        if (expect.audience !== undefined && form.get("audience") !== expect.audience) return answer(400, { error: "invalid_request", error_description: "audience" });
        const token = `tok-${++issued}`;
        tokens.valid.add(token);
        answer(200, { access_token: token, token_type: "Bearer", ...(tokens.expiresIn === undefined ? {} : { expires_in: tokens.expiresIn }) });
      });
    });
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  };
  const stop = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.closeAllConnections();
      server.close(() => resolve());
    });
  await listen();
  const tokens: TokenServer = {
    url: `http://127.0.0.1:${port}/oauth/token`,
    requests: [],
    mode: "ok",
    expiresIn: 3600,
    delayMs: 0,
    valid: new Set(),
    down: stop,
    up: listen,
    close: stop,
  };
  tokenServers.push(tokens);
  return tokens;
}

/** RFC 6749 section 2.3.1: HTTP Basic with the form-encoded id and secret, or both in the body; never both ways. */
function clientAuthenticated(headers: IncomingHttpHeaders, form: URLSearchParams): boolean {
  const basic = /^Basic (.+)$/.exec(headers.authorization ?? "");
  if (basic) {
    if (form.has("client_secret")) return false;
    const [id, secret] = Buffer.from(basic[1]!, "base64").toString("utf8").split(":").map((part) => decodeURIComponent(part.replace(/\+/g, " ")));
    return id === CLIENT_ID && secret === CLIENT_SECRET;
  }
  return form.get("client_id") === CLIENT_ID && form.get("client_secret") === CLIENT_SECRET;
}

/** A receiver that takes only Bearer tokens the token server issued and has not revoked. */
async function bearerReceiver(tokens: TokenServer): Promise<TestReceiver> {
  return receiver((req) => {
    const token = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ""))?.[1];
    return token !== undefined && tokens.valid.has(token) ? { status: 200 } : { status: 401, body: "bad token" };
  });
}

function oauth2(tokens: TokenServer, extra: Record<string, unknown> = {}): WebhookInput["auth"] {
  return { type: "oauth2", credentials: { token_url: tokens.url, client_id: CLIENT_ID, client_secret: CLIENT_SECRET, ...extra } };
}

const FAST_RETRY = { strategy: "fixed", maxAttempts: 5, initialDelayMs: 150, maxDelayMs: 150, jitter: 0 } as const;

async function settled(herald: Herald, deliveryId: string) {
  return eventually(async () => {
    const delivery = await herald.deliveries.get(deliveryId);
    return delivery.state === "succeeded" || delivery.state === "failed" ? delivery : undefined;
  }, 10_000, `delivery ${deliveryId} to settle`);
}

async function deliverOne(herald: Herald, type = "custom") {
  const { deliveries } = await herald.trigger(type, { n: 1 });
  return settled(herald, deliveries[0]!);
}

afterEach(async () => {
  await closeEngines();
  await closeReceivers();
  await closeProxies();
  await closeAll();
  for (const server of tokenServers.splice(0)) await server.close();
});

describe("OAuth2 client credentials", () => {
  it("many deliveries share one token, fetched with grant_type, HTTP Basic, scope and audience, and sent as Bearer", async () => {
    const tokens = await startTokenServer({ scope: "events:write", audience: "https://receiver.example" });
    const r = await bearerReceiver(tokens);
    const herald = await openEngine();
    await herald.start();
    await herald.webhooks.create({ url: r.url, auth: oauth2(tokens, { scope: "events:write", audience: "https://receiver.example" }) });
    for (let i = 0; i < 5; i++) expect((await deliverOne(herald)).state).toBe("succeeded");

    expect(tokens.requests).toHaveLength(1);
    const [request] = tokens.requests;
    expect(request!.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(request!.headers.authorization).toMatch(/^Basic /);
    expect(Object.fromEntries(request!.form)).toEqual({ grant_type: "client_credentials", scope: "events:write", audience: "https://receiver.example" });
    expect(r.requests.map((req) => req.headers.authorization)).toEqual(Array(5).fill("Bearer tok-1"));
  });

  it("the token request goes through the webhook's egress proxy, as its deliveries do", async () => {
    const tokens = await startTokenServer();
    const r = await bearerReceiver(tokens);
    const proxy = await startForwardProxy();
    const herald = await openEngine({ proxyUrl: proxy.url });
    await herald.start();
    await herald.webhooks.create({ url: `${r.url}/via`, auth: oauth2(tokens) });
    expect((await deliverOne(herald)).state).toBe("succeeded");
    expect(tokens.requests).toHaveLength(1);
    expect(proxy.seen.map((seen) => seen.target)).toEqual([tokens.url, `${r.url}/via`]);
  });

  it("client_secret_post sends the client's id and secret in the form body, not in a Basic header", async () => {
    const tokens = await startTokenServer();
    const r = await bearerReceiver(tokens);
    const herald = await openEngine();
    await herald.start();
    await herald.webhooks.create({ url: r.url, auth: oauth2(tokens, { auth_method: "client_secret_post" }) });
    expect((await deliverOne(herald)).state).toBe("succeeded");
    const [request] = tokens.requests;
    expect(request!.headers.authorization).toBeUndefined();
    expect(Object.fromEntries(request!.form)).toEqual({ grant_type: "client_credentials", client_id: CLIENT_ID, client_secret: CLIENT_SECRET });
  });

  it("a token is fetched again once its expires_in has run out (less the margin)", async () => {
    const tokens = await startTokenServer();
    tokens.expiresIn = 2;
    const r = await bearerReceiver(tokens);
    const herald = await openEngine();
    await herald.start();
    await herald.webhooks.create({ url: r.url, auth: oauth2(tokens) });
    expect((await deliverOne(herald)).state).toBe("succeeded");
    expect((await deliverOne(herald)).state).toBe("succeeded"); // well inside the 1.8 s the token is used
    expect(tokens.requests).toHaveLength(1);
    await sleep(2_000);
    expect((await deliverOne(herald)).state).toBe("succeeded");
    expect(tokens.requests).toHaveLength(2);
    expect(r.requests.map((req) => req.headers.authorization)).toEqual(["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]);
  });

  it("a receiver's 401 drops the token: the retry fetches a new one and succeeds", async () => {
    const tokens = await startTokenServer();
    const r = await bearerReceiver(tokens);
    const herald = await openEngine();
    await herald.start();
    await herald.webhooks.create({ url: r.url, auth: oauth2(tokens), retry: FAST_RETRY });
    expect((await deliverOne(herald)).state).toBe("succeeded");
    tokens.valid.delete("tok-1"); // revoked at the authorization server: the receiver now refuses it

    const delivery = await deliverOne(herald);
    expect(delivery.state).toBe("succeeded");
    expect(delivery.attempts.map((a) => a.response?.status)).toEqual([401, 200]);
    expect(tokens.requests).toHaveLength(2);
    expect(r.requests.map((req) => req.headers.authorization)).toEqual(["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]);
  });

  it("concurrent attempts share one token request", async () => {
    const tokens = await startTokenServer();
    tokens.delayMs = 300;
    const r = await bearerReceiver(tokens);
    const herald = await openEngine();
    await herald.start();
    await herald.webhooks.create({ url: r.url, auth: oauth2(tokens), maxConcurrency: 10 });
    const results = await herald.triggerMany(Array.from({ length: 8 }, (_, i) => ({ type: "custom", data: { i } })));
    const ids = results.flatMap((result) => result.deliveries);
    expect(ids).toHaveLength(8);
    for (const id of ids) expect((await settled(herald, id)).state).toBe("succeeded");
    expect(tokens.requests).toHaveLength(1);
    expect(new Set(r.requests.map((req) => req.headers.authorization))).toEqual(new Set(["Bearer tok-1"]));
  });

  const failures: Array<{ name: string; mode: TokenMode | "down"; reason: RegExp }> = [
    { name: "is down (connection refused)", mode: "down", reason: /^OAuth2 token request to http:\/\/127\.0\.0\.1:\d+\/oauth\/token failed \(refused\): .*ECONNREFUSED/ },
    { name: "answers 401", mode: "unauthorized", reason: /token request to http:\/\/127\.0\.0\.1:\d+\/oauth\/token answered 401: invalid_client; the receiver was not called$/ },
    { name: "answers 500", mode: "error", reason: /answered 500: <html>internal error<\/html>/ },
    // A 2xx body is never quoted: it may hold a token Herald could not read.
    { name: "answers a body that is not JSON", mode: "garbage", reason: /answered 200 with a body that is not JSON \(16 bytes\); the receiver was not called$/ },
    { name: "answers more than Herald reads of a token answer", mode: "huge", reason: /answered 200 with more than 10,240 bytes, more than Herald reads of a token answer; the receiver was not called$/ },
    { name: "answers without an access_token", mode: "no-token", reason: /answered 200 without an access_token/ },
    { name: "does not answer in time", mode: "hang", reason: /got no complete answer within 500 ms/ },
  ];

  for (const { name, mode, reason } of failures) {
    it(`a token server that ${name} fails the attempt with the reason, without calling the receiver; the retry succeeds once it recovers`, async () => {
      const tokens = await startTokenServer();
      const r = await bearerReceiver(tokens);
      if (mode === "down") await tokens.down();
      else tokens.mode = mode;
      const herald = await openEngine();
      await herald.start();
      await herald.webhooks.create({ url: r.url, auth: oauth2(tokens), timeoutMs: 500, retry: { ...FAST_RETRY, initialDelayMs: 400, maxDelayMs: 400 } });
      const { deliveries } = await herald.trigger("custom", { n: 1 });
      const first = await eventually(async () => (await herald.deliveries.get(deliveries[0]!)).attempts[0], 5_000, "the first attempt");
      expect(first.errorClass).toBe("auth");
      expect(first.errorMessage).toMatch(reason);
      expect(first.errorMessage).not.toContain("SECRET-ACCESS-TOKEN");
      expect(first.response).toBeNull();
      expect(r.requests).toHaveLength(0);

      if (mode === "down") await tokens.up();
      tokens.mode = "ok";
      const delivery = await settled(herald, deliveries[0]!);
      expect(delivery.state).toBe("succeeded");
      expect(delivery.attempts.at(-1)!.response?.status).toBe(200);
      expect(delivery.attempts.slice(0, -1).every((a) => a.errorClass === "auth")).toBe(true);
      expect(r.requests).toHaveLength(1);
      expect(r.requests[0]!.headers.authorization).toMatch(/^Bearer tok-\d+$/);
    });
  }

  it("changed credentials drop the kept token: the next delivery asks with the new ones", async () => {
    const tokens = await startTokenServer({ scope: "b" });
    const r = await bearerReceiver(tokens);
    const herald = await openEngine();
    await herald.start();
    const webhook = await herald.webhooks.create({ url: r.url, auth: oauth2(tokens, { scope: "a" }), retry: { ...FAST_RETRY, maxAttempts: 1 } });
    const refused = await deliverOne(herald);
    expect(refused.attempts[0]!.errorMessage).toContain("answered 400: invalid_scope");
    await herald.webhooks.update(webhook.id, { auth: oauth2(tokens, { scope: "b" }) });
    expect((await deliverOne(herald)).state).toBe("succeeded");
    expect(tokens.requests.map((req) => req.form.get("scope"))).toEqual(["a", "b"]);
  });

  it("bad credentials are refused naming the field", async () => {
    const herald = await openEngine();
    const tokenUrl = "https://auth.example.com/token";
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ token_url: "not a url", client_id: "a", client_secret: "b" }, "auth.credentials.token_url"],
      [{ token_url: "ftp://auth.example.com/token", client_id: "a", client_secret: "b" }, "auth.credentials.token_url"],
      [{ token_url: "https://user:pw@auth.example.com/token", client_id: "a", client_secret: "b" }, "auth.credentials.token_url"],
      [{ client_id: "a", client_secret: "b" }, "auth.credentials.token_url"],
      [{ token_url: tokenUrl, client_secret: "b" }, "auth.credentials.client_id"],
      [{ token_url: tokenUrl, client_id: "a" }, "auth.credentials.client_secret"],
      [{ token_url: tokenUrl, client_id: "a", client_secret: "" }, "auth.credentials.client_secret"],
      [{ token_url: tokenUrl, client_id: "a", client_secret: "b", scope: 3 }, "auth.credentials.scope"],
      [{ token_url: tokenUrl, client_id: "a", client_secret: "b", auth_method: "private_key_jwt" }, "auth.credentials.auth_method"],
      [{ token_url: tokenUrl, client_id: "a", client_secret: "b", audiance: "x" }, "auth.credentials.audiance"],
    ];
    for (const [credentials, field] of cases) {
      const error = await herald.webhooks.create({ url: "http://127.0.0.1:9/hook", auth: { type: "oauth2", credentials } }).catch((e: unknown) => e);
      expect(isHeraldError(error) && { code: error.code, field: error.field }, JSON.stringify(credentials)).toEqual({ code: "HERALD_ERR_VALIDATION", field });
    }
    const clash = await herald.webhooks
      .create({ url: "http://127.0.0.1:9/hook", headers: { Authorization: "x" }, auth: { type: "oauth2", credentials: { token_url: tokenUrl, client_id: "a", client_secret: "b" } } })
      .catch((e: unknown) => e);
    expect(isHeraldError(clash) && clash.field).toBe("headers.Authorization");
  });

  it("a private token_url is refused unless private targets are allowed, naming auth.credentials.token_url", async () => {
    const herald = await openEngine({ allowPrivateTargets: false });
    const error = await herald.webhooks
      .create({ url: "https://93.184.215.14/hook", auth: { type: "oauth2", credentials: { token_url: "http://127.0.0.1:8080/token", client_id: "a", client_secret: "b" } } })
      .catch((e: unknown) => e);
    expect(isHeraldError(error) && { code: error.code, field: error.field }).toEqual({ code: "HERALD_ERR_PRIVATE_TARGET", field: "auth.credentials.token_url" });
    const webhook = await herald.webhooks.create({ url: "https://93.184.215.14/hook" });
    const patched = await herald.webhooks
      .update(webhook.id, { auth: { type: "oauth2", credentials: { token_url: "http://10.0.0.1/token", client_id: "a", client_secret: "b" } } })
      .catch((e: unknown) => e);
    expect(isHeraldError(patched) && patched.field).toBe("auth.credentials.token_url");
  });

  it("the token request passes the SSRF guard when it connects: a stored private token_url is never dialled", async () => {
    const tokens = await startTokenServer();
    const herald = await openEngine({ allowPrivateTargets: false });
    // As if the token URL's name re-resolved to a private address after the webhook was saved.
    const webhook = buildWebhook(
      { url: "https://93.184.215.14/hook", auth: oauth2(tokens), retry: { maxAttempts: 1 } },
      { tenantId: herald.defaultTenantId, now: Date.now() },
    );
    await (await storeOf(herald)).insertWebhook(webhook);
    await herald.start();
    const delivery = await deliverOne(herald);
    expect(delivery.state).toBe("failed");
    expect(delivery.attempts[0]!.errorClass).toBe("auth");
    expect(delivery.attempts[0]!.errorMessage).toMatch(/failed \(blocked\): .*loopback.*the receiver was not called$/);
    expect(tokens.requests).toHaveLength(0);
  });

  it("the API answers 422 naming the field, and neither client_secret nor the token appear in its answers or attempt records", async () => {
    const tokens = await startTokenServer();
    const r = await bearerReceiver(tokens);
    const server = await startTestServer();
    const headers = tenantHeaders(server);
    const bad = await server.app.inject({
      method: "POST", url: "/v1/webhooks", headers,
      payload: { url: r.url, auth: { type: "oauth2", credentials: { token_url: "nope", client_id: "a", client_secret: "b" } } },
    });
    expectProblem(bad, "HERALD_ERR_VALIDATION");
    expect(bad.json().field).toBe("auth.credentials.token_url");

    const created = await server.app.inject({ method: "POST", url: "/v1/webhooks", headers, payload: { url: r.url, events: ["custom"], auth: oauth2(tokens, { scope: "s" }) } });
    expect(created.statusCode).toBe(201);
    expect(created.json().auth).toEqual({
      type: "oauth2",
      credentials: { token_url: tokens.url, client_id: CLIENT_ID, client_secret: `****${CLIENT_SECRET.slice(-4)}`, scope: "s" },
    });
    const id = created.json().id as string;
    const event = await server.app.inject({ method: "POST", url: "/v1/events", headers, payload: { type: "custom", data: {} } });
    expect(event.statusCode).toBe(202);
    await r.waitFor(1);
    const answers: string[] = [created.body];
    const delivery = await eventually(async () => {
      const list = await server.app.inject({ method: "GET", url: `/v1/webhooks/${id}/deliveries`, headers });
      const first = list.json().data?.[0] as { id: string; status?: string; state?: string } | undefined;
      if (!first) return undefined;
      const one = await server.app.inject({ method: "GET", url: `/v1/deliveries/${first.id}`, headers });
      return one.json().attempts?.length > 0 ? one : undefined;
    }, 10_000, "the recorded attempt");
    answers.push(delivery.body, (await server.app.inject({ method: "GET", url: `/v1/webhooks/${id}`, headers })).body);
    const attempt = delivery.json().attempts[0];
    expect(attempt.request.headers.authorization).toBe("[redacted]");
    for (const body of answers) {
      expect(body).not.toContain(CLIENT_SECRET);
      expect(body).not.toContain("tok-1");
    }
    expect(r.requests[0]!.headers.authorization).toBe("Bearer tok-1");
    if (engineBackend === "sqlite") {
      // Sealed at rest: the secret is in no file of the data folder (database, WAL, keys).
      await server.close();
      for (const name of readdirSync(server.dataDir)) {
        expect(readFileSync(join(server.dataDir, name)).includes(CLIENT_SECRET), name).toBe(false);
      }
    }
  });
});
