import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { assertCliBuilt, cliJson, cliOk, runCli, spawnCli, type CliProcess } from "./cli-harness.js";

const dirs: string[] = [];
const processes: CliProcess[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "herald-serve-"));
  dirs.push(dir);
  return dir;
}

beforeAll(() => assertCliBuilt());

afterEach(async () => {
  for (const process of processes.splice(0)) await process.stop();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("herald serve", () => {
  it("takes its settings as flags, prints the generated keys once, and the CLI finds it through the data folder", async () => {
    const dataDir = tempDir();
    const serve = spawnCli(["serve", "--port", "0", "--data-dir", dataDir, "--database-url", `sqlite:${join(dataDir, "herald.db")}`, "--log-level", "silent", "--log-format", "pretty"]);
    processes.push(serve);
    // One readable line per event (what a terminal gets), and "listening" once, at any log level.
    const [, url] = (await serve.waitForOutput(/^\[[\d-]+ [\d:.]+\] INFO \(\d+\): herald listening on (http:\/\/127\.0\.0\.1:\d+) \(data in /m, 20_000)) as RegExpMatchArray & [string, string];
    expect(serve.output()).toContain(`herald listening on ${url} (data in ${dataDir}) role=all store=sqlite`);
    expect(serve.output().match(/listening/gi)).toHaveLength(1);
    expect(serve.output()).not.toMatch(/^\{/m);
    const tenantKey = readFileSync(join(dataDir, "default-tenant.key"), "utf8").trim();
    expect(serve.output()).toContain(`generated the default tenant's API key (header apikey), saved to ${join(dataDir, "default-tenant.key")}`);
    expect(serve.output()).toContain(tenantKey);
    expect(JSON.parse(readFileSync(join(dataDir, "server.json"), "utf8"))).toMatchObject({ url });

    expect(await cliJson<unknown[]>(["webhooks:list"], { HERALD_DATA_DIR: dataDir })).toEqual([]);

    expect(await serve.stop()).toBe(0);
    expect(serve.output()).toContain("SIGTERM: draining in-flight deliveries and stopping...");
    expect(existsSync(join(dataDir, "server.json"))).toBe(false);
  });

  it("--allow-private-targets lets a webhook point at 127.0.0.1, which is refused without it", async () => {
    const dataDir = tempDir();
    const serve = spawnCli(["serve", "--port", "0", "--data-dir", dataDir, "--database-url", `sqlite:${join(dataDir, "herald.db")}`, "--log-level", "silent"]);
    processes.push(serve);
    // Not a terminal: pino's JSON lines, every one of them.
    await serve.waitForOutput(/"msg":"herald listening on /, 20_000);
    const lines = serve.output().trim().split("\n");
    for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
    expect(lines.filter((line) => /listening/i.test(line))).toHaveLength(1);
    const env = { HERALD_DATA_DIR: dataDir };
    const refused = await runCli(["webhooks:create", "--url", "http://127.0.0.1:9/x"], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/HERALD_ALLOW_PRIVATE_TARGETS/);
    await serve.stop();

    const allowing = spawnCli(["serve", "--port", "0", "--data-dir", dataDir, "--database-url", `sqlite:${join(dataDir, "herald.db")}`, "--log-level", "silent", "--allow-private-targets"]);
    processes.push(allowing);
    await allowing.waitForOutput(/"msg":"herald listening on /, 20_000);
    expect(await cliOk(["webhooks:create", "--url", "http://127.0.0.1:9/x"], env)).toMatch(/^Created webhook /);
  });
  it("with DEFAULT_WALLET_ENABLED=false a create without --tenant says what to do, and --tenant works", async () => {
    const dataDir = tempDir();
    const serve = spawnCli(["serve", "--port", "0", "--data-dir", dataDir, "--database-url", `sqlite:${join(dataDir, "herald.db")}`, "--log-level", "silent"], {
      DEFAULT_WALLET_ENABLED: "false", HERALD_ALLOW_PRIVATE_TARGETS: "true",
    });
    processes.push(serve);
    await serve.waitForOutput(/"msg":"herald listening on /, 20_000);
    const env = { HERALD_DATA_DIR: dataDir };
    const refused = await runCli(["webhooks:create", "--url", "http://127.0.0.1:9/x"], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim().split("\n")).toHaveLength(1);
    expect(refused.stderr).toMatch(/the default tenant 0{8}-0{4}-0{4}-0{4}-0{12} does not exist \(the server runs with DEFAULT_WALLET_ENABLED=false/);
    expect(refused.stderr).toMatch(/pass --tenant <id> or set HERALD_TENANT/);
    expect(refused.stderr).toContain(`curl -X POST `);

    const { url } = JSON.parse(readFileSync(join(dataDir, "server.json"), "utf8")) as { url: string };
    const created = await fetch(`${url}/v1/tenants`, {
      method: "POST", headers: { "x-admin-api-key": readFileSync(join(dataDir, "admin.key"), "utf8").trim(), "content-type": "application/json" },
      body: JSON.stringify({ name: "acme" }),
    });
    const tenant = (await created.json()) as { id: string };
    expect(await cliOk(["webhooks:create", "--url", "http://127.0.0.1:9/x", "--tenant", tenant.id], env)).toMatch(/^Created webhook /);
  });

  it("a bad HERALD_LOG_FORMAT fails the start with one line naming the variable", async () => {
    const dataDir = tempDir();
    const result = await runCli(["serve", "--port", "0", "--data-dir", dataDir], { HERALD_LOG_FORMAT: "fancy" });
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(/HERALD_LOG_FORMAT.*"fancy".*auto, json, pretty/);
  });
});


describe("herald migrate", () => {
  it("applies every migration to a new SQLite file, then finds nothing to do", async () => {
    const url = `sqlite:${join(tempDir(), "herald.db")}`;
    const first = await cliJson<{ applied: string[]; alreadyApplied: number }>(["migrate", "--database-url", url], {});
    expect(first.applied.length).toBeGreaterThan(0);
    expect(first.applied[0]).toBe("000001_init.sql");
    expect(first.alreadyApplied).toBe(0);

    const again = await cliOk(["migrate"], { HERALD_DATABASE_URL: url });
    expect(again).toBe(`${url}: already up to date (${first.applied.length} migrations in total)\n`);
  });
});

describe("herald bench", () => {
  it("hands its arguments to the benchmark harness, which answers --help with its usage", async () => {
    const result = await runCli(["bench", "--help"]);
    expect(result.stderr + result.stdout).toMatch(/^usage: bench /m);
  });
});
