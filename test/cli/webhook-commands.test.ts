import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../helpers/engine.js";
import { startReceiver, type TestReceiver } from "../helpers/receiver.js";
import {
  assertCliBuilt, cliJson, cliOk, hasScriptCommand, runCli, runCliOnTerminal, startTestServer, type TestServer,
} from "./cli-harness.js";

interface WebhookJson {
  id: string;
  name: string;
  url: string;
  status: string;
  events: string[];
  headers: Record<string, string>;
  auth: { type: string };
  secret?: string;
}
interface DeliveryJson {
  id: string;
  webhookId: string;
  eventId: string;
  status: string;
  attemptCount: number;
}

let herald: TestServer;
let receiver: TestReceiver;
let env: Record<string, string>;

beforeAll(async () => {
  assertCliBuilt();
  herald = await startTestServer();
  receiver = await startReceiver();
  // Only the data folder: the CLI must find the URL (server.json) and key (default-tenant.key) there.
  env = { HERALD_DATA_DIR: herald.dataDir };
});

afterAll(async () => {
  await receiver?.close();
  await herald?.close();
});

afterEach(() => {
  receiver.respond = () => undefined;
});

async function createWebhook(name: string, extra: string[] = []): Promise<WebhookJson> {
  return cliJson<WebhookJson>(["webhooks:create", "--name", name, "--url", `${receiver.url}/${name}`, "--events", "custom", ...extra], env);
}

async function deliveriesOf(webhookId: string): Promise<DeliveryJson[]> {
  return cliJson<DeliveryJson[]>(["webhooks:deliveries", webhookId], env);
}

