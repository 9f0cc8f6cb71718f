import { afterEach, describe, expect, test } from "vitest";
import { engineBackend } from "../helpers/backends.js";
import { adminHeaders, closeAll, expectProblem, makeTempDir, startReceiver, startTestServer, tenantHeaders } from "./helpers.js";

afterEach(closeAll);

describe("operations", () => {
  test("/health and /ready answer without a key", async () => {
    const server = await startTestServer();
    const health = await server.app.inject({ method: "GET", url: "/health" });
    expect(health.statusCode).toBe(200);
    expect(health.json().status).toBe("ok");
    const ready = await server.app.inject({ method: "GET", url: "/ready" });
    expect(ready.json()).toMatchObject({ status: "ready", role: "all", store: engineBackend, worker: true });
  });

  test("/metrics counts accepted events, attempts by outcome with latency, queue depth and in-flight", async () => {
    const receiver = await startReceiver();
    const server = await startTestServer();
    const headers = tenantHeaders(server);
    await server.app.inject({ method: "POST", url: "/v1/webhooks", headers, payload: { url: receiver.url, events: ["m.*"] } });
    await server.app.inject({ method: "POST", url: "/v1/events", headers, payload: { type: "m.one", data: {} } });
    await receiver.waitFor(1);
    await expect.poll(async () => (await server.app.inject({ method: "GET", url: "/metrics" })).body).toContain('herald_delivery_attempts_total{outcome="success",error_class="none"} 1');
    const metrics = (await server.app.inject({ method: "GET", url: "/metrics" })).body;
    expect(metrics).toMatch(/herald_events_accepted_total \d+/);
    expect(metrics).toContain('herald_delivery_attempt_duration_seconds_count{outcome="success"} 1');
    expect(metrics).toMatch(/herald_deliveries\{status="pending"\} \d+/);
    expect(metrics).toContain("herald_deliveries_in_flight");
  });

  test("an unknown route answers a 404 problem", async () => {
    const server = await startTestServer();
    const response = await server.app.inject({ method: "GET", url: "/nothing-here" });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ code: "HERALD_ERR_NOT_FOUND", status: 404 });
  });

  test("HERALD_ROLE=worker serves only /health, /ready and /metrics and delivers", async () => {
    const receiver = await startReceiver();
    const server = await startTestServer({ HERALD_ROLE: "worker" });
    await server.herald.webhooks.create({ url: receiver.url });
    await server.herald.trigger("w.one", {});
    await receiver.waitFor(1);
    expect((await server.app.inject({ method: "GET", url: "/ready" })).statusCode).toBe(200);
    expect((await server.app.inject({ method: "GET", url: "/metrics" })).statusCode).toBe(200);
    expectProblem(await server.app.inject({ method: "GET", url: "/v1/webhooks", headers: adminHeaders(server) }), "HERALD_ERR_NOT_FOUND");
  });

  test("HERALD_ROLE=api accepts events but starts no worker", async () => {
    const server = await startTestServer({ HERALD_ROLE: "api" }, makeTempDir());
    expect(server.herald.running).toBe(false);
    const accepted = await server.app.inject({ method: "POST", url: "/v1/events", headers: tenantHeaders(server), payload: { type: "a.b", data: {} } });
    expect(accepted.statusCode).toBe(202);
    expect((await server.app.inject({ method: "GET", url: "/ready" })).json()).toMatchObject({ status: "ready", worker: false });
  });
});

