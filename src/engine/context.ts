/**
 * The engine's one resolved context: configuration, the store and the parts every service
 * shares, built in dependency order with no forward references. Services are `make*Service(ctx)`
 * over this object (graphile-worker's shape: one context passed explicitly, no container).
 *
 * The delivery worker is not in here: services tell it about new work through `work`, a signal
 * it subscribes to when it starts, so ingest never needs the dispatcher and the dispatcher's
 * hooks (which emit system events through ingest) never need a service.
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { readOrCreateSecretFile } from "../config/secret-files.js";
import type { SystemEventType } from "../domain/event-patterns.js";
import { type HeraldError, isHeraldError } from "../errors.js";
import { WebhookCache } from "../dispatch/webhook-cache.js";
import { EventSchemas } from "../ingest/event-schemas.js";
import { GroupCommit } from "../ingest/group-commit.js";
import { type IngestPipeline, makeIngestPipeline } from "../ingest/ingest-pipeline.js";
import { RecoveryRunner } from "../maintenance/recovery-runner.js";
import { derivePortalKey } from "../secrets/portal-token.js";
import { generateMasterKey, makeSecretBox, parseMasterKey } from "../secrets/secret-box.js";
import { DEFAULT_DATABASE_URL, openStore, parseDatabaseUrl } from "../store/open-store.js";
import type { Store } from "../store/store.js";
import { type HeraldTracing, loadTracing } from "../tracing/tracing.js";
import { type EngineConfig, type HeraldOptions, resolveEngineConfig } from "./options.js";

export type ErrorReporter = (error: unknown, context: string) => void;

/** "There may be due work": many senders, one listener (the worker, while it runs). */
export interface WorkSignal {
  notify(): void;
  listen(listener: () => void): () => void;
}

