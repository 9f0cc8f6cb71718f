/** The API routes the dashboard adds: the stats time series and an event's fan-out, against a real server. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHerald, startReceiver, type TestHerald, type TestReceiver } from "./harness.js";

let herald: TestHerald;
let receiver: TestReceiver;
let webhookId: string;

async function waitFor<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

beforeAll(async () => {
  [herald, receiver] = await Promise.all([startHerald(), startReceiver([500], 200)]);
  const created = await herald.api("POST", "/v1/webhooks", { name: "series", url: receiver.url, events: ["order.*"], retry: { maxAttempts: 1 } });
  expect(created.status).toBe(201);
  webhookId = created.body.id;
  for (let i = 0; i < 4; i++) expect((await herald.api("POST", "/v1/events", { type: "order.created", data: { i } })).status).toBe(202);
  await waitFor(() => herald.api("GET", `/v1/webhooks/${webhookId}/stats`), (r) => r.body.successful_deliveries + r.body.failed_deliveries === 4);
}, 30_000);

afterAll(async () => {
  await herald?.close();
  await receiver?.close();
});

describe("GET /v1/webhooks/{id}/stats/series", () => {
  it("counts attempts, successes and percentiles per bucket, empty buckets included", async () => {
    const until = Date.now() + 60_000;
    const since = until - 3_600_000;
    const series = await herald.api("GET", `/v1/webhooks/${webhookId}/stats/series?since=${since}&until=${until}&bucket=5m`);
    expect(series.status).toBe(200);
    expect(series.body.bucketMs).toBe(300_000);
    expect(series.body.data).toHaveLength(12);
    const busy = series.body.data.filter((b: { attempts: number }) => b.attempts > 0);
    expect(busy.reduce((n: number, b: { attempts: number }) => n + b.attempts, 0)).toBe(4);
    expect(busy.reduce((n: number, b: { succeeded: number }) => n + b.succeeded, 0)).toBe(3);
    for (const bucket of busy) {
      expect(bucket.p50DurationMs).toBeGreaterThanOrEqual(0);
      expect(bucket.p95DurationMs).toBeGreaterThanOrEqual(bucket.p50DurationMs);
    }
    const empty = series.body.data.find((b: { attempts: number }) => b.attempts === 0);
    expect(empty).toMatchObject({ successRate: null, p50DurationMs: null, p95DurationMs: null });
  });

  it("defaults to the last 24 hours in 48 buckets", async () => {
    const series = await herald.api("GET", `/v1/webhooks/${webhookId}/stats/series`);
    expect(series.status).toBe(200);
    expect(series.body.data).toHaveLength(48);
    expect(series.body.bucketMs).toBe(1_800_000);
  });

  it("refuses a window with too many buckets, or a bad bucket size, naming the field", async () => {
    const tooMany = await herald.api("GET", `/v1/webhooks/${webhookId}/stats/series?since=0&bucket=1s`);
    expect(tooMany.status).toBe(400);
    expect(tooMany.body).toMatchObject({ status: 400, code: "HERALD_ERR_BAD_REQUEST", field: "bucket" });
    const bad = await herald.api("GET", `/v1/webhooks/${webhookId}/stats/series?bucket=soon`);
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ status: 400, code: "HERALD_ERR_BAD_REQUEST", field: "bucket" });
  });

  it("answers 404 for another tenant's webhook and 401 without a key", async () => {
    const admin = (path: string, init: RequestInit = {}) =>
      fetch(herald.url + path, { ...init, headers: { "x-admin-api-key": herald.adminKey, "content-type": "application/json" } });
    const tenant = (await (await admin("/v1/tenants", { method: "POST", body: JSON.stringify({ name: "other" }) })).json()) as { apiKey: { key: string } };
    const otherKey: string = tenant.apiKey.key;
    expect(typeof otherKey).toBe("string");
    const asOther = await fetch(`${herald.url}/v1/webhooks/${webhookId}/stats/series`, { headers: { apikey: otherKey } });
    expect(asOther.status).toBe(404);
    expect(await asOther.json()).toMatchObject({ status: 404, code: "HERALD_ERR_WEBHOOK_NOT_FOUND" });
    expect((await admin(`/v1/webhooks/${webhookId}/stats/series`)).status).toBe(200);
    const anonymous = await fetch(`${herald.url}/v1/webhooks/${webhookId}/stats/series`);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ status: 401, code: "HERALD_ERR_UNAUTHORIZED" });
  });
});

describe("GET /v1/events/{id}/deliveries", () => {
  it("lists an event's deliveries without its payload", async () => {
    const accepted = await herald.api("POST", "/v1/events", { type: "order.shipped", data: { big: "x".repeat(1000) } });
    const page = await herald.api("GET", `/v1/events/${accepted.body.id}/deliveries`);
    expect(page.status).toBe(200);
    expect(page.body.data.map((d: { id: string }) => d.id)).toEqual(accepted.body.deliveries);
    expect(page.body.data[0]).toMatchObject({ webhookId, eventType: "order.shipped" });
    expect(JSON.stringify(page.body)).not.toContain("xxxx");
    const unknown = await herald.api("GET", "/v1/events/no-such-event/deliveries");
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ status: 404, code: "HERALD_ERR_EVENT_NOT_FOUND" });
  });
});

describe("dashboard files", () => {
  it("serves the page at / with a strict CSP, its modules under /dashboard/, and 404 for anything else", async () => {
    const index = await fetch(herald.url + "/");
    expect(index.status).toBe(200);
    expect(index.headers.get("content-type")).toContain("text/html");
    expect(index.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(await index.text()).toContain("/dashboard/js/main.js");
    const main = await fetch(herald.url + "/dashboard/js/main.js");
    expect(main.headers.get("content-type")).toContain("text/javascript");
    const again = await fetch(herald.url + "/dashboard/js/main.js", { headers: { "if-none-match": main.headers.get("etag") ?? "" } });
    expect(again.status).toBe(304);
    expect((await fetch(herald.url + "/dashboard/../package.json")).status).toBe(404);
    expect((await fetch(herald.url + "/dashboard/%2e%2e/package.json")).status).toBe(404);
  });
});