describe("/v1/tenants", () => {
  test("create returns the first API key once; get, list, keys and delete; unknown ids answer 404", async () => {
    const server = await startTestServer();
    const headers = adminHeaders(server);
    const created = await server.app.inject({ method: "POST", url: "/v1/tenants", headers, payload: { name: "acme", id: "acme" } });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ id: "acme", name: "acme", apiKey: { tenantId: "acme" } });
    expect(created.json().apiKey.key).toMatch(/^hk_/);
    expectProblem(await server.app.inject({ method: "POST", url: "/v1/tenants", headers, payload: { name: "again", id: "acme" } }), "HERALD_ERR_CONFLICT");
    const noName = await server.app.inject({ method: "POST", url: "/v1/tenants", headers, payload: {} });
    expect(noName.json().field).toBe("name");
    expectProblem(noName, "HERALD_ERR_BAD_REQUEST");
    const badId = await server.app.inject({ method: "POST", url: "/v1/tenants", headers, payload: { name: "x", id: "bad id" } });
    expect(badId.json().field).toBe("id");
    expectProblem(badId, "HERALD_ERR_BAD_REQUEST");
    expect((await server.app.inject({ method: "GET", url: "/v1/tenants/acme", headers })).json().name).toBe("acme");
    expect((await server.app.inject({ method: "GET", url: "/v1/tenants", headers })).json().data.map((t: { id: string }) => t.id)).toContain("acme");
    const key = await server.app.inject({ method: "POST", url: "/v1/tenants/acme/api-keys", headers, payload: { name: "ci" } });
    expect(key.statusCode).toBe(201);
    const newKey = key.json().key as string;
    expect((await server.app.inject({ method: "GET", url: "/v1/webhooks", headers: { apikey: newKey } })).statusCode).toBe(200);
    const keys = await server.app.inject({ method: "GET", url: "/v1/tenants/acme/api-keys", headers });
    expect(keys.json().data.map((k: { name: string }) => k.name)).toEqual(["first key", "ci"]);
    expect(JSON.stringify(keys.json())).not.toContain(newKey);
    expectProblem(await server.app.inject({ method: "POST", url: "/v1/tenants/nope/api-keys", headers, payload: {} }), "HERALD_ERR_TENANT_NOT_FOUND");
    expect((await server.app.inject({ method: "DELETE", url: "/v1/tenants/acme", headers })).statusCode).toBe(204);
    expectProblem(await server.app.inject({ method: "GET", url: "/v1/webhooks", headers: { apikey: newKey } }), "HERALD_ERR_UNAUTHORIZED");
    expectProblem(await server.app.inject({ method: "GET", url: "/v1/tenants/acme", headers }), "HERALD_ERR_TENANT_NOT_FOUND");
    expectProblem(await server.app.inject({ method: "DELETE", url: "/v1/tenants/acme", headers }), "HERALD_ERR_TENANT_NOT_FOUND");
  });
});

describe("page cursors", () => {
  test("a nextCursor leads to the next page; a cursor Herald never gave answers 400 naming cursor on every list", async () => {
    const server = await startTestServer();
    const headers = tenantHeaders(server);
    const ids: string[] = [];
    for (const name of ["first", "second"]) {
      const created = await server.app.inject({ method: "POST", url: "/v1/webhooks", headers, payload: { name, url: "http://127.0.0.1:9/x" } });
      ids.push(created.json<{ id: string }>().id);
    }
    const page1 = (await server.app.inject({ method: "GET", url: "/v1/webhooks?limit=1", headers })).json<{ data: Array<{ id: string }>; nextCursor: string }>();
    expect(page1.data.map((w) => w.id)).toEqual([ids[0]]);
    const page2 = (await server.app.inject({ method: "GET", url: `/v1/webhooks?limit=1&cursor=${page1.nextCursor}`, headers })).json<{ data: Array<{ id: string }> }>();
    expect(page2.data.map((w) => w.id)).toEqual([ids[1]]);

    for (const path of ["/v1/webhooks", "/v1/events", "/v1/deliveries", `/v1/webhooks/${ids[0]}/deliveries`]) {
      for (const cursor of ["garbage", "01a2413b-7602-7000-b7b5", "' OR 1=1 --"]) {
        const response = await server.app.inject({ method: "GET", url: `${path}?cursor=${encodeURIComponent(cursor)}`, headers });
        expect({ path, cursor, status: response.statusCode, field: response.json().field }).toEqual({ path, cursor, status: 400, field: "cursor" });
        expect(response.json().detail).toContain("nextCursor");
      }
    }
  });
});
