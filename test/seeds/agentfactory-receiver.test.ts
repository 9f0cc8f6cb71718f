/**
 * Seed 004's own receiver accepts Herald's deliveries. The seed's text says the header is
 * `X-AgentFactory-Signature: sha256=<signature>`, but its Flask (and Express) example compares
 * the bare `hexdigest()` with the header, so it refuses that form. `signature_format: "hex"` is
 * what makes Herald verifiable by that code; these tests run it.
 *
 * fixtures/agentfactory_flask_example.py is the seed's Python example byte for byte (secret
 * "your_webhook_secret" included). Flask is not installed here, so fixtures/flask_stdlib/flask.py
 * provides the three names it imports on Python's http.server. The Herald is a real server,
 * driven through its HTTP API; the delivery goes over a real socket to the Python process.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { closeAll, startTestServer } from "../api/helpers.js";
import { eventually } from "../helpers/engine.js";
import { callApi, createWebhook, finishedDelivery, postEvent } from "./seed-api.js";

const FIXTURES = join(import.meta.dirname, "fixtures");
/** The seed's `WEBHOOK_SECRET`, left as the example has it. */
const SEED_SECRET = "your_webhook_secret";
/** The data of the seed's "Agent Created Event" example. */
const AGENT_CREATED = { agent_id: "agent_123", agent_name: "Customer Support Bot", user_id: "user_456", created_at: "2024-01-15T10:30:00Z" };

interface PythonReceiver {
  url: string;
  output(): string;
}

let child: ChildProcess | null = null;

afterEach(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child!.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  }
  child = null;
  await closeAll();
});

/** Runs the seed's example; resolves once it listens. */
async function startSeedReceiver(): Promise<PythonReceiver> {
  let stdout = "";
  let stderr = "";
  const python = spawn("python3", ["-u", "-B", join(FIXTURES, "agentfactory_flask_example.py")], {
    env: { ...process.env, PYTHONPATH: join(FIXTURES, "flask_stdlib"), FLASK_RUN_PORT: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child = python;
  python.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
  python.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  python.on("error", (error) => (stderr += `could not run python3 (seed 004's receiver needs it): ${error.message}`));
  const port = await eventually(() => /listening on (\d+)/.exec(stdout)?.[1] ?? (stderr.includes("Error") ? Promise.reject(new Error(stderr)) : undefined),
    10_000, "seed 004's Python receiver to listen");
  return { url: `http://127.0.0.1:${port}/webhooks/agentfactory`, output: () => stdout + stderr };
}

/** A webhook as seed 004's guide configures one: its header, its payload, its events. */
function agentFactoryWebhook(url: string, credentials: Record<string, string> = {}) {
  return {
    url,
    events: ["agent.created"],
    payloadFormat: "agentfactory",
    auth: { type: "hmac", credentials: { secret: SEED_SECRET, header_name: "X-AgentFactory-Signature", ...credentials } },
    // One attempt: a refusal is final at once instead of after the retry schedule.
    retry: { maxAttempts: 1 },
  };
}

describe("seed 004's Flask receiver, run unchanged", () => {
  test("accepts a delivery with signature_format hex: it answers 200 and the delivery succeeds", async () => {
    const server = await startTestServer();
    const receiver = await startSeedReceiver();
    const webhook = await createWebhook(server, agentFactoryWebhook(receiver.url, { signature_format: "hex" }));
    expect(webhook.auth).toEqual({
      type: "hmac",
      credentials: { secret: expect.stringMatching(/^\*+/) as unknown, header_name: "X-AgentFactory-Signature", signature_format: "hex" },
    });

    const delivery = await finishedDelivery(server, await postEvent(server, "agent.created", AGENT_CREATED));

    expect({ status: delivery.status, lastStatus: delivery.lastStatus }).toEqual({ status: "succeeded", lastStatus: 200 });
    // Its handler ran on the parsed body: data['event'] routed it, data['data'] held the fields.
    expect(receiver.output()).toContain("Agent created: Customer Support Bot (agent_123)");
  });

  test("refuses the default sha256=<hex> form with its 401, so the option is what makes it work", async () => {
    const server = await startTestServer();
    const receiver = await startSeedReceiver();
    await createWebhook(server, agentFactoryWebhook(receiver.url));

    const delivery = await finishedDelivery(server, await postEvent(server, "agent.created", AGENT_CREATED));

    expect({ status: delivery.status, lastStatus: delivery.lastStatus }).toEqual({ status: "failed", lastStatus: 401 });
    const [attempt] = delivery.attempts as Array<{ response: { body: string } }>;
    expect(JSON.parse(attempt!.response.body)).toEqual({ error: "Invalid signature" });
    expect(receiver.output()).not.toContain("Agent created");
  });

  test("switching an existing webhook to hex with PATCH makes the same receiver accept it", async () => {
    const server = await startTestServer();
    const receiver = await startSeedReceiver();
    const webhook = await createWebhook(server, agentFactoryWebhook(receiver.url));
    const patched = await callApi(server, "PATCH", `/v1/webhooks/${String(webhook.id)}`, {
      auth: { type: "hmac", credentials: { secret: SEED_SECRET, header_name: "X-AgentFactory-Signature", signature_format: "hex" } },
    });
    expect(patched.status).toBe(200);

    const delivery = await finishedDelivery(server, await postEvent(server, "agent.created", AGENT_CREATED));

    expect({ status: delivery.status, lastStatus: delivery.lastStatus }).toEqual({ status: "succeeded", lastStatus: 200 });
  });
});
