import { afterEach, describe, expect, test } from "vitest";
import { adminHeaders, closeAll, expectProblem, startReceiver, startTestServer, tenantHeaders } from "./helpers.js";

afterEach(closeAll);

describe("/v1/events", () => {
  test("an accepted event answers 202 {id, deliveries} and reaches the webhook; GET returns it with its deliveries", async () => {
    const receiver = await startReceiver();
    const server = await startTestServer();
    const headers = tenantHeaders(server);
    await server.app.inject({ method: "POST", url: "/v1/webhooks", headers, payload: { url: receiver.url, events: ["agent.*"] } });
    const accepted = await server.app.inject({ method: "POST", url: "/v1/events", headers, payload: { type: "agent.started", data: { agent_id: "a1" }, metadata: { by: "test" } } });
    expect(accepted.statusCode).toBe(202);
    const { id, deliveries, duplicate } = accepted.json();
    expect(deliveries).toHaveLength(1);
    expect(duplicate).toBe(false);
    const [request] = await receiver.waitFor(1);
    expect(JSON.parse(request!.body)).toMatchObject({ id, type: "agent.started", data: { agent_id: "a1" }, metadata: { by: "test" } });
    const got = await server.app.inject({ method: "GET", url: `/v1/events/${id}`, headers });
    expect(got.json()).toMatchObject({ id, type: "agent.started", deliveries: [{ id: deliveries[0] }] });
    const unmatched = await server.app.inject({ method: "POST", url: "/v1/events", headers, payload: { type: "task.failed", data: {} } });
    expect(unmatched.json().deliveries).toEqual([]);
    expectProblem(await server.app.inject({ method: "GET", url: "/v1/events/00000000-0000-7000-8000-000000000000", headers }), "HERALD_ERR_EVENT_NOT_FOUND");
  });

  test("the same id or Idempotency-Key returns the original event, not a second one", async () => {
    const server = await startTestServer();
    const headers = tenantHeaders(server);
    const id = "3f1e4d5c-1111-4222-8333-444455556666";
    const first = await server.app.inject({ method: "POST", url: "/v1/events", headers, payload: { id, type: "a.b", data: {} } });
    const second = await server.app.inject({ method: "POST", url: "/v1/events", headers, payload: { id, type: "a.b", data: {} } });
    expect(second.json()).toMatchObject({ id, duplicate: true });
    expect(first.json().duplicate).toBe(false);
    const keyed = { ...headers, "idempotency-key": "order-42" };
    const k1 = await server.app.inject({ method: "POST", url: "/v1/events", headers: keyed, payload: { type: "a.b", data: { n: 1 } } });
    const k2 = await server.app.inject({ method: "POST", url: "/v1/events", headers: keyed, payload: { type: "a.b", data: { n: 2 } } });
    expect(k2.json()).toEqual({ ...k1.json(), duplicate: true });
  });

  test("each invalid field answers 400 or 422 naming it", async () => {
    const server = await startTestServer();
    const headers = tenantHeaders(server);
    const cases: Array<[Record<string, unknown>, string, number, string]> = [
      [{ data: {} }, "type", 400, "HERALD_ERR_BAD_REQUEST"],
      [{ type: "a.b" }, "data", 400, "HERALD_ERR_BAD_REQUEST"],
      [{ type: "bad type!", data: {} }, "type", 422, "HERALD_ERR_VALIDATION"],
      [{ type: "a.b", data: {}, id: "not-a-uuid" }, "id", 422, "HERALD_ERR_VALIDATION"],
      [{ type: "a.b", data: {}, metadata: [1] }, "metadata", 400, "HERALD_ERR_BAD_REQUEST"],
      [{ type: "a.b", data: {}, colour: 1 }, "colour", 400, "HERALD_ERR_BAD_REQUEST"],
    ];
    for (const [payload, field, status, code] of cases) {
      const response = await server.app.inject({ method: "POST", url: "/v1/events", headers, payload });
      expect({ payload, field: response.json().field, status: response.statusCode, code: response.json().code }).toEqual({ payload, field, status, code });
    }
    const badKey = await server.app.inject({ method: "POST", url: "/v1/events", headers: { ...headers, "idempotency-key": "x".repeat(300) }, payload: { type: "a.b", data: {} } });
    expectProblem(badKey, "HERALD_ERR_BAD_REQUEST");
    expect(badKey.json().field).toBe("idempotency-key");
    const badJson = await server.app.inject({ method: "POST", url: "/v1/events", headers: { ...headers, "content-type": "application/json" }, payload: "{not json" });
    expect(badJson.statusCode).toBe(400);
    expect(badJson.json()).toMatchObject({ code: "HERALD_ERR_BAD_REQUEST", field: "body" });
    const text = await server.app.inject({ method: "POST", url: "/v1/events", headers: { ...headers, "content-type": "text/plain" }, payload: "hello" });
    expectProblem(text, "HERALD_ERR_UNSUPPORTED_MEDIA_TYPE");
  });

  test("a body over HERALD_MAX_BODY_BYTES answers 413 naming the limit; an event payload over the engine limit answers 413", async () => {
    const server = await startTestServer({ HERALD_MAX_BODY_BYTES: "2048" });
    const headers = tenantHeaders(server);
    const big = await server.app.inject({ method: "POST", url: "/v1/events", headers, payload: { type: "a.b", data: { s: "x".repeat(4096) } } });
    expect(big.statusCode).toBe(413);
    expect(big.json()).toMatchObject({ code: "HERALD_ERR_PAYLOAD_TOO_LARGE", status: 413 });
    expect(big.json().detail).toContain("2048");
    const roomy = await startTestServer({ HERALD_MAX_BODY_BYTES: String(1024 * 1024) });
    const payload = await roomy.app.inject({ method: "POST", url: "/v1/events", headers: tenantHeaders(roomy), payload: { type: "a.b", data: { s: "x".repeat(300 * 1024) } } });
    expect(payload.statusCode).toBe(413);
    expect(payload.json()).toMatchObject({ code: "HERALD_ERR_PAYLOAD_TOO_LARGE", field: "data" });
  });

  test("batch accepts many events in one call and names the index of a bad one", async () => {
    const server = await startTestServer();
    const headers = tenantHeaders(server);
    const ok = await server.app.inject({ method: "POST", url: "/v1/events/batch", headers, payload: { events: [{ type: "a.b", data: 1 }, { type: "a.c", data: 2 }] } });
    expect(ok.statusCode).toBe(202);
    expect(ok.json().data).toHaveLength(2);
    const bad = await server.app.inject({ method: "POST", url: "/v1/events/batch", headers, payload: { events: [{ type: "a.b", data: 1 }, { type: "bad type!", data: 2 }] } });
    expectProblem(bad, "HERALD_ERR_VALIDATION");
    expect(bad.json().field).toBe("events[1].type");
    const empty = await server.app.inject({ method: "POST", url: "/v1/events/batch", headers, payload: { events: [] } });
    expect(empty.json().field).toBe("events");
    expectProblem(empty, "HERALD_ERR_BAD_REQUEST");
  });

  test("list filters by type and since and pages newest first", async () => {
    const server = await startTestServer();
    const headers = tenantHeaders(server);
    for (const type of ["x.one", "x.two", "x.one"]) await server.app.inject({ method: "POST", url: "/v1/events", headers, payload: { type, data: {} } });
    const ones = await server.app.inject({ method: "GET", url: "/v1/events?type=x.one", headers });
    expect(ones.json().data).toHaveLength(2);
    const page = await server.app.inject({ method: "GET", url: "/v1/events?type=x.one&limit=1", headers });
    const next = await server.app.inject({ method: "GET", url: `/v1/events?type=x.one&limit=1&cursor=${page.json().nextCursor}`, headers });
    expect(next.json().data[0].id).not.toBe(page.json().data[0].id);
    const future = await server.app.inject({ method: "GET", url: `/v1/events?since=${Date.now() + 60_000}`, headers });
    expect(future.json().data).toEqual([]);
    const badSince = await server.app.inject({ method: "GET", url: "/v1/events?since=soon", headers });
    expect(badSince.json()).toMatchObject({ status: 400, code: "HERALD_ERR_BAD_REQUEST", field: "since" });
    const badLimit = await server.app.inject({ method: "GET", url: "/v1/events?limit=0", headers });
    expect(badLimit.json()).toMatchObject({ status: 400, code: "HERALD_ERR_BAD_REQUEST", field: "limit" });
  });
});

