/**
 * The bodies of seed 000 (PRISM Agent) and seed 004 (Agent Factory), exactly as their examples
 * show them, on a real socket; and the hmac `signature_format` option, which seed 004's own
 * receivers need (agentfactory-receiver.test.ts runs one).
 */
import { createHmac } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { HeraldError, type WebhookInput } from "../../src/index.js";
import { verifyWebhook } from "../../src/receiver/index.js";
import { closeEngines, openEngine, reopenEngine } from "../helpers/engine.js";
import { startReceiver, type TestReceiver } from "../helpers/receiver.js";
import { closeAll, startTestServer, tenantHeaders } from "../api/helpers.js";

let receiver: TestReceiver | null = null;
afterEach(async () => {
  await closeEngines();
  await receiver?.close();
  receiver = null;
  await closeAll();
});

/** Creates one webhook, triggers one event, and returns the raw request the receiver got. */
async function deliverOnce(input: Omit<WebhookInput, "url">, type: string, data: unknown, metadata: Record<string, unknown> | null = null) {
  receiver = await startReceiver();
  const herald = await openEngine();
  await herald.start();
  const webhook = await herald.webhooks.create({ ...input, url: `${receiver.url}/in` });
  const { event } = await herald.trigger(type, data, metadata);
  const [request] = await receiver.waitFor(1);
  return { request: request!, event, webhook, herald };
}

/** Seed 000's connection example's data. */
const CONNECTION = { connectionId: "c10787cf-99bb-47f4-99bb-1fdcca32b673", label: "Connect with Alice", role: "Inviter", state: "InvitationGenerated" };

describe("payloadFormat prism (seed 000)", () => {
  it("is exactly {id, ts, eventType, data}, in the seed's order: no walletId and no metadata, even when the event has metadata", async () => {
    const { request, event } = await deliverOnce({ payloadFormat: "prism" }, "Connection", CONNECTION, { source: "test" });
    const body = JSON.parse(request.body) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(["id", "ts", "eventType", "data"]);
    expect(body).toEqual({ id: event.id, ts: new Date(event.createdAt).toISOString(), eventType: "Connection", data: CONNECTION });
  });
});

describe("payloadFormat agentfactory (seed 004)", () => {
  it("is exactly {event, timestamp, data}, the timestamp in whole seconds as the seed writes it", async () => {
    const data = { agent_id: "agent_123", agent_name: "Customer Support Bot" };
    const { request, event } = await deliverOnce({ payloadFormat: "agentfactory" }, "agent.created", data, { source: "test" });
    const body = JSON.parse(request.body) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(["event", "timestamp", "data"]);
    const seconds = new Date(Math.floor(event.createdAt / 1000) * 1000).toISOString().replace(".000Z", "Z");
    expect(body).toEqual({ event: "agent.created", timestamp: seconds, data });
    expect(body.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/); // 2024-01-15T10:30:00Z
  });

  it("carries the event id in webhook-id, for the deduplication the seed asks of receivers", async () => {
    const { request, event } = await deliverOnce({ payloadFormat: "agentfactory" }, "agent.created", {});
    expect(request.headers["webhook-id"]).toBe(event.id);
  });
});

describe("the HTTP API takes the new formats", () => {
  it.each(["prism", "agentfactory"])("POST /v1/webhooks with payloadFormat %s answers 201 and shows it", async (payloadFormat) => {
    const server = await startTestServer();
    const response = await server.app.inject({
      method: "POST", url: "/v1/webhooks", headers: tenantHeaders(server), payload: { url: "https://example.com/hook", payloadFormat },
    });
    expect(response.statusCode).toBe(201);
    expect(response.json<{ payloadFormat: string }>().payloadFormat).toBe(payloadFormat);
  });

  it("another payloadFormat is refused naming the field and every format", async () => {
    const server = await startTestServer();
    const response = await server.app.inject({
      method: "POST", url: "/v1/webhooks", headers: tenantHeaders(server), payload: { url: "https://example.com/hook", payloadFormat: "agent-factory" },
    });
    expect(response.statusCode).toBe(400);
    const problem = response.json<{ field: string; detail: string }>();
    expect(problem.field).toBe("payloadFormat");
    expect(problem.detail).toContain("identus, prism, standard, systemprompt, agentfactory, svix");
  });
});

