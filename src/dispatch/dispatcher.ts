/**
 * The delivery worker: claims due deliveries from the store under a lease, sends them, and
 * records every attempt. Nothing about a delivery's future lives in memory: a retry is a row
 * with a later next_attempt_at, and a lease left by a crashed worker expires and makes its
 * delivery due again. The only in-memory state is what is in flight right now.
 *
 * Isolation: each webhook has its own cap on in-flight requests (maxConcurrency). A webhook at
 * its cap is excluded from the claim query, so a hanging receiver holds only its own slots;
 * the global cap bounds memory.
 *
 * Batching: claims take up to `claimBatch` deliveries per transaction, and attempt records are
 * committed together, once per turn of the event loop, however many responses arrived in it.
 *
 * Claiming ahead: a healthy webhook (no rate limit, no back-off, not ordered) may have up to
 * AHEAD_WINDOWS more windows of maxConcurrency deliveries leased to this process than it has
 * requests in flight. They wait here, in memory, leased, and start one by one as its requests
 * finish, with no claim in between; a claim comes only when the reserve runs low, and tops it up
 * by more than a window. The cap is a count of requests, which this process enforces: it never
 * starts more than maxConcurrency at once, and another process, counting these leases, takes none
 * of the webhook's deliveries meanwhile (see ../store/postgres/claim.ts). What waits here is given
 * back to the store (leases released) when the worker stops, when the webhook is paused, disabled
 * or starts to be paced (429, timeouts), so nothing waits behind a back-off with its lease running.
 * A crash loses nothing: the leases expire (or are released at once on restart on this host).
 */
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { uuidv7 } from "../domain/ids.js";
import type { Attempt, Webhook } from "../domain/types.js";
import type { AttemptOutcome, DueDelivery, Store } from "../store/store.js";
import { buildRequest, redactRequestHeaders } from "./build-request.js";
import { decideOutcome, parseRetryAfter } from "./decide-outcome.js";
import { OAuth2Tokens } from "./oauth2-tokens.js";
import { WebhookPacing } from "./webhook-pacing.js";
import type { Sender, SendResult } from "./send-request.js";
import type { Decision } from "./decide-outcome.js";
import type { WebhookCache } from "./webhook-cache.js";
import type { HeraldTracing } from "../tracing/tracing.js";
import { DEFAULT_MAX_CONCURRENCY } from "../domain/webhook-input.js";

export interface DispatchOptions {
  /** Most requests in flight in this process, across all webhooks. */
  maxInFlight: number;
  /** Most deliveries claimed in one transaction. */
  claimBatch: number;
  /** How often an idle worker looks for due work it was not woken for (retries coming due, other processes). */
  pollIntervalMs: number;
  /** How often expired leases are released. */
  leaseCheckIntervalMs: number;
  /** Added to a webhook's timeout to make its lease: a worker alive past this is presumed dead. */
  leaseMarginMs: number;
  /** A webhook whose deliveries keep giving up, with no success, for this long is disabled (Svix: 5 days). */
  disableFailingAfterMs: number;
  /** How long attempt records may wait to be committed together. */
  flushDelayMs: number;
}

export const DEFAULT_DISPATCH_OPTIONS: DispatchOptions = {
  maxInFlight: 1_000,
  claimBatch: 256,
  pollIntervalMs: 250,
  leaseCheckIntervalMs: 5_000,
  leaseMarginMs: 30_000,
  disableFailingAfterMs: 5 * 24 * 3_600_000,
  flushDelayMs: 20,
};

export interface DispatchHooks {
  /** A delivery gave up: retries exhausted, the window passed, or the receiver answered 410. */
  onExhausted?(delivery: DueDelivery, webhook: Webhook, attempt: Attempt): void;
  /** The webhook was disabled: the receiver answered 410 Gone, or its deliveries kept failing. */
  onWebhookDisabled?(webhook: Webhook, reason: string): void;
  onAttempt?(attempt: Attempt, delivery: DueDelivery): void;
  onError?(error: unknown, context: string): void;
}

