import { Webhook as StandardWebhook } from "standardwebhooks";
import { afterEach, describe, expect, test } from "vitest";
import { closeAll, expectProblem, startReceiver, startTestServer, tenantHeaders, type TestServer } from "./helpers.js";

afterEach(closeAll);

async function createWebhook(server: TestServer, payload: Record<string, unknown>) {
  const response = await server.app.inject({ method: "POST", url: "/v1/webhooks", headers: tenantHeaders(server), payload });
  expect(response.statusCode, response.body).toBe(201);
  return response.json<{ id: string; secret: string } & Record<string, unknown>>();
}

describe("/v1/webhooks", () => {
  test("create returns 201 with the signing secret once; reads mask credentials and omit the secret", async () => {
    const server = await startTestServer();
    const created = await createWebhook(server, {
      name: "My Webhook", url: "http://127.0.0.1:9/x", events: ["agent.*", "custom"], method: "PUT",
      headers: { "X-Custom": "value", "X-Api-Token": "abcdefghijkl" }, auth: { type: "bearer", credentials: { token: "secret123456" } },
      retry: { strategy: "linear", maxAttempts: 5 }, timeoutMs: 1000,
    });
    expect(created.secret).toMatch(/^whsec_/);
    expect(created).toMatchObject({ name: "My Webhook", events: ["agent.*", "custom"], method: "PUT", status: "active", payloadFormat: "identus" });
    const got = await server.app.inject({ method: "GET", url: `/v1/webhooks/${created.id}`, headers: tenantHeaders(server) });
    const body = got.json();
    expect(body.secret).toBeUndefined();
    expect(body.secrets).toBeUndefined();
    expect(body.auth.credentials.token).not.toBe("secret123456");
    // Every header value is masked unless listed in publicHeaders, whatever its name.
    expect(body.headers["X-Custom"]).toBe("****");
    expect(body.publicHeaders).toEqual([]);
    expect(body.headers["X-Api-Token"]).not.toBe("abcdefghijkl");
    expect(body.retry).toMatchObject({ strategy: "linear", maxAttempts: 5 });
    const secret = await server.app.inject({ method: "GET", url: `/v1/webhooks/${created.id}/secret`, headers: tenantHeaders(server) });
    expect(secret.json()).toEqual({ secret: created.secret, previous: [] });
  });

  test("each invalid field answers 400 or 422 naming it", async () => {
    const server = await startTestServer();
    const cases: Array<[Record<string, unknown>, string, number]> = [
      [{}, "url", 400],
      [{ url: "nope" }, "url", 422],
      [{ url: "http://127.0.0.1:9", events: [] }, "events", 400],
      [{ url: "http://127.0.0.1:9", events: ["bad pattern!"] }, "events[0]", 422],
      [{ url: "http://127.0.0.1:9", method: "GET" }, "method", 400],
      [{ url: "http://127.0.0.1:9", timeoutMs: "5000" }, "timeoutMs", 400],
      [{ url: "http://127.0.0.1:9", timeoutMs: 5 }, "timeoutMs", 400],
      [{ url: "http://127.0.0.1:9", retry: { maxAttempts: 0 } }, "retry.maxAttempts", 400],
      [{ url: "http://127.0.0.1:9", retry: { initialDelayMs: 5000, maxDelayMs: 10 } }, "retry.maxDelayMs", 422],
      [{ url: "http://127.0.0.1:9", auth: { type: "bearer", credentials: {} } }, "auth.credentials.token", 422],
      [{ url: "http://127.0.0.1:9", auth: { type: "magic" } }, "auth.type", 400],
      [{ url: "http://127.0.0.1:9", headers: { "Content-Type": "text/plain" } }, "headers.Content-Type", 422],
      [{ url: "http://127.0.0.1:9", payloadFormat: "xml" }, "payloadFormat", 400],
      [{ url: "http://127.0.0.1:9", secret: "plain" }, "secret", 422],
      [{ url: "http://127.0.0.1:9", colour: "red" }, "colour", 400],
    ];
    for (const [payload, field, status] of cases) {
      const response = await server.app.inject({ method: "POST", url: "/v1/webhooks", headers: tenantHeaders(server), payload });
      expect({ payload, field: response.json().field, status: response.statusCode }).toEqual({ payload, field, status });
      expectProblem(response, status === 400 ? "HERALD_ERR_BAD_REQUEST" : "HERALD_ERR_VALIDATION", JSON.stringify(payload));
      expect(response.json().detail).toContain(field.split(".").pop()!.replace(/\[\d+\]/, ""));
    }
  });

  test("list filters by status and event and pages with nextCursor", async () => {
    const server = await startTestServer();
    const a = await createWebhook(server, { url: "http://127.0.0.1:9/a", events: ["agent.*"] });
    await createWebhook(server, { url: "http://127.0.0.1:9/b", events: ["task.failed"], status: "inactive" });
    await createWebhook(server, { url: "http://127.0.0.1:9/c" });
    const headers = tenantHeaders(server);
    const byEvent = await server.app.inject({ method: "GET", url: "/v1/webhooks?event=agent.started", headers });
    expect(byEvent.json().data.map((w: { url: string }) => w.url).sort()).toEqual(["http://127.0.0.1:9/a", "http://127.0.0.1:9/c"]);
    const inactive = await server.app.inject({ method: "GET", url: "/v1/webhooks?status=inactive", headers });
    expect(inactive.json().data.map((w: { url: string }) => w.url)).toEqual(["http://127.0.0.1:9/b"]);
    const first = await server.app.inject({ method: "GET", url: "/v1/webhooks?limit=2", headers });
    expect(first.json().data).toHaveLength(2);
    expect(first.json().data[0].id).toBe(a.id);
    const next = await server.app.inject({ method: "GET", url: `/v1/webhooks?limit=2&cursor=${first.json().nextCursor}`, headers });
    expect(next.json()).toMatchObject({ nextCursor: null });
    expect(next.json().data).toHaveLength(1);
    const bad = await server.app.inject({ method: "GET", url: "/v1/webhooks?status=sleeping", headers });
    expect(bad.statusCode).toBe(400);
    expectProblem(bad, "HERALD_ERR_BAD_REQUEST");
    expect(bad.json().field).toBe("status");
  });

  test("update, pause, resume, rotate-secret and delete; unknown ids answer 404", async () => {
    const server = await startTestServer();
    const headers = tenantHeaders(server);
    const { id, secret } = await createWebhook(server, { url: "http://127.0.0.1:9/a" });
    const patched = await server.app.inject({ method: "PATCH", url: `/v1/webhooks/${id}`, headers, payload: { name: "renamed", timeoutMs: 2000 } });
    expect(patched.json()).toMatchObject({ name: "renamed", timeoutMs: 2000, url: "http://127.0.0.1:9/a" });
    const badPatch = await server.app.inject({ method: "PATCH", url: `/v1/webhooks/${id}`, headers, payload: { secret: "whsec_x" } });
    expect(badPatch.statusCode).toBe(400);
    expectProblem(badPatch, "HERALD_ERR_BAD_REQUEST");
    expect(badPatch.json().field).toBe("secret");
    expect((await server.app.inject({ method: "POST", url: `/v1/webhooks/${id}/pause`, headers })).json().status).toBe("inactive");
    expect((await server.app.inject({ method: "POST", url: `/v1/webhooks/${id}/resume`, headers })).json().status).toBe("active");
    const rotated = await server.app.inject({ method: "POST", url: `/v1/webhooks/${id}/rotate-secret`, headers });
    expect(rotated.json().secret).not.toBe(secret);
    const secrets = await server.app.inject({ method: "GET", url: `/v1/webhooks/${id}/secret`, headers });
    expect(secrets.json().secret).toBe(rotated.json().secret);
    expect(secrets.json().previous.map((p: { secret: string }) => p.secret)).toEqual([secret]);
    expect((await server.app.inject({ method: "DELETE", url: `/v1/webhooks/${id}`, headers })).statusCode).toBe(204);
    for (const [method, url] of [["GET", `/v1/webhooks/${id}`], ["DELETE", `/v1/webhooks/${id}`], ["GET", `/v1/webhooks/${id}/stats`], ["POST", `/v1/webhooks/${id}/pause`]]) {
      const response = await server.app.inject({ method: method as "GET", url: url!, headers });
      expect(response.statusCode).toBe(404);
      expect(response.json().code).toBe("HERALD_ERR_WEBHOOK_NOT_FOUND");
    }
  });

  test("test sends a signed webhook.test event to that webhook only and reports the attempt", async () => {
    const receiver = await startReceiver();
    const other = await startReceiver();
    const server = await startTestServer();
    const { id, secret } = await createWebhook(server, { url: receiver.url, payloadFormat: "standard" });
    await createWebhook(server, { url: other.url });
    const response = await server.app.inject({ method: "POST", url: `/v1/webhooks/${id}/test`, headers: tenantHeaders(server) });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ success: true, delivery: { webhookId: id, eventType: "webhook.test" }, attempt: { response: { status: 200 } } });
    const [request] = await receiver.waitFor(1);
    const verified = new StandardWebhook(secret).verify(request!.body, request!.headers as Record<string, string>);
    expect(verified).toMatchObject({ type: "webhook.test" });
    expect(other.requests).toHaveLength(0);
  });

  test("deliveries, stats and recover: failed deliveries since a time are re-queued and succeed", async () => {
    const receiver = await startReceiver();
    receiver.status = 500;
    const server = await startTestServer();
    const headers = tenantHeaders(server);
    const { id } = await createWebhook(server, { url: receiver.url, retry: { maxAttempts: 1 } });
    const since = new Date().toISOString();
    await server.app.inject({ method: "POST", url: "/v1/events", headers, payload: { type: "a.b", data: { n: 1 } } });
    await receiver.waitFor(1);
    await expect.poll(async () => (await server.app.inject({ method: "GET", url: `/v1/webhooks/${id}/deliveries?status=failed`, headers })).json().data.length).toBe(1);
    const stats = await server.app.inject({ method: "GET", url: `/v1/webhooks/${id}/stats`, headers });
    expect(stats.json()).toMatchObject({ total_deliveries: 1, successful_deliveries: 0, failed_deliveries: 1, failure_rate: 1 });
    receiver.status = 200;
    const recovered = await server.app.inject({ method: "POST", url: `/v1/webhooks/${id}/recover`, headers, payload: { since } });
    expect(recovered.statusCode).toBe(202);
    expect(recovered.json()).toMatchObject({ webhookId: id, since });
    const jobUrl = `/v1/webhooks/${id}/recover/${recovered.json().id}`;
    await expect.poll(async () => (await server.app.inject({ method: "GET", url: jobUrl, headers })).json()).toMatchObject({ status: "done", requeued: 1 });
    await receiver.waitFor(2);
    await expect.poll(async () => (await server.app.inject({ method: "GET", url: `/v1/webhooks/${id}/deliveries?status=succeeded`, headers })).json().data.length).toBe(1);
    const badSince = await server.app.inject({ method: "POST", url: `/v1/webhooks/${id}/recover`, headers, payload: { since: "yesterday" } });
    expect(badSince.statusCode).toBe(400);
    expectProblem(badSince, "HERALD_ERR_BAD_REQUEST");
    expect(badSince.json().field).toBe("since");
    expectProblem(await server.app.inject({ method: "GET", url: `/v1/webhooks/${id}/recover/nope`, headers }), "HERALD_ERR_NOT_FOUND");
    const noSince = await server.app.inject({ method: "POST", url: `/v1/webhooks/${id}/recover`, headers, payload: {} });
    expect(noSince.json().field).toBe("since");
    expectProblem(noSince, "HERALD_ERR_BAD_REQUEST");
  });
});
