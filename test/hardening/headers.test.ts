/**
 * Every way a header gets onto a webhook's requests (`headers`, the header an auth type sets,
 * Identus `customHeaders`, PATCH, the global webhook from the environment) under one rule:
 * Herald's own headers cannot be named, values are valid HTTP field values, and a custom header
 * cannot collide with the webhook's auth. Every custom header value is a secret (masked in
 * answers, redacted in attempt records) unless the webhook lists it in `publicHeaders`. And the
 * other webhook fields that used to be taken as given: names, metadata, rateLimitPerSecond.
 */
import { Webhook as StandardWebhook } from "standardwebhooks";
import { afterEach, describe, expect, it } from "vitest";
import { buildWebhook } from "../../src/domain/webhook-input.js";
import { closeAll, startReceiver, startTestServer, tenantHeaders, type TestServer } from "../api/helpers.js";
import { closeEngines, openEngine, storeOf } from "../helpers/engine.js";
import { closeReceivers, receiver as engineReceiver } from "../helpers/receiver.js";

afterEach(closeAll);
afterEach(closeEngines);
afterEach(closeReceivers);

const TARGET = "http://127.0.0.1:9/hook";
/** The tables below send a few hundred requests in a second: above the API's default rate limit. */
const UNLIMITED = { HERALD_RATE_LIMIT_PER_SECOND: "1000000" };

interface Answer {
  status: number;
  field: unknown;
  code: unknown;
  detail: string;
}

async function send(server: TestServer, method: "POST" | "PATCH", url: string, payload: unknown): Promise<Answer> {
  const response = await server.app.inject({
    method, url, headers: { ...tenantHeaders(server), "content-type": "application/json" },
    payload: typeof payload === "string" ? payload : JSON.stringify(payload),
  });
  const body = response.json<{ field?: unknown; code?: unknown; detail?: string }>();
  return { status: response.statusCode, field: body.field, code: body.code, detail: body.detail ?? "" };
}

async function createWebhook(server: TestServer, payload: Record<string, unknown>): Promise<{ id: string } & Record<string, unknown>> {
  const response = await server.app.inject({ method: "POST", url: "/v1/webhooks", headers: tenantHeaders(server), payload });
  expect(response.statusCode, response.body).toBe(201);
  return response.json();
}

/** Herald's headers and the HTTP framing: no webhook setting may name them. */
const RESERVED = [
  "host", "content-length", "content-type", "transfer-encoding", "connection", "keep-alive", "upgrade", "expect",
  "webhook-id", "webhook-timestamp", "webhook-signature", "x-webhook-event", "x-webhook-id", "x-webhook-timestamp",
];
const titleCase = (name: string) => name.replace(/(^|-)([a-z])/g, (_, dash: string, letter: string) => dash + letter.toUpperCase());
const spellings = (name: string) => [name, name.toUpperCase(), titleCase(name)];

/** One row per way a header name reaches a request; the next one added belongs here. */
interface HeaderPath {
  path: string;
  method: "POST" | "PATCH";
  url: (webhookId: string) => string;
  body: (name: string) => unknown;
  field: (name: string) => string;
}