/**
 * Outcomes that are committed at once, without waiting out flushDelayMs. A flush's cost on
 * SQLite is mostly its COMMIT writing every dirty page to the WAL, and with 10-100 webhooks the
 * per-webhook indexes (attempts_webhook, deliveries_open_by_webhook) put nearly every outcome on
 * a page of its own, so fewer, larger flushes write fewer pages per delivery. Measured, SQL
 * only, 20k deliveries: 93 -> 256 per flush took recording from ~24 to ~15 µs per delivery at
 * 10 webhooks and ~39 to ~23 at 100; in the bench, 5 ms / 128 -> 20 ms / 512 took CPU per
 * delivery from 106-112 to 91-97 µs at 10 and 100 webhooks (unchanged at 1, where the
 * webhook's 10 slots bound the batch). The cost: a settled delivery stays in_flight in the
 * store up to 20 ms longer (other PostgreSQL workers count it against the webhook's cap).
 */
export const FLUSH_BATCH = 512;

/** A failed attempt-record commit is retried after flushDelayMs, doubling per consecutive failure, at most this. */
const MAX_FLUSH_RETRY_MS = 5_000;

/** How often a worker looks again while a rate limit holds a webhook back. */
const RATE_LIMIT_TICK_MS = 50;

/**
 * How many windows of a webhook's maxConcurrency this process may hold leased beyond its requests
 * in flight. Measured (bench throughput, 10 webhooks): claims were the drain's largest cost, 40%,
 * because each finished request woke a claim that topped its webhook up by one or two deliveries,
 * paying a transaction's fixed cost (~50 µs of COMMIT on SQLite) each time.
 */
const AHEAD_WINDOWS = 2;

/** Dispatchers running in this process: their leases are live even though their pid is ours. */
const liveWorkers = new Set<string>();

export function makeWorkerId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;
}

export class Dispatcher {
  readonly workerId = makeWorkerId();
  private readonly options: DispatchOptions;
  private running = false;
  private pumping = false;
  private pumpAgain = false;
  private timer: NodeJS.Timeout | null = null;
  /** An immediate claim, armed by wake(); `timer` is a sleep until work comes due. */
  private immediate: NodeJS.Immediate | null = null;
  private leaseTimer: NodeJS.Timeout | null = null;
  /** A lease check under way: stop() waits for it, so it never runs against a closed store. */
  private leaseCheck: Promise<void> | null = null;
  private inFlightTotal = 0;
  private readonly inFlight = new Map<string, number>();
  /** Deliveries claimed ahead, leased, waiting for one of their webhook's slots; oldest due first. */
  private readonly queued = new Map<string, DueDelivery[]>();
  private queuedTotal = 0;
  /** Some webhook with a free slot has deliveries waiting that maxInFlight held back. */
  private heldByMaxInFlight = false;
  private pendingOutcomes: AttemptOutcome[] = [];
  private flushing: Promise<void> | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  /** Commits that failed in a row: while above 0, the kept batch waits for its retry timer. */
  private flushFailures = 0;
  private idleWaiters: Array<() => void> = [];
  private readonly pacing = new WebhookPacing();
  private unsubscribeWork: (() => void) | null = null;
  private readonly oauth2: OAuth2Tokens;

  constructor(
    private readonly store: Store,
    private readonly sender: Sender,
    private readonly webhooks: WebhookCache,
    options: Partial<DispatchOptions> = {},
    private readonly hooks: DispatchHooks = {},
    /** Claim and attempt spans; null (tracing off): one null check per claim and per attempt, nothing else. */
    private readonly tracing: HeraldTracing | null = null,
  ) {
    this.options = { ...DEFAULT_DISPATCH_OPTIONS, ...options };
    this.oauth2 = new OAuth2Tokens(sender);
  }

  get inFlightCount(): number {
    return this.inFlightTotal;
  }

  /** The earliest due time among deliveries claimed ahead and still waiting for a slot; null when none wait. */
  oldestWaitingDueAt(): number | null {
    let oldest: number | null = null;
    for (const queue of this.queued.values()) {
      for (const delivery of queue) if (oldest === null || delivery.dueAt < oldest) oldest = delivery.dueAt;
    }
    return oldest;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    liveWorkers.add(this.workerId);
    await this.webhooks.preload();
    await this.releaseOrphanedLeases();
    if (!this.running) return; // stopped while releasing
    this.leaseTimer = setInterval(() => {
      if (this.leaseCheck) return; // the last check is still running (a slow store)
      this.leaseCheck = this.releaseLeases()
        .catch((error: unknown) => this.hooks.onError?.(error, "releasing expired leases"))
        .finally(() => {
          this.leaseCheck = null;
        });
    }, this.options.leaseCheckIntervalMs);
    this.leaseTimer.unref();
    // Other processes' ingests (PostgreSQL NOTIFY) wake this worker at once instead of on the next poll.
    this.unsubscribeWork = this.store.onWorkAvailable?.(() => this.wake()) ?? null;
    this.wake();
  }

