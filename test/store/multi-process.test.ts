/**
 * What only a store shared by several processes must guarantee: each "process" here is a
 * separate store instance with its own connection pool on the same database, as separate
 * Herald processes would have. Runs on the PostgreSQL leg (always in CI).
 */
import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { isHeraldError } from "../../src/errors.js";
import { makeSecretBox } from "../../src/secrets/secret-box.js";
import { openStore, parseDatabaseUrl } from "../../src/store/open-store.js";
import { PostgresStore } from "../../src/store/postgres/postgres-store.js";
import { POSTGRES_MIGRATIONS_DIR } from "../../src/store/postgres/migrate.js";
import { listMigrations } from "../../src/store/migration-files.js";
import type { DueDelivery, Store } from "../../src/store/store.js";
import { multiProcessBackend, type StoreBackend } from "../helpers/backends.js";
import { eventually } from "../helpers/engine.js";
import { createTestDatabase, postgresLegEnabled } from "../helpers/postgres.js";
import { ingestEvents, ingestRequest, makeClaimer, makeEvent, makeWebhook, succeeded } from "../helpers/store-fixtures.js";

const NOW = 1_700_000_000_000;
const TENANT = "tenant-a";

async function twoProcesses(backend: StoreBackend): Promise<[Store, Store]> {
  const first = await backend.open();
  await first.insertTenant({ id: TENANT, name: "A", createdAt: NOW });
  return [first, await backend.openPeer!(first)];
}

