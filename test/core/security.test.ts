import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { afterEach, describe, expect, it } from "vitest";
import { buildWebhook } from "../../src/domain/webhook-input.js";
import { nonPublicRange } from "../../src/security/target-guard.js";
import { closeEngines, engineBackend, eventually, openEngine, sleep, storeOf, tempDir } from "../helpers/engine.js";
import { startReceiver, type TestReceiver } from "../helpers/receiver.js";

const receivers: TestReceiver[] = [];
afterEach(async () => {
  await closeEngines();
  for (const r of receivers.splice(0)) await r.close();
});

describe("SSRF guard", () => {
  const privateTargets = [
    "http://127.0.0.1:9095/hook",
    "http://10.0.0.1/hook",
    "http://169.254.169.254/latest/meta-data",
    "http://[::1]:9095/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://localhost:9095/hook", // a hostname that resolves to loopback
    "http://100.64.0.1/hook",
    "http://192.168.1.1/hook",
    "http://[fd00::1]/hook",
    "http://[fe80::1]/hook",
  ];

  it.each(privateTargets)("creating a webhook to %s is refused by default, naming the range and the setting", async (url) => {
    const herald = await openEngine({ allowPrivateTargets: false });
    const error = await herald.webhooks.create({ url }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "HERALD_ERR_PRIVATE_TARGET", field: "url" });
    expect((error as Error).message).toMatch(/range/);
    expect((error as Error).message).toContain("HERALD_ALLOW_PRIVATE_TARGETS");
  });

  it.each(privateTargets)("creating a webhook to %s is allowed with allowPrivateTargets", async (url) => {
    const herald = await openEngine({ allowPrivateTargets: true });
    await expect(herald.webhooks.create({ url })).resolves.toMatchObject({ url });
  });

  it("changing a webhook's URL to a private address is refused", async () => {
    const herald = await openEngine({ allowPrivateTargets: false });
    const webhook = await herald.webhooks.create({ url: "https://93.184.216.34/hook" });
    await expect(herald.webhooks.update(webhook.id, { url: "http://10.1.2.3/" })).rejects.toMatchObject({ code: "HERALD_ERR_PRIVATE_TARGET" });
  });

  it("public addresses are not flagged; IPv4-mapped and NAT64 forms of private ones are", () => {
    expect(nonPublicRange("93.184.216.34")).toBeNull();
    expect(nonPublicRange("2606:4700::1111")).toBeNull();
    expect(nonPublicRange("::ffff:10.0.0.1")).toMatch(/private/);
    expect(nonPublicRange("::ffff:7f00:1")).toMatch(/loopback/);
    expect(nonPublicRange("64:ff9b::a9fe:a9fe")).toMatch(/link-local/);
  });

  it("at delivery time the dialled address is checked: a webhook stored with a private target is not sent", async () => {
    const r = await startReceiver();
    receivers.push(r);
    const herald = await openEngine({ allowPrivateTargets: false });
    // As if DNS changed after creation (rebinding): the URL bypasses the creation check.
    for (const url of [r.url, r.url.replace("127.0.0.1", "localhost")]) {
      const webhook = buildWebhook({ url, retry: { maxAttempts: 1 } }, { tenantId: herald.defaultTenantId, now: Date.now() });
      await (await storeOf(herald)).insertWebhook(webhook);
    }
    await herald.start();
    const { deliveries } = await herald.trigger("custom", {});
    const attempts = await eventually(async () => {
      const all = await Promise.all(deliveries.map((id) => herald.deliveries.get(id)));
      return all.every((d) => d.state === "failed") ? all.map((d) => d.attempts[0]!) : undefined;
    });
    expect(attempts.map((a) => a.errorClass)).toEqual(["blocked", "blocked"]);
    expect(attempts[0]!.errorMessage).toMatch(/loopback/);
    expect(r.requests).toHaveLength(0);
  });

  it("https-only mode refuses http URLs", async () => {
    const herald = await openEngine({ httpsOnly: true });
    await expect(herald.webhooks.create({ url: "http://example.com/hook" })).rejects.toMatchObject({ field: "url" });
    await expect(herald.webhooks.create({ url: "https://example.com/hook" })).resolves.toBeDefined();
  });
});

describe.skipIf(engineBackend !== "sqlite")("secrets at rest in the SQLite file", () => {
  it("the raw SQLite files hold no signing secret, credential or secret header in clear text", async () => {
    const dir = tempDir();
    const herald = await openEngine({ database: `sqlite:${join(dir, "herald.db")}` });
    const values = {
      token: "tok_live_CLEAR_TEXT_BEARER",
      password: "CLEAR_TEXT_PASSWORD_42",
      hmac: "CLEAR_TEXT_HMAC_SECRET",
      header: "CLEAR_TEXT_HEADER_VALUE",
    };
    const bearer = await herald.webhooks.create({ url: "https://a.example.com", auth: { type: "bearer", credentials: { token: values.token } }, headers: { "X-Api-Token": values.header } });
    await herald.webhooks.create({ url: "https://b.example.com", auth: { type: "basic", credentials: { username: "u", password: values.password } } });
    await herald.webhooks.create({ url: "https://c.example.com", auth: { type: "hmac", credentials: { secret: values.hmac } } });
    const signing = bearer.secrets[0]!.secret;
    await herald.close();
    const raw = readdirSync(dir)
      .filter((f) => f.startsWith("herald.db"))
      .map((f) => readFileSync(join(dir, f)).toString("latin1"))
      .join("");
    expect(raw.length).toBeGreaterThan(0);
    for (const secret of [...Object.values(values), signing, signing.slice(6)]) expect(raw).not.toContain(secret);
    expect(raw).toContain("https://a.example.com"); // the file was read: non-secret fields are there
  });

  it("a store opened with another master key refuses to decrypt, naming HERALD_SECRET_KEY", async () => {
    const dir = tempDir();
    const database = `sqlite:${join(dir, "herald.db")}`;
    const first = await openEngine({ database, secretKey: "1".repeat(64) });
    const webhook = await first.webhooks.create({ url: "https://a.example.com" });
    await first.close();
    const second = await openEngine({ database, secretKey: "2".repeat(64) });
    await expect(second.webhooks.get(webhook.id)).rejects.toThrow(/HERALD_SECRET_KEY/);
  });
});

describe("secret rotation", () => {
  it("the old secret stops signing once the grace period ends", async () => {
    const r = await startReceiver();
    receivers.push(r);
    const herald = await openEngine();
    await herald.start();
    const webhook = await herald.webhooks.create({ url: r.url });
    const oldSecret = webhook.secrets[0]!.secret;
    const { secret } = await herald.webhooks.rotateSecret(webhook.id, { graceMs: 100 });
    await sleep(150);
    await herald.trigger("custom", {});
    const [request] = await r.waitFor(1);
    const headers = {
      "webhook-id": String(request!.headers["webhook-id"]),
      "webhook-timestamp": String(request!.headers["webhook-timestamp"]),
      "webhook-signature": String(request!.headers["webhook-signature"]),
    };
    expect(headers["webhook-signature"].split(" ")).toHaveLength(1);
    expect(() => new StandardWebhook(secret).verify(request!.body, headers)).not.toThrow();
    expect(() => new StandardWebhook(oldSecret).verify(request!.body, headers)).toThrow();
  });
});