describe("/v1/event-types", () => {
  test("an event type with a JSON schema validates events of that type on ingest", async () => {
    const server = await startTestServer();
    const headers = tenantHeaders(server);
    const created = await server.app.inject({
      method: "POST", url: "/v1/event-types", headers,
      payload: { name: "order.paid", description: "an order was paid", schema: { type: "object", required: ["amount"], properties: { amount: { type: "number" } } } },
    });
    expect(created.statusCode).toBe(201);
    const list = await server.app.inject({ method: "GET", url: "/v1/event-types", headers });
    expect(list.json().data).toMatchObject([{ name: "order.paid", description: "an order was paid" }]);
    const good = await server.app.inject({ method: "POST", url: "/v1/events", headers, payload: { type: "order.paid", data: { amount: 5 } } });
    expect(good.statusCode).toBe(202);
    const missing = await server.app.inject({ method: "POST", url: "/v1/events", headers, payload: { type: "order.paid", data: {} } });
    expect(missing.json()).toMatchObject({ status: 422, code: "HERALD_ERR_VALIDATION", field: "data.amount" });
    const wrongType = await server.app.inject({ method: "POST", url: "/v1/events", headers, payload: { type: "order.paid", data: { amount: "5" } } });
    expect(wrongType.json()).toMatchObject({ status: 422, code: "HERALD_ERR_VALIDATION", field: "data.amount" });
    const inBatch = await server.app.inject({ method: "POST", url: "/v1/events/batch", headers, payload: { events: [{ type: "order.paid", data: {} }] } });
    expect(inBatch.json()).toMatchObject({ status: 422, code: "HERALD_ERR_VALIDATION", field: "events[0].data.amount" });
  });

  test("a broken schema, a bad name or a missing name answer 4xx naming the field", async () => {
    const server = await startTestServer();
    const headers = tenantHeaders(server);
    const broken = await server.app.inject({ method: "POST", url: "/v1/event-types", headers, payload: { name: "a.b", schema: { type: "nonsense" } } });
    expect(broken.json()).toMatchObject({ status: 422, code: "HERALD_ERR_VALIDATION", field: "schema" });
    const badName = await server.app.inject({ method: "POST", url: "/v1/event-types", headers, payload: { name: "a b" } });
    expect(badName.json()).toMatchObject({ status: 422, code: "HERALD_ERR_VALIDATION", field: "name" });
    const noName = await server.app.inject({ method: "POST", url: "/v1/event-types", headers, payload: {} });
    expect(noName.json()).toMatchObject({ status: 400, code: "HERALD_ERR_BAD_REQUEST", field: "name" });
  });
});

