/**
 * Every error the server answers is application/problem+json, framework errors included: a
 * path fastify's router refuses (an over-long parameter, bad percent-encoding), a method the
 * path does not take, a body it cannot read (media type, encoding, JSON, size, prototype keys),
 * query parameters given twice, and what node's HTTP parser refuses before fastify sees the
 * request (headers too large, a malformed request line). Each answer has a 4xx status, a code,
 * and a detail that says what is wrong.
 */
import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { closeAll, startTestServer, tenantHeaders, type TestServer } from "../api/helpers.js";

afterEach(closeAll);

interface Row {
  what: string;
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS";
  url: string;
  headers?: Record<string, string>;
  /** Sent as it is; with neither a body nor a content-type, none is sent. */
  body?: string;
  status: number;
  code: string;
  field?: string;
  /** What the detail must say. */
  detail: RegExp;
  /** Response headers that must be set. */
  responseHeaders?: Record<string, string>;
}

const JSON_TYPE = { "content-type": "application/json" };
const EVENT = '{"type":"a.b","data":{}}';

/** One row per way a request can fail before or around a route; the next one found belongs here. */
const ROWS: Row[] = [
  {
    what: "a path parameter longer than the router takes (was 414 application/json)", method: "GET", url: `/v1/webhooks/${"a".repeat(150)}`,
    status: 400, code: "HERALD_ERR_BAD_REQUEST", field: "path", detail: /^path: a path parameter is 150 characters long; ids are at most 100 characters$/,
  },
  {
    what: "bad percent-encoding in the path (was 400 application/json)", method: "GET", url: "/v1/webhooks/%ff",
    status: 400, code: "HERALD_ERR_BAD_REQUEST", field: "path", detail: /^path: %ff is not valid percent-encoded UTF-8/,
  },
  {
    what: "a percent-encoded lone surrogate in the path", method: "DELETE", url: "/v1/webhooks/x%ed%a0%80y?z=1",
    status: 400, code: "HERALD_ERR_BAD_REQUEST", field: "path", detail: /^path: %ed%a0%80 is not valid percent-encoded UTF-8/,
  },
  {
    what: "a % not followed by two hex digits", method: "GET", url: "/v1/events/%zz",
    status: 400, code: "HERALD_ERR_BAD_REQUEST", field: "path", detail: /^path: %zz is not valid/,
  },
  { what: "an unknown path", method: "GET", url: "/v1/nothing-here", status: 404, code: "HERALD_ERR_NOT_FOUND", detail: /^no route GET \/v1\/nothing-here$/ },
  {
    what: "a method the path does not take (404: the catalogue has no 405), listing those it does", method: "DELETE", url: "/v1/events",
    status: 404, code: "HERALD_ERR_NOT_FOUND", detail: /^no route DELETE \/v1\/events; \/v1\/events takes GET, HEAD, POST$/, responseHeaders: { allow: "GET, HEAD, POST" },
  },
  {
    what: "PUT on a route with parameters", method: "PUT", url: "/v1/webhooks/abc",
    status: 404, code: "HERALD_ERR_NOT_FOUND", detail: /takes GET, HEAD, PATCH, DELETE$/, responseHeaders: { allow: "GET, HEAD, PATCH, DELETE" },
  },
  { what: "OPTIONS (no CORS preflight is served)", method: "OPTIONS", url: "/v1/events", status: 404, code: "HERALD_ERR_NOT_FOUND", detail: /^no route OPTIONS \/v1\/events; .* takes GET, HEAD, POST$/ },
  {
    what: "an unsupported Content-Type", method: "POST", url: "/v1/events", headers: { "content-type": "application/xml" }, body: "<event/>",
    status: 415, code: "HERALD_ERR_UNSUPPORTED_MEDIA_TYPE", field: "Content-Type", detail: /send JSON with Content-Type: application\/json/,
  },
  {
    what: "text/plain", method: "POST", url: "/v1/events", headers: { "content-type": "text/plain" }, body: EVENT,
    status: 415, code: "HERALD_ERR_UNSUPPORTED_MEDIA_TYPE", field: "Content-Type", detail: /send JSON/,
  },
  {
    what: "no Content-Type with a body", method: "POST", url: "/v1/events", body: EVENT,
    status: 415, code: "HERALD_ERR_UNSUPPORTED_MEDIA_TYPE", field: "Content-Type", detail: /send JSON/,
  },
  {
    what: "a gzip Content-Encoding (was read as text and accepted when it happened to be JSON)", method: "POST", url: "/v1/events",
    headers: { ...JSON_TYPE, "content-encoding": "gzip" }, body: EVENT,
    status: 415, code: "HERALD_ERR_UNSUPPORTED_MEDIA_TYPE", field: "Content-Encoding", detail: /^Content-Encoding: gzip is not supported; send the body uncompressed$/,
  },
  {
    what: "invalid JSON, saying where", method: "POST", url: "/v1/events", headers: JSON_TYPE, body: '{"type":"a.b",',
    status: 400, code: "HERALD_ERR_BAD_REQUEST", field: "body", detail: /^body: is not valid JSON: .*(JSON|position)/,
  },
  {
    what: "an empty body declared as JSON", method: "POST", url: "/v1/events", headers: JSON_TYPE, body: "",
    status: 400, code: "HERALD_ERR_BAD_REQUEST", field: "body", detail: /^body: is empty but Content-Type is application\/json; send a JSON body$/,
  },
  {
    what: "a body over the limit", method: "POST", url: "/v1/events", headers: JSON_TYPE, body: `{"type":"a.b","data":"${"x".repeat(1_100_000)}"}`,
    status: 413, code: "HERALD_ERR_PAYLOAD_TOO_LARGE", field: "body", detail: /larger than the limit of 1048576 bytes \(HERALD_MAX_BODY_BYTES\)/,
  },
  {
    what: "a __proto__ key (was \"not valid JSON\")", method: "POST", url: "/v1/events", headers: JSON_TYPE, body: '{"type":"a.b","data":{"list":[{"__proto__":{"admin":true}}]}}',
    status: 400, code: "HERALD_ERR_BAD_REQUEST", field: "body",
    detail: /^body: has a "__proto__" key \(at data\.list\[0\]\.__proto__\), which Herald refuses because it could alter object prototypes; rename the key$/,
  },
  {
    what: "a __proto__ key spelt with escapes", method: "POST", url: "/v1/events/batch", headers: JSON_TYPE, body: '{"events":[{"type":"a.b","data":{"\\u005f_proto__":1}}]}',
    status: 400, code: "HERALD_ERR_BAD_REQUEST", field: "body", detail: /"__proto__" key \(at events\[0\]\.data\.__proto__\)/,
  },
  {
    what: "constructor.prototype", method: "POST", url: "/v1/events", headers: JSON_TYPE, body: '{"type":"a.b","data":{"constructor":{"prototype":{"admin":true}}}}',
    status: 400, code: "HERALD_ERR_BAD_REQUEST", field: "body", detail: /^body: has a "constructor" key holding "prototype" \(at data\.constructor\.prototype\), .*rename the key$/,
  },
  {
    what: "a query parameter given twice", method: "GET", url: "/v1/events?limit=1&limit=2",
    status: 400, code: "HERALD_ERR_BAD_REQUEST", field: "limit", detail: /^limit: is given 2 times; give it once$/,
  },
  {
    what: "a query parameter in array form", method: "GET", url: "/v1/events?type[]=a.b",
    status: 400, code: "HERALD_ERR_BAD_REQUEST", field: "type[]", detail: /^type\[\]: is not a known field; remove it$/,
  },
  {
    what: "a query value of the wrong type", method: "GET", url: "/v1/events?limit=lots",
    status: 400, code: "HERALD_ERR_BAD_REQUEST", field: "limit", detail: /^limit: must be integer$/,
  },
  {
    what: "a NUL in a path id (was a 500 on PostgreSQL)", method: "GET", url: "/v1/webhooks/a%00b",
    status: 422, code: "HERALD_ERR_VALIDATION", field: "id", detail: /^id: holds a NUL character or an unpaired UTF-16 surrogate/,
  },
];

