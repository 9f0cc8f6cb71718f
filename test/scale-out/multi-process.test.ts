/**
 * Scale-out on PostgreSQL: one API process and three worker processes on one database. A
 * worker is SIGKILLed mid-run; every accepted event must still reach the receiver.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { request } from "undici";
import { afterEach, expect, it } from "vitest";
import { describeOnPostgresOnly } from "../helpers/backends.js";
import { eventually, tempDir } from "../helpers/engine.js";
import { createTestDatabase, type TestDatabase } from "../helpers/postgres.js";
import { startReceiver, type TestReceiver } from "../helpers/receiver.js";
import { FLUSH_BATCH } from "../../src/dispatch/dispatcher.js";

const SERVE = fileURLToPath(new URL("../fixtures/serve-child.mjs", import.meta.url));
const TENANT_KEY = "hk_scaleout_tenant_key_0123456789";
const ADMIN_KEY = "hk_scaleout_admin_key_0123456789";
const children: ChildProcess[] = [];
let receiver: TestReceiver | null = null;
let database: TestDatabase | null = null;
const dirs: string[] = [];

afterEach(async () => {
  const exited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;
  await Promise.all(
    children.splice(0).map((child) => new Promise((resolve) => (exited(child) ? resolve(null) : (child.once("exit", resolve), child.kill("SIGKILL"))))),
  );
  await receiver?.close();
  await database?.drop();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function serve(role: "api" | "worker", databaseUrl: string): Promise<{ child: ChildProcess; url: string }> {
  const dataDir = tempDir("herald-scale-");
  dirs.push(dataDir);
  const child = spawn(process.execPath, [SERVE], {
    stdio: ["ignore", "pipe", "inherit"],
    env: {
      ...process.env,
      HERALD_ROLE: role,
      HERALD_DATABASE_URL: databaseUrl,
      HERALD_DATA_DIR: dataDir,
      PORT: "0",
      HERALD_SECRET_KEY: "5".repeat(64), // every process must open the same sealed secrets
      HERALD_ADMIN_API_KEY: ADMIN_KEY,
      DEFAULT_WALLET_AUTH_API_KEY: TENANT_KEY,
      HERALD_ALLOW_PRIVATE_TARGETS: "true",
      HERALD_LOG_LEVEL: "warn",
      HERALD_RATE_LIMIT_PER_SECOND: "0",
    },
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const match = /LISTENING (\S+)/.exec(out);
      if (match) resolve({ child, url: match[1]! });
    });
    child.once("exit", (code) => reject(new Error(`${role} process exited with ${code} before listening`)));
  });
}

async function post(url: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await request(url, {
    method: "POST",
    headers: { "content-type": "application/json", apikey: TENANT_KEY },
    body: JSON.stringify(body),
  });
  return { status: response.statusCode, json: (await response.body.json()) as Record<string, unknown> };
}

describeOnPostgresOnly("scale-out on PostgreSQL", () => {
  it("three workers and an API on one database: a worker killed mid-run loses no event", async () => {
    receiver = await startReceiver(() => ({ status: 200, delayMs: 3 }));
    database = await createTestDatabase();
    const api = await serve("api", database.url);
    const webhook = await post(`${api.url}/v1/webhooks`, {
      url: receiver.url,
      maxConcurrency: 24,
      timeoutMs: 2_000,
      retry: { strategy: "fixed", maxAttempts: 100, initialDelayMs: 50, maxDelayMs: 50 },
    });
    expect(webhook.status).toBe(201);
    const workers = await Promise.all([serve("worker", database.url), serve("worker", database.url), serve("worker", database.url)]);

    const accepted = new Set<string>();
    const total = 3_000;
    let killed = false;
    let receivedAtKill = 0;
    for (let batch = 0; batch < total / 100; batch++) {
      const events = Array.from({ length: 100 }, (_, i) => ({ type: "order.created", data: { n: batch * 100 + i } }));
      const { status, json } = await post(`${api.url}/v1/events/batch`, { events });
      expect(status).toBe(202);
      for (const item of json.data as Array<{ id: string }>) accepted.add(item.id);
      if (!killed && receiver.requests.length >= 300) {
        workers[0]!.child.kill("SIGKILL");
        killed = true;
        receivedAtKill = receiver.requests.length;
      }
    }
    expect(killed).toBe(true);
    expect(accepted.size).toBe(total);
    expect(receivedAtKill).toBeLessThan(total); // the kill landed mid-run

    await eventually(
      () => {
        const received = new Set(receiver!.requests.map((r) => String(r.headers["webhook-id"])));
        return [...accepted].every((id) => received.has(id));
      },
      90_000,
      "every accepted event to reach the receiver",
    );
    const ids = receiver.requests.map((r) => String(r.headers["webhook-id"]));
    const duplicates = ids.length - new Set(ids).size;
    console.log(`scale-out: ${total} events, ${duplicates} duplicate deliveries after killing one of three workers`);
    // Only what the killed worker had sent and not yet recorded can be sent twice: its requests in
    // flight (at most the webhook's cap of 24) and the answers of the attempt-record batch it had
    // not committed (a batch is committed every flushDelayMs or at FLUSH_BATCH outcomes).
    expect(duplicates).toBeLessThanOrEqual(24 + FLUSH_BATCH);
  }, 150_000);
});