describe("/v1/deliveries", () => {
  test("filters by webhook, event type and status; a delivery comes with its attempts; retry re-queues it", async () => {
    const receiver = await startReceiver();
    const server = await startTestServer();
    const headers = tenantHeaders(server);
    const webhook = await server.app.inject({ method: "POST", url: "/v1/webhooks", headers, payload: { url: receiver.url } });
    const webhookId = webhook.json().id;
    await server.app.inject({ method: "POST", url: "/v1/events", headers, payload: { type: "x.one", data: {} } });
    await server.app.inject({ method: "POST", url: "/v1/events", headers, payload: { type: "x.two", data: {} } });
    await receiver.waitFor(2);
    await expect.poll(async () => (await server.app.inject({ method: "GET", url: "/v1/deliveries?status=succeeded", headers })).json().data.length).toBe(2);
    const byType = await server.app.inject({ method: "GET", url: `/v1/deliveries?webhookId=${webhookId}&eventType=x.two`, headers });
    expect(byType.json().data).toHaveLength(1);
    const deliveryId = byType.json().data[0].id;
    const one = await server.app.inject({ method: "GET", url: `/v1/deliveries/${deliveryId}`, headers });
    expect(one.json()).toMatchObject({ id: deliveryId, status: "succeeded", attempts: [{ attemptNumber: 1, response: { status: 200 } }] });
    const window = await server.app.inject({ method: "GET", url: `/v1/deliveries?until=${new Date(Date.now() - 60_000).toISOString()}`, headers });
    expect(window.json().data).toEqual([]);
    const retried = await server.app.inject({ method: "POST", url: `/v1/deliveries/${deliveryId}/retry`, headers });
    expect(retried.statusCode).toBe(202);
    await receiver.waitFor(3);
    expectProblem(await server.app.inject({ method: "GET", url: "/v1/deliveries/nope", headers }), "HERALD_ERR_DELIVERY_NOT_FOUND");
    const badStatus = await server.app.inject({ method: "GET", url: "/v1/deliveries?status=lost", headers });
    expect(badStatus.json().field).toBe("status");
    expectProblem(badStatus, "HERALD_ERR_BAD_REQUEST");
    const admin = await server.app.inject({ method: "GET", url: "/v1/deliveries", headers: adminHeaders(server) });
    expect(admin.json().data.length).toBeGreaterThanOrEqual(2);
  });
});