/** Soft assertions: one run lists every row that is wrong. */
async function expectRow(server: TestServer, row: Row): Promise<void> {
  const headers = { ...tenantHeaders(server), ...row.headers };
  const response = await server.app.inject({ method: row.method, url: row.url, headers, ...(row.body !== undefined ? { payload: row.body } : {}) });
  const contentType = String(response.headers["content-type"]);
  expect.soft({ what: row.what, status: response.statusCode, contentType: contentType.split(";")[0] }).toEqual({ what: row.what, status: row.status, contentType: "application/problem+json" });
  for (const [name, value] of Object.entries(row.responseHeaders ?? {})) expect.soft({ what: row.what, [name]: response.headers[name] }).toEqual({ what: row.what, [name]: value });
  if (!contentType.includes("json")) return;
  const body = response.json<{ status: number; code: string; detail: string; field?: string; type: string; title: string; instance: string }>();
  expect.soft({ what: row.what, status: body.status, code: body.code, field: body.field, type: body.type }).toEqual({
    what: row.what, status: row.status, code: row.code, field: row.field, type: `urn:herald:error:${row.code}`,
  });
  expect.soft(body.title, row.what).not.toBe("Error");
  expect.soft(body.detail, row.what).toMatch(row.detail);
}

describe("problem+json for every framework error", () => {
  it("every framework error is problem+json with a 4xx status, a code and a detail that says what is wrong", async () => {
    const server = await startTestServer({ HERALD_RATE_LIMIT_PER_SECOND: "1000000" });
    for (const row of ROWS) await expectRow(server, row);
    // HEAD of an unknown path has no body, but says what it would be.
    const head = await server.app.inject({ method: "HEAD", url: "/v1/nothing-here", headers: tenantHeaders(server) });
    expect({ status: head.statusCode, type: String(head.headers["content-type"]).split(";")[0] }).toEqual({ status: 404, type: "application/problem+json" });
    // Not errors: HEAD of a route, and a body on a GET, which fastify does not read (even when it is not JSON).
    expect((await server.app.inject({ method: "HEAD", url: "/v1/events", headers: tenantHeaders(server) })).statusCode).toBe(200);
    for (const payload of ["{}", "{nope"]) {
      expect((await server.app.inject({ method: "GET", url: "/v1/events", headers: { ...tenantHeaders(server), ...JSON_TYPE }, payload })).statusCode).toBe(200);
    }
    const identity = await server.app.inject({ method: "POST", url: "/v1/events", headers: { ...tenantHeaders(server), ...JSON_TYPE, "content-encoding": "identity" }, payload: EVENT });
    expect(identity.statusCode).toBe(202);
  });

  it("the router's errors are problem+json over a real socket too, before authentication", async () => {
    const server = await startTestServer();
    for (const [path, detail] of [[`/v1/events/${"b".repeat(101)}`, /101 characters long/], ["/v1/events/%c3%28", /%c3%28 is not valid/]] as const) {
      const response = await fetch(`${server.url}${path}`);
      expect({ path, status: response.status, type: response.headers.get("content-type")?.split(";")[0] }).toEqual({ path, status: 400, type: "application/problem+json" });
      expect((await response.json()) as { detail: string }).toMatchObject({ code: "HERALD_ERR_BAD_REQUEST", field: "path", detail: expect.stringMatching(detail) });
    }
  });
});

