/**
 * The embedded store: one SQLite file in WAL mode through better-sqlite3.
 *
 * better-sqlite3 is synchronous: each call runs to completion on the event loop, so a
 * transaction here is never interleaved with another and needs no row locks. Durability:
 * WAL with synchronous=NORMAL survives a crash of the process (kill -9) because committed
 * pages are in the OS page cache; only a power loss can drop the last commits. Set
 * `synchronous: "FULL"` to fsync every commit and survive power loss as well.
 *
 * Most methods are the shared SQL (../sql/sql-store.ts); what is here is what SQLite does its
 * own way: ingest, the dispatch queue (dispatch-queries.ts) and lease release, each one
 * synchronous IMMEDIATE transaction, and opening and migrating the file.
 *
 * Faults (../store-faults.ts): the runner maps a full disk or a read-only file to
 * HERALD_ERR_STORE_UNAVAILABLE, and `checkWritable` also notices the file (or its WAL) deleted
 * or replaced while open, which SQLite does not: from then on the connection is query_only, so
 * SQLite itself refuses every write and nothing is acknowledged into a file the next start will
 * not see. The file and its -wal and -shm are owner-only (0600), like secret.key.
 */
import Database from "better-sqlite3";
import { chmodSync, closeSync, mkdirSync, openSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { configError, type HeraldError } from "../../errors.js";
import type { SecretBox } from "../../secrets/secret-box.js";
import { SqlStore } from "../sql/sql-store.js";
import type { AttemptOutcome, ClaimRequest, DueDelivery, IngestRequest, IngestResult, LeaseFilter } from "../store.js";
import { type SqliteConnection, sqliteConnection } from "./connection.js";
import { SqliteDispatchQueries } from "./dispatch-queries.js";
import { SqliteFileWatch } from "./faults.js";
import { ingestAll, ingestOne } from "./ingest.js";
import { applyMigrations } from "./migrate.js";
import { releaseLeases } from "./release-leases.js";
import { SqliteRunner } from "./sqlite-runner.js";

export interface SqliteStoreOptions {
  /** A file path, or ":memory:". */
  path: string;
  secretBox: SecretBox;
  synchronous?: "NORMAL" | "FULL";
}

/**
 * Herald's SQLite file serves one process (docs/scaling.md), but a process may open several
 * stores on it (tests do, to write behind an engine's back): their changes are counted per file.
 */
const changesByFile = new Map<string, { count: number }>();

function changesOf(path: string): { count: number } {
  const key = resolve(path);
  let changes = changesByFile.get(key);
  if (changes === undefined) changesByFile.set(key, (changes = { count: 0 }));
  return changes;
}

/**
 * How stale kept reads may be after another process wrote to the file (which docs/scaling.md
 * does not support, but nothing prevents): a webhook it created gets this process's events
 * within this long.
 */
const OTHER_PROCESS_CHECK_MS = 1_000;

export class SqliteStore extends SqlStore {
  readonly backend = "sqlite" as const;
  readonly capabilities = { multiProcess: false, crossProcessWakeups: false };
  readonly db: Database.Database;
  private readonly connection: SqliteConnection;
  private readonly runner: SqliteRunner;
  private readonly dispatch: SqliteDispatchQueries;
  private readonly ingestOne: Database.Transaction<(request: IngestRequest) => IngestResult>;
  private readonly ingestAll: Database.Transaction<(requests: IngestRequest[]) => IngestResult[]>;
  /** Null for ":memory:". */
  private readonly watch: SqliteFileWatch | null;

  constructor(options: SqliteStoreOptions) {
    const db = openDatabase(options);
    const connection = sqliteConnection(db);
    const runner = new SqliteRunner(connection);
    super(runner, options.secretBox, runner.faults);
    this.watch = options.path === ":memory:" ? null : new SqliteFileWatch(options.path);
    this.fileChanges = options.path === ":memory:" ? { count: 0 } : changesOf(options.path);
    this.db = db;
    this.connection = connection;
    this.runner = runner;
    this.dispatch = new SqliteDispatchQueries(db);
    this.ingestOne = db.transaction((request: IngestRequest) => ingestOne(connection, request));
    this.ingestAll = db.transaction((requests: IngestRequest[]) => ingestAll(connection, requests));
  }

  /** Changes made through any store open on this file in this process (KeptChanges). */
  private readonly fileChanges: { count: number };
  private seenChanges = -1;
  private dataVersion: number | null = null;
  private dataVersionCheckedAt = 0;
  private dataVersionStatement: Database.Statement | null = null;

  /**
   * What SqlStore keeps (./sql/ingest-reads.ts) is stale when another store on this file, in
   * this process, changed webhooks, event types or tenants (its changes are counted per file,
   * one property read), or, checked at most once per OTHER_PROCESS_CHECK_MS, when another
   * process committed to the file (PRAGMA data_version; each call cost as much as the SELECTs
   * it saves, so not on every read). A failed check (a closed database) keeps nothing.
   */
  protected override keptReadsStale(): boolean | null {
    let stale = this.fileChanges.count !== this.seenChanges;
    this.seenChanges = this.fileChanges.count;
    const now = performance.now(); // monotonic: a wall clock stepped back must not stop the checks
    if (this.dataVersionCheckedAt !== 0 && now - this.dataVersionCheckedAt < OTHER_PROCESS_CHECK_MS) return stale;
    try {
      this.dataVersionStatement ??= this.db.prepare("PRAGMA data_version").pluck();
      const version = this.dataVersionStatement.get() as number;
      if (version !== this.dataVersion) stale = true;
      this.dataVersion = version;
      this.dataVersionCheckedAt = now;
      return stale;
    } catch {
      return null;
    }
  }

  protected override announceChange(): void {
    this.fileChanges.count++;
  }

  async migrate(): Promise<void> {
    await this.runner.withConnection(() => applyMigrations(this.db));
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  /** The file check first (a replaced file refuses writes until it is back), then the probe after a fault. */
  override async checkWritable(): Promise<HeraldError | null> {
    const changed = this.watch?.changed() ?? null;
    if (changed !== null && !this.faults.holding) {
      this.faults.hold(changed); // first, so the writes query_only refuses say why
      await this.runner.withConnection(() => this.db.pragma("query_only = ON"));
    } else if (changed === null && this.faults.holding) {
      await this.runner.withConnection(() => this.db.pragma("query_only = OFF"));
      this.faults.release();
    }
    return super.checkWritable();
  }

  ingest(request: IngestRequest): Promise<IngestResult> {
    return this.runner.withConnection(() => this.ingestOne.immediate(request));
  }

  ingestMany(requests: IngestRequest[]): Promise<IngestResult[]> {
    return this.runner.withConnection(() => this.ingestAll.immediate(requests));
  }

  claimDueDeliveries(request: ClaimRequest): Promise<DueDelivery[]> {
    return this.runner.withConnection(() => this.dispatch.claimDueDeliveries(request));
  }

  recordAttempts(outcomes: AttemptOutcome[], owner: string): Promise<void> {
    return this.runner.withConnection(() => this.dispatch.recordAttempts(outcomes, owner));
  }

  releaseLeases(filter: LeaseFilter, now: number): Promise<number> {
    return this.runner.withConnection(() => releaseLeases(this.connection, filter, now));
  }
}

function openDatabase(options: SqliteStoreOptions): Database.Database {
  if (options.path !== ":memory:") mkdirSync(dirname(options.path), { recursive: true });
  let db: Database.Database;
  try {
    if (options.path !== ":memory:") restrictToOwner(options.path);
    db = new Database(options.path);
  } catch (cause) {
    throw configError("HERALD_DATABASE_URL", `cannot open SQLite file ${options.path}: ${(cause as Error).message}`, cause);
  }
  db.pragma("journal_mode = WAL");
  db.pragma(`synchronous = ${options.synchronous ?? "NORMAL"}`);
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  db.pragma("cache_size = -65536");
  db.pragma("temp_store = MEMORY");
  applyMigrations(db);
  return db;
}

/**
 * The database holds payloads, API key hashes and sealed secrets: owner-only, like secret.key.
 * A new file is made 0600 before SQLite opens it, and SQLite gives the -wal and -shm files it
 * makes the database file's mode; an existing file (or one left by a crash) open to others is
 * tightened. Files Herald's user does not own are left as they are.
 */
function restrictToOwner(path: string): void {
  closeSync(openSync(path, "a", 0o600));
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    const stat = statSync(file, { throwIfNoEntry: false });
    if (stat === undefined || (stat.mode & 0o077) === 0) continue;
    try {
      chmodSync(file, 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EPERM") throw error;
    }
  }
}