  /** Expired leases, and those of dead processes on this host, make their deliveries due again. */
  private async releaseLeases(): Promise<void> {
    const released = await this.store.releaseLeases({ expiredBefore: Date.now() }, Date.now());
    if (released > 0) this.wake();
    await this.releaseOrphanedLeases();
  }

  /**
   * Leases held by dead processes on this host are released at once rather than on expiry:
   * a restart after a crash, or a crashed sibling worker, resumes without waiting out the lease.
   */
  private async releaseOrphanedLeases(): Promise<void> {
    const host = hostname();
    const dead = (await this.store.listLeaseOwners()).filter((owner) => {
      const [ownerHost, pid] = owner.split(":");
      if (ownerHost !== host || pid === undefined || owner === this.workerId) return false;
      if (Number(pid) === process.pid) return !liveWorkers.has(owner); // an earlier, stopped Herald in this process
      try {
        process.kill(Number(pid), 0);
        return false;
      } catch {
        return true;
      }
    });
    if (dead.length > 0 && (await this.store.releaseLeases({ owners: dead }, Date.now())) > 0) this.wake();
  }

  /** Stops claiming, waits for in-flight requests to finish and their attempts to be recorded. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    liveWorkers.delete(this.workerId);
    this.unsubscribeWork?.();
    this.unsubscribeWork = null;
    if (this.timer) clearTimeout(this.timer);
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    this.timer = null;
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = null;
    this.leaseTimer = null;
    await this.leaseCheck;
    while (this.pumping) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    await this.giveBack([...this.queued.keys()]);
    while (this.inFlightTotal > 0 || this.pumping) {
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    await this.flush();
  }

  /**
   * New work may be due: look at once. Wakes coalesce: while a claim runs, one more follows it;
   * while an immediate claim is armed, further wakes leave it be (re-arming it on every wake
   * postponed claims forever under a steady stream of events: p50 latency 23 s in the bench).
   * Only a longer sleep is cut short.
   */
  wake(): void {
    if (!this.running) return;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    if (this.immediate) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    // setImmediate, not setTimeout(0): it runs right after this I/O phase, so responses that
    // arrived together are claimed for together, and no cycle waits out a 1 ms timer.
    this.immediate = setImmediate(() => this.pump());
  }

  private pump(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.immediate = null;
    if (!this.running || this.pumping) return;
    this.pumping = true;
    this.pumpAgain = false;
    this.claimAndSend()
      .catch((error: unknown) => this.hooks.onError?.(error, "claiming deliveries"))
      .then(async (full) => {
        this.pumping = false;
        this.notifyIdle();
        if (!this.running) return;
        if (full === true || this.pumpAgain) return this.wake();
        await this.sleepUntilDue();
      })
      .catch((error: unknown) => this.hooks.onError?.(error, "scheduling the next claim"));
  }

  /**
   * Sleeps until the next future due time, a back-off ending, or the poll interval. Deliveries
   * already due that the last claim could not take (webhook at its cap, paused, rate-limited,
   * or waiting behind an earlier one on an ordered webhook) do not shorten the sleep: a
   * finished request wakes the worker at once, so polling for them would only burn CPU.
   */
  private async sleepUntilDue(): Promise<void> {
    const now = Date.now();
    let delay = this.options.pollIntervalMs;
    if (this.inFlightTotal < this.options.maxInFlight) {
      const next = await this.store.nextDueAt(now);
      if (next !== null) delay = Math.min(delay, Math.max(next - now, 0));
    }
    const resume = this.pacing.nextResumeAt(now);
    if (resume !== null) delay = Math.min(delay, resume - now);
    if (this.pacing.heldBack(now).length > 0) delay = Math.min(delay, RATE_LIMIT_TICK_MS);
    if (!this.running || this.pumping || this.timer || this.immediate) return;
    this.timer = setTimeout(() => this.pump(), Math.max(delay, 1));
  }

  private maxConcurrencyOf(webhookId: string): number {
    return this.webhooks.peek(webhookId)?.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY;
  }