/** Writes `request` to the server's socket as it is and reads the answer until the server closes. */
async function rawExchange(server: TestServer, request: string): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const { hostname, port } = new URL(server.url);
  const text = await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", () => resolve(Buffer.concat(chunks).toString("latin1")));
    socket.on("close", () => resolve(Buffer.concat(chunks).toString("latin1")));
    socket.setTimeout(5_000, () => reject(new Error("no answer")));
    socket.write(request);
  });
  const [head = "", body = ""] = text.split("\r\n\r\n");
  const [statusLine = "", ...lines] = head.split("\r\n");
  const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(":")).toLowerCase(), line.slice(line.indexOf(":") + 1).trim()]));
  return { status: Number(statusLine.split(" ")[1]), headers, body };
}

describe("what node refuses before fastify sees the request", () => {
  it("headers over node's limit answer 431 problem+json (was application/json)", async () => {
    const server = await startTestServer();
    const answer = await rawExchange(server, `GET /v1/events HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`);
    expect({ status: answer.status, type: answer.headers["content-type"] }).toEqual({ status: 431, type: "application/problem+json" });
    expect(JSON.parse(answer.body)).toMatchObject({ status: 431, code: "HERALD_ERR_BAD_REQUEST", title: "Request Header Fields Too Large", detail: expect.stringMatching(/^headers: the request headers are larger than the \d+ bytes/) });
  });

  it("a malformed request line answers 400 problem+json", async () => {
    const server = await startTestServer();
    const answer = await rawExchange(server, "GET /v1/events HTTP/1.1 extra\r\nHost: x\r\n\r\n");
    expect({ status: answer.status, type: answer.headers["content-type"] }).toEqual({ status: 400, type: "application/problem+json" });
    expect(JSON.parse(answer.body)).toMatchObject({ status: 400, code: "HERALD_ERR_BAD_REQUEST", detail: expect.stringMatching(/^request: is not a valid HTTP\/1\.1 request/) });
  });
});
