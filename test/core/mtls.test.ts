/**
 * mTLS to receivers (issue 14): a webhook's client certificate is presented to an https receiver
 * that demands one (node:https with requestCert and the test CA of test/fixtures/tls), its key is
 * sealed and never shown, and a certificate that cannot work is refused when it is given.
 */
import { Agent } from "undici";
import { afterEach, describe, expect, test } from "vitest";
import { EgressRoutes } from "../../src/dispatch/egress.js";
import { parseNoProxy } from "../../src/dispatch/no-proxy.js";
import type { Herald } from "../../src/index.js";
import { redactWebhook } from "../../src/domain/webhook-input.js";
import { closeEngines, eventually, openEngine, storeOf } from "../helpers/engine.js";
import { closeTlsReceivers, fixture, startTlsReceiver } from "../helpers/tls-receiver.js";

afterEach(async () => {
  await closeEngines();
  await closeTlsReceivers();
});

const clientTls = () => ({ clientCert: fixture("client.pem"), clientKey: fixture("client.key"), ca: fixture("ca.pem") });

/** Triggers one event and waits until its delivery to `webhookId` has settled (succeeded or failed). */
async function deliverOnce(herald: Herald, webhookId: string) {
  const { deliveries } = await herald.trigger("custom", { hello: "mtls" });
  return eventually(async () => {
    for (const id of deliveries) {
      const delivery = await herald.deliveries.get(id);
      if (delivery.webhookId === webhookId && (delivery.state === "succeeded" || delivery.state === "failed")) return delivery;
    }
    return undefined;
  }, 10_000, "the delivery to settle");
}

