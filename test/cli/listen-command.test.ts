import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../helpers/engine.js";
import {
  assertCliBuilt, cliJson, cliOk, expectOneLineError, runCli, spawnCli, startTestServer, type CliProcess, type TestServer,
} from "./cli-harness.js";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
let herald: TestServer;
let env: Record<string, string>;
const listeners: CliProcess[] = [];

beforeAll(async () => {
  assertCliBuilt();
  herald = await startTestServer();
  env = { HERALD_DATA_DIR: herald.dataDir };
});

afterEach(async () => {
  for (const listener of listeners.splice(0)) await listener.stop();
});

afterAll(async () => {
  await herald?.close();
});

async function listen(args: string[], extraEnv: Record<string, string> = {}): Promise<{ process: CliProcess; url: string }> {
  const process = spawnCli(["listen", "0", ...args], extraEnv);
  listeners.push(process);
  const [, url] = (await process.waitForOutput(/^listening on (http:\/\/127\.0\.0\.1:\d+) /m)) as RegExpMatchArray & [string, string];
  return { process, url };
}

/** A webhook for one event type only, so each test's trigger reaches only its own listener. */
async function webhookTo(url: string, event: string, extra: string[] = []): Promise<{ id: string }> {
  return cliJson<{ id: string }>(["webhooks:create", "--url", `${url}/hook`, "--events", event, "--secret", SECRET, ...extra], env);
}

describe("herald listen", () => {
  it("prints a delivery like seed 001's logging server and says the Standard Webhooks signature verified", async () => {
    const { process, url } = await listen(["--secret", SECRET]);
    await webhookTo(url, "listen.ok");
    await cliOk(["webhooks:trigger", "--event", "listen.ok", "--data", '{"message":"hello"}'], env);

    await process.waitForOutput(/^-{35}$/m);
    const out = process.output();
    expect(out).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} - INFO - http-request$/m);
    expect(out).toContain("--------------------------------------- request ---------------------------------------\nPOST /hook\n");
    expect(out).toMatch(/^webhook-signature: v1,/m);
    expect(out).toContain('  "data": {\n    "message": "hello"\n  },');
    expect(out).toMatch(/^signature ok: standard-webhooks \(webhook-id [0-9a-f-]{36}\)$/m);
    expect(out).toMatch(/^answered 200$/m);
    // Not a TTY: no colour codes in the output.
    expect(out).not.toContain("\x1b[");
  });

  it("colours method and path green and the body yellow when colour is forced", async () => {
    const { process, url } = await listen([], { FORCE_COLOR: "1" });
    await fetch(`${url}/colour`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"a":1}' });
    await process.waitForOutput(/^answered 200$/m);
    expect(process.output()).toContain("\x1b[32;20mPOST /colour\x1b[0m");
    expect(process.output()).toContain('\x1b[33;20m{\n  "a": 1\n}\x1b[0m');
  });

  it("says why verification failed when the secret is wrong", async () => {
    const { process, url } = await listen(["--secret", "whsec_" + Buffer.alloc(24, 7).toString("base64")]);
    await webhookTo(url, "listen.wrong");
    await cliOk(["webhooks:trigger", "--event", "listen.wrong"], env);
    const [line] = await process.waitForOutput(/^signature FAILED: .*$/m);
    expect(line).toMatch(/^signature FAILED: standard-webhooks: signature_mismatch: none of the 1 v1 signature matches/);
  });

  it("verifies seed 004's X-AgentFactory-Signature body HMAC with --signature-header", async () => {
    const { process, url } = await listen(["--secret", "af-shared-secret", "--signature-header", "X-AgentFactory-Signature"]);
    await webhookTo(url, "listen.hmac", [
      "--auth-type", "hmac", "--auth-credentials", '{"secret":"af-shared-secret","header_name":"X-AgentFactory-Signature"}',
    ]);
    await cliOk(["webhooks:trigger", "--event", "listen.hmac"], env);
    const [line] = await process.waitForOutput(/^signature (ok|FAILED): .*$/m);
    expect(line).toBe("signature ok: hmac-sha256 (x-agentfactory-signature)");
  });

  it("--status 500 makes Herald retry until the policy's attempts are used up", async () => {
    const { process, url } = await listen(["--status", "500"]);
    const webhook = await webhookTo(url, "listen.retry", ["--retry", '{"strategy":"fixed","maxAttempts":3,"initialDelayMs":100}']);
    await cliOk(["webhooks:trigger", "--event", "listen.retry"], env);

    const delivery = await eventually(async () => {
      const [d] = await cliJson<Array<{ status: string; attemptCount: number; lastStatus: number }>>(["webhooks:deliveries", webhook.id], env);
      return d?.status === "failed" ? d : undefined;
    }, 15_000);
    expect(delivery).toMatchObject({ attemptCount: 3, lastStatus: 500 });
    expect(process.output().match(/^answered 500$/gm)).toHaveLength(3);
  });

  it("--fail-rate 1 answers 500 to every request and says so", async () => {
    const { process, url } = await listen(["--fail-rate", "1"]);
    const response = await fetch(`${url}/x`, { method: "POST", body: "{}" });
    expect(response.status).toBe(500);
    await process.waitForOutput(/^answered 500 \(--fail-rate 1\)$/m);
  });

  it("--delay holds the answer back by that many milliseconds", async () => {
    const { process, url } = await listen(["--delay", "300"]);
    const started = Date.now();
    const response = await fetch(`${url}/slow`, { method: "POST", body: "{}" });
    expect(response.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    await process.waitForOutput(/^answered 200 after 300 ms$/m);
  });

  it("refuses a port that is not a number, and a port already in use, with one line each", async () => {
    expect(expectOneLineError(await runCli(["listen", "eighty"]))).toBe('error: port: must be a whole number from 0 to 65535, not "eighty"');
    const { url } = await listen([]);
    const port = new URL(url).port;
    expect(expectOneLineError(await runCli(["listen", port]))).toBe(`error: port ${port} on 127.0.0.1 is already in use; pick another`);
  });

  it("stops cleanly on SIGTERM", async () => {
    const { process } = await listen([]);
    expect(await process.stop()).toBe(0);
  });
});