const HEADER_PATHS: HeaderPath[] = [
  { path: "POST /v1/webhooks headers", method: "POST", url: () => "/v1/webhooks", body: (name) => ({ url: TARGET, headers: { [name]: "x" } }), field: (name) => `headers.${name}` },
  {
    path: "POST /v1/webhooks auth api-key header_name", method: "POST", url: () => "/v1/webhooks",
    body: (name) => ({ url: TARGET, auth: { type: "api-key", credentials: { api_key: "key-1", header_name: name } } }), field: () => "auth.credentials.header_name",
  },
  {
    path: "POST /v1/webhooks auth hmac header_name", method: "POST", url: () => "/v1/webhooks",
    body: (name) => ({ url: TARGET, auth: { type: "hmac", credentials: { secret: "hmac-secret", header_name: name } } }), field: () => "auth.credentials.header_name",
  },
  { path: "PATCH /v1/webhooks/:id headers", method: "PATCH", url: (id) => `/v1/webhooks/${id}`, body: (name) => ({ headers: { [name]: "x" } }), field: (name) => `headers.${name}` },
  {
    path: "PATCH /v1/webhooks/:id auth api-key header_name", method: "PATCH", url: (id) => `/v1/webhooks/${id}`,
    body: (name) => ({ auth: { type: "api-key", credentials: { api_key: "key-1", header_name: name } } }), field: () => "auth.credentials.header_name",
  },
  {
    path: "PATCH /v1/webhooks/:id auth hmac header_name", method: "PATCH", url: (id) => `/v1/webhooks/${id}`,
    body: (name) => ({ auth: { type: "hmac", credentials: { secret: "hmac-secret", header_name: name } } }), field: () => "auth.credentials.header_name",
  },
  { path: "POST /events/webhooks customHeaders", method: "POST", url: () => "/events/webhooks", body: (name) => ({ url: TARGET, customHeaders: { [name]: "x" } }), field: (name) => `customHeaders.${name}` },
  {
    path: "POST /cloud-agent/events/webhooks customHeaders", method: "POST", url: () => "/cloud-agent/events/webhooks",
    body: (name) => ({ url: TARGET, customHeaders: { [name]: "x" } }), field: (name) => `customHeaders.${name}`,
  },
];

