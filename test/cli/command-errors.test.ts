import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertCliBuilt, cliJson, expectOneLineError, runCli, startTestServer, type TestServer } from "./cli-harness.js";

let herald: TestServer;
let env: Record<string, string>;
let emptyDir: string;
const UNKNOWN_ID = "01900000-0000-7000-8000-000000000000";

beforeAll(async () => {
  assertCliBuilt();
  herald = await startTestServer();
  env = { HERALD_DATA_DIR: herald.dataDir };
  emptyDir = mkdtempSync(join(tmpdir(), "herald-cli-empty-"));
});

afterAll(async () => {
  await herald?.close();
  if (emptyDir) rmSync(emptyDir, { recursive: true, force: true });
});

/** A port nothing listens on: bound once by us, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe("every bad input ends in one line on stderr and a non-zero exit", () => {
  it.each([
    ["webhooks:info", [UNKNOWN_ID]],
    ["webhooks:deliveries", [UNKNOWN_ID]],
    ["webhooks:stats", [UNKNOWN_ID]],
    ["webhooks:pause", [UNKNOWN_ID]],
    ["webhooks:resume", [UNKNOWN_ID]],
    ["webhooks:test", [UNKNOWN_ID]],
    ["webhooks:update", [UNKNOWN_ID, "--name", "x"]],
    ["webhooks:delete", [UNKNOWN_ID, "--force"]],
  ])("%s with an unknown webhook id says it was not found", async (command, args) => {
    const line = expectOneLineError(await runCli([command, ...args], env));
    expect(line).toBe(`error: webhook ${UNKNOWN_ID} not found (404 HERALD_ERR_WEBHOOK_NOT_FOUND)`);
  });

  it("webhooks:retry with an unknown delivery id says it was not found", async () => {
    const line = expectOneLineError(await runCli(["webhooks:retry", "--webhook", UNKNOWN_ID, "--delivery", UNKNOWN_ID], env));
    expect(line).toContain("HERALD_ERR_DELIVERY_NOT_FOUND");
  });

  it.each([
    ["--headers", ["webhooks:create", "--url", "http://127.0.0.1:9/x", "--headers", "{bad json"]],
    ["--auth-credentials", ["webhooks:create", "--url", "http://127.0.0.1:9/x", "--auth-type", "bearer", "--auth-credentials", "token=x"]],
    ["--data", ["webhooks:trigger", "--event", "custom", "--data", "{'single':'quotes'}"]],
    ["--metadata", ["webhooks:trigger", "--event", "custom", "--metadata", "[1,2]"]],
  ])("bad JSON in %s names the flag and shows an example", async (flag, args) => {
    const line = expectOneLineError(await runCli(args, env));
    expect(line).toMatch(new RegExp(`^error: ${flag}: (not valid JSON|must be a JSON object).* e\\.g\\. `));
  });

  it.each([
    ["webhooks:create", ["--name", "x"], "--url <url>"],
    ["webhooks:trigger", ["--data", "{}"], "--event <type>"],
    ["webhooks:retry", ["--webhook", UNKNOWN_ID], "--delivery <delivery-id>"],
  ])("%s without its required flag names the flag", async (command, args, flag) => {
    const line = expectOneLineError(await runCli([command, ...args], env));
    expect(line).toBe(`error: required option '${flag}' not specified`);
  });

  it("a missing webhook id argument is named", async () => {
    expect(expectOneLineError(await runCli(["webhooks:info"], env))).toBe("error: missing required argument 'webhook-id'");
  });

  it("a value the server rejects comes back as the server's reason with its code", async () => {
    const line = expectOneLineError(await runCli(["webhooks:create", "--url", "ftp://example.com/x"], env));
    expect(line).toBe("error: url: must use http or https, not ftp (422 HERALD_ERR_VALIDATION)");
  });

  it("an unknown option or command is one line, with commander's suggestion on the same line", async () => {
    expect(expectOneLineError(await runCli(["webhooks:list", "--bogus"], env))).toBe("error: unknown option '--bogus'");
    expect(expectOneLineError(await runCli(["webhooks:creat"], env))).toMatch(/^error: unknown command 'webhooks:creat' \(Did you mean webhooks:create\?\)$/);
  });

  it("flag values are checked before anything is sent", async () => {
    expect(expectOneLineError(await runCli(["webhooks:list", "--status", "sleeping"], env))).toMatch(/^error: --status: must be one of active, inactive, disabled/);
    expect(expectOneLineError(await runCli(["webhooks:deliveries", UNKNOWN_ID, "--limit", "lots"], env))).toMatch(/^error: --limit: must be a whole number/);
    expect(expectOneLineError(await runCli(["webhooks:list", "--format", "xml"], env))).toBe('error: --format: must be table or json, not "xml"');
  });

  it("a server that is down gives 'connection refused' and how to fix it", async () => {
    const port = await closedPort();
    const line = expectOneLineError(await runCli(["webhooks:list", "--url", `http://127.0.0.1:${port}`], env));
    expect(line).toBe(`error: cannot reach Herald at http://127.0.0.1:${port} (from --url): connection refused; start it with \`herald serve\` or pass --url`);
  });

  it("HERALD_URL pointing at nothing is reported with where the URL came from", async () => {
    const port = await closedPort();
    const line = expectOneLineError(await runCli(["webhooks:list"], { ...env, HERALD_URL: `http://127.0.0.1:${port}` }));
    expect(line).toContain("(from HERALD_URL): connection refused");
  });

  it("no API key anywhere says where it looked", async () => {
    const line = expectOneLineError(await runCli(["webhooks:list", "--url", herald.server.url], { HERALD_DATA_DIR: emptyDir }));
    expect(line).toMatch(/^error: no API key: pass --api-key, set HERALD_API_KEY/);
  });

  it("a wrong API key is a 401 with the hint to check it", async () => {
    const line = expectOneLineError(await runCli(["webhooks:list", "--api-key", "hk_wrong"], env));
    expect(line).toBe("error: apikey: the API key is unknown or revoked (401 HERALD_ERR_UNAUTHORIZED): check --api-key / HERALD_API_KEY");
  });

  it("webhooks:delete without --force on a non-TTY refuses and keeps the webhook", async () => {
    const webhook = await cliJson<{ id: string }>(["webhooks:create", "--url", "http://127.0.0.1:9/keep"], env);
    const line = expectOneLineError(await runCli(["webhooks:delete", webhook.id], env));
    expect(line).toBe("error: refusing to delete without confirmation: not a terminal; pass --force");
    expect((await cliJson<{ id: string }>(["webhooks:info", webhook.id], env)).id).toBe(webhook.id);
  });

  it("serve with a bad setting names the variable and exits before listening", async () => {
    const line = expectOneLineError(await runCli(["serve", "--port", "99999", "--data-dir", emptyDir]));
    expect(line).toMatch(/^error: PORT: "99999" is not valid; set a whole number from 0 to 65535$/);
  });

  it("migrate with an unsupported database URL names HERALD_DATABASE_URL", async () => {
    const line = expectOneLineError(await runCli(["migrate", "--database-url", "mysql://localhost/db"]));
    expect(line).toMatch(/^error: HERALD_DATABASE_URL: "mysql:\/\/localhost\/db" is not a database URL/);
  });
});
