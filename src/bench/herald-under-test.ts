/**
 * Herald as each scenario runs it: in this process, on a fresh store in a temporary folder,
 * with webhooks pointing at the receiver process, and an attempt counter fed by `onAttempt`
 * so a scenario can wait for "N deliveries made" without polling the database.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import type { Attempt, Webhook } from "../domain/types.js";
import type { WebhookInput } from "../domain/webhook-input.js";
import { generateMasterKey, makeSecretBox, parseMasterKey } from "../secrets/secret-box.js";
import { createHerald, type Herald, type HeraldOptions } from "../herald.js";
import { PostgresStore } from "../store/postgres/postgres-store.js";
import type { EventInput } from "../ingest/ingest-event.js";
import type { BenchOptions } from "./options.js";
import type { CeilingTable } from "./figures.js";
import type { Receiver } from "./receiver-handle.js";

export interface BenchContext {
  options: BenchOptions;
  receiver: Receiver;
  ceiling: CeilingTable;
  /** Progress lines go to stderr, so that --json leaves stdout to the one JSON document. */
  log(message: string): void;
}

export const EVENT_TYPE = "order.created";
/** Webhooks may not exceed this many requests in flight each (Herald's default maxConcurrency). */
export const WEBHOOK_MAX_CONCURRENCY = 10;
/** Herald's default cap on requests in flight in one process (DEFAULT_DISPATCH_OPTIONS.maxInFlight). */
export const MAX_IN_FLIGHT = 1_000;

/** The requests in flight Herald would use for `webhooks` busy webhooks: the ceiling is measured at this concurrency. */
export function heraldConcurrency(webhooks: number): number {
  return Math.min(webhooks * WEBHOOK_MAX_CONCURRENCY, MAX_IN_FLIGHT);
}

/** A typical order event, about 300 bytes as JSON. */
export function sampleEvent(i: number): EventInput {
  return {
    type: EVENT_TYPE,
    data: {
      order_id: `ord_${String(i).padStart(8, "0")}`,
      customer: { id: "cus_4f9a2c", email: "buyer@example.com", name: "Ada Buyer" },
      amount: 4299,
      currency: "EUR",
      items: [
        { sku: "SKU-1001", quantity: 2, unit_price: 1299 },
        { sku: "SKU-2002", quantity: 1, unit_price: 1701 },
      ],
      shipping: { method: "standard", country: "DE" },
    },
  };
}

/** Counts attempts as Herald makes them and wakes whoever waits for a count. */
export class AttemptCounter {
  succeeded = 0;
  failed = 0;
  private waiters: Array<{ ready: () => boolean; resolve: () => void }> = [];

  record(attempt: Attempt): void {
    if (attempt.errorClass === null) this.succeeded++;
    else this.failed++;
    if (this.waiters.length === 0) return;
    this.waiters = this.waiters.filter((waiter) => {
      if (!waiter.ready()) return true;
      waiter.resolve();
      return false;
    });
  }

  /** Resolves once `ready()` holds after some attempt; rejects after `timeoutMs` naming `what`. */
  waitUntil(ready: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (ready()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((waiter) => waiter.ready !== ready);
        reject(new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what} (${this.succeeded} succeeded, ${this.failed} failed)`));
      }, timeoutMs);
      this.waiters.push({
        ready,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }
}

export interface HeraldUnderTest {
  herald: Herald;
  webhooks: Webhook[];
  attempts: AttemptCounter;
  errors: string[];
  /** Queues `count` events through triggerMany, before or while the worker runs; returns the seconds it took. */
  queueEvents(count: number, batchSize?: number): Promise<number>;
  /** Waits until `count` attempts succeeded, then until every attempt made is committed. */
  waitForSuccesses(count: number): Promise<void>;
  close(): Promise<void>;
}

const QUEUE_BATCH = 500;

export async function openHeraldUnderTest(context: BenchContext, webhookInputs: WebhookInput[]): Promise<HeraldUnderTest> {
  const fresh = await openFreshStore(context);
  const attempts = new AttemptCounter();
  const errors: string[] = [];
  let herald: Herald;
  try {
    herald = await createHerald({
      ...fresh.options,
      // The receiver is on 127.0.0.1, which the SSRF guard refuses by default.
      allowPrivateTargets: true,
      onAttempt: (attempt) => attempts.record(attempt),
      onError: (error, where) => {
        if (errors.length < 20) errors.push(`${where}: ${error instanceof Error ? error.message : String(error)}`);
      },
    });
  } catch (error) {
    await fresh.remove();
    throw error;
  }
  const webhooks: Webhook[] = [];
  try {
    for (const input of webhookInputs) webhooks.push(await herald.webhooks.create({ events: [EVENT_TYPE], ...input }));
  } catch (error) {
    await herald.close();
    await fresh.remove();
    throw error;
  }

  let nextEvent = 0;
  return {
    herald,
    webhooks,
    attempts,
    errors,
    async queueEvents(count, batchSize = QUEUE_BATCH) {
      const started = performance.now();
      for (let queued = 0; queued < count; ) {
        const size = Math.min(batchSize, count - queued);
        const batch: EventInput[] = [];
        for (let i = 0; i < size; i++) batch.push(sampleEvent(nextEvent++));
        await herald.triggerMany(batch);
        queued += size;
      }
      return (performance.now() - started) / 1000;
    },
    async waitForSuccesses(count) {
      await attempts.waitUntil(() => attempts.succeeded >= count, context.options.scenarioTimeoutMs, `${count} successful deliveries`);
      await herald.flushAttempts();
    },
    async close() {
      try {
        await herald.close();
      } finally {
        await fresh.remove();
      }
    },
  };
}

/** The Postgres server the benchmark uses: HERALD_DATABASE_URL when it names one, else HERALD_TEST_POSTGRES_URL. */
export function postgresUrl(): string {
  const candidates = [process.env.HERALD_DATABASE_URL, process.env.HERALD_TEST_POSTGRES_URL];
  const url = candidates.find((value) => value !== undefined && /^postgres(ql)?:\/\//.test(value));
  if (url === undefined) throw new Error("--store postgres: set HERALD_DATABASE_URL or HERALD_TEST_POSTGRES_URL to a postgres:// URL");
  return url;
}

/**
 * A store no earlier scenario touched: a new SQLite file in a temporary folder, or a new
 * schema in the PostgreSQL database; `remove()` deletes it after Herald has closed it.
 */
async function openFreshStore(context: BenchContext): Promise<{ options: HeraldOptions; remove(): Promise<void> }> {
  const secretKey = generateMasterKey();
  if (context.options.store === "sqlite") {
    const dir = await mkdtemp(join(tmpdir(), "herald-bench-"));
    return {
      options: { database: `sqlite:${join(dir, "herald.db")}`, secretKey },
      remove: () => rm(dir, { recursive: true, force: true }),
    };
  }
  const connectionString = postgresUrl();
  const schema = `herald_bench_${randomBytes(6).toString("hex")}`;
  const store = await PostgresStore.open({ connectionString, schema, secretBox: makeSecretBox(parseMasterKey(secretKey, "bench")) });
  return {
    options: { store },
    async remove() {
      await store.close();
      await dropSchema(connectionString, schema);
    },
  };
}

/** Removes a schema a scenario made (Herald's store, or a peer's queue tables). */
export async function dropSchema(connectionString: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}
