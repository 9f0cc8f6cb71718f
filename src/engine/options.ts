/**
 * What `createHerald()` accepts, and the one resolved, frozen configuration the engine runs on.
 * Every default lives here; services read `ctx.config` and never an option directly, so a value
 * set by a caller (or by `loadConfig` for the server) has exactly one way in.
 */
import type { TracerProvider } from "@opentelemetry/api";
import type { Attempt, HeraldEvent } from "../domain/types.js";
import { DEFAULT_DISPATCH_OPTIONS, type DispatchOptions } from "../dispatch/dispatcher.js";
import type { SenderOptions } from "../dispatch/send-request.js";
import { DEFAULT_INGEST_LIMITS, type IngestLimits } from "../ingest/ingest-event.js";
import { DEFAULT_HEALTH_OPTIONS, type HealthOptions } from "../maintenance/health-monitor.js";
import type { RetentionOptions } from "../maintenance/retention.js";
import { DEFAULT_DENIED_PORTS, type TargetPolicy } from "../security/target-guard.js";
import type { DueDelivery, Store } from "../store/store.js";
import { DEFAULT_TENANT_ID } from "../domain/types.js";
import { deepFreeze } from "../domain/deep-freeze.js";
import { DIRECT, checkProxyUrl } from "../domain/webhook-egress.js";
import { parseNoProxy } from "../dispatch/no-proxy.js";
import { invalidField } from "../errors.js";

export interface HeraldOptions {
  /** `sqlite:<path>` (default `sqlite:./data/herald.db`), `sqlite::memory:`, or `postgres://...`. */
  database?: string;
  /** An already-open store (tests, embedding); `database` is then ignored. */
  store?: Store;
  /** The master key sealing stored secrets: 32 bytes, hex or base64. Default: `<data folder>/secret.key`, made on first start. */
  secretKey?: string;
  /** The tenant used when a call names none. */
  defaultTenantId?: string;
  /** Create the default tenant at start (SPEC `DEFAULT_WALLET_ENABLED`). */
  createDefaultTenant?: boolean;
  /** Let webhooks reach loopback, private and link-local addresses (SPEC `HERALD_ALLOW_PRIVATE_TARGETS`). Default false. */
  allowPrivateTargets?: boolean;
  /** Refuse webhook URLs that are not https. Default false. */
  httpsOnly?: boolean;
  /** Ports no webhook may reach, on any host (SPEC `HERALD_DENIED_PORTS`). Default: DEFAULT_DENIED_PORTS (SSH, SMTP, databases, brokers, caches). */
  deniedPorts?: readonly number[];
  /** Forward proxy for every webhook without its own proxyUrl (SPEC `HERALD_PROXY_URL`): `http://[user:password@]host:port`. Default none. */
  proxyUrl?: string | null;
  /** Hosts the proxy is not used for (SPEC `HERALD_NO_PROXY`): comma-separated names, domains, IPs, CIDR blocks, `*`. */
  noProxy?: string;
  dispatch?: Partial<DispatchOptions>;
  sender?: Omit<SenderOptions, "connect" | "egress">;
  limits?: Partial<IngestLimits>;
  /** How long a rotated-out signing secret keeps signing. Default 24 h. */
  secretRotationGraceMs?: number;
  /** Delivery-record retention (SPEC `HERALD_RETENTION_DAYS`, `HERALD_CLEANUP_INTERVAL_MS`); false to keep everything. */
  retention?: RetentionOptions | false;
  /** When `system.health.degraded` / `restored` are announced; false to never check. */
  health?: Partial<HealthOptions> | false;
  /** Called for errors inside the background worker (default: printed to stderr). */
  onError?(error: unknown, context: string): void;
  /** Called after each attempt is made (metrics, live views); the attempt is committed shortly after. */
  onAttempt?(attempt: Attempt, delivery: DueDelivery): void;
  /** Called after each event is accepted and committed. */
  onEventAccepted?(event: HeraldEvent, deliveryCount: number): void;
  /**
   * OpenTelemetry: ingest, claim and attempt spans go to this provider's tracer (docs/observability.md),
   * e.g. a BasicTracerProvider with your span processors. Default: none, and no span work at all.
   */
  tracerProvider?: TracerProvider;
}

export const DEFAULT_RETENTION: RetentionOptions = { retentionDays: 30, intervalMs: 86_400_000 };
export const DEFAULT_SECRET_ROTATION_GRACE_MS = 24 * 3_600_000;

/** The engine's settings after defaults, frozen: what every service reads. */
export interface EngineConfig {
  readonly defaultTenantId: string;
  readonly createDefaultTenant: boolean;
  readonly targetPolicy: Readonly<TargetPolicy>;
  readonly dispatch: Readonly<DispatchOptions>;
  readonly sender: Readonly<Omit<SenderOptions, "connect" | "egress">>;
  /** The server's forward proxy and the hosts it is not used for (src/dispatch/egress.ts). */
  readonly egress: { readonly proxyUrl: string | null; readonly noProxy: string };
  readonly limits: Readonly<IngestLimits>;
  readonly secretRotationGraceMs: number;
  readonly retention: Readonly<RetentionOptions> | false;
  readonly health: Readonly<HealthOptions> | false;
}

function resolveEgress(options: HeraldOptions): EngineConfig["egress"] {
  const proxyUrl = options.proxyUrl ?? null;
  if (proxyUrl !== null) checkProxyUrl(proxyUrl, "proxyUrl");
  const noProxy = options.noProxy ?? "";
  try {
    parseNoProxy(noProxy);
  } catch (cause) {
    throw invalidField("noProxy", `${(cause as Error).message}; give comma-separated host names, domains, IP addresses, CIDR blocks or *`, cause);
  }
  return { proxyUrl: proxyUrl === DIRECT ? null : proxyUrl, noProxy };
}

export function resolveEngineConfig(options: HeraldOptions): EngineConfig {
  return deepFreeze({
    defaultTenantId: options.defaultTenantId ?? DEFAULT_TENANT_ID,
    createDefaultTenant: options.createDefaultTenant ?? true,
    targetPolicy: {
      allowPrivateTargets: options.allowPrivateTargets ?? false,
      httpsOnly: options.httpsOnly ?? false,
      deniedPorts: [...(options.deniedPorts ?? DEFAULT_DENIED_PORTS)],
    },
    dispatch: { ...DEFAULT_DISPATCH_OPTIONS, ...options.dispatch },
    sender: { ...options.sender },
    egress: resolveEgress(options),
    limits: { ...DEFAULT_INGEST_LIMITS, ...options.limits },
    secretRotationGraceMs: options.secretRotationGraceMs ?? DEFAULT_SECRET_ROTATION_GRACE_MS,
    retention: options.retention === false ? false : { ...DEFAULT_RETENTION, ...options.retention },
    health: options.health === false ? false : { ...DEFAULT_HEALTH_OPTIONS, ...options.health },
  });
}
