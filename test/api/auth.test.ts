import { afterEach, describe, expect, test } from "vitest";
import { adminHeaders, closeAll, expectProblem, makeTenant, startTestServer, tenantHeaders } from "./helpers.js";

afterEach(closeAll);

describe("authentication", () => {
  test("a tenant route without a key answers 401 problem+json naming the apikey header", async () => {
    const server = await startTestServer();
    for (const url of ["/v1/webhooks", "/v1/events", "/v1/deliveries", "/v1/event-types", "/events/webhooks", "/cloud-agent/events/webhooks"]) {
      const response = await server.app.inject({ method: "GET", url });
      expect(response.statusCode, url).toBe(401);
      expect(response.headers["content-type"]).toContain("application/problem+json");
      expect(response.json()).toMatchObject({ status: 401, code: "HERALD_ERR_UNAUTHORIZED", field: "apikey", instance: url });
    }
  });

  test("a wrong tenant key or a wrong admin key answers 401", async () => {
    const server = await startTestServer();
    const wrongTenant = await server.app.inject({ method: "GET", url: "/v1/webhooks", headers: { apikey: "hk_nope" } });
    expect(wrongTenant.statusCode).toBe(401);
    expectProblem(wrongTenant, "HERALD_ERR_UNAUTHORIZED");
    const wrongBearer = await server.app.inject({ method: "GET", url: "/v1/webhooks", headers: { authorization: "Bearer hk_nope" } });
    expect(wrongBearer.statusCode).toBe(401);
    expectProblem(wrongBearer, "HERALD_ERR_UNAUTHORIZED");
    const wrongAdmin = await server.app.inject({ method: "GET", url: "/v1/tenants", headers: { "x-admin-api-key": "wrong" } });
    expect(wrongAdmin.statusCode).toBe(401);
    expectProblem(wrongAdmin, "HERALD_ERR_UNAUTHORIZED");
    expect(wrongAdmin.json().field).toBe("x-admin-api-key");
  });

  test("the tenant key works in apikey (any case) and as Authorization: Bearer", async () => {
    const server = await startTestServer();
    const key = server.defaultTenantApiKey!;
    for (const headers of [{ apikey: key }, { APIKEY: key }, { apiKey: key }, { authorization: `Bearer ${key}` }]) {
      const response = await server.app.inject({ method: "GET", url: "/v1/webhooks", headers });
      expect(response.statusCode).toBe(200);
    }
  });

  test("admin routes refuse a tenant key with 403 and accept the admin key", async () => {
    const server = await startTestServer();
    const asTenant = await server.app.inject({ method: "GET", url: "/v1/tenants", headers: tenantHeaders(server) });
    expect(asTenant.statusCode).toBe(403);
    expect(asTenant.json().code).toBe("HERALD_ERR_FORBIDDEN");
    const asAdmin = await server.app.inject({ method: "GET", url: "/v1/tenants", headers: adminHeaders(server) });
    expect(asAdmin.statusCode).toBe(200);
  });

  test("a revoked key answers 401 at once and api.key.revoked is emitted", async () => {
    const server = await startTestServer();
    const other = await makeTenant(server);
    const keys = await server.app.inject({ method: "GET", url: `/v1/tenants/${other.id}/api-keys`, headers: adminHeaders(server) });
    const keyId = keys.json().data[0].id as string;
    expect((await server.app.inject({ method: "GET", url: "/v1/webhooks", headers: other.headers })).statusCode).toBe(200);
    const revoked = await server.app.inject({ method: "DELETE", url: `/v1/api-keys/${keyId}`, headers: adminHeaders(server) });
    expect(revoked.statusCode).toBe(200);
    expect(revoked.json().revokedAt).not.toBeNull();
    expectProblem(await server.app.inject({ method: "GET", url: "/v1/webhooks", headers: other.headers }), "HERALD_ERR_UNAUTHORIZED");
    const again = await server.app.inject({ method: "DELETE", url: `/v1/api-keys/${keyId}`, headers: adminHeaders(server) });
    expect(again.statusCode).toBe(404);
    expectProblem(again, "HERALD_ERR_API_KEY_NOT_FOUND");
    await expect.poll(async () => (await server.herald.events.list({ tenantId: other.id, type: "api.key.revoked" })).items.length).toBe(1);
    expect((await server.herald.events.list({ tenantId: other.id, type: "api.key.created" })).items).toHaveLength(1);
  });
});

