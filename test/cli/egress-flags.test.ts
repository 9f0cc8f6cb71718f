/**
 * The CLI's egress flags (issue 14): --proxy-url and --tls-cert-file / --tls-key-file /
 * --tls-ca-file on webhooks:create and webhooks:update, run as a user runs them.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertCliBuilt, cliJson, cliOk, expectOneLineError, runCli, startTestServer, type TestServer } from "./cli-harness.js";

interface WebhookJson {
  id: string;
  proxyUrl: string | null;
  tls: { clientCert: { subject: string; validTo: string } | null; ca: string[] | null } | null;
}

const FIXTURES = join(import.meta.dirname, "../fixtures/tls");
const file = (name: string) => join(FIXTURES, name);

let herald: TestServer;
let env: Record<string, string>;

beforeAll(async () => {
  assertCliBuilt();
  herald = await startTestServer();
  env = { HERALD_DATA_DIR: herald.dataDir };
});

afterAll(async () => {
  await herald?.close();
});

describe("webhooks:create and webhooks:update egress flags", () => {
  it("read the PEM files and the proxy URL; answers show the certificate and the masked proxy", async () => {
    const created = await cliJson<WebhookJson>([
      "webhooks:create", "--url", "https://example.com/hook", "--proxy-url", "http://u:cli-pass@127.0.0.1:3128",
      "--tls-cert-file", file("client.pem"), "--tls-key-file", file("client.key"), "--tls-ca-file", file("ca.pem"), "--format", "json",
    ], env);
    expect(created.proxyUrl).toBe("http://u:****@127.0.0.1:3128");
    expect(created.tls).toMatchObject({ clientCert: { subject: "CN=herald-test-client" }, ca: ["CN=Herald Test CA"] });

    const info = await cliOk(["webhooks:info", created.id], env);
    expect(info).toMatch(/Proxy:\s+http:\/\/u:\*\*\*\*@127\.0\.0\.1:3128/);
    expect(info).toMatch(/TLS:\s+client certificate CN=herald-test-client, valid to 2126-/);
    expect(info).not.toContain("cli-pass");

    const direct = await cliJson<WebhookJson>(["webhooks:update", created.id, "--proxy-url", "direct", "--format", "json"], env);
    expect(direct.proxyUrl).toBe("direct");
    const server = await cliJson<WebhookJson>(["webhooks:update", created.id, "--proxy-url", "server", "--format", "json"], env);
    expect(server.proxyUrl).toBeNull();
    const encrypted = await cliJson<WebhookJson>([
      "webhooks:update", created.id, "--tls-cert-file", file("client.pem"), "--tls-key-file", file("client-encrypted.key"), "--tls-passphrase", "fixture-pass", "--format", "json",
    ], env);
    expect(encrypted.tls).toMatchObject({ clientCert: { subject: "CN=herald-test-client" }, ca: null });
  });

  it("a missing file, a lone certificate and a key of another certificate each fail with one line naming the flag or field", async () => {
    const missing = expectOneLineError(await runCli(["webhooks:create", "--url", "https://example.com/", "--tls-cert-file", file("nope.pem"), "--tls-key-file", file("client.key")], env));
    expect(missing).toMatch(/--tls-cert-file: cannot read .*nope\.pem \(ENOENT\)/);
    const lone = expectOneLineError(await runCli(["webhooks:create", "--url", "https://example.com/", "--tls-cert-file", file("client.pem")], env));
    expect(lone).toMatch(/--tls-key-file: required/);
    const mismatch = expectOneLineError(await runCli([
      "webhooks:create", "--url", "https://example.com/", "--tls-cert-file", file("client.pem"), "--tls-key-file", file("other-client.key"),
    ], env));
    expect(mismatch).toMatch(/tls\.clientKey: does not match tls\.clientCert/);
  });
});