describe("reserved headers", () => {
  it("every header path refuses each of Herald's headers, in any case, with a 422 naming the field", async () => {
    const server = await startTestServer(UNLIMITED);
    const { id } = await createWebhook(server, { url: TARGET });
    const wrong: unknown[] = [];
    for (const headerPath of HEADER_PATHS) {
      for (const name of RESERVED.flatMap(spellings)) {
        const answer = await send(server, headerPath.method, headerPath.url(id), headerPath.body(name));
        const expected = { status: 422, code: "HERALD_ERR_VALIDATION", field: headerPath.field(name) };
        const got = { status: answer.status, code: answer.code, field: answer.field };
        if (JSON.stringify(got) !== JSON.stringify(expected)) wrong.push({ path: headerPath.path, name, got });
      }
    }
    expect(wrong).toEqual([]);
    // Nothing was stored on the way: the webhook made first is the only one, unchanged.
    const list = await server.app.inject({ method: "GET", url: "/v1/webhooks", headers: tenantHeaders(server) });
    expect(list.json<{ data: Array<{ id: string; headers: object; auth: { type: string } }> }>().data).toMatchObject([{ id, headers: {}, auth: { type: "none" } }]);
  });

  it("the same header paths still take an ordinary header name, and user-agent", async () => {
    const server = await startTestServer();
    for (const headerPath of HEADER_PATHS) {
      for (const name of ["X-Team", "User-Agent"]) {
        const { id } = await createWebhook(server, { url: TARGET });
        const answer = await send(server, headerPath.method, headerPath.url(id), headerPath.body(name));
        expect({ path: headerPath.path, name, status: answer.status }).toEqual({ path: headerPath.path, name, status: headerPath.method === "POST" && headerPath.url(id) === "/v1/webhooks" ? 201 : 200 });
      }
    }
  });

  it("a custom header may not name the header the webhook's own auth sets, whichever side comes second", async () => {
    const server = await startTestServer();
    const cases: Array<[string, "POST" | "PATCH", Record<string, unknown>, string]> = [
      ["bearer and headers.Authorization", "POST", { headers: { Authorization: "Basic abc" }, auth: { type: "bearer", credentials: { token: "tok-1" } } }, "headers.Authorization"],
      ["basic and headers.authorization", "POST", { headers: { authorization: "x" }, auth: { type: "basic", credentials: { username: "u", password: "p" } } }, "headers.authorization"],
      ["api-key X-Key and headers.x-key", "POST", { headers: { "x-key": "x" }, auth: { type: "api-key", credentials: { api_key: "k", header_name: "X-Key" } } }, "headers.x-key"],
      ["api-key default X-API-Key", "POST", { headers: { "X-Api-Key": "x" }, auth: { type: "api-key", credentials: { api_key: "k" } } }, "headers.X-Api-Key"],
      ["hmac default X-Webhook-Signature", "POST", { headers: { "X-Webhook-Signature": "sha256=forged" }, auth: { type: "hmac", credentials: { secret: "s" } } }, "headers.X-Webhook-Signature"],
      ["PATCH auth bearer onto headers.Authorization", "PATCH", { auth: { type: "bearer", credentials: { token: "tok-1" } } }, "auth.type"],
      ["PATCH auth api-key onto headers.X-Team", "PATCH", { auth: { type: "api-key", credentials: { api_key: "k", header_name: "x-team" } } }, "auth.credentials.header_name"],
    ];
    // Without auth, an Authorization header of one's own is fine (Identus wallets send one).
    const { id } = await createWebhook(server, { url: TARGET, headers: { Authorization: "Bearer own", "X-Team": "payments" } });
    for (const [what, method, body, field] of cases) {
      const answer = await send(server, method, method === "POST" ? "/v1/webhooks" : `/v1/webhooks/${id}`, method === "POST" ? { url: TARGET, ...body } : body);
      expect({ what, status: answer.status, field: answer.field }).toEqual({ what, status: 422, field });
    }
    const bearer = await createWebhook(server, { url: TARGET, auth: { type: "bearer", credentials: { token: "tok-1" } } });
    const patched = await send(server, "PATCH", `/v1/webhooks/${bearer.id}`, { headers: { AUTHORIZATION: "x" } });
    expect(patched).toMatchObject({ status: 422, field: "headers.AUTHORIZATION" });
  });

  it("the global webhook from the environment is held to the same rules: a token no header can carry stops the start", async () => {
    await expect(startTestServer({ GLOBAL_WEBHOOK_URL: TARGET, GLOBAL_WEBHOOK_API_KEY: "tok€n" })).rejects.toThrow(/U\+20AC/);
  });

  it("a stored row that breaks the rules (made before them) still cannot override Herald's headers or its auth header", async () => {
    const r = await engineReceiver();
    const herald = await openEngine();
    const webhook = buildWebhook(
      { url: `${r.url}/hook`, auth: { type: "api-key", credentials: { api_key: "the-real-key", header_name: "X-Key" } } },
      { tenantId: null, now: Date.now() },
    );
    webhook.headers = {
      "Webhook-Signature": "v1,Zm9yZ2Vk", "webhook-id": "msg_forged", "X-Webhook-Event": "forged.event", "Content-Type": "text/plain",
      Host: "evil.example", "Content-Length": "3", "Transfer-Encoding": "chunked", Connection: "upgrade", Expect: "100-continue",
      "X-Key": "custom-value", "X-Team": "payments",
    };
    await (await storeOf(herald)).insertWebhook(webhook);
    await herald.start();
    const { event } = await herald.trigger("probe.sent", { n: 1 });
    const [request] = await r.waitFor(1);
    expect(request!.headers).toMatchObject({
      host: `127.0.0.1:${r.port}`, "content-type": "application/json", "webhook-id": event.id, "x-webhook-event": "probe.sent",
      "x-key": "the-real-key", "x-team": "payments",
    });
    expect(request!.headers["transfer-encoding"]).toBeUndefined();
    expect(request!.headers.expect).toBeUndefined();
    expect(request!.body).toContain('"n":1');
    const signed = { "webhook-id": event.id, "webhook-timestamp": String(request!.headers["webhook-timestamp"]), "webhook-signature": String(request!.headers["webhook-signature"]) };
    expect(() => new StandardWebhook(webhook.secrets[0]!.secret).verify(request!.body, signed)).not.toThrow();
  });
});