describe("tenant isolation", () => {
  test("another tenant's webhook, event and delivery ids answer 404, not 403", async () => {
    const server = await startTestServer();
    const other = await makeTenant(server);
    const webhook = await server.app.inject({ method: "POST", url: "/v1/webhooks", headers: tenantHeaders(server), payload: { url: "http://127.0.0.1:9/x" } });
    const webhookId = webhook.json().id as string;
    const event = await server.app.inject({ method: "POST", url: "/v1/events", headers: tenantHeaders(server), payload: { type: "a.b", data: {} } });
    const { id: eventId, deliveries } = event.json() as { id: string; deliveries: string[] };
    const urls: Array<[string, string]> = [
      ["GET", `/v1/webhooks/${webhookId}`], ["PATCH", `/v1/webhooks/${webhookId}`], ["DELETE", `/v1/webhooks/${webhookId}`],
      ["POST", `/v1/webhooks/${webhookId}/pause`], ["POST", `/v1/webhooks/${webhookId}/resume`], ["POST", `/v1/webhooks/${webhookId}/rotate-secret`],
      ["GET", `/v1/webhooks/${webhookId}/secret`], ["GET", `/v1/webhooks/${webhookId}/stats`], ["GET", `/v1/webhooks/${webhookId}/deliveries`],
      ["POST", `/v1/webhooks/${webhookId}/test`], ["POST", `/v1/webhooks/${webhookId}/recover`],
      ["GET", `/v1/events/${eventId}`], ["GET", `/v1/deliveries/${deliveries[0]}`], ["POST", `/v1/deliveries/${deliveries[0]}/retry`],
    ];
    const notFound = { webhooks: "HERALD_ERR_WEBHOOK_NOT_FOUND", events: "HERALD_ERR_EVENT_NOT_FOUND", deliveries: "HERALD_ERR_DELIVERY_NOT_FOUND" } as const;
    for (const [method, url] of urls) {
      const payload = method === "PATCH" ? { name: "x" } : url.endsWith("/recover") ? { since: "2020-01-01T00:00:00Z" } : undefined;
      const response = await server.app.inject({ method: method as "GET", url, headers: other.headers, ...(payload ? { payload } : {}) });
      expect(response.statusCode, `${method} ${url}`).toBe(404);
      expectProblem(response, notFound[url.split("/")[2] as keyof typeof notFound], `${method} ${url}`);
    }
    const [webhooks, events, deliveryList] = await Promise.all(
      ["/v1/webhooks", "/v1/events", "/v1/deliveries"].map((url) => server.app.inject({ method: "GET", url, headers: other.headers })),
    );
    expect(webhooks!.json().data).toEqual([]);
    // The other tenant has its own events (api.key.created), but none of the default tenant's.
    expect(events!.json().data.map((e: { tenantId: string }) => e.tenantId).filter((t: string) => t !== other.id)).toEqual([]);
    expect(deliveryList!.json().data.map((d: { tenantId: string }) => d.tenantId).filter((t: string) => t !== other.id)).toEqual([]);
  });

  test("a tenant naming another tenantId answers 404; the admin may act on any tenant", async () => {
    const server = await startTestServer();
    const other = await makeTenant(server);
    const asTenant = await server.app.inject({
      method: "POST", url: "/v1/events", headers: tenantHeaders(server), payload: { type: "a.b", data: {}, tenantId: other.id },
    });
    expect(asTenant.statusCode).toBe(404);
    expectProblem(asTenant, "HERALD_ERR_TENANT_NOT_FOUND");
    expect(asTenant.json().field).toBe("tenantId");
    const asAdmin = await server.app.inject({ method: "POST", url: "/v1/events", headers: adminHeaders(server), payload: { type: "a.b", data: {}, tenantId: other.id } });
    expect(asAdmin.statusCode).toBe(202);
    const unknown = await server.app.inject({ method: "POST", url: "/v1/events", headers: adminHeaders(server), payload: { type: "a.b", data: {}, tenantId: "nope" } });
    expect(unknown.statusCode).toBe(404);
    expectProblem(unknown, "HERALD_ERR_TENANT_NOT_FOUND");
    const theirs = await server.app.inject({ method: "GET", url: "/v1/events", headers: other.headers });
    expect(theirs.json().data.map((e: { id: string }) => e.id)).toContain(asAdmin.json().id);
    const filtered = await server.app.inject({ method: "GET", url: `/v1/events?tenantId=${other.id}`, headers: adminHeaders(server) });
    expect(filtered.json().data.every((e: { tenantId: string }) => e.tenantId === other.id)).toBe(true);
    const webhook = await server.app.inject({ method: "POST", url: "/v1/webhooks", headers: adminHeaders(server), payload: { url: "http://127.0.0.1:9/x", tenantId: other.id } });
    expect(webhook.json().tenantId).toBe(other.id);
  });
});

describe("rate limit", () => {
  test("past the per-key burst the API answers 429 with Retry-After and emits api.limit.exceeded once per window", async () => {
    const server = await startTestServer({ HERALD_RATE_LIMIT_PER_SECOND: "1", HERALD_RATE_LIMIT_BURST: "3" });
    const headers = tenantHeaders(server);
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<typeof server.app.inject>> | null = null;
    for (let i = 0; i < 6; i++) {
      const response = await server.app.inject({ method: "GET", url: "/v1/webhooks", headers });
      statuses.push(response.statusCode);
      if (response.statusCode === 429) limited = response;
    }
    expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
    expect(statuses.slice(3)).toEqual([429, 429, 429]);
    expect(Number(limited!.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(limited!.json()).toMatchObject({ status: 429, code: "HERALD_ERR_RATE_LIMITED" });
    // Another key has its own bucket.
    expect((await server.app.inject({ method: "GET", url: "/v1/tenants", headers: adminHeaders(server) })).statusCode).toBe(200);
    await expect.poll(async () => (await server.herald.events.list({ type: "api.limit.exceeded" })).items.length).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await server.herald.events.list({ type: "api.limit.exceeded" })).items).toHaveLength(1);
  });
});
