/**
 * JSON input Herald takes: nesting and numbers in every JSON field, and text fields a store
 * keeps as given. Every JSON value is checked (src/domain/json-limits.ts) before anything
 * recursive touches it, so a hostile document answers a 4xx naming the field, never a 500; a
 * number JSON cannot carry (`1e400`) is refused rather than stored as null; and text with a NUL
 * or a lone surrogate (PostgreSQL refuses a NUL in text) is refused, naming the field.
 *
 * The deep-body table is checked against the app's own route list, so the next route that
 * takes a body must be added here to keep the suite green.
 */
import { afterEach, describe, expect, it } from "vitest";
import { registeredRoutes } from "../../src/api/server.js";
import { MAX_JSON_DEPTH } from "../../src/domain/json-limits.js";
import { adminHeaders, closeAll, startTestServer, tenantHeaders, type TestServer } from "../api/helpers.js";

afterEach(closeAll);

const TARGET = "http://127.0.0.1:9/hook";
/** The tables below send a few hundred requests in a second: above the API's default rate limit. */
const UNLIMITED = { HERALD_RATE_LIMIT_PER_SECOND: "1000000" };

interface Answer {
  status: number;
  contentType: string;
  code: unknown;
  field: unknown;
  detail: string;
}

/** Sends `text` as it is: raw JSON, so `1e400`, `\u0000` and 100,000 brackets reach the server unchanged. */
async function sendRaw(server: TestServer, method: string, url: string, text: string, headers: Record<string, string> = tenantHeaders(server)): Promise<Answer> {
  const response = await server.app.inject({ method: method as "POST", url, headers: { ...headers, "content-type": "application/json" }, payload: text });
  const body = response.body === "" ? {} : response.json<{ code?: unknown; field?: unknown; detail?: string | SvixDetail[] }>();
  const contentType = String(response.headers["content-type"]);
  // The Svix-compatible API answers Svix's bodies: {code, detail}, or a 422 {detail: [{loc, msg, type}]} whose loc names the field.
  if (Array.isArray(body.detail)) {
    const [first] = body.detail;
    const field = (first?.loc ?? []).slice(1).reduce<string>((acc, part) => (typeof part === "number" ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part), "");
    return { status: response.statusCode, contentType, code: first?.type, field, detail: first?.msg ?? "" };
  }
  return { status: response.statusCode, contentType, code: body.code, field: body.field, detail: body.detail ?? "" };
}

interface SvixDetail {
  loc: Array<string | number>;
  msg: string;
  type: string;
}

const deepObject = (levels: number) => '{"c":'.repeat(levels - 1) + "{}" + "}".repeat(levels - 1);
const deepArray = (levels: number) => "[".repeat(levels) + "]".repeat(levels);

/** `body` with the value at `path` (`events[0].data`) replaced by raw JSON text. */
function withRaw(body: unknown, path: string, raw: string): string {
  const marker = "__HERALD_RAW_VALUE__";
  const copy = structuredClone(body) as Record<string, unknown>;
  const keys = path.replace(/\[(\d+)\]/g, ".$1").split(".");
  let node = copy as Record<string, unknown>;
  for (const key of keys.slice(0, -1)) node = node[key] as Record<string, unknown>;
  node[keys.at(-1)!] = marker;
  return JSON.stringify(copy).replace(`"${marker}"`, raw);
}

async function events(server: TestServer, type: string): Promise<unknown[]> {
  const response = await server.app.inject({ method: "GET", url: `/v1/events?type=${type}`, headers: tenantHeaders(server) });
  return response.json<{ data: unknown[] }>().data;
}