function makeWorkSignal(): WorkSignal {
  const listeners = new Set<() => void>();
  return {
    notify: () => listeners.forEach((listener) => listener()),
    listen(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** Whether the store can write (Store.checkWritable), asked every second while the engine is open. */
export interface StoreWatch {
  /** Asks the store now; a fault not reported yet is reported through onError. */
  check(): Promise<HeraldError | null>;
  start(): void;
  /** Stops the checks; resolves once a check under way has finished, so none runs against a closed store. */
  stop(): Promise<void>;
}

/** How often the store is asked whether it can write: how long a deleted SQLite file can go unnoticed. */
const STORE_CHECK_INTERVAL_MS = 1_000;

/** `noted` hears every answer, a fault or null; `onError` a check that failed otherwise. */
function makeStoreWatch(store: Store, noted: (fault: HeraldError | null) => void, onError: ErrorReporter): StoreWatch {
  let timer: NodeJS.Timeout | null = null;
  let checking: Promise<void> | null = null;
  const check = async () => {
    const fault = (await store.checkWritable?.()) ?? null;
    noted(fault);
    return fault;
  };
  return {
    check,
    start() {
      if (timer || !store.checkWritable) return;
      timer = setInterval(() => {
        if (checking) return;
        checking = check()
          .then(
            () => undefined,
            (error: unknown) => onError(error, "checking the store"),
          )
          .finally(() => {
            checking = null;
          });
      }, STORE_CHECK_INTERVAL_MS);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = null;
      await checking;
    },
  };
}

const isStoreFault = (error: unknown): error is HeraldError => isHeraldError(error) && error.code === "HERALD_ERR_STORE_UNAVAILABLE";

export interface EngineContext {
  readonly config: EngineConfig;
  readonly store: Store;
  readonly webhookCache: WebhookCache;
  readonly schemas: EventSchemas;
  readonly ingest: IngestPipeline;
  readonly recovery: RecoveryRunner;
  readonly work: WorkSignal;
  /**
   * Background errors: counted for the health monitor, then reported as the caller asked. A
   * store fault (HERALD_ERR_STORE_UNAVAILABLE) is reported once, when first met, not by every
   * claim, flush and check that meets it again; once the store can write, the next one is new.
   */
  readonly onError: ErrorReporter;
  readonly storeWatch: StoreWatch;
  /** How many background errors were reported since the last call (health checks). */
  takeErrorCount(): number;
  /** Emits one of Herald's own events; failures are reported through onError, never thrown. */
  emitSystemEvent(type: SystemEventType, data: Record<string, unknown>, tenantId?: string): void;
  /** Resolves once every system event emitted so far is committed (or reported): close() waits for it. */
  settleSystemEvents(): Promise<void>;
  /** Whether this engine's worker runs (a test send waits for its attempt only then). */
  readonly state: { running: boolean };
  readonly hooks: Pick<HeraldOptions, "onAttempt">;
  /** The error reporter as the caller gave it, uncounted (the health monitor's own errors). */
  readonly report: ErrorReporter;
  /** Spans for ingest, claims and attempts; null when no tracer provider was given. */
  readonly tracing: HeraldTracing | null;
  /** Signs and checks portal links (derived from the master key). */
  readonly portalKey: Buffer;
}

/**
 * The store, and the master key when the engine knows it. A store given ready-made comes with
 * no key unless `secretKey` is given too; portal links are then signed with a key of this
 * engine's own, and open only its API.
 */
async function openConfiguredStore(options: HeraldOptions, onError: ErrorReporter): Promise<{ store: Store; masterKey: Buffer | null }> {
  if (options.store) return { store: options.store, masterKey: options.secretKey ? parseMasterKey(options.secretKey, "HERALD_SECRET_KEY") : null };
  const url = parseDatabaseUrl(options.database ?? DEFAULT_DATABASE_URL);
  const keyText =
    options.secretKey ??
    (url.dataDir === null ? generateMasterKey() : readOrCreateSecretFile(join(url.dataDir, "secret.key"), generateMasterKey).value);
  const masterKey = parseMasterKey(keyText, options.secretKey ? "HERALD_SECRET_KEY" : "secret.key");
  return { store: await openStore(url, makeSecretBox(masterKey), onError), masterKey };
}

export async function makeEngineContext(options: HeraldOptions): Promise<EngineContext> {
  const config = resolveEngineConfig(options);
  const report: ErrorReporter = options.onError ?? ((error, context) => console.error(`herald: ${context}:`, error));
  let errorCount = 0;
  let reportedFault: string | null = null;
  const onError: ErrorReporter = (error, context) => {
    errorCount++;
    if (isStoreFault(error)) {
      if (error.message === reportedFault) return;
      reportedFault = error.message;
    }
    report(error, context);
  };
  const { store, masterKey } = await openConfiguredStore(options, onError);
  const work = makeWorkSignal();
  const noted = (fault: HeraldError | null) => {
    if (fault) onError(fault, "checking the store");
    else if (reportedFault !== null) {
      // It can write again: the next fault is news, and a worker whose claim failed on this one
      // may be waiting for a wake-up rather than polling (its next-due read failed too).
      reportedFault = null;
      work.notify();
    }
  };
  const storeWatch = makeStoreWatch(store, noted, onError);
  const tracing = options.tracerProvider ? await loadTracing(options.tracerProvider) : null;
  const schemas = new EventSchemas(store, onError);
  const ingest = makeIngestPipeline({
    store,
    limits: config.limits,
    schemas,
    // Uncounted: a shared commit that failed and then succeeded unit by unit is no worker error.
    groupCommit: new GroupCommit(store, report),
    wake: () => work.notify(),
    tracing,
    ...(options.onEventAccepted ? { onEventAccepted: options.onEventAccepted } : {}),
  });
  const emitting = new Set<Promise<void>>();
  const emitSystemEvent: EngineContext["emitSystemEvent"] = (type, data, tenantId = config.defaultTenantId) => {
    const done: Promise<void> = ingest
      .accept(tenantId, [{ type, data }], { internal: true })
      .then(
        () => undefined,
        (error: unknown) => onError(error, `emitting ${type}`),
      )
      .finally(() => emitting.delete(done));
    emitting.add(done);
  };
  return {
    config,
    store,
    webhookCache: new WebhookCache(store),
    schemas,
    ingest,
    recovery: new RecoveryRunner(store, () => work.notify(), onError),
    work,
    onError,
    storeWatch,
    takeErrorCount() {
      const count = errorCount;
      errorCount = 0;
      return count;
    },
    emitSystemEvent,
    async settleSystemEvents() {
      while (emitting.size > 0) await Promise.all(emitting);
    },
    state: { running: false },
    hooks: options.onAttempt ? { onAttempt: options.onAttempt } : {},
    report,
    tracing,
    portalKey: derivePortalKey(masterKey ?? randomBytes(32)),
  };
}
