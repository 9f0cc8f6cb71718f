/**
 * Egress over HTTP (issue 14): `proxyUrl` and `tls` on POST/PATCH /v1/webhooks, what answers show
 * of them, what the store holds in clear, and a server started with HERALD_PROXY_URL delivering
 * through a real proxy.
 */
import Database from "better-sqlite3";
import pg from "pg";
import { afterEach, describe, expect, test } from "vitest";
import { closeProxies, startForwardProxy } from "../helpers/forward-proxy.js";
import { fixture } from "../helpers/tls-receiver.js";
import { closeAll, expectProblem, startReceiver, startTestServer, tenantHeaders, type TestServer } from "./helpers.js";

afterEach(async () => {
  await closeAll();
  await closeProxies();
});

/** One webhook row as stored, read from outside as an operator's tool would. */
async function storedRow(server: TestServer, id: string): Promise<Record<string, unknown>> {
  if (server.databaseUrl.startsWith("sqlite:")) {
    const db = new Database(server.databaseUrl.slice("sqlite:".length), { readonly: true });
    try {
      return db.prepare("SELECT * FROM webhooks WHERE id = ?").get(id) as Record<string, unknown>;
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: server.databaseUrl });
  await client.connect();
  try {
    return (await client.query("SELECT * FROM webhooks WHERE id = $1", [id])).rows[0] as Record<string, unknown>;
  } finally {
    await client.end();
  }
}

const tls = () => ({ clientCert: fixture("client.pem"), clientKey: fixture("client.key"), ca: fixture("ca.pem") });

describe("/v1/webhooks proxyUrl and tls", () => {
  test("answers show the proxy with its password masked and the certificate's subject and expiry; the store keeps neither in clear", async () => {
    const server = await startTestServer();
    const proxyUrl = "http://egress:pr0xy-pass@127.0.0.1:3128";
    const created = await server.app.inject({
      method: "POST", url: "/v1/webhooks", headers: tenantHeaders(server), payload: { url: "https://example.com/hook", proxyUrl, tls: tls() },
    });
    expect(created.statusCode, created.body).toBe(201);
    const { id } = created.json<{ id: string }>();
    const got = await server.app.inject({ method: "GET", url: `/v1/webhooks/${id}`, headers: tenantHeaders(server) });
    const body = got.json<Record<string, unknown>>();
    expect(body.proxyUrl).toBe("http://egress:****@127.0.0.1:3128");
    expect(body.tls).toEqual({
      clientCert: {
        subject: "CN=herald-test-client", issuer: "CN=Herald Test CA", validFrom: expect.any(String) as unknown,
        validTo: expect.stringMatching(/^2126-/) as unknown, fingerprint256: expect.stringMatching(/^[0-9A-F:]+$/) as unknown, serialNumber: expect.any(String) as unknown,
      },
      ca: ["CN=Herald Test CA"],
    });
    expect(created.body + got.body).not.toMatch(/BEGIN|pr0xy-pass/);
    const row = await storedRow(server, id);
    expect(row.proxy_url).toBe("http://127.0.0.1:3128");
    expect(JSON.stringify(row)).not.toMatch(/BEGIN|pr0xy-pass/);

    const list = await server.app.inject({ method: "GET", url: "/v1/webhooks", headers: tenantHeaders(server) });
    expect(list.body).not.toMatch(/BEGIN|pr0xy-pass/);
  });

  test("a webhook without them answers proxyUrl null and tls null", async () => {
    const server = await startTestServer();
    const created = await server.app.inject({ method: "POST", url: "/v1/webhooks", headers: tenantHeaders(server), payload: { url: "https://example.com/hook" } });
    expect(created.json()).toMatchObject({ proxyUrl: null, tls: null });
  });

  test("bad tls is a 422 problem naming the field, on create and on update", async () => {
    const server = await startTestServer();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ ...tls(), clientCert: "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----" }, "tls.clientCert"],
      [{ clientCert: fixture("expired.pem"), clientKey: fixture("expired.key") }, "tls.clientCert"],
      [{ ...tls(), clientKey: fixture("other-client.key") }, "tls.clientKey"],
    ];
    const created = await server.app.inject({ method: "POST", url: "/v1/webhooks", headers: tenantHeaders(server), payload: { url: "https://example.com/hook" } });
    const { id } = created.json<{ id: string }>();
    for (const [bad, field] of cases) {
      for (const response of [
        await server.app.inject({ method: "POST", url: "/v1/webhooks", headers: tenantHeaders(server), payload: { url: "https://example.com/hook", tls: bad } }),
        await server.app.inject({ method: "PATCH", url: `/v1/webhooks/${id}`, headers: tenantHeaders(server), payload: { tls: bad } }),
      ]) {
        expectProblem(response, "HERALD_ERR_VALIDATION", field);
        expect(response.json<{ field: string }>().field).toBe(field);
      }
    }
    const bad = await server.app.inject({ method: "PATCH", url: `/v1/webhooks/${id}`, headers: tenantHeaders(server), payload: { proxyUrl: "ftp://x" } });
    expect(bad.json<{ field: string }>().field).toBe("proxyUrl");
    const unknown = await server.app.inject({ method: "PATCH", url: `/v1/webhooks/${id}`, headers: tenantHeaders(server), payload: { tls: { ...tls(), cert: "x" } } });
    expect([unknown.statusCode, unknown.json<{ field: string }>().field], unknown.body).toEqual([400, "tls.cert"]); // unknown fields are the schema layer's 400, as for every body
  });

  test("a server started with HERALD_PROXY_URL delivers through the proxy; HERALD_NO_PROXY hosts go direct", async () => {
    const proxy = await startForwardProxy();
    const receiver = await startReceiver();
    const server = await startTestServer({ HERALD_PROXY_URL: proxy.url, HERALD_NO_PROXY: "localhost" });
    const headers = tenantHeaders(server);
    for (const url of [`${receiver.url}/through`, receiver.url.replace("127.0.0.1", "localhost") + "/around"]) {
      const created = await server.app.inject({ method: "POST", url: "/v1/webhooks", headers, payload: { url } });
      expect(created.statusCode, created.body).toBe(201);
    }
    await server.app.inject({ method: "POST", url: "/v1/events", headers, payload: { type: "custom", data: { n: 1 } } });
    await receiver.waitFor(2);
    expect(proxy.seen.map((s) => s.target)).toEqual([`${receiver.url}/through`]);
  });
});