  /** Deliveries of the webhook this process holds: requests in flight and those waiting for a slot. */
  private held(webhookId: string): number {
    return (this.inFlight.get(webhookId) ?? 0) + (this.queued.get(webhookId)?.length ?? 0);
  }

  /** Whether the webhook may be claimed ahead of its free slots (see AHEAD_WINDOWS). */
  private claimsAhead(webhookId: string): boolean {
    const webhook = this.webhooks.peek(webhookId);
    return !!webhook && !webhook.ordered && !this.pacing.isPaced(webhook);
  }

  private capacityFor(webhookId: string, maxConcurrency: number): number {
    return this.claimsAhead(webhookId) ? maxConcurrency * (1 + AHEAD_WINDOWS) : maxConcurrency;
  }

  /**
   * What the claim counts as taken for a webhook: the deliveries this process holds, plus the
   * slots its rate limit or back-off does not allow right now, so the store tops it up only as
   * far as pacing permits.
   */
  private occupiedSlots(webhookId: string, now: number): number {
    const held = this.held(webhookId);
    const webhook = this.webhooks.peek(webhookId);
    if (!this.pacing.isPaced(webhook)) return held;
    const free = Math.max(webhook!.maxConcurrency - held, 0);
    return held + free - Math.min(free, this.pacing.allowance(webhook, now));
  }

  /** Returns true when the claim was full, so more work is likely due right away. */
  private async claimAndSend(): Promise<boolean> {
    const free = this.options.maxInFlight * (1 + AHEAD_WINDOWS) - this.inFlightTotal - this.queuedTotal;
    if (free <= 0) return false;
    const limit = Math.min(free, this.options.claimBatch);
    const now = Date.now();
    const saturated = this.pacing.heldBack(now);
    for (const webhookId of new Set([...this.inFlight.keys(), ...this.queued.keys()])) {
      const max = this.maxConcurrencyOf(webhookId);
      if (this.held(webhookId) >= this.capacityFor(webhookId, max)) saturated.push(webhookId);
    }
    const claimed = await this.store.claimDueDeliveries({
      now,
      limit,
      owner: this.workerId,
      saturatedWebhookIds: saturated,
      inFlight: (id) => this.occupiedSlots(id, now),
      capacity: (id, max) => this.capacityFor(id, max),
      leaseTimeouts: 1 + AHEAD_WINDOWS,
      leaseMarginMs: this.options.leaseMarginMs,
    });
    if (this.tracing !== null && claimed.length > 0) this.tracing.claimed(claimed, now, this.workerId);
    for (const delivery of claimed) {
      const webhook = this.webhooks.peek(delivery.webhookId);
      if (webhook) this.pacing.spend(webhook, now);
      const queue = this.queued.get(delivery.webhookId);
      if (queue) queue.push(delivery);
      else this.queued.set(delivery.webhookId, [delivery]);
      this.queuedTotal++;
    }
    for (const webhookId of new Set(claimed.map((delivery) => delivery.webhookId))) this.startFrom(webhookId);
    return claimed.length === limit;
  }

  /**
   * Starts waiting deliveries while their webhooks have free slots and the process is under
   * maxInFlight: `first`'s, then, only if maxInFlight held some back, every webhook's.
   */
  private startQueued(first?: string): void {
    if (!this.running) return;
    if (first !== undefined) this.startFrom(first);
    if (!this.heldByMaxInFlight || first !== undefined && this.inFlightTotal >= this.options.maxInFlight) return;
    this.heldByMaxInFlight = false;
    for (const webhookId of this.queued.keys()) this.startFrom(webhookId);
  }

  private startFrom(webhookId: string): void {
    const queue = this.queued.get(webhookId);
    if (!queue) return;
    const max = this.maxConcurrencyOf(webhookId);
    let inFlight = this.inFlight.get(webhookId) ?? 0;
    while (queue.length > 0 && inFlight < max) {
      if (this.inFlightTotal >= this.options.maxInFlight) {
        this.heldByMaxInFlight = true;
        return;
      }
      const delivery = queue.shift()!;
      this.queuedTotal--;
      this.inFlight.set(webhookId, ++inFlight);
      this.inFlightTotal++;
      this.deliver(delivery).catch((error: unknown) => this.hooks.onError?.(error, `delivering ${delivery.id}`));
    }
    if (queue.length === 0) this.queued.delete(webhookId);
  }