describe.runIf(postgresLegEnabled())("several processes on one PostgreSQL database", () => {
  // In CI without a URL, multiProcessBackend is still defined and its open() fails the tests.
  const backend = multiProcessBackend!;
  afterAll(() => backend.cleanup());

  it("claimers in two processes never take the same delivery", async () => {
    const [a, b] = await twoProcesses(backend);
    const webhooks = Array.from({ length: 20 }, () => makeWebhook({ tenantId: TENANT, maxConcurrency: 1_000 }));
    for (const w of webhooks) await a.insertWebhook(w);
    for (let batch = 0; batch < 5; batch++) {
      await a.ingestMany(Array.from({ length: 20 }, () => ingestRequest(makeEvent(TENANT), webhooks.map((w) => w.id))));
    }
    const total = 2_000;

    // Four claim loops per process, all at once, each with its own owner like four workers.
    const seen: DueDelivery[] = [];
    const loop = async (store: Store, owner: string) => {
      const claimer = makeClaimer(store, owner, { limit: 25 });
      for (;;) {
        const claimed = await claimer.claim();
        seen.push(...claimed);
        // Empty can also mean "every candidate was locked by another claimer": stop only when none is left.
        if (claimed.length === 0 && (await store.countDeliveriesByState()).pending === 0) return;
      }
    };
    const started = performance.now();
    await Promise.all([a, b].flatMap((store, p) => [0, 1, 2, 3].map((i) => loop(store, `p${p}-w${i}`))));
    const elapsedMs = performance.now() - started;

    expect(seen).toHaveLength(total);
    expect(new Set(seen.map((d) => d.id)).size).toBe(total);
    expect((await a.countDeliveriesByState()).in_flight).toBe(total);
    console.info(`claimed ${total} deliveries with 8 claimers in 2 processes in ${elapsedMs.toFixed(0)} ms (${Math.round(total / (elapsedMs / 1000))}/s)`);
  });

  it("a webhook's in-flight cap holds across processes that each see nothing in flight locally", async () => {
    const [a, b] = await twoProcesses(backend);
    const webhook = makeWebhook({ tenantId: TENANT, maxConcurrency: 3 });
    await a.insertWebhook(webhook);
    await ingestEvents(a, TENANT, [webhook.id], 30);
    const claimers = [a, b].flatMap((store, p) => [0, 1, 2, 3, 4].map((i) => makeClaimer(store, `p${p}-w${i}`)));
    const claimedBy = new Map<(typeof claimers)[number], DueDelivery[]>();
    const round = () =>
      Promise.all(
        claimers.map(async (c) => {
          claimedBy.set(c, [...(claimedBy.get(c) ?? []), ...(await c.claim())]);
        }),
      );
    const held = () => claimers.reduce((sum, c) => sum + (c.held.get(webhook.id) ?? 0), 0);

    for (let i = 0; i < 5; i++) {
      await round();
      expect(held()).toBeLessThanOrEqual(3);
    }
    expect(held()).toBe(3);
    expect((await b.countDeliveriesByState()).in_flight).toBe(3);

    // One settles in one process: exactly one slot frees, whichever process claims it.
    const [holder, owned] = [...claimedBy].find(([, list]) => list.length > 0)!;
    await holder.settle([succeeded(owned[0]!)]);
    expect(held()).toBe(2);
    for (let i = 0; i < 3; i++) await round();
    expect(held()).toBe(3);
    expect(await a.countDeliveriesByState()).toMatchObject({ in_flight: 3, succeeded: 1, pending: 26 });
  });

  it("a webhook's rate limit holds across processes: they share one bucket", async () => {
    const [a, b] = await twoProcesses(backend);
    const webhook = makeWebhook({ tenantId: TENANT, maxConcurrency: 100, rateLimitPerSecond: 4 });
    await a.insertWebhook(webhook);
    await ingestEvents(a, TENANT, [webhook.id], 40);
    const claimers = [makeClaimer(a, "p0"), makeClaimer(b, "p1")];
    const claimAt = async (now: number) => (await Promise.all(claimers.map((c) => c.claim({ now })))).flat().length;

    // A burst of one second's worth, shared: the second process gets what the first left.
    expect(await claimAt(NOW)).toBe(4);
    expect(await claimAt(NOW + 100)).toBe(0);
    // Refilled at 4 per second, whichever process claims.
    expect(await claimAt(NOW + 600)).toBe(2);
    expect(await claimAt(NOW + 1_600)).toBe(4);
    expect(await a.countDeliveriesByState()).toMatchObject({ in_flight: 10 });
  });

  it("a crashed worker's deliveries go to another process once its lease expires", async () => {
    const [a, b] = await twoProcesses(backend);
    const webhook = makeWebhook({ tenantId: TENANT, timeoutMs: 1_000 });
    await a.insertWebhook(webhook);
    await ingestEvents(a, TENANT, [webhook.id], 3);
    const crashed = await makeClaimer(a, "dead-host:1").claim({ now: NOW, leaseMarginMs: 500 });
    expect(crashed).toHaveLength(3);
    const survivor = makeClaimer(b, "live-host:2");
    expect(await survivor.claim({ now: NOW + 1_000 })).toEqual([]);
    expect(await b.releaseLeases({ expiredBefore: NOW + 1_501 }, NOW + 1_501)).toBe(3);
    expect((await survivor.claim({ now: NOW + 1_501 })).map((d) => d.id).sort()).toEqual(crashed.map((d) => d.id).sort());
  });

  it("an ingest in one process wakes a listener in another at once", async () => {
    const [a, b] = await twoProcesses(backend);
    const webhook = makeWebhook({ tenantId: TENANT });
    await a.insertWebhook(webhook);
    let wakes = 0;
    const stop = a.onWorkAvailable!(() => wakes++);
    await eventually(() => wakes >= 1, 5_000, "listening to start (it wakes once on start)");
    const before = wakes;
    const sent = performance.now();
    await ingestEvents(b, TENANT, [webhook.id]);
    await eventually(() => wakes > before, 2_000, "the NOTIFY from the other process");
    const latencyMs = performance.now() - sent;
    console.info(`cross-process wake-up ${latencyMs.toFixed(1)} ms after the ingest resolved`);

    // An ingest that made no delivery has nothing to wake anyone for.
    const quiet = wakes;
    await b.ingest(ingestRequest(makeEvent(TENANT), []));
    stop();
    await ingestEvents(b, TENANT, [webhook.id]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(wakes).toBe(quiet);
  });

  it("the same event posted to two processes at once is written once", async () => {
    const [a, b] = await twoProcesses(backend);
    const webhook = makeWebhook({ tenantId: TENANT });
    await a.insertWebhook(webhook);
    const event = makeEvent(TENANT);
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).ingest(ingestRequest(event, [webhook.id], "same-key"))),
    );
    expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
    expect(new Set(results.map((r) => r.deliveryIds.join()))).toEqual(new Set([results[0]!.deliveryIds.join()]));
    expect((await a.countDeliveriesByState()).pending).toBe(1);
  });

  it("processes starting at once on an empty database migrate it once", async () => {
    const database = await createTestDatabase();
    const secretBox = makeSecretBox(randomBytes(32));
    const stores: Store[] = [];
    try {
      stores.push(
        ...(await Promise.all([
          openStore(parseDatabaseUrl(database.url), secretBox),
          PostgresStore.open({ connectionString: database.url, secretBox }),
          PostgresStore.open({ connectionString: database.url, secretBox }),
        ])),
      );
      const pool = (stores[0] as PostgresStore).pool;
      const { rows } = await pool.query<{ version: number }>("SELECT version FROM herald_migrations ORDER BY version");
      // Each migration exactly once: no version twice, none missing.
      expect(rows.map((r) => r.version)).toEqual(listMigrations(POSTGRES_MIGRATIONS_DIR).map((m) => m.version));
      expect(stores.map((s) => s.backend)).toEqual(["postgres", "postgres", "postgres"]);
    } finally {
      for (const store of stores) await store.close();
      await database.drop();
    }
  });

  it("an unreachable server fails at start with a configuration error naming HERALD_DATABASE_URL", async () => {
    const error = await PostgresStore.open({ connectionString: "postgres://postgres@127.0.0.1:1/none", secretBox: makeSecretBox(randomBytes(32)) }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isHeraldError(error) && error.code).toBe("HERALD_ERR_CONFIG");
    expect(String((error as Error).message)).toMatch(/^HERALD_DATABASE_URL: cannot connect to PostgreSQL/);
  });
});
