import { statSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { DEFAULT_TENANT_ID } from "../../src/domain/types.js";
import { closeAll, expectProblem, makeTempDir, startReceiver, startTestServer, tenantHeaders, makeTenant } from "./helpers.js";

afterEach(closeAll);

describe("Identus-compatible webhooks", () => {
  test("the seeds' curl (apiKey header, body {url}) creates a webhook that receives events in the Identus envelope with the env bearer token", async () => {
    const receiver = await startReceiver();
    const server = await startTestServer({ DEFAULT_WALLET_WEBHOOK_API_KEY: "wallet-token", DEFAULT_WALLET_WEBHOOK_URL: receiver.url.replace("/hook", "/wallet") });
    // As seed 001: POST /cloud-agent/events/webhooks, header "apiKey: $API_KEY", JSON body {"url": ...}, over a real socket.
    const created = await fetch(`${server.url}/cloud-agent/events/webhooks`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json", apiKey: server.defaultTenantApiKey! },
      body: JSON.stringify({ url: receiver.url }),
    });
    expect(created.status).toBe(200);
    const body = (await created.json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(["createdAt", "customHeaders", "id", "url"]);
    expect(body).toMatchObject({ url: receiver.url, customHeaders: {} });
    expect(new Date(body.createdAt as string).toISOString()).toBe(body.createdAt);

    await server.herald.trigger("ConnectionUpdated", { connectionId: "c1", state: "InvitationGenerated" });
    const requests = await receiver.waitFor(2);
    const toCurl = requests.find((r) => r.url === "/hook")!;
    const toWallet = requests.find((r) => r.url === "/wallet")!;
    const envelope = JSON.parse(toCurl.body) as Record<string, unknown>;
    expect(envelope).toMatchObject({ type: "ConnectionUpdated", data: { connectionId: "c1" }, walletId: DEFAULT_TENANT_ID });
    expect(typeof envelope.id).toBe("string");
    expect(typeof envelope.ts).toBe("string");
    expect(toCurl.headers.authorization).toBeUndefined();
    expect(toWallet.headers.authorization).toBe("Bearer wallet-token");
  });

  test("GLOBAL_WEBHOOK_URL receives every tenant's events with Authorization: Bearer GLOBAL_WEBHOOK_API_KEY", async () => {
    const receiver = await startReceiver();
    const server = await startTestServer({ GLOBAL_WEBHOOK_URL: receiver.url, GLOBAL_WEBHOOK_API_KEY: "global-token" });
    const other = await makeTenant(server);
    await server.herald.trigger("DIDStatusUpdated", { did: "did:x" }, null, { tenantId: other.id });
    const [request] = await receiver.waitFor(1);
    expect(request!.headers.authorization).toBe("Bearer global-token");
    expect(JSON.parse(request!.body)).toMatchObject({ type: "DIDStatusUpdated", walletId: other.id });
  });

  test("the older WEBHOOK_URL / WEBHOOK_API_KEY names work as the global webhook", async () => {
    const receiver = await startReceiver();
    const server = await startTestServer({ WEBHOOK_URL: receiver.url, WEBHOOK_API_KEY: "old-token" });
    await server.herald.trigger("PresentationUpdated", {});
    const [request] = await receiver.waitFor(1);
    expect(request!.headers.authorization).toBe("Bearer old-token");
  });

  test("the global webhook follows the environment at each start, and goes when the variable is unset", async () => {
    const dataDir = makeTempDir();
    let server = await startTestServer({ GLOBAL_WEBHOOK_URL: "http://127.0.0.1:9/a", GLOBAL_WEBHOOK_API_KEY: "t1" }, dataDir);
    await server.close();
    server = await startTestServer({ GLOBAL_WEBHOOK_URL: "http://127.0.0.1:9/b", GLOBAL_WEBHOOK_API_KEY: "t2" }, dataDir);
    let globals = await server.herald.webhooks.list({ tenantId: null });
    expect(globals.items.map((w) => [w.url, w.auth])).toEqual([["http://127.0.0.1:9/b", { type: "bearer", credentials: { token: "t2" } }]]);
    expect(globals.items[0]!.kind).toBe("identus");
    expect(globals.items[0]!.retry).toMatchObject({ strategy: "fixed", maxAttempts: 3, initialDelayMs: 5000 });
    await server.close();
    server = await startTestServer({}, dataDir);
    globals = await server.herald.webhooks.list({ tenantId: null });
    expect(globals.items).toEqual([]);
  });

  test("DEFAULT_WALLET_WEBHOOK_URL applies only when the default tenant is first created", async () => {
    const dataDir = makeTempDir();
    let server = await startTestServer({ DEFAULT_WALLET_WEBHOOK_URL: "http://127.0.0.1:9/first" }, dataDir);
    await server.close();
    server = await startTestServer({ DEFAULT_WALLET_WEBHOOK_URL: "http://127.0.0.1:9/second" }, dataDir);
    const webhooks = await server.herald.webhooks.list({ tenantId: DEFAULT_TENANT_ID });
    expect(webhooks.items.map((w) => w.url)).toEqual(["http://127.0.0.1:9/first"]);
  });

  test("GET lists the wallet's webhooks as a WebhookNotificationPage, masking credentials in customHeaders", async () => {
    const server = await startTestServer();
    const headers = tenantHeaders(server);
    const created = await server.app.inject({
      method: "POST", url: "/events/webhooks", headers,
      payload: { url: "http://127.0.0.1:9/x", customHeaders: { "X-Tenant": "acme", Authorization: "Bearer very-secret-token" } },
    });
    expect(created.statusCode).toBe(200);
    expect(created.json().customHeaders).toEqual({ "X-Tenant": "acme", Authorization: "Bearer very-secret-token" });
    for (const url of ["/events/webhooks", "/cloud-agent/events/webhooks"]) {
      const list = await server.app.inject({ method: "GET", url, headers });
      expect(list.statusCode).toBe(200);
      const page = list.json();
      expect(page).toMatchObject({ kind: "WebhookNotificationPage", self: url, pageOf: url });
      expect(page.contents).toHaveLength(1);
      // Every value is masked in later reads, whatever the header's name (an Identus webhook has no publicHeaders).
      expect(page.contents[0].customHeaders["X-Tenant"]).toBe("****");
      expect(page.contents[0].customHeaders.Authorization).not.toContain("very-secret");
    }
  });

  test("DELETE answers 200, then 404 for the same id, and 404 for another tenant's webhook", async () => {
    const server = await startTestServer();
    const other = await makeTenant(server);
    const mine = await server.app.inject({ method: "POST", url: "/events/webhooks", headers: tenantHeaders(server), payload: { url: "http://127.0.0.1:9/x" } });
    const id = mine.json().id as string;
    const foreign = await server.app.inject({ method: "DELETE", url: `/cloud-agent/events/webhooks/${id}`, headers: other.headers });
    expect(foreign.statusCode).toBe(404);
    expectProblem(foreign, "HERALD_ERR_WEBHOOK_NOT_FOUND");
    const deleted = await server.app.inject({ method: "DELETE", url: `/cloud-agent/events/webhooks/${id}`, headers: tenantHeaders(server) });
    expect(deleted.statusCode).toBe(200);
    const again = await server.app.inject({ method: "DELETE", url: `/events/webhooks/${id}`, headers: tenantHeaders(server) });
    expect(again.statusCode).toBe(404);
    expect(again.headers["content-type"]).toContain("application/problem+json");
    expect(again.json()).toMatchObject({ status: 404, code: "HERALD_ERR_WEBHOOK_NOT_FOUND", instance: `/events/webhooks/${id}` });
  });

  test("invalid bodies answer 400/422 naming the field", async () => {
    const server = await startTestServer();
    const headers = tenantHeaders(server);
    const cases: Array<[unknown, string, number]> = [
      [{}, "url", 400],
      [{ url: 42 }, "url", 400],
      [{ url: "not a url" }, "url", 422],
      [{ url: "ftp://example.com" }, "url", 422],
      [{ url: "http://127.0.0.1:9", customHeaders: { "X-A": 1 } }, "customHeaders.X-A", 400],
      [{ url: "http://127.0.0.1:9", extra: true }, "extra", 400],
    ];
    for (const [payload, field, status] of cases) {
      const response = await server.app.inject({ method: "POST", url: "/cloud-agent/events/webhooks", headers, payload: payload as object });
      expect({ field: response.json().field, status: response.statusCode }).toEqual({ field, status });
      expectProblem(response, status === 400 ? "HERALD_ERR_BAD_REQUEST" : "HERALD_ERR_VALIDATION", JSON.stringify(payload));
    }
  });

  test("first start writes secret.key, admin.key and default-tenant.key with mode 0600, prints the keys once and never rewrites them", async () => {
    const dataDir = makeTempDir();
    let server = await startTestServer({}, dataDir);
    const files = ["secret.key", "admin.key", "default-tenant.key"];
    const contents = files.map((f) => readFileSync(join(dataDir, f), "utf8"));
    for (const f of files) expect(statSync(join(dataDir, f)).mode & 0o777).toBe(0o600);
    expect(server.printed.join("\n")).toContain(server.adminApiKey);
    expect(server.printed.join("\n")).toContain(server.defaultTenantApiKey!);
    expect(server.adminApiKey).toMatch(/^hk_admin_/);
    expect(server.defaultTenantApiKey).toMatch(/^hk_/);
    const serverJson = JSON.parse(readFileSync(join(dataDir, "server.json"), "utf8"));
    expect(serverJson).toEqual({ url: server.url, pid: process.pid });
    expect(statSync(join(dataDir, "server.json")).mode & 0o777).toBe(0o600);
    const adminKey = server.adminApiKey;
    await server.close();

    server = await startTestServer({}, dataDir);
    expect(server.printed).toEqual([]);
    expect(files.map((f) => readFileSync(join(dataDir, f), "utf8"))).toEqual(contents);
    expect(server.adminApiKey).toBe(adminKey);
    const list = await server.app.inject({ method: "GET", url: "/events/webhooks", headers: { apikey: server.defaultTenantApiKey! } });
    expect(list.statusCode).toBe(200);
  });

  test("HERALD_ADMIN_API_KEY and DEFAULT_WALLET_AUTH_API_KEY are used as given and nothing is generated for them", async () => {
    const dataDir = makeTempDir();
    const server = await startTestServer({ HERALD_ADMIN_API_KEY: "admin-key-0123456789", DEFAULT_WALLET_AUTH_API_KEY: "wallet-key-0123456789" }, dataDir);
    expect(server.printed.join("\n")).not.toContain("admin-key-0123456789");
    const tenants = await server.app.inject({ method: "GET", url: "/v1/tenants", headers: { "x-admin-api-key": "admin-key-0123456789" } });
    expect(tenants.statusCode).toBe(200);
    const list = await server.app.inject({ method: "GET", url: "/events/webhooks", headers: { APIKEY: "wallet-key-0123456789" } });
    expect(list.statusCode).toBe(200);
    expect(() => statSync(join(dataDir, "admin.key"))).toThrow();
    expect(() => statSync(join(dataDir, "default-tenant.key"))).toThrow();
  });

  test("DEFAULT_WALLET_ENABLED=false creates no default tenant", async () => {
    const server = await startTestServer({ DEFAULT_WALLET_ENABLED: "false" });
    expect(server.defaultTenantApiKey).toBeNull();
    await expect(server.herald.tenants.get(DEFAULT_TENANT_ID)).rejects.toMatchObject({ code: "HERALD_ERR_TENANT_NOT_FOUND" });
  });
});
