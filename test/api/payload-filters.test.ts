/**
 * Payload filters (issue 14): a webhook's MongoDB-style `filter` over each event's
 * {type, data, metadata}. Events it matches reach a real receiver; events it rejects get no
 * delivery to that webhook at all. Bad filters are 422s naming their place.
 */
import { afterEach, describe, expect, test } from "vitest";
import { adminHeaders, closeAll, expectProblem, startReceiver, startTestServer, tenantHeaders, type Receiver, type TestServer } from "./helpers.js";

afterEach(closeAll);

type Headers = Record<string, string>;

async function createWebhook(server: TestServer, headers: Headers, payload: Record<string, unknown>): Promise<{ id: string; filter: unknown }> {
  const response = await server.app.inject({ method: "POST", url: "/v1/webhooks", headers, payload });
  expect(response.statusCode, response.body).toBe(201);
  return response.json();
}

/** Posts an event and answers how many deliveries it made. */
async function send(server: TestServer, headers: Headers, event: Record<string, unknown>): Promise<number> {
  const response = await server.app.inject({ method: "POST", url: "/v1/events", headers, payload: event });
  expect(response.statusCode, response.body).toBe(202);
  return (response.json().deliveries as string[]).length;
}

/** What the receiver was sent, as the events' `data` (Identus bodies carry it under `data`), in arrival order. */
async function receivedData(receiver: Receiver, count: number): Promise<unknown[]> {
  const requests = await receiver.waitFor(count);
  return requests.map((request) => (JSON.parse(request.body) as { data: unknown }).data);
}