  /** Gives the waiting deliveries of these webhooks back to the store, unsent: their leases are released. */
  private async giveBack(webhookIds: string[]): Promise<void> {
    const ids: string[] = [];
    for (const webhookId of webhookIds) {
      const queue = this.queued.get(webhookId);
      if (!queue) continue;
      this.queued.delete(webhookId);
      this.queuedTotal -= queue.length;
      for (const delivery of queue) ids.push(delivery.id);
    }
    if (ids.length === 0) return;
    await this.store.releaseLeases({ held: { owner: this.workerId, ids } }, Date.now());
  }

  private giveBackLater(webhookId: string): void {
    if (!this.queued.has(webhookId)) return;
    this.giveBack([webhookId]).catch((error: unknown) => this.hooks.onError?.(error, `releasing deliveries of ${webhookId}`));
  }

  private async deliver(delivery: DueDelivery): Promise<void> {
    try {
      const webhook = await this.webhooks.get(delivery.webhookId);
      if (webhook === null) return; // deleted since claim: its deliveries went with it
      if (webhook.status !== "active") {
        // Paused or disabled since it was claimed (it may have waited here for a slot): not sent.
        this.giveBackLater(webhook.id);
        await this.store.releaseLeases({ held: { owner: this.workerId, ids: [delivery.id] } }, Date.now());
        return;
      }
      // Only oauth2 webhooks wait for anything before their request is built: a token, kept or fetched.
      const oauth2 = webhook.auth.type === "oauth2" ? await this.oauth2.authorize(webhook, webhook.auth.credentials) : null;
      const startedAt = Date.now();
      const span = this.tracing === null ? null : this.tracing.startAttempt(delivery, webhook);
      const request = buildRequest(webhook, delivery, startedAt, oauth2?.token);
      if (span !== null && webhook.propagateTraceContext) span.inject(request.headers);
      // Without a token the receiver is not called: the token request's failure is the attempt's.
      const result = oauth2?.failure ?? (await this.sender.send(request, webhook.timeoutMs, webhook));
      if (result.status === 401 && oauth2?.token !== undefined) this.oauth2.forget(webhook.id, oauth2.token);
      const attemptNumber = delivery.attemptCount + 1;
      const settledAt = startedAt + Math.round(result.durationMs);
      const decision = decideOutcome(webhook, result, attemptNumber, delivery.createdAt, settledAt);
      const attempt: Attempt = {
        id: uuidv7(startedAt),
        deliveryId: delivery.id,
        webhookId: webhook.id,
        attemptNumber,
        startedAt,
        durationMs: Math.round(result.durationMs * 1000) / 1000,
        request: { method: request.method, url: request.url, headers: redactRequestHeaders(webhook, request.headers) },
        response: result.status === null ? null : { status: result.status, headers: result.headers, body: result.body },
        errorClass: result.errorClass,
        errorMessage: result.errorMessage,
      };
      span?.end(attempt, decision.state);
      this.pendingOutcomes.push({ attempt, state: decision.state, nextAttemptAt: decision.nextAttemptAt });
      this.scheduleFlush();
      this.hooks.onAttempt?.(attempt, delivery);
      await this.afterAttempt(webhook, delivery, attempt, result, decision, settledAt);
    } finally {
      const left = (this.inFlight.get(delivery.webhookId) ?? 1) - 1;
      if (left <= 0) this.inFlight.delete(delivery.webhookId);
      else this.inFlight.set(delivery.webhookId, left);
      this.inFlightTotal--;
      this.startQueued(delivery.webhookId);
      this.notifyIdle();
      // Claim again when the webhook's reserve runs low, not after every request.
      if ((this.queued.get(delivery.webhookId)?.length ?? 0) < this.maxConcurrencyOf(delivery.webhookId) / 2) this.wake();
    }
  }

