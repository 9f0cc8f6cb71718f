import { createHmac } from "node:crypto";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { Webhook as SvixWebhook } from "svix";
import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_TENANT_ID } from "../../src/index.js";
import { closeEngines, openEngine } from "../helpers/engine.js";
import { startReceiver, type ReceivedRequest, type TestReceiver } from "../helpers/receiver.js";
import type { WebhookInput } from "../../src/index.js";

let receiver: TestReceiver | null = null;
afterEach(async () => {
  await closeEngines();
  await receiver?.close();
  receiver = null;
});

/** Creates one webhook, triggers one event, and returns what the receiver got. */
async function deliverOnce(input: Omit<WebhookInput, "url">, type = "agent.started", data: unknown = { agent_id: "agent_123" }, metadata: Record<string, unknown> | null = null) {
  receiver = await startReceiver();
  const herald = await openEngine();
  await herald.start();
  const webhook = await herald.webhooks.create({ ...input, url: `${receiver.url}/hooks/in` });
  const { event } = await herald.trigger(type, data, metadata);
  const [request] = await receiver.waitFor(1);
  return { request: request as ReceivedRequest, webhook, event, herald };
}

const standardHeaders = (r: ReceivedRequest) => ({
  "webhook-id": String(r.headers["webhook-id"]),
  "webhook-timestamp": String(r.headers["webhook-timestamp"]),
  "webhook-signature": String(r.headers["webhook-signature"]),
});

