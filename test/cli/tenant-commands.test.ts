/**
 * `herald tenants:portal-link` and `tenants:revoke-portal-links`, run as a subprocess against a
 * real server: the CLI finds the server and the admin key in the data folder, as on the server's
 * machine, and the link it prints opens the API as the tenant until it is revoked.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertCliBuilt, cliJson, cliOk, runCli, startTestServer, type TestServer } from "./cli-harness.js";

let herald: TestServer;
let env: Record<string, string>;
let serverUrl: string;
let tenantId: string;

beforeAll(async () => {
  assertCliBuilt();
  herald = await startTestServer();
  env = { HERALD_DATA_DIR: herald.dataDir };
  serverUrl = (JSON.parse(readFileSync(join(herald.dataDir, "server.json"), "utf8")) as { url: string }).url;
  const adminKey = readFileSync(join(herald.dataDir, "admin.key"), "utf8").trim();
  const answer = await fetch(`${serverUrl}/v1/tenants`, {
    method: "POST", headers: { "x-admin-api-key": adminKey, "content-type": "application/json" }, body: JSON.stringify({ name: "acme-portal" }),
  });
  tenantId = ((await answer.json()) as { id: string }).id;
});

afterAll(async () => {
  await herald?.close();
});

const status = async (token: string) => (await fetch(`${serverUrl}/v1/webhooks`, { headers: { authorization: `Bearer ${token}` } })).status;

describe("herald tenants:portal-link", () => {
  it("prints the link with its tenant and expiry; --format json gives url, token and expiresAt; the link opens the tenant's API", async () => {
    const text = await cliOk(["tenants:portal-link", tenantId, "--expires-in", "600"], env);
    const [url] = text.split("\n");
    expect(url).toMatch(new RegExp(`^${serverUrl.replace(/[.]/g, "\\.")}/#portal=hpl_`));
    expect(text).toContain(`tenant:    ${tenantId}`);
    expect(text).toMatch(/read-only: no/);

    const link = await cliJson<{ url: string; token: string; expiresAt: string; readOnly: boolean }>(["tenants:portal-link", tenantId, "--read-only"], env);
    expect(link.readOnly).toBe(true);
    expect(Date.parse(link.expiresAt)).toBeGreaterThan(Date.now() + 3_500_000);
    expect(await status(link.token)).toBe(200);
  });

  it("refuses a bad --expires-in and an unknown tenant, each in one line", async () => {
    const zero = await runCli(["tenants:portal-link", tenantId, "--expires-in", "0"], env);
    expect(zero.code).toBe(1);
    expect(zero.stderr).toMatch(/^error: --expires-in: must be a whole number of seconds from 1 to 604800/);
    const unknown = await runCli(["tenants:portal-link", "no-such-tenant"], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no-such-tenant.*404 HERALD_ERR_TENANT_NOT_FOUND/);
    const noAdmin = await runCli(["tenants:portal-link", tenantId, "--admin-key", ""], { HERALD_URL: serverUrl, HERALD_API_KEY: "hk_whatever" });
    expect(noAdmin.code).toBe(1);
    expect(noAdmin.stderr).toMatch(/needs the admin key/);
  });

  it("tenants:revoke-portal-links ends the links made so far", async () => {
    const link = await cliJson<{ token: string }>(["tenants:portal-link", tenantId], env);
    expect(await status(link.token)).toBe(200);
    expect(await cliOk(["tenants:revoke-portal-links", tenantId], env)).toMatch(new RegExp(`^Revoked the portal links of tenant ${tenantId} made until `));
    expect(await status(link.token)).toBe(401);
    const fresh = await cliJson<{ token: string }>(["tenants:portal-link", tenantId], env);
    expect(await status(fresh.token)).toBe(200);
  });
});