describe("JSON depth", () => {
  it("event data nested 3,000 levels against a recursive schema is a 422 naming data, events[i].data or metadata, not a RangeError", async () => {
    const server = await startTestServer(UNLIMITED);
    const recursive = { $ref: "#/$defs/node", $defs: { node: { type: "object", properties: { c: { $ref: "#/$defs/node" } } } } };
    const created = await server.app.inject({ method: "POST", url: "/v1/event-types", headers: tenantHeaders(server), payload: { name: "tree.grown", schema: recursive } });
    expect(created.statusCode, created.body).toBe(201);
    const deep = deepObject(3_000);
    const cases: Array<[string, string, string]> = [
      ["/v1/events", `{"type":"tree.grown","data":${deep}}`, "data"],
      ["/v1/events", `{"type":"tree.grown","data":{},"metadata":${deep}}`, "metadata"],
      ["/v1/events/batch", `{"events":[{"type":"tree.grown","data":${deep}}]}`, "events[0].data"],
      ["/v1/events/batch", `{"events":[{"type":"tree.grown","data":{"c":{}}},{"type":"tree.grown","data":{},"metadata":${deep}}]}`, "events[1].metadata"],
    ];
    for (const [url, text, field] of cases) {
      const answer = await sendRaw(server, "POST", url, text);
      expect({ url, field, answer: { status: answer.status, code: answer.code, field: answer.field } }).toEqual({ url, field, answer: { status: 422, code: "HERALD_ERR_VALIDATION", field } });
      expect(answer.detail).toContain(`nested deeper than ${MAX_JSON_DEPTH} levels`);
    }
    expect(await events(server, "tree.grown")).toEqual([]);
    // The schema still applies to an event within the limit.
    expect((await sendRaw(server, "POST", "/v1/events", `{"type":"tree.grown","data":${deepObject(MAX_JSON_DEPTH)}}`)).status).toBe(202);
  });

  it("100,000 levels of brackets in data is a 422 naming the field, on one event and in a batch", async () => {
    const server = await startTestServer(UNLIMITED);
    const deep = deepArray(100_000);
    const single = await sendRaw(server, "POST", "/v1/events", `{"type":"a.b","data":${deep}}`);
    expect(single).toMatchObject({ status: 422, code: "HERALD_ERR_VALIDATION", field: "data" });
    const batch = await sendRaw(server, "POST", "/v1/events/batch", `{"events":[{"type":"a.b","data":${deep}}]}`);
    expect(batch).toMatchObject({ status: 422, code: "HERALD_ERR_VALIDATION", field: "events[0].data" });
    const metadata = await sendRaw(server, "POST", "/v1/events", `{"type":"a.b","data":{},"metadata":{"m":${deep}}}`);
    expect(metadata).toMatchObject({ status: 422, code: "HERALD_ERR_VALIDATION", field: "metadata" });
    // The whole body that deep is refused by the schema (it is not an object) without recursing.
    const body = await sendRaw(server, "POST", "/v1/events", deep);
    expect(body).toMatchObject({ status: 400, code: "HERALD_ERR_BAD_REQUEST" });
    expect(await events(server, "a.b")).toEqual([]);
  });

  it("the library refuses the same, before JSON.stringify or a schema sees it", async () => {
    const server = await startTestServer();
    let data: unknown = {};
    for (let i = 0; i < 20_000; i++) data = { c: data };
    await expect(server.herald.trigger("a.b", data)).rejects.toMatchObject({ code: "HERALD_ERR_VALIDATION", field: "data" });
    await expect(server.herald.triggerMany([{ type: "a.b", data: {} }, { type: "a.b", data: {}, metadata: { m: data } }])).rejects.toMatchObject({
      code: "HERALD_ERR_VALIDATION", field: "events[1].metadata",
    });
  });

  /**
   * One row per route that takes a JSON body: a minimal valid body, into which every field the
   * route's schema names (and, one level down, the fields of an object or of the first item of an
   * array in the body) is replaced in turn by a 5,000-level document. JSON-valued fields (schema
   * `{}` or an object with additionalProperties: true) must answer 422 naming the field; the rest a
   * 4xx. The check below fails when a route taking a body is missing from this table.
   */
  interface BodyRoute {
    url: (ids: { webhook: string; tenant: string }) => string;
    body: Record<string, unknown>;
    admin?: boolean;
    /** A Svix-compatible route: it answers Svix's error bodies (application/json) instead of problem+json. */
    svix?: boolean;
  }
  const endpoint = (ids: { webhook: string; tenant: string }) => `/api/v1/app/${ids.tenant}/endpoint/${ids.webhook}`;
  const BODY_ROUTES: Record<string, BodyRoute> = {
    "POST /v1/events": { url: () => "/v1/events", body: { type: "a.b", data: {}, metadata: {} } },
    "POST /v1/events/batch": { url: () => "/v1/events/batch", body: { events: [{ type: "a.b", data: {}, metadata: {} }] } },
    "POST /v1/webhooks": { url: () => "/v1/webhooks", body: { url: TARGET, metadata: {}, headers: {}, retry: {}, auth: { type: "bearer", credentials: { token: "t" } } } },
    "PATCH /v1/webhooks/:id": { url: (ids) => `/v1/webhooks/${ids.webhook}`, body: { metadata: {}, headers: {}, retry: {}, auth: { type: "bearer", credentials: { token: "t" } } } },
    "POST /v1/webhooks/:id/recover": { url: (ids) => `/v1/webhooks/${ids.webhook}/recover`, body: { since: "2020-01-01T00:00:00Z" } },
    "POST /v1/tenants": { url: () => "/v1/tenants", body: { name: "deep" }, admin: true },
    "POST /v1/tenants/:id/api-keys": { url: (ids) => `/v1/tenants/${ids.tenant}/api-keys`, body: { name: "deep" }, admin: true },
    "POST /v1/tenants/:id/portal-links": { url: (ids) => `/v1/tenants/${ids.tenant}/portal-links`, body: { expiresInSeconds: 60, readOnly: true }, admin: true },
    "POST /v1/event-types": { url: () => "/v1/event-types", body: { name: "deep.type", schema: {} } },
    "POST /events/webhooks": { url: () => "/events/webhooks", body: { url: TARGET, customHeaders: {} } },
    "POST /cloud-agent/events/webhooks": { url: () => "/cloud-agent/events/webhooks", body: { url: TARGET, customHeaders: {} } },
    "POST /api/v1/app": { url: () => "/api/v1/app", body: { name: "deep", metadata: {} }, admin: true, svix: true },
    "PUT /api/v1/app/:app_id": { url: (ids) => `/api/v1/app/${ids.tenant}`, body: { name: "deep", metadata: {} }, svix: true },
    "PATCH /api/v1/app/:app_id": { url: (ids) => `/api/v1/app/${ids.tenant}`, body: { metadata: {} }, svix: true },
    "POST /api/v1/app/:app_id/endpoint": { url: (ids) => `/api/v1/app/${ids.tenant}/endpoint`, body: { url: TARGET, metadata: {}, headers: {}, filterTypes: ["a.b"] }, svix: true },
    "PUT /api/v1/app/:app_id/endpoint/:endpoint_id": { url: endpoint, body: { url: TARGET, metadata: {}, filterTypes: ["a.b"] }, svix: true },
    "PATCH /api/v1/app/:app_id/endpoint/:endpoint_id": { url: endpoint, body: { metadata: {}, channels: ["c"] }, svix: true },
    "PUT /api/v1/app/:app_id/endpoint/:endpoint_id/headers": { url: (ids) => `${endpoint(ids)}/headers`, body: { headers: {} }, svix: true },
    "PATCH /api/v1/app/:app_id/endpoint/:endpoint_id/headers": { url: (ids) => `${endpoint(ids)}/headers`, body: { headers: {}, deleteHeaders: [] }, svix: true },
    "POST /api/v1/app/:app_id/endpoint/:endpoint_id/secret/rotate": { url: (ids) => `${endpoint(ids)}/secret/rotate`, body: {}, svix: true },
    "POST /api/v1/app/:app_id/endpoint/:endpoint_id/recover": { url: (ids) => `${endpoint(ids)}/recover`, body: { since: "2020-01-01T00:00:00Z" }, svix: true },
    "POST /api/v1/app/:app_id/msg": { url: (ids) => `/api/v1/app/${ids.tenant}/msg`, body: { eventType: "a.b", payload: {}, channels: ["c"] }, svix: true },
    "POST /api/v1/auth/app-portal-access/:app_id": {
      url: (ids) => `/api/v1/auth/app-portal-access/${ids.tenant}`, body: { application: { name: "deep", metadata: {} }, expiry: 3600, readOnly: true }, admin: true, svix: true,
    },
    "POST /api/v1/auth/app/:app_id/expire-all": { url: (ids) => `/api/v1/auth/app/${ids.tenant}/expire-all`, body: { expiry: 0, sessionIds: [] }, admin: true, svix: true },
    "POST /api/v1/event-type": { url: () => "/api/v1/event-type", body: { name: "deep.svix.new", description: "d", schemas: {} }, svix: true },
    "PUT /api/v1/event-type/:event_type_name": { url: () => "/api/v1/event-type/deep.svix", body: { description: "d", schemas: {} }, svix: true },
    "PATCH /api/v1/event-type/:event_type_name": { url: () => "/api/v1/event-type/deep.svix", body: { description: "d", schemas: {} }, svix: true },
  };

  interface SchemaNode {
    type?: string;
    properties?: Record<string, SchemaNode>;
    items?: SchemaNode;
    additionalProperties?: unknown;
  }
  const isJsonValued = (schema: SchemaNode) => schema.type === undefined || schema.additionalProperties === true;

  /** Every field path of `schema` that `body` reaches: top-level fields, and one level into an object or the first array item. */
  function fieldPaths(schema: SchemaNode, body: unknown, prefix = "", levels = 2): Array<{ path: string; json: boolean }> {
    const paths: Array<{ path: string; json: boolean }> = [];
    for (const [key, child] of Object.entries(schema.properties ?? {})) {
      const path = `${prefix}${key}`;
      paths.push({ path, json: isJsonValued(child) });
      const value = (body as Record<string, unknown> | undefined)?.[key];
      if (levels <= 1 || typeof value !== "object" || value === null) continue;
      if (Array.isArray(value) && child.items && value.length > 0) paths.push(...fieldPaths(child.items, value[0], `${path}[0].`, levels - 1));
      else if (!Array.isArray(value)) paths.push(...fieldPaths(child, value, `${path}.`, levels - 1));
    }
    return paths;
  }

  async function deepBodyAnswers(server: TestServer): Promise<{ sent: number; wrong: Array<{ row: string; status: number; field: unknown; detail: string }> }> {
    const bodyRoutes = registeredRoutes(server.app).filter((route) => ["POST", "PUT", "PATCH"].includes(route.method) && route.body !== undefined);
    expect(bodyRoutes.map((route) => `${route.method} ${route.url}`).sort()).toEqual(Object.keys(BODY_ROUTES).sort());
    const webhook = await server.app.inject({ method: "POST", url: "/v1/webhooks", headers: tenantHeaders(server), payload: { url: TARGET } });
    const ids = { webhook: webhook.json<{ id: string }>().id, tenant: server.herald.defaultTenantId };
    // The Svix event-type routes that change one need it to exist.
    await server.herald.eventTypes.upsert(ids.tenant, { name: "deep.svix" });
    const deep = deepObject(5_000);
    const wrong: Array<{ row: string; status: number; field: unknown; detail: string }> = [];
    let sent = 0;
    for (const route of bodyRoutes) {
      const row = BODY_ROUTES[`${route.method} ${route.url}`]!;
      const headers = row.admin ? adminHeaders(server) : tenantHeaders(server);
      const bodies: Array<{ path: string; json: boolean; text: string }> = [
        { path: "body", json: false, text: deep },
        ...fieldPaths(route.body as SchemaNode, row.body).map(({ path, json }) => ({ path, json, text: withRaw(row.body, path, deep) })),
      ];
      for (const { path, json, text } of bodies) {
        sent++;
        const answer = await sendRaw(server, route.method, row.url(ids), text, headers);
        const named = typeof answer.field === "string" && (answer.field === path || answer.field.startsWith(`${path}.`));
        const ok =
          answer.contentType.startsWith(row.svix ? "application/json" : "application/problem+json") && answer.status >= 400 && answer.status < 500 && typeof answer.code === "string" && answer.detail !== "" &&
          (!json || (answer.status === 422 && named));
        if (!ok) wrong.push({ row: `${route.method} ${route.url} ${path}`, status: answer.status, field: answer.field, detail: answer.detail.slice(0, 120) });
      }
    }
    return { sent, wrong };
  }

  it("every route that takes a JSON body answers a 5,000-level document in any field with a 4xx problem (a JSON field: 422 naming it), never a 500", async () => {
    const server = await startTestServer(UNLIMITED);
    const { sent, wrong } = await deepBodyAnswers(server);
    expect(sent).toBeGreaterThan(30);
    expect(wrong).toEqual([]);
  });
});