describe("what the receiver gets", () => {
  it("the identus body is {id, ts, type, data, walletId} plus metadata when the event has it", async () => {
    const { request, event } = await deliverOnce({}, "ConnectionUpdated", { state: "InvitationGenerated" }, { source: "test" });
    expect(JSON.parse(request.body)).toEqual({
      id: event.id,
      ts: new Date(event.createdAt).toISOString(),
      type: "ConnectionUpdated",
      data: { state: "InvitationGenerated" },
      walletId: DEFAULT_TENANT_ID,
      metadata: { source: "test" },
    });
  });

  it("the identus body has no metadata key when the event has none", async () => {
    const { request } = await deliverOnce({});
    expect(Object.keys(JSON.parse(request.body))).toEqual(["id", "ts", "type", "data", "walletId"]);
  });

  it("the standard body is {type, timestamp, data}", async () => {
    const { request, event } = await deliverOnce({ payloadFormat: "standard" }, "invoice.paid", { amount: 5 });
    expect(JSON.parse(request.body)).toEqual({ type: "invoice.paid", timestamp: new Date(event.createdAt).toISOString(), data: { amount: 5 } });
  });

  it("the systemprompt body is {webhook_id, event, timestamp, data, metadata}", async () => {
    const { request, event, webhook } = await deliverOnce({ payloadFormat: "systemprompt" }, "agent.started", { a: 1 }, { triggered_by: "scheduler" });
    expect(JSON.parse(request.body)).toEqual({
      webhook_id: webhook.id,
      event: "agent.started",
      timestamp: new Date(event.createdAt).toISOString(),
      data: { a: 1 },
      metadata: { triggered_by: "scheduler" },
    });
  });

  it("every request carries Herald's headers", async () => {
    const { request, webhook, event } = await deliverOnce({});
    expect(request.method).toBe("POST");
    expect(request.path).toBe("/hooks/in");
    expect(request.headers["content-type"]).toBe("application/json");
    expect(request.headers["user-agent"]).toMatch(/^Herald-Webhooks\/\d+\.\d+\.\d+/);
    expect(request.headers["x-webhook-event"]).toBe("agent.started");
    expect(request.headers["x-webhook-id"]).toBe(webhook.id);
    expect(Date.parse(String(request.headers["x-webhook-timestamp"]))).toBeGreaterThan(Date.now() - 60_000);
    expect(request.headers["webhook-id"]).toBe(event.id);
    expect(Number(request.headers["webhook-timestamp"])).toBeCloseTo(Date.now() / 1000, -2);
    expect(String(request.headers["webhook-signature"])).toMatch(/^v1,[A-Za-z0-9+/=]+$/);
  });

  it("the signature verifies with the standardwebhooks package", async () => {
    const { request, webhook } = await deliverOnce({});
    const verified = new StandardWebhook(webhook.secrets[0]!.secret).verify(request.body, standardHeaders(request));
    expect(verified).toEqual(JSON.parse(request.body));
  });

  it("the signature verifies with the svix package", async () => {
    const { request, webhook } = await deliverOnce({ payloadFormat: "standard" });
    const svixHeaders = {
      "svix-id": String(request.headers["webhook-id"]),
      "svix-timestamp": String(request.headers["webhook-timestamp"]),
      "svix-signature": String(request.headers["webhook-signature"]),
    };
    expect(new SvixWebhook(webhook.secrets[0]!.secret).verify(request.body, svixHeaders)).toEqual(JSON.parse(request.body));
  });

  it("a signature made with another secret does not verify", async () => {
    const { request } = await deliverOnce({});
    const other = new StandardWebhook("whsec_" + Buffer.alloc(24, 7).toString("base64"));
    expect(() => other.verify(request.body, standardHeaders(request))).toThrow();
  });

  it("after a secret rotation both the new and the old secret verify during the grace period", async () => {
    receiver = await startReceiver();
    const herald = await openEngine();
    await herald.start();
    const webhook = await herald.webhooks.create({ url: receiver.url });
    const oldSecret = webhook.secrets[0]!.secret;
    const { secret: newSecret } = await herald.webhooks.rotateSecret(webhook.id);
    await herald.trigger("custom", {});
    const [request] = await receiver.waitFor(1);
    expect(String(request!.headers["webhook-signature"]).split(" ")).toHaveLength(2);
    expect(() => new StandardWebhook(oldSecret).verify(request!.body, standardHeaders(request!))).not.toThrow();
    expect(() => new StandardWebhook(newSecret).verify(request!.body, standardHeaders(request!))).not.toThrow();
  });

  it("hmac auth sends sha256=<hex HMAC of the raw body> that a plain HMAC-SHA256 check accepts", async () => {
    const { request } = await deliverOnce({ auth: { type: "hmac", credentials: { secret: "shared-secret" } } });
    const expected = "sha256=" + createHmac("sha256", "shared-secret").update(request.body).digest("hex");
    expect(request.headers["x-webhook-signature"]).toBe(expected);
  });

  it("hmac auth can name its header, as seed 004's X-AgentFactory-Signature", async () => {
    const { request } = await deliverOnce({ auth: { type: "hmac", credentials: { secret: "s3", header_name: "X-AgentFactory-Signature" } } });
    expect(request.headers["x-agentfactory-signature"]).toBe("sha256=" + createHmac("sha256", "s3").update(request.body).digest("hex"));
    expect(request.headers["x-webhook-signature"]).toBeUndefined();
  });

  it("bearer auth sends Authorization: Bearer <token>", async () => {
    const { request } = await deliverOnce({ auth: { type: "bearer", credentials: { token: "secret123" } } });
    expect(request.headers.authorization).toBe("Bearer secret123");
  });

  it("basic auth sends Authorization: Basic base64(user:pass)", async () => {
    const { request } = await deliverOnce({ auth: { type: "basic", credentials: { username: "user", password: "pass" } } });
    expect(request.headers.authorization).toBe("Basic " + Buffer.from("user:pass").toString("base64"));
  });

  it("api-key auth sends the key in the named header", async () => {
    const { request } = await deliverOnce({ auth: { type: "api-key", credentials: { api_key: "key-1", header_name: "X-API-Key" } } });
    expect(request.headers["x-api-key"]).toBe("key-1");
  });

  it("custom headers are sent as given", async () => {
    const { request } = await deliverOnce({ headers: { "X-Custom": "value", "X-Tenant": "t1" } });
    expect(request.headers["x-custom"]).toBe("value");
    expect(request.headers["x-tenant"]).toBe("t1");
  });

  it.each(["PUT", "PATCH"] as const)("the webhook's method %s is used", async (method) => {
    const { request } = await deliverOnce({ method });
    expect(request.method).toBe(method);
  });

  it("the body is identical on every attempt of a delivery", async () => {
    receiver = await startReceiver((r) => ({ status: r.n === 1 ? 500 : 200 }));
    const herald = await openEngine();
    await herald.start();
    await herald.webhooks.create({ url: receiver.url, retry: { initialDelayMs: 10 } });
    await herald.trigger("custom", { x: [1, 2, 3] });
    const [first, second] = await receiver.waitFor(2);
    expect(second!.body).toBe(first!.body);
    expect(second!.headers["webhook-id"]).toBe(first!.headers["webhook-id"]);
  });
});