describe("header values", () => {
  const BAD_VALUES: Array<[string, string]> = [
    ["a euro sign (beyond Latin-1)", "price €5"],
    ["an emoji", "ok 👍"],
    ["a lone surrogate", "x\uD800y"],
    ["a bell (control character)", "ding\u0007"],
    ["DEL", "del\u007f"],
    ["CR LF", "a\r\nInjected: yes"],
    ["NUL", "a\u0000b"],
  ];

  it("a value an HTTP header cannot carry is refused at create and patch, naming the header or credential", async () => {
    const server = await startTestServer(UNLIMITED);
    const { id } = await createWebhook(server, { url: TARGET });
    const paths: Array<[string, "POST" | "PATCH", string, (value: string) => unknown, string]> = [
      ["POST headers", "POST", "/v1/webhooks", (value) => ({ url: TARGET, headers: { "X-Foo": value } }), "headers.X-Foo"],
      ["PATCH headers", "PATCH", `/v1/webhooks/${id}`, (value) => ({ headers: { "X-Foo": value } }), "headers.X-Foo"],
      ["Identus customHeaders", "POST", "/events/webhooks", (value) => ({ url: TARGET, customHeaders: { "X-Foo": value } }), "customHeaders.X-Foo"],
      ["api-key api_key", "POST", "/v1/webhooks", (value) => ({ url: TARGET, auth: { type: "api-key", credentials: { api_key: value } } }), "auth.credentials.api_key"],
      ["bearer token", "PATCH", `/v1/webhooks/${id}`, (value) => ({ auth: { type: "bearer", credentials: { token: value } } }), "auth.credentials.token"],
    ];
    for (const [path, method, url, body, field] of paths) {
      for (const [what, value] of BAD_VALUES) {
        const answer = await send(server, method, url, body(value));
        expect({ path, what, status: answer.status, code: answer.code, field: answer.field }).toEqual({ path, what, status: 422, code: "HERALD_ERR_VALIDATION", field });
      }
    }
    const euro = await send(server, "POST", "/v1/webhooks", { url: TARGET, headers: { "X-Foo": "price €5" } });
    expect(euro.detail).toContain("U+20AC");
  });

  it("Latin-1, tab and visible ASCII values are taken and arrive at the receiver byte for byte", async () => {
    const receiver = await startReceiver();
    const server = await startTestServer();
    const value = "café\tcrème ~!#$%&'()*+,-./:;<=>?@[\\]^_`{|}";
    await createWebhook(server, { url: receiver.url, headers: { "X-Latin": value }, auth: { type: "api-key", credentials: { api_key: "clé-ÿ", header_name: "X-Key" } } });
    await server.app.inject({ method: "POST", url: "/v1/events", headers: tenantHeaders(server), payload: { type: "probe.sent", data: {} } });
    const [request] = await receiver.waitFor(1);
    expect(request!.headers["x-latin"]).toBe(value);
    expect(request!.headers["x-key"]).toBe("clé-ÿ");
  });

  it("header names that differ only in case are refused rather than one silently winning", async () => {
    const server = await startTestServer();
    const answer = await send(server, "POST", "/v1/webhooks", { url: TARGET, headers: { "X-Team": "a", "x-team": "b" } });
    expect(answer).toMatchObject({ status: 422, field: "headers.x-team" });
  });
});

