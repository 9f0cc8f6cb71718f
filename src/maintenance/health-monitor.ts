/**
 * Herald's own health, announced as events (SPEC section 6): `system.health.degraded` when
 * deliveries to active webhooks run late by more than the threshold, or the worker's store
 * calls fail; `system.health.restored` once neither holds. Only transitions are announced,
 * so a subscriber gets one event per incident, not one per check.
 */
import type { Store } from "../store/store.js";

export interface HealthOptions {
  /** How often health is checked. */
  intervalMs: number;
  /** Deliveries overdue by more than this make Herald degraded. */
  lagThresholdMs: number;
}

export const DEFAULT_HEALTH_OPTIONS: HealthOptions = { intervalMs: 15_000, lagThresholdMs: 300_000 };

export type HealthAnnouncement =
  | { type: "system.health.degraded"; data: { reasons: string[]; delivery_lag_ms: number | null; worker_errors: number } }
  | { type: "system.health.restored"; data: { degraded_for_ms: number } };

export class HealthMonitor {
  private degradedSince: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private checking: Promise<void> | null = null;

  constructor(
    private readonly store: Store,
    private readonly options: HealthOptions,
    private readonly announce: (announcement: HealthAnnouncement) => void,
    private readonly onError: (error: unknown, context: string) => void,
    /** Errors the worker hit since the last call (its store calls failing). */
    private readonly takeWorkerErrors: () => number,
    /** The earliest due time of deliveries this process claimed ahead and has not started: late too. */
    private readonly waitingDueAt: () => number | null = () => null,
  ) {}

  get degraded(): boolean {
    return this.degradedSince !== null;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      // Checks never overlap: one that outlived the interval (a slow store) would otherwise finish
      // after a later one and announce a transition with an earlier time (degraded_for_ms < 0).
      if (this.checking) return;
      this.checking = this.check(Date.now())
        .catch((error: unknown) => this.onError(error, "checking health"))
        .finally(() => {
          this.checking = null;
        });
    }, this.options.intervalMs);
    this.timer.unref();
  }

  /** Stops checking; resolves once a check under way has finished, so none runs against a closed store. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.checking;
  }

  async check(now: number): Promise<void> {
    const errors = this.takeWorkerErrors();
    const stored = await this.store.oldestDueAt();
    const waiting = this.waitingDueAt();
    const oldest = stored === null ? waiting : waiting === null ? stored : Math.min(stored, waiting);
    const lag = oldest === null ? null : Math.max(now - oldest, 0);
    const reasons: string[] = [];
    if (lag !== null && lag > this.options.lagThresholdMs) {
      reasons.push(`deliveries are ${Math.round(lag / 1000)} s late (threshold ${Math.round(this.options.lagThresholdMs / 1000)} s)`);
    }
    if (errors > 0) reasons.push(`${errors} store errors in the delivery worker since the last check`);
    if (reasons.length > 0 && this.degradedSince === null) {
      this.degradedSince = now;
      this.announce({ type: "system.health.degraded", data: { reasons, delivery_lag_ms: lag, worker_errors: errors } });
    } else if (reasons.length === 0 && this.degradedSince !== null) {
      const since = this.degradedSince;
      this.degradedSince = null;
      this.announce({ type: "system.health.restored", data: { degraded_for_ms: now - since } });
    }
  }
}