describe("payload filters", () => {
  test("only events the filter matches reach the receiver; the others get no delivery", async () => {
    const receiver = await startReceiver();
    const server = await startTestServer();
    const headers = tenantHeaders(server);
    const webhook = await createWebhook(server, headers, { url: receiver.url, events: ["order.*"], filter: { "data.amount": { $gte: 100 } } });
    expect(webhook.filter).toEqual({ "data.amount": { $gte: 100 } });
    expect(await send(server, headers, { type: "order.paid", data: { amount: 50 } })).toBe(0);
    expect(await send(server, headers, { type: "order.paid", data: { amount: "150" } })).toBe(0); // a string is not a number
    expect(await send(server, headers, { type: "order.paid", data: {} })).toBe(0);
    expect(await send(server, headers, { type: "order.paid", data: { amount: 150 } })).toBe(1);
    expect(await send(server, headers, { type: "order.refunded", data: { amount: 100 } })).toBe(1);
    // Another event type stays another event type, filter or not.
    expect(await send(server, headers, { type: "user.created", data: { amount: 500 } })).toBe(0);
    expect((await receivedData(receiver, 2)).map((d) => (d as { amount: number }).amount).sort()).toEqual([100, 150]);
    const listed = await server.app.inject({ method: "GET", url: `/v1/webhooks/${webhook.id}`, headers });
    expect(listed.json().filter).toEqual({ "data.amount": { $gte: 100 } });
  });

  test("nested paths, $in, $or, $exists and the event's type and metadata", async () => {
    const receiver = await startReceiver();
    const server = await startTestServer();
    const headers = tenantHeaders(server);
    await createWebhook(server, headers, {
      url: receiver.url,
      filter: {
        type: { $in: ["order.paid", "order.shipped"] },
        $or: [{ "data.customer.address.country": { $in: ["DE", "FR"] } }, { "metadata.priority": { $exists: true } }],
        "data.test": { $exists: false },
      },
    });
    const cases: Array<[Record<string, unknown>, number]> = [
      [{ type: "order.paid", data: { n: 1, customer: { address: { country: "DE" } } } }, 1],
      [{ type: "order.paid", data: { n: 2, customer: { address: { country: "US" } } } }, 0],
      [{ type: "order.shipped", data: { n: 3, customer: { address: { country: "US" } } }, metadata: { priority: "high" } }, 1],
      [{ type: "order.created", data: { n: 4, customer: { address: { country: "FR" } } } }, 0],
      [{ type: "order.paid", data: { n: 5, customer: { address: { country: "FR" } }, test: true } }, 0],
      [{ type: "order.paid", data: { n: 6, customer: "DE" } }, 0],
      [{ type: "order.paid", data: { n: 7 }, metadata: { priority: null } }, 1],
    ];
    for (const [event, deliveries] of cases) expect({ event, deliveries: await send(server, headers, event) }).toEqual({ event, deliveries });
    const data = await receivedData(receiver, 3);
    expect(data.map((d) => (d as { n: number }).n).sort()).toEqual([1, 3, 7]);
  });

  test("arrays: a path through a list matches any item; $elemMatch, $all and $size", async () => {
    const server = await startTestServer();
    const headers = tenantHeaders(server);
    const receiver = await startReceiver();
    await createWebhook(server, headers, { url: receiver.url, filter: { "data.items.sku": "b", "data.items": { $elemMatch: { qty: { $gt: 4 } } } } });
    await createWebhook(server, headers, { url: receiver.url, filter: { "data.tags": { $all: ["x", "y"], $size: 2 } } });
    expect(await send(server, headers, { type: "t", data: { items: [{ sku: "a", qty: 9 }, { sku: "b", qty: 1 }] } })).toBe(1);
    expect(await send(server, headers, { type: "t", data: { items: [{ sku: "a", qty: 1 }, { sku: "b", qty: 1 }] } })).toBe(0);
    expect(await send(server, headers, { type: "t", data: { tags: ["y", "x"] } })).toBe(1);
    expect(await send(server, headers, { type: "t", data: { tags: ["x", "y", "z"] } })).toBe(0);
    await receiver.waitFor(2);
  });

  test("PATCH changes the filter and null removes it; a bad one keeps the old", async () => {
    const receiver = await startReceiver();
    const server = await startTestServer();
    const headers = tenantHeaders(server);
    const webhook = await createWebhook(server, headers, { url: receiver.url, filter: { "data.region": "eu" } });
    const patch = (payload: Record<string, unknown>) => server.app.inject({ method: "PATCH", url: `/v1/webhooks/${webhook.id}`, headers, payload });
    expect(await send(server, headers, { type: "t", data: { region: "us" } })).toBe(0);
    const changed = await patch({ filter: { "data.region": { $in: ["us", "ca"] } } });
    expect(changed.statusCode).toBe(200);
    expect(changed.json().filter).toEqual({ "data.region": { $in: ["us", "ca"] } });
    expect(await send(server, headers, { type: "t", data: { region: "us" } })).toBe(1);
    expect(await send(server, headers, { type: "t", data: { region: "eu" } })).toBe(0);
    const bad = await patch({ filter: { "data.region": { $where: "true" } } });
    expectProblem(bad, "HERALD_ERR_VALIDATION");
    expect(bad.json().field).toBe("filter.data.region.$where");
    expect(await send(server, headers, { type: "t", data: { region: "ca" } })).toBe(1);
    // Another field's change keeps the filter.
    expect((await patch({ name: "renamed" })).json().filter).toEqual({ "data.region": { $in: ["us", "ca"] } });
    const removed = await patch({ filter: null });
    expect(removed.json().filter).toBeNull();
    expect(await send(server, headers, { type: "t", data: { region: "eu" } })).toBe(1);
    // {} is no filter too.
    expect((await patch({ filter: {} })).json().filter).toBeNull();
    expect((await receivedData(receiver, 3)).map((d) => (d as { region: string }).region).sort()).toEqual(["ca", "eu", "us"]);
  });

  test("every kind of bad filter is refused naming its place, and nothing is created", async () => {
    const server = await startTestServer();
    const headers = tenantHeaders(server);
    const deep = JSON.parse(`{"data.a": ${'{"$not": '.repeat(10)}{"$gt": 1}${"}".repeat(10)}}`) as Record<string, unknown>;
    const cases: Array<[unknown, string, number]> = [
      [{ $where: "this.data.amount > 100" }, "filter.$where", 422],
      [{ "data.amount": { $where: "true" } }, "filter.data.amount.$where", 422],
      [{ "data.amount": { $foo: 1 } }, "filter.data.amount.$foo", 422],
      [{ $expr: { $gt: ["$data.a", 1] } }, "filter.$expr", 422],
      [{ "data.amount": { $gt: [100] } }, "filter.data.amount.$gt", 422],
      [{ "data.amount": { $in: "DE" } }, "filter.data.amount.$in", 422],
      [{ "data.amount": { $exists: "yes" } }, "filter.data.amount.$exists", 422],
      [{ "data.amount": { $size: -1 } }, "filter.data.amount.$size", 422],
      [{ "data.amount": { $type: "date" } }, "filter.data.amount.$type", 422],
      [{ $or: [] }, "filter.$or", 422],
      [{ $and: [{ "data.a": 1 }, "b"] }, "filter.$and[1]", 422],
      [{ "data.a": { $or: [{ x: 1 }] } }, "filter.data.a.$or", 422],
      [{ "data.a": { $gt: 1, b: 2 } }, "filter.data.a.b", 422],
      [{ $gt: 1 }, "filter.$gt", 422],
      [{ amount: 100 }, "filter.amount", 422],
      [{ "data.__proto__.polluted": 1 }, "filter.data.__proto__.polluted", 422],
      [{ "data..a": 1 }, "filter.data..a", 422],
      [deep, "filter", 422],
      [{ "data.a": { $in: Array.from({ length: 1500 }, (_, i) => `value-${i}`) } }, "filter", 422],
      [{ "data.a": { $in: Array.from({ length: 300 }, (_, i) => i) } }, "filter", 422],
      [{ "data.name": { $regex: "(a)\\1" } }, "filter.data.name.$regex", 422],
      [{ "data.name": { $regex: "(?=x)" } }, "filter.data.name.$regex", 422],
      [{ "data.name": { $regex: "x{1000}" } }, "filter.data.name.$regex", 422],
      [{ "data.name": { $regex: "a", $options: "g" } }, "filter.data.name.$options", 422],
      [{ "data.name": { $options: "i" } }, "filter.data.name.$options", 422],
      ["data.amount > 1", "filter", 400],
      [[{ "data.a": 1 }], "filter", 400],
    ];
    for (const [filter, field, status] of cases) {
      const response = await server.app.inject({ method: "POST", url: "/v1/webhooks", headers, payload: { url: "http://127.0.0.1:9/hook", filter } });
      expect({ filter, status: response.statusCode, field: response.json().field }).toEqual({ filter, status, field });
      expect(response.json().code).toBe(status === 422 ? "HERALD_ERR_VALIDATION" : "HERALD_ERR_BAD_REQUEST");
    }
    const listed = await server.app.inject({ method: "GET", url: "/v1/webhooks", headers: adminHeaders(server) });
    expect(listed.json().data).toEqual([]);
  });

  test("a filter's text is stored as given, NUL and lone surrogates included, and still matches", async () => {
    const receiver = await startReceiver();
    const server = await startTestServer();
    const headers = tenantHeaders(server);
    const filter = { "data.code": { $in: ["a\u0000b", "\uD800"] }, "data.\u0000key": { $exists: false } };
    const webhook = await createWebhook(server, headers, { url: receiver.url, filter });
    const read = await server.app.inject({ method: "GET", url: `/v1/webhooks/${webhook.id}`, headers });
    expect(read.json().filter).toEqual(filter);
    expect(await send(server, headers, { type: "t", data: { code: "ab" } })).toBe(0);
    expect(await send(server, headers, { type: "t", data: { code: "a\u0000b" } })).toBe(1);
    await receiver.waitFor(1);
  });

  test("batch ingest applies each webhook's filter to each event", async () => {
    const receiver = await startReceiver();
    const server = await startTestServer();
    const headers = tenantHeaders(server);
    await createWebhook(server, headers, { url: receiver.url, filter: { "data.keep": true } });
    const other = await startReceiver();
    await createWebhook(server, headers, { url: other.url, filter: { "data.keep": { $ne: true } } });
    const response = await server.app.inject({
      method: "POST", url: "/v1/events/batch", headers,
      payload: { events: [{ type: "t", data: { n: 1, keep: true } }, { type: "t", data: { n: 2 } }, { type: "t", data: { n: 3, keep: true } }, { type: "t", data: { n: 4, keep: false } }] },
    });
    expect(response.statusCode).toBe(202);
    expect((response.json().data as Array<{ deliveries: string[] }>).map((event) => event.deliveries.length)).toEqual([1, 1, 1, 1]);
    expect((await receivedData(receiver, 2)).map((d) => (d as { n: number }).n).sort()).toEqual([1, 3]);
    expect((await receivedData(other, 2)).map((d) => (d as { n: number }).n).sort()).toEqual([2, 4]);
  });

  test("a filter that cannot finish on an event does not match it: 202 with no delivery, never a 500", async () => {
    const receiver = await startReceiver();
    const server = await startTestServer();
    const headers = tenantHeaders(server);
    await createWebhook(server, headers, { url: receiver.url, filter: { "data.text": { $regex: "needle" } } });
    // Past the regex allowance (50 ms of RE2's worst case): about 120,000 characters for this pattern.
    expect(await send(server, headers, { type: "t", data: { text: `${"x".repeat(200_000)}needle` } })).toBe(0);
    expect(await send(server, headers, { type: "t", data: { text: "a needle in a short text" } })).toBe(1);
    await receiver.waitFor(1);
  });

  test("global webhooks' filters apply to every tenant's events, and a filtered-out event shows no delivery", async () => {
    const receiver = await startReceiver();
    const server = await startTestServer();
    const admin = adminHeaders(server);
    await createWebhook(server, admin, { url: receiver.url, tenantId: null, filter: { "metadata.source": "billing" } });
    const headers = tenantHeaders(server);
    expect(await send(server, headers, { type: "t", data: { n: 1 }, metadata: { source: "crm" } })).toBe(0);
    const accepted = await server.app.inject({ method: "POST", url: "/v1/events", headers, payload: { type: "t", data: { n: 2 }, metadata: { source: "billing" } } });
    // The tenant is not shown the operator's deliveries, but the event reached the global webhook.
    expect(accepted.json().deliveries).toEqual([]);
    expect(await receivedData(receiver, 1)).toEqual([{ n: 2 }]);
  });
});