describe("header values are secrets unless public", () => {
  it("delivers the real values, masks them in GET /v1/webhooks and redacts them in the attempt record, except publicHeaders", async () => {
    const receiver = await startReceiver();
    const server = await startTestServer();
    const headers = { "X-Auth": "auth-value-123456", "X-Credentials": "creds-abcdef-7777", "X-Session": "sess-abcdef-7890", "X-Region": "café-eu", "X-Team": "payments" };
    const created = await createWebhook(server, {
      url: receiver.url, headers, publicHeaders: ["x-team"], auth: { type: "api-key", credentials: { api_key: "api-key-value-0001", header_name: "X-Key" } },
    });
    // The create answer is a read like any other: masked.
    expect(created.headers).toEqual({ "X-Auth": "****3456", "X-Credentials": "****7777", "X-Session": "****7890", "X-Region": "****", "X-Team": "payments" });
    expect(created.publicHeaders).toEqual(["x-team"]);

    const accepted = await server.app.inject({ method: "POST", url: "/v1/events", headers: tenantHeaders(server), payload: { type: "probe.sent", data: {} } });
    const [deliveryId] = accepted.json<{ deliveries: string[] }>().deliveries;
    const [request] = await receiver.waitFor(1);
    expect(request!.headers).toMatchObject({
      "x-auth": headers["X-Auth"], "x-credentials": headers["X-Credentials"], "x-session": headers["X-Session"], "x-region": headers["X-Region"],
      "x-team": "payments", "x-key": "api-key-value-0001",
    });

    for (const url of [`/v1/webhooks/${created.id}`, "/v1/webhooks"]) {
      const read = await server.app.inject({ method: "GET", url, headers: tenantHeaders(server) });
      const webhook = url === "/v1/webhooks" ? read.json().data[0] : read.json();
      expect(webhook.headers, url).toEqual(created.headers);
      expect(webhook.publicHeaders, url).toEqual(["x-team"]);
      expect(read.body, url).not.toMatch(/auth-value|creds-abcdef|sess-abcdef|café|api-key-value/);
    }

    const readDelivery = async () => (await server.app.inject({ method: "GET", url: `/v1/deliveries/${deliveryId}`, headers: tenantHeaders(server) })).json();
    await expect.poll(readDelivery, { timeout: 10_000 }).toMatchObject({ status: "succeeded" });
    const recorded = (await readDelivery()).attempts[0].request.headers as Record<string, string>;
    expect(recorded).toMatchObject({
      "x-auth": "[redacted]", "x-credentials": "[redacted]", "x-session": "[redacted]", "x-region": "[redacted]", "x-key": "[redacted]",
      "webhook-signature": "[redacted]", "x-team": "payments", "x-webhook-event": "probe.sent",
    });
  });

  it("publicHeaders must name headers of the webhook; a header removed later leaves the list", async () => {
    const server = await startTestServer();
    const bad = await send(server, "POST", "/v1/webhooks", { url: TARGET, headers: { "X-Team": "a" }, publicHeaders: ["X-Team", "X-Missing"] });
    expect(bad).toMatchObject({ status: 422, code: "HERALD_ERR_VALIDATION", field: "publicHeaders[1]" });
    const { id } = await createWebhook(server, { url: TARGET, headers: { "X-Team": "a", "X-Env": "prod" }, publicHeaders: ["X-Team", "X-Env"] });
    expect(await send(server, "PATCH", `/v1/webhooks/${id}`, { publicHeaders: ["X-Other"] })).toMatchObject({ status: 422, field: "publicHeaders[0]" });
    const patched = await server.app.inject({ method: "PATCH", url: `/v1/webhooks/${id}`, headers: tenantHeaders(server), payload: { headers: { "X-Team": "a" } } });
    expect(patched.json()).toMatchObject({ headers: { "X-Team": "a" }, publicHeaders: ["X-Team"] });
    // Re-added, X-Env is a secret again until listed.
    const readded = await server.app.inject({ method: "PATCH", url: `/v1/webhooks/${id}`, headers: tenantHeaders(server), payload: { headers: { "X-Team": "a", "X-Env": "prod" } } });
    expect(readded.json()).toMatchObject({ headers: { "X-Team": "a", "X-Env": "****" }, publicHeaders: ["X-Team"] });
  });

  it("sending back the masked values a read gave keeps the stored secrets (read-modify-write, as the dashboard does)", async () => {
    const receiver = await startReceiver();
    const server = await startTestServer();
    const { id } = await createWebhook(server, { url: receiver.url, headers: { "X-Auth": "auth-value-123456", "X-Short": "short" } });
    const read = await server.app.inject({ method: "GET", url: `/v1/webhooks/${id}`, headers: tenantHeaders(server) });
    const shown = read.json<{ headers: Record<string, string> }>().headers;
    expect(shown).toEqual({ "X-Auth": "****3456", "X-Short": "****" });
    const patched = await send(server, "PATCH", `/v1/webhooks/${id}`, { headers: { ...shown, "X-Added": "new" } });
    expect(patched.status).toBe(200);
    await server.app.inject({ method: "POST", url: "/v1/events", headers: tenantHeaders(server), payload: { type: "probe.sent", data: {} } });
    const [request] = await receiver.waitFor(1);
    expect(request!.headers).toMatchObject({ "x-auth": "auth-value-123456", "x-short": "short", "x-added": "new" });
  });

  it("Identus webhooks echo customHeaders once at creation and mask every value in later reads", async () => {
    const server = await startTestServer();
    const customHeaders = { "X-Tenant": "acme-tenant-01", "X-Session": "sess-abcdef-7890" };
    const created = await server.app.inject({ method: "POST", url: "/events/webhooks", headers: tenantHeaders(server), payload: { url: TARGET, customHeaders } });
    expect(created.json().customHeaders).toEqual(customHeaders);
    const list = await server.app.inject({ method: "GET", url: "/events/webhooks", headers: tenantHeaders(server) });
    expect(list.json().contents[0].customHeaders).toEqual({ "X-Tenant": "****t-01", "X-Session": "****7890" });
  });
});

