/**
 * The two reads every ingest makes, kept in memory where the store can tell when they may have
 * changed (SQLite): a tenant's subscribers (active webhooks, its own and the global ones) and an
 * event type's registration (its schema, or that it has none). Measured, `POST /v1/events` on
 * SQLite: the two SELECTs were 23% of the request's CPU (`node dist/bench/main.js ingest` with
 * HERALD_BENCH_PROFILE_DIR). A write through this store forgets what it could change, before it
 * runs and after (SqlStore: a webhook created, changed, paused, disabled or deleted, a tenant
 * deleted, an event type registered or removed), and so does such a change through another store
 * on the same file, or any commit by another process (SqliteStore.keptReadsStale). A read that
 * raced a write is not kept.
 */
import { LRUCache } from "lru-cache";
import { deepFreeze } from "../../domain/deep-freeze.js";

const KEPT = 10_000;

/** A list is handed out as a copy of its frozen self: a caller may sort or extend what it is given. */
function handedOut<T>(value: T): T {
  return (Array.isArray(value) ? value.slice() : value) as T;
}

export class KeptReads<T extends object | null> {
  private readonly kept = new LRUCache<string, { value: T }>({ max: KEPT });
  private generation = 0;

  async read(key: string, load: () => Promise<T>): Promise<T> {
    const kept = this.kept.get(key);
    if (kept !== undefined) return handedOut(kept.value);
    const generation = this.generation;
    // Frozen: every later caller gets these same objects.
    const value = deepFreeze(await load());
    if (generation === this.generation) this.kept.set(key, { value });
    return handedOut(value);
  }

  /** Something these answers depend on changed (or may have): every kept answer goes. */
  forget(): void {
    this.generation++;
    this.kept.clear();
  }
}