  /** What an attempt teaches about its webhook: overload back-off, health, disabling. */
  private async afterAttempt(
    webhook: Webhook,
    delivery: DueDelivery,
    attempt: Attempt,
    result: SendResult,
    decision: Decision,
    now: number,
  ): Promise<void> {
    const status = result.status;
    if (decision.state === "succeeded") {
      this.pacing.recovered(webhook.id);
      if (webhook.failingSince !== null) {
        await this.store.clearWebhookFailing(webhook.id);
        await this.webhooks.refresh(webhook.id);
      }
      return;
    }
    const retryAfter = status === 429 || status === 503 ? parseRetryAfter(result.headers["retry-after"], now) : null;
    if (status === 429 || result.errorClass === "timeout" || retryAfter !== null) {
      this.pacing.backOff(webhook.id, now, retryAfter === null ? null : Math.min(retryAfter, webhook.retry.maxDelayMs));
      this.giveBackLater(webhook.id); // paced from now on: what waits here would wait out the back-off
    }
    if (decision.disableWebhook !== null) await this.disableWebhook(webhook, decision.disableWebhook, now);
    if (decision.state !== "failed") return;
    this.hooks.onExhausted?.(delivery, webhook, attempt);
    const failingSince = await this.store.markWebhookFailing(webhook.id, now);
    await this.webhooks.refresh(webhook.id);
    if (failingSince !== null && now - failingSince >= this.options.disableFailingAfterMs && decision.disableWebhook === null) {
      const days = Math.round((now - failingSince) / 3_600_000) / 24;
      await this.disableWebhook(webhook, `deliveries kept failing with no success for ${days.toFixed(1)} days`, now);
    }
  }

  private async disableWebhook(webhook: Webhook, reason: string, now: number): Promise<void> {
    if (webhook.status === "disabled") return;
    await this.store.setWebhookStatus(webhook.id, "disabled", reason, now);
    await this.webhooks.refresh(webhook.id);
    this.hooks.onWebhookDisabled?.(webhook, reason);
  }

  /**
   * Attempt records are committed in batches: after `flushDelayMs`, or at once when
   * FLUSH_BATCH outcomes wait. Each commit rewrites pages of several B-trees however few rows
   * it carries, so batching cuts the CPU per delivery; waiting does not hold slots (a worker
   * counts its own requests in memory), and a crash before the commit only means the delivery
   * is sent again (at-least-once).
   */
  private scheduleFlush(): void {
    // After a failed commit the retry timer owns the next flush: a full batch must not hammer a failing store.
    if (this.flushFailures > 0 && this.flushTimer) return;
    if (this.pendingOutcomes.length >= FLUSH_BATCH) {
      if (this.flushTimer) clearTimeout(this.flushTimer);
      this.flushTimer = null;
      this.flush().catch((error: unknown) => this.hooks.onError?.(error, "recording attempts"));
      return;
    }
    if (this.flushTimer) return;
    this.armFlushTimer(this.options.flushDelayMs);
  }

  private armFlushTimer(delayMs: number): void {
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      this.flush().catch((error: unknown) => this.hooks.onError?.(error, "recording attempts"));
    }, delayMs);
  }

  /**
   * A kept batch is retried on a timer with back-off, not left until another attempt happens to
   * arrive: on a quiet webhook none may, and its settled deliveries would stay leased until the
   * lease expired and they were sent again. Not while stopping: stop()'s own flush reports the
   * error to its caller.
   */
  private scheduleFlushRetry(): void {
    if (!this.running) return;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.armFlushTimer(Math.min(this.options.flushDelayMs * 2 ** this.flushFailures, MAX_FLUSH_RETRY_MS));
  }

  /** Commits every recorded attempt not yet committed; one flush at a time. */
  async flush(): Promise<void> {
    // A failed commit is reported to its own caller; a flush waiting behind it only needs it over.
    while (this.flushing) await this.flushing.catch(() => {});
    if (this.pendingOutcomes.length === 0) return;
    const batch = this.pendingOutcomes;
    this.pendingOutcomes = [];
    this.flushing = this.store.recordAttempts(batch, this.workerId).finally(() => {
      this.flushing = null;
    });
    try {
      await this.flushing;
    } catch (error) {
      // Nothing of the batch was committed: keep it for the next flush rather than lose it.
      this.pendingOutcomes = batch.concat(this.pendingOutcomes);
      this.flushFailures++;
      this.scheduleFlushRetry();
      throw error;
    }
    this.flushFailures = 0;
    // Settled deliveries free their webhooks' slots in the store (PostgreSQL counts other
    // workers' in-flight rows there), and retries due at once become claimable.
    this.wake();
  }

  private notifyIdle(): void {
    if (this.inFlightTotal > 0 || this.pumping) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