describe("hmac signature_format", () => {
  const SECRET = "shared-secret";
  const hmacHex = (body: string) => createHmac("sha256", SECRET).update(body).digest("hex");

  it("prefixed (the default) sends sha256=<hex>; hex sends the bare digest; both in the header the webhook names", async () => {
    const auth = { type: "hmac", credentials: { secret: SECRET, header_name: "X-AgentFactory-Signature", signature_format: "hex" } };
    const { request } = await deliverOnce({ payloadFormat: "agentfactory", auth }, "agent.created", { a: 1 });
    expect(request.headers["x-agentfactory-signature"]).toBe(hmacHex(request.body));
    await closeEngines();
    await receiver?.close();

    const { request: prefixed } = await deliverOnce({ auth: { type: "hmac", credentials: { secret: SECRET } } }, "agent.created", { a: 1 });
    expect(prefixed.headers["x-webhook-signature"]).toBe(`sha256=${hmacHex(prefixed.body)}`);
  });

  it("herald/receiver verifies both forms", async () => {
    const auth = { type: "hmac", credentials: { secret: SECRET, signature_format: "hex" } };
    const { request } = await deliverOnce({ auth }, "agent.created", { a: 1 });
    const bare = request.headers["x-webhook-signature"];
    expect(verifyWebhook(request.body, { "x-webhook-signature": bare }, SECRET).scheme).toBe("hmac-sha256");
    expect(verifyWebhook(request.body, { "x-webhook-signature": `sha256=${String(bare)}` }, SECRET).scheme).toBe("hmac-sha256");
  });

  it("is stored with the webhook: a restarted engine signs the same way", async () => {
    const herald = await openEngine();
    const created = await herald.webhooks.create({ url: "https://example.com/h", auth: { type: "hmac", credentials: { secret: SECRET, signature_format: "hex" } } });
    const restarted = await reopenEngine(herald);
    expect((await restarted.webhooks.get(created.id)).auth).toEqual({ type: "hmac", credentials: { secret: SECRET, signature_format: "hex" } });
  });

  it("is shown in answers, since it is not a secret, and left out when not given", async () => {
    const server = await startTestServer();
    const create = (credentials: Record<string, string>) => server.app.inject({
      method: "POST", url: "/v1/webhooks", headers: tenantHeaders(server), payload: { url: "https://example.com/hook", auth: { type: "hmac", credentials } },
    });
    const hex = (await create({ secret: SECRET, signature_format: "hex" })).json<{ id: string }>();
    const shown = await server.app.inject({ method: "GET", url: `/v1/webhooks/${hex.id}`, headers: tenantHeaders(server) });
    expect(shown.json<{ auth: unknown }>().auth).toEqual({ type: "hmac", credentials: { secret: expect.stringMatching(/^\*+/) as unknown, signature_format: "hex" } });
    const plain = (await create({ secret: SECRET })).json<{ auth: unknown }>();
    expect(plain.auth).toEqual({ type: "hmac", credentials: { secret: expect.stringMatching(/^\*+/) as unknown } });
  });

  it.each([["base64"], [""], [7], [null]])("%j is refused with a 422 naming auth.credentials.signature_format and the allowed values", async (value) => {
    const herald = await openEngine();
    const error = await herald.webhooks
      .create({ url: "https://example.com/h", auth: { type: "hmac", credentials: { secret: SECRET, signature_format: value } } })
      .then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(HeraldError);
    expect((error as HeraldError).code).toBe("HERALD_ERR_VALIDATION");
    expect((error as HeraldError).field).toBe("auth.credentials.signature_format");
    expect((error as HeraldError).message).toContain("prefixed, hex");
  });

  it("over HTTP, a bad signature_format is a 422 problem naming the field", async () => {
    const server = await startTestServer();
    const response = await server.app.inject({
      method: "POST", url: "/v1/webhooks", headers: tenantHeaders(server),
      payload: { url: "https://example.com/hook", auth: { type: "hmac", credentials: { secret: SECRET, signature_format: "sha512" } } },
    });
    expect(response.statusCode).toBe(422);
    expect(response.json<{ field: string; code: string }>()).toMatchObject({ code: "HERALD_ERR_VALIDATION", field: "auth.credentials.signature_format" });
  });
});