describe("numbers JSON cannot carry", () => {
  it("1e400 in data or metadata is a 422 naming the path, on one event and in a batch, and nothing is stored", async () => {
    const server = await startTestServer(UNLIMITED);
    const cases: Array<[string, string, string]> = [
      ["/v1/events", '{"type":"num.big","data":{"x":1e400}}', "data.x"],
      ["/v1/events", '{"type":"num.big","data":{"list":[1,-1e400]}}', "data.list[1]"],
      ["/v1/events", '{"type":"num.big","data":1e999}', "data"],
      ["/v1/events", '{"type":"num.big","data":{},"metadata":{"n":1e400}}', "metadata.n"],
      ["/v1/events/batch", '{"events":[{"type":"num.big","data":{}},{"type":"num.big","data":{"x":1e400}}]}', "events[1].data.x"],
    ];
    for (const [url, text, field] of cases) {
      const answer = await sendRaw(server, "POST", url, text);
      expect({ text, status: answer.status, code: answer.code, field: answer.field }).toEqual({ text, status: 422, code: "HERALD_ERR_VALIDATION", field });
      expect(answer.detail).toMatch(/outside the range JSON can carry.*send it as a string/);
    }
    expect(await events(server, "num.big")).toEqual([]);
    // Large but finite numbers are kept as given.
    expect((await sendRaw(server, "POST", "/v1/events", '{"type":"num.big","data":{"x":1e308}}')).status).toBe(202);
    expect(await events(server, "num.big")).toMatchObject([{ data: { x: 1e308 } }]);
  });
});