describe("mTLS to a receiver that requires a client certificate", () => {
  test("a webhook with the right client certificate is answered 200, and the receiver saw that certificate", async () => {
    const receiver = await startTlsReceiver({ requestCert: true });
    const herald = await openEngine();
    await herald.start();
    const webhook = await herald.webhooks.create({ url: `${receiver.url}/hook`, tls: clientTls(), retry: { maxAttempts: 1 } });
    const delivery = await deliverOnce(herald, webhook.id);
    expect(delivery.state).toBe("succeeded");
    expect(delivery.attempts[0]).toMatchObject({ response: { status: 200 }, errorClass: null });
    expect(receiver.requests).toMatchObject([{ path: "/hook", clientCn: "herald-test-client" }]);
  });

  test("an encrypted key with its passphrase works", async () => {
    const receiver = await startTlsReceiver({ requestCert: true });
    const herald = await openEngine();
    await herald.start();
    const tls = { ...clientTls(), clientKey: fixture("client-encrypted.key"), passphrase: "fixture-pass" };
    const webhook = await herald.webhooks.create({ url: receiver.url, tls, retry: { maxAttempts: 1 } });
    expect((await deliverOnce(herald, webhook.id)).state).toBe("succeeded");
  });

  test("without a client certificate the attempt fails with errorClass tls, naming the handshake problem", async () => {
    const receiver = await startTlsReceiver({ requestCert: true });
    const herald = await openEngine();
    await herald.start();
    // Trusts the receiver's CA, so only the missing client certificate is at fault.
    const webhook = await herald.webhooks.create({ url: receiver.url, tls: { ca: fixture("ca.pem") }, retry: { maxAttempts: 1 } });
    const delivery = await deliverOnce(herald, webhook.id);
    expect(delivery.state).toBe("failed");
    expect(delivery.attempts[0]!.errorClass).toBe("tls");
    expect(delivery.attempts[0]!.errorMessage).toMatch(/^TLS handshake not accepted: the receiver sent the alert ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED \(tlsv13 alert certificate required\) and closed the connection; it most likely requires a client certificate/);
    expect(receiver.requests).toHaveLength(0);
  });

  test("a client certificate from another CA fails with errorClass tls: the receiver answers unknown ca", async () => {
    const receiver = await startTlsReceiver({ requestCert: true });
    const herald = await openEngine();
    await herald.start();
    const tls = { clientCert: fixture("other-client.pem"), clientKey: fixture("other-client.key"), ca: fixture("ca.pem") };
    const webhook = await herald.webhooks.create({ url: receiver.url, tls, retry: { maxAttempts: 1 } });
    const delivery = await deliverOnce(herald, webhook.id);
    expect(delivery.attempts[0]!.errorClass).toBe("tls");
    expect(delivery.attempts[0]!.errorMessage).toMatch(/handshake not accepted.*did not accept the client certificate \(tls.clientCert: CN=other-client/);
    expect(receiver.requests).toHaveLength(0);
  });

  test("without tls.ca the receiver's private CA is not trusted: errorClass tls", async () => {
    const receiver = await startTlsReceiver({ requestCert: false });
    const herald = await openEngine();
    await herald.start();
    const webhook = await herald.webhooks.create({ url: receiver.url, retry: { maxAttempts: 1 } });
    const delivery = await deliverOnce(herald, webhook.id);
    expect(delivery.attempts[0]!.errorClass).toBe("tls");
    expect(receiver.requests).toHaveLength(0);
  });

  test("replacing the certificate takes effect on the next delivery, and removing tls too", async () => {
    const receiver = await startTlsReceiver({ requestCert: true });
    const herald = await openEngine();
    await herald.start();
    const webhook = await herald.webhooks.create({ url: receiver.url, tls: clientTls(), retry: { maxAttempts: 1 } });
    expect((await deliverOnce(herald, webhook.id)).state).toBe("succeeded");
    await herald.webhooks.update(webhook.id, { tls: { clientCert: fixture("other-client.pem"), clientKey: fixture("other-client.key"), ca: fixture("ca.pem") } });
    expect((await deliverOnce(herald, webhook.id)).attempts[0]!.errorMessage).toMatch(/handshake not accepted.*did not accept the client certificate \(tls.clientCert: CN=other-client/);
    await herald.webhooks.update(webhook.id, { tls: clientTls() });
    expect((await deliverOnce(herald, webhook.id)).state).toBe("succeeded");
    await herald.webhooks.update(webhook.id, { tls: null });
    expect((await deliverOnce(herald, webhook.id)).attempts[0]!.errorClass).toBe("tls");
    expect(receiver.requests.map((r) => r.clientCn)).toEqual(["herald-test-client", "herald-test-client"]);
  });
});

describe("tls input is checked when given", () => {
  const cases: Array<[string, Record<string, unknown>, string, RegExp]> = [
    ["a bad PEM", { clientCert: "not a certificate", clientKey: fixture("client.key") }, "tls.clientCert", /PEM/],
    ["a broken certificate body", { clientCert: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", clientKey: fixture("client.key") }, "tls.clientCert", /PEM/],
    ["an expired certificate", { clientCert: fixture("expired.pem"), clientKey: fixture("expired.key") }, "tls.clientCert", /expired on 2001-01-01/],
    ["a key that does not match the certificate", { clientCert: fixture("client.pem"), clientKey: fixture("other-client.key") }, "tls.clientKey", /does not match/],
    ["an encrypted key without its passphrase", { clientCert: fixture("client.pem"), clientKey: fixture("client-encrypted.key") }, "tls.clientKey", /passphrase/],
    ["a wrong passphrase", { clientCert: fixture("client.pem"), clientKey: fixture("client-encrypted.key"), passphrase: "wrong" }, "tls.passphrase", /could not be opened/],
    ["a certificate without its key", { clientCert: fixture("client.pem") }, "tls.clientKey", /together/],
    ["a CA bundle with no certificate", { ca: "garbage" }, "tls.ca", /no PEM certificate/],
    ["an unknown field", { clientCert: fixture("client.pem"), clientKey: fixture("client.key"), cert: "x" }, "tls.cert", /not a tls field/],
  ];

  test.each(cases)("%s is a 422 naming %s", async (_name, tls, field, message) => {
    const herald = await openEngine();
    const error = await herald.webhooks.create({ url: "https://example.com/hook", tls }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "HERALD_ERR_VALIDATION", field });
    expect((error as Error).message).toMatch(message);
    const webhook = await herald.webhooks.create({ url: "https://example.com/hook" });
    await expect(herald.webhooks.update(webhook.id, { tls })).rejects.toMatchObject({ code: "HERALD_ERR_VALIDATION", field });
  });
});

describe("the key is sealed and never shown", () => {
  test("answers show the certificate's subject and expiry, never the PEM, key or passphrase; the store holds no PEM in clear", async () => {
    const herald = await openEngine();
    const tls = { ...clientTls(), clientKey: fixture("client-encrypted.key"), passphrase: "fixture-pass" };
    const webhook = await herald.webhooks.create({ url: "https://example.com/hook", tls });
    const shown = JSON.stringify(redactWebhook(await herald.webhooks.get(webhook.id)));
    expect(shown).not.toMatch(/BEGIN|fixture-pass/);
    expect(redactWebhook(webhook).tls).toMatchObject({
      clientCert: { subject: "CN=herald-test-client", issuer: "CN=Herald Test CA", validTo: expect.stringMatching(/^2126-/) as unknown },
      ca: ["CN=Herald Test CA"],
    });
    // Read back through a second store: what is stored opens to the same material.
    const stored = await (await storeOf(herald)).getWebhook(webhook.id);
    expect(stored?.tls).toEqual(tls);
  });
});

describe("one agent per distinct certificate", () => {
  test("webhooks with the same certificate share an agent; a replaced certificate's agent is closed once unused; plain webhooks take the sender's own", async () => {
    const own = new Agent();
    const routes = new EgressRoutes(
      { proxyUrl: null, noProxy: parseNoProxy(""), policy: { allowPrivateTargets: true, httpsOnly: false, deniedPorts: [] }, agentOptions: {} },
      own,
    );
    try {
      const first = routes.route({ id: "a", url: "https://127.0.0.1:1/", tls: clientTls() })!;
      const second = routes.route({ id: "b", url: "https://127.0.0.1:2/", tls: clientTls() })!;
      expect(second.dispatcher).toBe(first.dispatcher);
      expect(routes.route({ id: "c", url: "https://127.0.0.1:3/" })).toBeNull();
      expect(routes.openPools).toBe(1);

      const other = { clientCert: fixture("other-client.pem"), clientKey: fixture("other-client.key") };
      const replacedA = routes.route({ id: "a", url: "https://127.0.0.1:1/", tls: other })!;
      expect(replacedA.dispatcher).not.toBe(first.dispatcher);
      expect(routes.openPools).toBe(2); // b still uses the first certificate
      routes.route({ id: "b", url: "https://127.0.0.1:2/", tls: null });
      expect(routes.openPools).toBe(1);
      expect((first.dispatcher as Agent).closed).toBe(true);
      expect((replacedA.dispatcher as Agent).closed).toBe(false);
    } finally {
      await routes.close();
      await own.close();
    }
  });
});
