/**
 * GLOBAL_WEBHOOK_PAYLOAD_FORMAT and DEFAULT_WALLET_WEBHOOK_PAYLOAD_FORMAT: the body of the
 * webhooks made from the environment. Both default to identus. Seed 000's WEBHOOK_URL is an
 * older spelling of GLOBAL_WEBHOOK_URL and takes the same default: a PRISM Agent receiver
 * (`eventType`) asks for prism explicitly; the variable's name never changes the body.
 */
import { afterEach, describe, expect, test } from "vitest";
import { CONFIG_VARIABLES, loadConfig } from "../../src/config/load-config.js";
import { DEFAULT_TENANT_ID, HeraldError } from "../../src/index.js";
import { closeAll, makeTempDir, startReceiver, startTestServer } from "../api/helpers.js";

afterEach(closeAll);

const ALLOWED = "identus, prism, standard, systemprompt, agentfactory, svix";

function configError(env: Record<string, string>): HeraldError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof HeraldError) return error;
    throw error;
  }
  throw new Error("loadConfig accepted the configuration");
}

describe("parsing at start", () => {
  test("both default to identus", () => {
    const config = loadConfig({ GLOBAL_WEBHOOK_URL: "https://example.com/g", DEFAULT_WALLET_WEBHOOK_URL: "https://example.com/w" });
    expect(config.globalWebhook).toEqual({ url: "https://example.com/g", apiKey: null, payloadFormat: "identus" });
    expect(config.defaultWalletWebhook).toEqual({ url: "https://example.com/w", apiKey: null, payloadFormat: "identus" });
  });

  test("each sets its own webhook's format", () => {
    const config = loadConfig({
      GLOBAL_WEBHOOK_URL: "https://example.com/g", GLOBAL_WEBHOOK_PAYLOAD_FORMAT: "prism",
      DEFAULT_WALLET_WEBHOOK_URL: "https://example.com/w", DEFAULT_WALLET_WEBHOOK_PAYLOAD_FORMAT: "agentfactory",
    });
    expect(config.globalWebhook?.payloadFormat).toBe("prism");
    expect(config.defaultWalletWebhook?.payloadFormat).toBe("agentfactory");
  });

  test("seed 000's WEBHOOK_URL gets identus unless GLOBAL_WEBHOOK_PAYLOAD_FORMAT says prism", () => {
    expect(loadConfig({ WEBHOOK_URL: "https://example.com/old" }).globalWebhook?.payloadFormat).toBe("identus");
    expect(loadConfig({ WEBHOOK_URL: "https://example.com/old", GLOBAL_WEBHOOK_PAYLOAD_FORMAT: "prism" }).globalWebhook)
      .toEqual({ url: "https://example.com/old", apiKey: null, payloadFormat: "prism" });
  });

  test("the herald serve flags (overrides) set them too", () => {
    const flags = CONFIG_VARIABLES.filter((v) => v.env.endsWith("_PAYLOAD_FORMAT")).map((v) => [v.env, v.flag]);
    expect(flags).toEqual([
      ["GLOBAL_WEBHOOK_PAYLOAD_FORMAT", "--global-webhook-payload-format <format>"],
      ["DEFAULT_WALLET_WEBHOOK_PAYLOAD_FORMAT", "--default-wallet-webhook-payload-format <format>"],
    ]);
    const config = loadConfig({ GLOBAL_WEBHOOK_URL: "https://example.com/g" }, { GLOBAL_WEBHOOK_PAYLOAD_FORMAT: "standard" });
    expect(config.globalWebhook?.payloadFormat).toBe("standard");
  });

  test.each([
    ["GLOBAL_WEBHOOK_PAYLOAD_FORMAT", "GLOBAL_WEBHOOK_URL"],
    ["DEFAULT_WALLET_WEBHOOK_PAYLOAD_FORMAT", "DEFAULT_WALLET_WEBHOOK_URL"],
  ])("a bad %s fails with one line naming the variable and the allowed values", (variable, urlVariable) => {
    const error = configError({ [urlVariable]: "https://example.com/x", [variable]: "PRISM" });
    expect(error.code).toBe("HERALD_ERR_CONFIG");
    expect(error.field).toBe(variable);
    expect(error.message.startsWith(`${variable}:`)).toBe(true);
    expect(error.message).toContain(ALLOWED);
    expect(error.message).not.toContain("\n");
  });

  test("a format without its URL is refused, naming both variables", () => {
    const error = configError({ DEFAULT_WALLET_WEBHOOK_PAYLOAD_FORMAT: "prism" });
    expect(error.field).toBe("DEFAULT_WALLET_WEBHOOK_PAYLOAD_FORMAT");
    expect(error.message).toContain("DEFAULT_WALLET_WEBHOOK_URL");
  });
});

describe("the webhooks made from the environment", () => {
  test("WEBHOOK_URL with GLOBAL_WEBHOOK_PAYLOAD_FORMAT=prism delivers seed 000's {id, ts, eventType, data}", async () => {
    const receiver = await startReceiver();
    const server = await startTestServer({ WEBHOOK_URL: receiver.url, WEBHOOK_API_KEY: "old-token", GLOBAL_WEBHOOK_PAYLOAD_FORMAT: "prism" });
    const { event } = await server.herald.trigger("Connection", { state: "InvitationGenerated" });
    const [request] = await receiver.waitFor(1);
    expect(request!.headers.authorization).toBe("Bearer old-token");
    expect(JSON.parse(request!.body)).toEqual({
      id: event.id, ts: new Date(event.createdAt).toISOString(), eventType: "Connection", data: { state: "InvitationGenerated" },
    });
  });

  test("DEFAULT_WALLET_WEBHOOK_PAYLOAD_FORMAT shapes the default tenant's webhook when it is first created", async () => {
    const receiver = await startReceiver();
    const server = await startTestServer({ DEFAULT_WALLET_WEBHOOK_URL: receiver.url, DEFAULT_WALLET_WEBHOOK_PAYLOAD_FORMAT: "agentfactory" });
    const webhooks = await server.herald.webhooks.list({ tenantId: DEFAULT_TENANT_ID });
    expect(webhooks.items.map((w) => [w.kind, w.payloadFormat])).toEqual([["identus", "agentfactory"]]);
    await server.herald.trigger("agent.created", { agent_id: "agent_123" });
    const [request] = await receiver.waitFor(1);
    expect(Object.keys(JSON.parse(request!.body) as object)).toEqual(["event", "timestamp", "data"]);
  });

  test("the global webhook's format follows the environment at each start", async () => {
    const dataDir = makeTempDir();
    let server = await startTestServer({ GLOBAL_WEBHOOK_URL: "http://127.0.0.1:9/g" }, dataDir);
    expect((await server.herald.webhooks.list({ tenantId: null })).items.map((w) => w.payloadFormat)).toEqual(["identus"]);
    await server.close();
    server = await startTestServer({ GLOBAL_WEBHOOK_URL: "http://127.0.0.1:9/g", GLOBAL_WEBHOOK_PAYLOAD_FORMAT: "prism" }, dataDir);
    expect((await server.herald.webhooks.list({ tenantId: null })).items.map((w) => w.payloadFormat)).toEqual(["prism"]);
  });
});