describe("webhook text and JSON fields", () => {
  it("a NUL or a lone surrogate in name or description is refused with a 422 naming the field, on POST and PATCH", async () => {
    const server = await startTestServer();
    const { id } = await createWebhook(server, { url: TARGET });
    for (const [field, value] of [["name", "bad\u0000name"], ["name", "bad\uDC00name"], ["description", "half \uD83D pair"], ["description", "nul\u0000"]] as const) {
      for (const [method, url, body] of [["POST", "/v1/webhooks", { url: TARGET, [field]: value }], ["PATCH", `/v1/webhooks/${id}`, { [field]: value }]] as const) {
        const answer = await send(server, method, url, body);
        expect({ method, field, status: answer.status, answered: answer.field }).toEqual({ method, field, status: 422, answered: field });
      }
    }
    const kept = await server.app.inject({ method: "GET", url: `/v1/webhooks/${id}`, headers: tenantHeaders(server) });
    expect(kept.json()).toMatchObject({ name: "127.0.0.1:9", description: "" });
  });

  it("metadata nested 5,000 levels deep or holding 1e400 is a 422 naming metadata, on POST and PATCH", async () => {
    const server = await startTestServer();
    const { id } = await createWebhook(server, { url: TARGET });
    const deep = `${'{"a":'.repeat(5_000)}1${"}".repeat(5_000)}`;
    const bodies = [`{"url":"${TARGET}","metadata":${deep}}`, `{"url":"${TARGET}","metadata":{"amount":1e400}}`];
    for (const [method, url, text] of [
      ["POST", "/v1/webhooks", bodies[0]!], ["POST", "/v1/webhooks", bodies[1]!],
      ["PATCH", `/v1/webhooks/${id}`, `{"metadata":${deep}}`], ["PATCH", `/v1/webhooks/${id}`, '{"metadata":{"amount":1e400}}'],
    ] as const) {
      const answer = await send(server, method, url, text);
      expect({ method, status: answer.status, code: answer.code }, text.slice(0, 60)).toEqual({ method, status: 422, code: "HERALD_ERR_VALIDATION" });
      expect(String(answer.field)).toMatch(/^metadata/);
    }
    const fine = await send(server, "PATCH", `/v1/webhooks/${id}`, { metadata: { team: { name: "payments" } } });
    expect(fine.status).toBe(200);
  });

  it("rateLimitPerSecond below one request per 100 s is refused naming the field and the range", async () => {
    const server = await startTestServer();
    const { id } = await createWebhook(server, { url: TARGET, rateLimitPerSecond: 0.01 });
    for (const [method, url, body] of [["POST", "/v1/webhooks", { url: TARGET, rateLimitPerSecond: 1e-300 }], ["PATCH", `/v1/webhooks/${id}`, { rateLimitPerSecond: 0.001 }]] as const) {
      const answer = await send(server, method, url, body);
      // Through HTTP the schema answers, as for every range it states (timeoutMs, maxConcurrency): 400.
      expect({ method, status: answer.status, field: answer.field }).toEqual({ method, status: 400, field: "rateLimitPerSecond" });
      expect(answer.detail).toContain("0.01");
    }
    const herald = await openEngine();
    await expect(herald.webhooks.create({ url: TARGET, rateLimitPerSecond: 1e-300 })).rejects.toMatchObject({
      code: "HERALD_ERR_VALIDATION", field: "rateLimitPerSecond", message: expect.stringContaining("from 0.01 (one request per 100 s) to 100000"),
    });
    const made = await herald.webhooks.create({ url: TARGET });
    await expect(herald.webhooks.update(made.id, { rateLimitPerSecond: 0.009 })).rejects.toMatchObject({ field: "rateLimitPerSecond" });
  });
});