describe("text a store keeps as given", () => {
  // Raw JSON escapes: the server decodes them, as it would from any client.
  const BAD_TEXT: Array<[string, string]> = [
    ["NUL", "a\\u0000b"],
    ["a lone high surrogate", "a\\ud800b"],
    ["a lone low surrogate", "a\\udc00b"],
  ];

  it("a NUL or a lone surrogate in a stored name, type, id or key is a 4xx naming the field, on both stores, and nothing is stored", async () => {
    const server = await startTestServer(UNLIMITED);
    const admin = adminHeaders(server);
    const tenant = server.herald.defaultTenantId;
    const paths: Array<[string, string, (text: string) => string, string, Record<string, string>?]> = [
      ["event type", "/v1/events", (text) => `{"type":"a.${text}","data":{}}`, "type"],
      ["event id", "/v1/events", (text) => `{"type":"a.b","id":"${text}","data":{}}`, "id"],
      ["event tenantId", "/v1/events", (text) => `{"type":"a.b","data":{},"tenantId":"${text}"}`, "tenantId", admin],
      ["batch event type", "/v1/events/batch", (text) => `{"events":[{"type":"${text}","data":{}}]}`, "events[0].type"],
      ["batch tenantId", "/v1/events/batch", (text) => `{"events":[{"type":"a.b","data":{}}],"tenantId":"${text}"}`, "tenantId", admin],
      ["tenant name", "/v1/tenants", (text) => `{"name":"${text}"}`, "name", admin],
      ["tenant id", "/v1/tenants", (text) => `{"name":"t","id":"${text}"}`, "id", admin],
      ["API key name", `/v1/tenants/${tenant}/api-keys`, (text) => `{"name":"${text}"}`, "name", admin],
    ];
    for (const [what, url, body, field, headers] of paths) {
      for (const [kind, text] of BAD_TEXT) {
        const answer = await sendRaw(server, "POST", url, body(text), headers);
        expect({ what, kind, status: answer.status >= 400 && answer.status < 500, problem: answer.contentType.startsWith("application/problem+json"), field: answer.field }).toEqual({
          what, kind, status: true, problem: true, field,
        });
      }
    }
    const tenants = await server.app.inject({ method: "GET", url: "/v1/tenants", headers: admin });
    expect(tenants.json<{ data: Array<{ name: string }> }>().data.map((t) => t.name)).toEqual(["default"]);
    const keys = await server.app.inject({ method: "GET", url: `/v1/tenants/${tenant}/api-keys`, headers: admin });
    expect(keys.json<{ data: Array<{ name: string }> }>().data.every((key) => !/[\0\uD800-\uDFFF]/.test(key.name))).toBe(true);
    expect(await events(server, "a.b")).toEqual([]);
  });

  it("an Idempotency-Key, a path id or a query value with a NUL is a 422 naming it, not a store error", async () => {
    const server = await startTestServer(UNLIMITED);
    const admin = adminHeaders(server);
    const keyed = await server.app.inject({
      method: "POST", url: "/v1/events", headers: { ...tenantHeaders(server), "idempotency-key": "order\u0000-1" }, payload: { type: "a.b", data: {} },
    });
    expect({ status: keyed.statusCode, field: keyed.json().field }).toEqual({ status: 422, field: "idempotency-key" });
    const lookups: Array<[string, string]> = [
      ["/v1/webhooks/a%00b", "id"], ["/v1/events/a%00b", "id"], ["/v1/deliveries/a%00b", "id"], ["/v1/tenants/a%00b", "id"],
      ["/v1/tenants/a%00b/api-keys", "id"], ["/v1/webhooks/a%00b/deliveries", "id"],
      ["/v1/events?type=a%00b", "type"], ["/v1/events?cursor=a%00b", "cursor"], ["/v1/deliveries?webhookId=a%00b", "webhookId"],
      ["/v1/webhooks?tenantId=a%00b", "tenantId"], ["/v1/event-types?tenantId=a%00b", "tenantId"],
    ];
    for (const [url, field] of lookups) {
      const response = await server.app.inject({ method: "GET", url, headers: admin });
      expect({ url, status: response.statusCode, code: response.json().code, field: response.json().field }).toEqual({ url, status: 422, code: "HERALD_ERR_VALIDATION", field });
    }
    for (const url of ["/v1/api-keys/a%00b", "/events/webhooks/a%00b", "/v1/webhooks/a%00b", "/v1/tenants/a%00b"]) {
      const response = await server.app.inject({ method: "DELETE", url, headers: admin });
      expect({ url, status: response.statusCode, field: response.json().field }).toEqual({ url, status: 422, field: "id" });
    }
  });

  it("the library refuses the same text, whichever store is under it", async () => {
    const server = await startTestServer();
    const { herald } = server;
    await expect(herald.trigger("a.b", {}, null, { idempotencyKey: "k\u0000" })).rejects.toMatchObject({ code: "HERALD_ERR_VALIDATION", field: "idempotencyKey" });
    await expect(herald.trigger("a.b", {}, null, { idempotencyKey: "k\uD800" })).rejects.toMatchObject({ code: "HERALD_ERR_VALIDATION", field: "idempotencyKey" });
    await expect(herald.tenants.create({ name: "t\u0000" })).rejects.toMatchObject({ code: "HERALD_ERR_VALIDATION", field: "name" });
    await expect(herald.tenants.create({ name: "t", id: "t\uDC00" })).rejects.toMatchObject({ code: "HERALD_ERR_VALIDATION", field: "id" });
    await expect(herald.apiKeys.issue(herald.defaultTenantId, "key\u0000")).rejects.toMatchObject({ code: "HERALD_ERR_VALIDATION", field: "name" });
    // A paired surrogate (an emoji) is ordinary text.
    expect((await herald.tenants.create({ name: "team 👍" })).name).toBe("team 👍");
    expect((await herald.trigger("a.b", {}, null, { idempotencyKey: "order 👍" })).duplicate).toBe(false);
  });
});

describe("the JSON parser", () => {
  it("keeps fastify's behaviour for a BOM, an empty body and application/json with a charset", async () => {
    const server = await startTestServer();
    expect((await sendRaw(server, "POST", "/v1/events", '\uFEFF{"type":"a.b","data":{}}')).status).toBe(202);
    expect(await sendRaw(server, "POST", "/v1/events", "")).toMatchObject({ status: 400, code: "HERALD_ERR_BAD_REQUEST", field: "body" });
    const charset = await server.app.inject({
      method: "POST", url: "/v1/events", headers: { ...tenantHeaders(server), "content-type": "application/json; charset=utf-8" }, payload: '{"type":"a.b","data":{}}',
    });
    expect(charset.statusCode).toBe(202);
    // A key that merely contains the words is fine.
    expect((await sendRaw(server, "POST", "/v1/events", '{"type":"a.b","data":{"my__proto__":1,"constructor":"x","c":{"constructor":{"name":"y"}}}}')).status).toBe(202);
  });
});