describe("herald webhooks:* against a running server", () => {
  it("webhooks:create takes seed 003's flags and prints the webhook with its signing secret", async () => {
    const out = await cliOk(
      [
        "webhooks:create", "--name", "My Webhook", "--url", `${receiver.url}/hook`, "--events", "agent.started,agent.failed",
        "--method", "PUT", "--headers", '{"X-Custom":"value"}', "--auth-type", "bearer", "--auth-credentials", '{"token":"secret123"}',
      ],
      env,
    );
    expect(out).toMatch(/^Created webhook [0-9a-f-]{36}$/m);
    expect(out).toMatch(/^Name:\s+My Webhook$/m);
    expect(out).toMatch(/^Events:\s+agent\.started, agent\.failed$/m);
    expect(out).toMatch(/^Method:\s+PUT$/m);
    expect(out).toMatch(/^Auth:\s+bearer .*\*\*\*\*/m);
    expect(out).not.toContain("secret123");
    expect(out).toMatch(/Signing secret.*whsec_[A-Za-z0-9+/=]+/);
  });

  it("webhooks:create --auth-type oauth2 takes client credentials, shows client_secret masked, and names a bad credential", async () => {
    const credentials = { token_url: `${receiver.url}/token`, client_id: "herald", client_secret: "cli-oauth2-secret-value", scope: "hooks" };
    const webhook = await createWebhook("oauth2", ["--auth-type", "oauth2", "--auth-credentials", JSON.stringify(credentials)]);
    expect(webhook.auth).toEqual({ type: "oauth2", credentials: { ...credentials, client_secret: "****alue" } });
    const out = await cliOk(["webhooks:info", webhook.id], env);
    expect(out).toMatch(/^Auth:\s+oauth2 .*client_id.*\*\*\*\*alue/m);
    expect(out).not.toContain("cli-oauth2-secret-value");
    const bad = await runCli(["webhooks:create", "--url", `${receiver.url}/x`, "--auth-type", "oauth2", "--auth-credentials", '{"token_url":"nope","client_id":"a","client_secret":"b"}'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("auth.credentials.token_url");
  });

  it("webhooks:create --format json returns the API's webhook object with its secret", async () => {
    const webhook = await createWebhook("json-create", ["--payload-format", "systemprompt"]);
    expect(webhook).toMatchObject({ name: "json-create", status: "active", events: ["custom"], url: `${receiver.url}/json-create` });
    expect(webhook.secret).toMatch(/^whsec_/);
  });

  it("webhooks:list shows webhooks as a table and as JSON, filtered by --status and --event", async () => {
    const active = await createWebhook("listed-active");
    const paused = await createWebhook("listed-paused");
    const agent = await cliJson<WebhookJson>(["webhooks:create", "--url", `${receiver.url}/agent`, "--events", "agent.failed"], env);
    await cliOk(["webhooks:pause", paused.id], env);

    const table = await cliOk(["webhooks:list"], env);
    expect(table.split("\n")[0]).toMatch(/^ID\s+NAME\s+STATUS\s+EVENTS\s+URL$/);
    expect(table).toMatch(new RegExp(`^${active.id}\\s+listed-active\\s+active\\s+custom\\s+`, "m"));

    const inactive = await cliJson<WebhookJson[]>(["webhooks:list", "--status", "inactive"], env);
    expect(inactive.map((w) => w.id)).toContain(paused.id);
    expect(inactive.map((w) => w.id)).not.toContain(active.id);

    const forAgentFailed = await cliJson<WebhookJson[]>(["webhooks:list", "--event", "agent.failed"], env);
    expect(forAgentFailed.map((w) => w.id)).toContain(agent.id);
    expect(forAgentFailed.map((w) => w.id)).not.toContain(active.id);
  });

  it("webhooks:info and webhooks:update show and change a webhook", async () => {
    const webhook = await createWebhook("to-update");
    const updated = await cliJson<WebhookJson>(["webhooks:update", webhook.id, "--name", "New Name", "--status", "inactive", "--events", "custom,agent.*"], env);
    expect(updated).toMatchObject({ id: webhook.id, name: "New Name", status: "inactive", events: ["custom", "agent.*"] });
    const info = await cliOk(["webhooks:info", webhook.id], env);
    expect(info).toMatch(/^Name:\s+New Name$/m);
    expect(info).toMatch(/^Status:\s+inactive$/m);
  });

  it("webhooks:trigger delivers the event, and webhooks:deliveries lists it as succeeded in table and JSON", async () => {
    const webhook = await createWebhook("triggered");
    const out = await cliOk(["webhooks:trigger", "--event", "custom", "--data", '{"message":"test"}', "--metadata", '{"source":"cli"}'], env);
    const eventId = /^Event ([0-9a-f-]{36}) accepted: \d+ deliver/m.exec(out)?.[1];
    expect(eventId).toBeDefined();

    const [request] = await receiver.waitFor(1, (r) => r.path === "/triggered");
    expect(JSON.parse(request!.body)).toMatchObject({ id: eventId, type: "custom", data: { message: "test" }, metadata: { source: "cli" } });

    const deliveries = await eventually(async () => {
      const list = await deliveriesOf(webhook.id);
      return list[0]?.status === "succeeded" ? list : undefined;
    });
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]).toMatchObject({ webhookId: webhook.id, eventId, attemptCount: 1 });

    const table = await cliOk(["webhooks:deliveries", webhook.id, "--limit", "10"], env);
    expect(table.split("\n")[0]).toMatch(/^ID\s+EVENT\s+STATUS\s+ATTEMPTS\s+LAST STATUS\s+CREATED\s+ERROR$/);
    expect(table).toMatch(new RegExp(`^${deliveries[0]!.id}\\s+custom\\s+succeeded\\s+1\\s+200\\s`, "m"));
  });

  it("webhooks:trigger with the same --idempotency-key twice delivers once and says the second was a duplicate", async () => {
    await createWebhook("idempotent");
    const args = ["webhooks:trigger", "--event", "custom", "--idempotency-key", "order-42"];
    const first = await cliOk(args, env);
    const eventId = /^Event ([0-9a-f-]{36}) accepted/m.exec(first)?.[1];
    expect(await cliOk(args, env)).toBe(`Event ${eventId} was accepted earlier (same id or idempotency key): not delivered again\n`);
    await receiver.waitFor(1, (r) => r.path === "/idempotent");
    await new Promise((r) => setTimeout(r, 200));
    expect(receiver.requests.filter((r) => r.path === "/idempotent")).toHaveLength(1);
  });

  it("webhooks:retry sends a delivery again with the same webhook-id", async () => {
    const webhook = await createWebhook("retried");
    await cliOk(["webhooks:trigger", "--event", "custom", "--data", '{"n":1}'], env);
    const [first] = await receiver.waitFor(1, (r) => r.path === "/retried");
    const delivery = await eventually(async () => (await deliveriesOf(webhook.id)).find((d) => d.status === "succeeded"));

    const out = await cliOk(["webhooks:retry", "--webhook", webhook.id, "--delivery", delivery.id], env);
    expect(out).toBe(`Delivery ${delivery.id} queued for retry (status pending)\n`);
    const [, second] = await receiver.waitFor(2, (r) => r.path === "/retried");
    expect(second!.headers["webhook-id"]).toBe(first!.headers["webhook-id"]);
    const after = await eventually(async () => (await deliveriesOf(webhook.id)).find((d) => d.attemptCount === 2 && d.status === "succeeded"));
    expect(after.id).toBe(delivery.id);
  });

  it("webhooks:pause stops deliveries to the webhook and webhooks:resume restarts them", async () => {
    const webhook = await createWebhook("paused");
    expect(await cliOk(["webhooks:pause", webhook.id], env)).toBe(`Webhook ${webhook.id} paused: status inactive\n`);
    expect((await cliJson<WebhookJson>(["webhooks:info", webhook.id], env)).status).toBe("inactive");
    // An inactive webhook is not subscribed: events accepted meanwhile make no delivery for it.
    await cliOk(["webhooks:trigger", "--event", "custom", "--data", '{"while":"paused"}'], env);
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.requests.filter((r) => r.path === "/paused")).toHaveLength(0);
    expect(await deliveriesOf(webhook.id)).toEqual([]);

    const resumed = await cliJson<WebhookJson>(["webhooks:resume", webhook.id], env);
    expect(resumed.status).toBe("active");
    await cliOk(["webhooks:trigger", "--event", "custom", "--data", '{"while":"resumed"}'], env);
    const [request] = await receiver.waitFor(1, (r) => r.path === "/paused");
    expect(JSON.parse(request!.body).data).toEqual({ while: "resumed" });
  });

  it("webhooks:stats counts successes and failures in table and JSON", async () => {
    let seen = 0;
    receiver.respond = (r) => (r.path === "/stats" && ++seen === 2 ? { status: 500 } : undefined);
    const webhook = await createWebhook("stats", ["--retry", '{"maxAttempts":1}']);
    await cliOk(["webhooks:trigger", "--event", "custom"], env);
    await cliOk(["webhooks:trigger", "--event", "custom"], env);
    await receiver.waitFor(2, (r) => r.path === "/stats");
    const stats = await eventually(async () => {
      const s = await cliJson<{ total_deliveries: number; successful_deliveries: number; failed_deliveries: number }>(["webhooks:stats", webhook.id], env);
      return s.successful_deliveries + s.failed_deliveries === 2 ? s : undefined;
    });
    expect(stats).toMatchObject({ total_deliveries: 2, successful_deliveries: 1, failed_deliveries: 1 });
    const table = await cliOk(["webhooks:stats", webhook.id], env);
    expect(table).toMatch(/^Total deliveries:\s+2$/m);
    expect(table).toMatch(/^Failure rate:\s+50\.0%$/m);
    expect(table).toMatch(/^Failed deliveries:\s+1$/m);
    expect(table).toMatch(/^Total attempts:\s+2$/m);
    expect(table).toMatch(/^Failed attempts:\s+1$/m);
  });

  it("webhooks:stats names failed attempts apart from failed deliveries: a retried delivery that then succeeded", async () => {
    let seen = 0;
    receiver.respond = (r) => (r.path === "/stats-retried" && ++seen === 1 ? { status: 500 } : undefined);
    const webhook = await createWebhook("stats-retried", ["--retry-strategy", "fixed", "--retry-initial-delay", "10", "--retry-max-attempts", "3"]);
    await cliOk(["webhooks:trigger", "--event", "custom"], env);
    const stats = await eventually(async () => {
      const s = await cliJson<{ successful_deliveries: number; failed_deliveries: number; failed_attempts: number; total_attempts: number; last_failure: string | null }>(
        ["webhooks:stats", webhook.id], env);
      return s.successful_deliveries === 1 ? s : undefined;
    });
    expect(stats).toMatchObject({ failed_deliveries: 0, failed_attempts: 1, total_attempts: 2 });
    expect(stats.last_failure).not.toBeNull();
    const table = await cliOk(["webhooks:stats", webhook.id], env);
    expect(table).toMatch(/^Failed deliveries:\s+0$/m);
    expect(table).toMatch(/^Failed attempts:\s+1$/m);
    expect(table).toMatch(/^Last failed attempt:\s+\d{4}-/m);
  });

  it("webhooks:create takes --payload-format, --timeout and the --retry-* flags, which win over --retry's fields", async () => {
    const webhook = await cliJson<WebhookJson & { payloadFormat: string; timeoutMs: number; retry: Record<string, unknown> }>(
      [
        "webhooks:create", "--url", `${receiver.url}/flags`, "--payload-format", "agentfactory", "--timeout", "2500",
        "--retry", '{"strategy":"linear","maxAttempts":9}', "--retry-strategy", "fixed", "--retry-max-attempts", "4",
        "--retry-initial-delay", "1500", "--retry-max-delay", "20000",
      ],
      env,
    );
    expect(webhook.payloadFormat).toBe("agentfactory");
    expect(webhook.timeoutMs).toBe(2500);
    expect(webhook.retry).toMatchObject({ strategy: "fixed", maxAttempts: 4, initialDelayMs: 1500, maxDelayMs: 20000 });
    const traced = await cliJson<{ id: string; propagateTraceContext: boolean }>(
      ["webhooks:create", "--url", `${receiver.url}/traced`, "--propagate-trace-context", "true"], env);
    expect(traced.propagateTraceContext).toBe(true);
    expect((await cliJson<{ propagateTraceContext: boolean }>(["webhooks:update", traced.id, "--propagate-trace-context", "false"], env)).propagateTraceContext).toBe(false);
    const notBool = await runCli(["webhooks:create", "--url", `${receiver.url}/x`, "--propagate-trace-context", "yes"], env);
    expect(notBool.code).toBe(1);
    expect(notBool.stderr).toMatch(/--propagate-trace-context/);
    for (const format of ["prism", "identus", "standard", "systemprompt", "svix"]) {
      const made = await cliJson<{ payloadFormat: string }>(["webhooks:create", "--url", `${receiver.url}/f-${format}`, "--payload-format", format], env);
      expect(made.payloadFormat).toBe(format);
    }

    const bad = await runCli(["webhooks:create", "--url", `${receiver.url}/x`, "--retry-max-attempts", "0"], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error: --retry-max-attempts: must be a whole number from 1 to 100, not "0"/);
    const backwards = await runCli(["webhooks:create", "--url", `${receiver.url}/x`, "--retry-initial-delay", "5000", "--retry-max-delay", "1000"], env);
    expect(backwards.code).toBe(1);
    expect(backwards.stderr).toMatch(/^error: --retry-max-delay: the longest delay \(1000 ms\) is shorter than the initial delay \(5000 ms\)/);
    const short = await runCli(["webhooks:create", "--url", `${receiver.url}/x`, "--timeout", "50"], env);
    expect(short.code).toBe(1);
    expect(short.stderr).toMatch(/^error: --timeout: must be a whole number of milliseconds from 100 to 300000, not "50"/);
    const strategy = await runCli(["webhooks:create", "--url", `${receiver.url}/x`, "--retry-strategy", "random"], env);
    expect(strategy.code).toBe(1);
    expect(strategy.stderr).toMatch(/--retry-strategy/);
  });

  it("--tenant (and HERALD_TENANT) make create, list and trigger act for that tenant with the admin key", async () => {
    const adminKey = readFileSync(join(herald.dataDir, "admin.key"), "utf8").trim();
    const url = (JSON.parse(readFileSync(join(herald.dataDir, "server.json"), "utf8")) as { url: string }).url;
    const answer = await fetch(`${url}/v1/tenants`, {
      method: "POST", headers: { "x-admin-api-key": adminKey, "content-type": "application/json" }, body: JSON.stringify({ name: "acme-cli" }),
    });
    expect(answer.status).toBe(201);
    const tenant = (await answer.json()) as { id: string; apiKey: { key: string } };

    const made = await cliJson<WebhookJson & { tenantId: string }>(
      ["webhooks:create", "--tenant", tenant.id, "--url", `${receiver.url}/acme`, "--events", "acme.ping"], env);
    expect(made.tenantId).toBe(tenant.id);
    const listed = await cliJson<Array<{ id: string }>>(["webhooks:list"], { ...env, HERALD_TENANT: tenant.id });
    expect(listed.map((w) => w.id)).toEqual([made.id]);
    const ownList = await cliJson<Array<{ id: string }>>(["webhooks:list"], env);
    expect(ownList.map((w) => w.id)).not.toContain(made.id);

    await cliOk(["webhooks:trigger", "--tenant", tenant.id, "--event", "acme.ping", "--data", '{"n":1}'], env);
    const [request] = await receiver.waitFor(1, (r) => r.path === "/acme");
    expect(JSON.parse(request!.body).data).toEqual({ n: 1 });

    // A tenant's own key acts only for that tenant: naming another one with it says so.
    const other = await runCli(["webhooks:list", "--tenant", tenant.id, "--api-key", tenant.apiKey.key, "--admin-key", ""], { HERALD_URL: url });
    expect(other.code).toBe(0);
    const wrong = await runCli(["webhooks:create", "--tenant", "00000000-0000-0000-0000-00000000abcd", "--url", `${receiver.url}/none`], env);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/tenant 00000000-0000-0000-0000-00000000abcd/);
    const garbage = await runCli(["webhooks:list", "--tenant", "not a tenant!"], env);
    expect(garbage.code).toBe(1);
    expect(garbage.stderr).toMatch(/^error: --tenant: "not a tenant!" is not a tenant id/);
  });

  it("webhooks:test sends a webhook.test event and reports the receiver's answer", async () => {
    const webhook = await createWebhook("tested");
    const out = await cliOk(["webhooks:test", webhook.id], env);
    expect(out).toMatch(/^Test succeeded: HTTP 200 in \d+ ms$/m);
    const [request] = await receiver.waitFor(1, (r) => r.path === "/tested");
    expect(request!.headers["x-webhook-event"]).toBe("webhook.test");

    receiver.respond = (r) => (r.path === "/tested" ? { status: 503 } : undefined);
    const failed = await runCli(["webhooks:test", webhook.id], env);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/^Test FAILED: HTTP 503/m);
  });

  it("webhooks:delete --force deletes the webhook, after which info answers not found", async () => {
    const webhook = await createWebhook("deleted");
    expect(await cliOk(["webhooks:delete", webhook.id, "--force"], env)).toBe(`Deleted webhook ${webhook.id}\n`);
    const info = await runCli(["webhooks:info", webhook.id], env);
    expect(info.code).toBe(1);
    expect(info.stderr).toContain("HERALD_ERR_WEBHOOK_NOT_FOUND");
  });

  it.skipIf(!hasScriptCommand)("webhooks:delete on a terminal asks first: n keeps the webhook, y deletes it", async () => {
    const webhook = await createWebhook("confirmed");
    const kept = await runCliOnTerminal(["webhooks:delete", webhook.id], "n\n", env);
    expect(kept.stdout).toContain(`Delete webhook ${webhook.id} (confirmed, ${receiver.url}/confirmed)? [y/N]`);
    expect(kept.stdout).toContain("error: not deleted");
    expect(kept.code).toBe(1);
    expect((await cliJson<WebhookJson>(["webhooks:info", webhook.id], env)).id).toBe(webhook.id);

    const deleted = await runCliOnTerminal(["webhooks:delete", webhook.id], "y\n", env);
    expect(deleted.stdout).toContain(`Deleted webhook ${webhook.id}`);
    expect(deleted.code).toBe(0);
    expect((await runCli(["webhooks:info", webhook.id], env)).code).toBe(1);
  });

  it("webhooks:delete --force --format json answers with what was deleted", async () => {
    const webhook = await createWebhook("deleted-json");
    expect(await cliJson(["webhooks:delete", webhook.id, "--force"], env)).toEqual({ id: webhook.id, deleted: true });
  });

  it("webhooks:secret shows the signing secret, and after webhooks:rotate-secret both the new and the previous one", async () => {
    const webhook = await createWebhook("rotated");
    expect(await cliOk(["webhooks:secret", webhook.id], env)).toBe(`${webhook.secret}\n`);
    const rotated = await cliJson<{ secret: string }>(["webhooks:rotate-secret", webhook.id], env);
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(webhook.secret);
    const lines = (await cliOk(["webhooks:secret", webhook.id], env)).trimEnd().split("\n");
    expect(lines[0]).toBe(rotated.secret);
    expect(lines[1]).toMatch(new RegExp(`^${webhook.secret!.replace(/[+/]/g, "\\$&")} \\(previous, signs until \\d{4}-`));
  });

  it("deliveries:info shows a delivery with its attempts", async () => {
    const webhook = await createWebhook("delivery-info");
    await cliOk(["webhooks:trigger", "--event", "custom"], env);
    const delivery = await eventually(async () => (await deliveriesOf(webhook.id)).find((d) => d.status === "succeeded"));
    const out = await cliOk(["deliveries:info", delivery.id], env);
    expect(out).toMatch(/^Status:\s+succeeded$/m);
    expect(out).toMatch(/^1\s+\S+ \S+\s+\d+ ms\s+200\s+-$/m);
  });
});
