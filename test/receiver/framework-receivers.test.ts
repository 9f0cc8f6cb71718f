/**
 * docs/receiver.md's node:http and Fastify receivers, run against real deliveries from the
 * engine: proof that verifyWebhook accepts exactly what goes over the wire, raw body and all.
 */
import Fastify, { type FastifyInstance } from "fastify";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { verifyWebhook, WebhookVerificationError, type VerifiedWebhook } from "../../src/receiver/index.js";
import { closeEngines, eventually, openEngine } from "../helpers/engine.js";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const closers: Array<() => Promise<void>> = [];

afterEach(async () => {
  await closeEngines();
  for (const close of closers.splice(0)) await close();
});

type Outcome = { verified: VerifiedWebhook } | { rejected: string };

async function nodeHttpReceiver(secret: string, options = {}): Promise<{ url: string; outcomes: Outcome[] }> {
  const outcomes: Outcome[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      try {
        outcomes.push({ verified: verifyWebhook(Buffer.concat(chunks), req.headers, secret, options) });
        res.writeHead(204).end();
      } catch (error) {
        if (!(error instanceof WebhookVerificationError)) throw error;
        outcomes.push({ rejected: error.code });
        res.writeHead(401).end();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  closers.push(() => new Promise((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, outcomes };
}

async function fastifyReceiver(secret: string): Promise<{ url: string; outcomes: Outcome[] }> {
  const outcomes: Outcome[] = [];
  const app: FastifyInstance = Fastify();
  await app.register(async (webhooks) => {
    webhooks.removeContentTypeParser("application/json");
    webhooks.addContentTypeParser("application/json", { parseAs: "buffer" }, (_request, body, done) => done(null, body));
    webhooks.post("/hook", async (request, reply) => {
      try {
        outcomes.push({ verified: verifyWebhook(request.body as Buffer, request.headers, secret) });
        return reply.code(204).send();
      } catch (error) {
        if (!(error instanceof WebhookVerificationError)) throw error;
        outcomes.push({ rejected: error.code });
        return reply.code(401).send({ error: error.code });
      }
    });
  });
  await app.listen({ port: 0, host: "127.0.0.1" });
  closers.push(() => app.close());
  return { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/hook`, outcomes };
}

describe("receivers from docs/receiver.md verify real Herald deliveries", () => {
  it("a node:http receiver verifies the Standard Webhooks signature of a delivery and gets the event id", async () => {
    const receiver = await nodeHttpReceiver(SECRET);
    const herald = await openEngine();
    await herald.start();
    await herald.webhooks.create({ url: receiver.url, secret: SECRET, events: ["custom"] });
    const { event } = await herald.trigger("custom", { message: "héllo wörld", list: [1, 2, 3] });
    await eventually(() => receiver.outcomes.length > 0);
    expect(receiver.outcomes[0]).toEqual({ verified: { scheme: "standard-webhooks", id: event.id, timestamp: expect.any(Date) } });
  });

  it("a Fastify receiver with the raw-body parser verifies a delivery", async () => {
    const receiver = await fastifyReceiver(SECRET);
    const herald = await openEngine();
    await herald.start();
    await herald.webhooks.create({ url: receiver.url, secret: SECRET, events: ["custom"], payloadFormat: "systemprompt" });
    const { event } = await herald.trigger("custom", { nested: { a: 1 } }, { source: "test" });
    await eventually(() => receiver.outcomes.length > 0);
    expect(receiver.outcomes[0]).toMatchObject({ verified: { scheme: "standard-webhooks", id: event.id } });
  });

  it("a receiver with another secret rejects the delivery, and Herald records the 401", async () => {
    const receiver = await nodeHttpReceiver("whsec_" + Buffer.alloc(24, 1).toString("base64"));
    const herald = await openEngine();
    await herald.start();
    await herald.webhooks.create({ url: receiver.url, secret: SECRET, events: ["custom"], retry: { maxAttempts: 1 } });
    const { deliveries } = await herald.trigger("custom", {});
    await eventually(async () => (await herald.deliveries.get(deliveries[0]!)).state === "failed");
    expect(receiver.outcomes).toEqual([{ rejected: "signature_mismatch" }]);
    expect((await herald.deliveries.get(deliveries[0]!)).lastStatus).toBe(401);
  });

  it("a receiver checking seed 004's X-AgentFactory-Signature verifies an hmac-auth webhook's delivery", async () => {
    const receiver = await nodeHttpReceiver("af-secret", { signatureHeader: "X-AgentFactory-Signature" });
    const herald = await openEngine();
    await herald.start();
    await herald.webhooks.create({
      url: receiver.url,
      events: ["custom"],
      auth: { type: "hmac", credentials: { secret: "af-secret", header_name: "X-AgentFactory-Signature" } },
    });
    await herald.trigger("custom", { agent_id: "agent_123" });
    await eventually(() => receiver.outcomes.length > 0);
    expect(receiver.outcomes[0]).toEqual({ verified: { scheme: "hmac-sha256", header: "x-agentfactory-signature" } });
  });
});
