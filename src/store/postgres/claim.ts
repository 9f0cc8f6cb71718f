/**
 * Claiming due deliveries when several worker processes share one database.
 *
 * Two rules must hold across processes, not only inside one:
 * 1. No two workers take the same delivery. Candidate rows are read `FOR UPDATE SKIP LOCKED`:
 *    a row another claimer is looking at is skipped, not waited for, so claimers never queue
 *    behind each other (plain FOR UPDATE would serialise them on the head of the queue; an
 *    UPDATE ... WHERE state = 'pending' without locks would let two claimers read the same rows
 *    and one of them retry or come back empty).
 * 2. A webhook never has more than max_concurrency deliveries in flight, counting every process.
 *    The claimer locks the candidates' webhook rows (`FOR NO KEY UPDATE SKIP LOCKED`) and only
 *    then, in a separate statement, counts their in_flight rows. Only a claim moves a delivery
 *    into in_flight, and every claim holds its webhooks' locks until it commits, so under the
 *    lock the count is exact. It must be a separate statement: READ COMMITTED takes a snapshot
 *    per statement, and a count in the same statement as the lock could use a snapshot from
 *    before another claimer's commit. A webhook locked by another claimer is skipped for this
 *    round, so claimers still never wait; NO KEY UPDATE does not conflict with the KEY SHARE
 *    lock that inserting a delivery takes on its webhook, so ingest never waits either.
 *
 * Cost: the count reads the partial index deliveries_in_flight, which holds only rows in
 * flight, at most max_concurrency per webhook. The candidate query first excludes webhooks
 * other workers already fill (a GROUP BY over that same small index), so one saturated
 * webhook with a long backlog does not fill every claim with rows that cannot be taken; the
 * webhooks this worker fills come from memory (saturatedWebhookIds). Counting this worker's
 * rows there too was the PostgreSQL 1-webhook figure's main cost (issue 16, fourth round): its
 * settled outcomes stay in_flight until the next flush (up to 20 ms), so the webhook looked full
 * and claims came back empty: 305 deliveries/s. What this leaves: a webhook that neither this
 * worker nor the others fill alone, but both together, can still fill a claim's candidates.
 * Seven round trips per claim (BEGIN, settings, candidates, lock, count, lease, COMMIT). Measured on a
 * shared 2-core VM (load ~10) with 2,000 due deliveries over 20 webhooks: the candidate query
 * takes 0.15 ms (EXPLAIN ANALYZE); two processes with four claimers each claim 600-720/s at
 * 25 per claim and ~1,900/s at 256 per claim (4,000 deliveries; the dispatcher's batch size).
 * The SQL is not the cost; round trips and the commit's WAL flush (~3 ms fsync here) are.
 *
 * What remains: the count is conservative, never optimistic. A request another worker finished
 * but has not flushed yet still counts as in flight (this worker's own come from memory). The one way past the cap is
 * a lease that expires while its worker still sends (a worker stalled longer than timeout +
 * leaseMarginMs): the delivery is released, claimed again elsewhere, and the receiver may see
 * one extra concurrent request and a duplicate, which at-least-once delivery allows.
 */
import type pg from "pg";
import type { ClaimRequest, DueDelivery } from "../store.js";
import { withTransaction } from "./transaction.js";

/**
 * Two settings for the claim's transaction only.
 *
 * synchronous_commit off: the commit does not wait for its WAL flush (measured here: 0.79 ms per
 * small transaction with the flush, 0.28 ms without). Safe because a claim acknowledges nothing:
 * if PostgreSQL crashes before the flush, the leases vanish and the deliveries are pending again,
 * sent once more (at-least-once); an attempt record is committed synchronously, and its flush
 * writes every earlier WAL record, this claim's included. Other sessions see the commit at once,
 * so the cross-process cap is unchanged. A database crash can lose a rate-limited webhook's token
 * spend, i.e. allow one extra burst.
 *
 * enable_sort off: the candidates must be read in due order from deliveries_due and stop at the
 * limit. Right after a backlog is queued the table's statistics still say it is nearly empty,
 * and the planner then read every open delivery of the webhook through
 * deliveries_open_by_webhook and sorted them: 17 ms per claim at 20,000 queued to one webhook
 * (EXPLAIN ANALYZE), against 0.1-3 ms in due order. Sorting stays possible, only dearer.
 *
 * jit off: the lease's sort (for row_number) still runs, and the cost enable_sort adds to it
 * lifted the plan over jit_above_cost: 200 ms of JIT compilation per lease.
 */
const CLAIM_SETTINGS_SQL =
  "SELECT set_config('synchronous_commit', 'off', true), set_config('enable_sort', 'off', true), set_config('jit', 'off', true)";

const CANDIDATES_SQL = `
  WITH saturated AS (
    SELECT f.webhook_id
      FROM deliveries f
      JOIN webhooks w ON w.id = f.webhook_id
     WHERE f.state = 'in_flight' AND f.lease_owner <> $4
     GROUP BY f.webhook_id, w.max_concurrency
    HAVING count(*) >= w.max_concurrency
  )
  SELECT d.id, d.webhook_id
    FROM deliveries d
    JOIN webhooks w ON w.id = d.webhook_id AND w.status = 'active'
   WHERE d.state = 'pending' AND d.next_attempt_at <= $1
     AND d.webhook_id <> ALL ($2::text[])
     AND d.webhook_id NOT IN (SELECT webhook_id FROM saturated)
     -- Ordered webhooks: only the oldest open delivery may go. Safe across claimers: while that
     -- one is open (pending, locked by another claimer, or in flight), every later one fails this.
     AND (w.ordered = 0 OR NOT EXISTS (
           SELECT 1 FROM deliveries p
            WHERE p.webhook_id = d.webhook_id AND p.state IN ('pending', 'in_flight') AND p.id < d.id))
   ORDER BY d.next_attempt_at
   LIMIT $3
     FOR UPDATE OF d SKIP LOCKED`;

const LOCK_WEBHOOKS_SQL = `
  SELECT id, max_concurrency, timeout_ms, rate_limit_per_second, rate_tokens, rate_refilled_at
    FROM webhooks
   WHERE id = ANY ($1::text[]) AND status = 'active'
   ORDER BY id
     FOR NO KEY UPDATE SKIP LOCKED`;

// Other workers' in-flight rows; this worker's own come from its exact in-memory count. Its rows
// still marked in_flight whose outcomes are not yet flushed would otherwise hold slots that are
// free, and the claim would find nothing until the flush (measured: 45 deliveries/s to one webhook).
const COUNT_IN_FLIGHT_SQL = `
  SELECT webhook_id, count(*) AS n
    FROM deliveries
   WHERE state = 'in_flight' AND webhook_id = ANY ($1::text[]) AND lease_owner <> $2
   GROUP BY webhook_id`;

/** Saves what the claim spent from rate-limited webhooks' shared buckets. */
const SPEND_TOKENS_SQL = `
  UPDATE webhooks w
     SET rate_tokens = b.tokens, rate_refilled_at = $1
    FROM unnest($2::text[], $3::float8[]) AS b(id, tokens)
   WHERE w.id = b.id`;

// Each event's columns come back once per claim, on the first of its deliveries: with 100
// webhooks a claim of 256 carries ~3 events, and returning `data` with every delivery sent and
// parsed the same payload ~85 times (as the SQLite claim's per-event read avoids, see
// ../sqlite/dispatch-queries.ts).
const LEASE_SQL = `
  WITH leased AS (
    UPDATE deliveries d
       SET state = 'in_flight', lease_owner = $1, lease_expires_at = c.lease_expires_at, updated_at = $2
      FROM unnest($3::text[], $4::bigint[]) AS c(id, lease_expires_at)
     WHERE d.id = c.id
    RETURNING d.id, d.webhook_id, d.tenant_id, d.attempt_count, d.created_at, d.event_id, d.next_attempt_at
  )
  SELECT l.id, l.webhook_id, l.tenant_id, l.attempt_count, l.created_at, l.event_id, l.next_attempt_at,
         e.type, e.data, e.metadata, e.created_at AS event_created_at, e.trace_context
    FROM (SELECT *, row_number() OVER (PARTITION BY event_id) AS nth FROM leased) l
    LEFT JOIN events e ON e.id = l.event_id AND l.nth = 1`;

interface LeasedRow {
  id: string;
  webhook_id: string;
  tenant_id: string;
  attempt_count: number;
  created_at: string;
  event_id: string;
  next_attempt_at: string;
  /** The event's columns: on the first of its deliveries in the claim only, null on the rest. */
  type: string | null;
  data: string | null;
  metadata: string | null;
  event_created_at: string | null;
  trace_context: string | null;
}

export async function claimDueDeliveries(pool: pg.Pool, request: ClaimRequest): Promise<DueDelivery[]> {
  if (request.limit <= 0) return [];
  return withTransaction(pool, async (client) => {
    await client.query(CLAIM_SETTINGS_SQL);
    const candidates = await client.query<{ id: string; webhook_id: string }>(CANDIDATES_SQL, [
      request.now, request.saturatedWebhookIds, request.limit, request.owner,
    ]);
    if (candidates.rows.length === 0) return [];

    const webhookIds = [...new Set(candidates.rows.map((row) => row.webhook_id))];
    const locked = await client.query<LockedWebhookRow>(LOCK_WEBHOOKS_SQL, [webhookIds]);
    if (locked.rows.length === 0) return [];

    const counted = await client.query<{ webhook_id: string; n: string }>(COUNT_IN_FLIGHT_SQL, [locked.rows.map((w) => w.id), request.owner]);
    const inFlight = new Map(counted.rows.map((row) => [row.webhook_id, Number(row.n)]));
    const slots = new Map<string, { free: number; leaseExpiresAt: number; tokens: number | null }>();
    for (const webhook of locked.rows) {
      // Others' requests in flight (from the database) plus ours (from memory). This worker may
      // lease ahead of its free slots only while no other worker holds any of the webhook's
      // deliveries: it starts at most max_concurrency of them at a time, and the others, counting
      // its leases, take none; so the cap holds across processes either way.
      const others = inFlight.get(webhook.id) ?? 0;
      const capacity = others > 0 ? webhook.max_concurrency : (request.capacity?.(webhook.id, webhook.max_concurrency) ?? webhook.max_concurrency);
      const busy = others + request.inFlight(webhook.id);
      const tokens = refilledTokens(webhook, request.now);
      slots.set(webhook.id, {
        free: Math.min(capacity - busy, tokens === null ? Infinity : Math.floor(tokens)),
        leaseExpiresAt: request.now + webhook.timeout_ms * (request.leaseTimeouts ?? 1) + request.leaseMarginMs,
        tokens,
      });
    }

    const ids: string[] = [];
    const leases: number[] = [];
    for (const row of candidates.rows) {
      const slot = slots.get(row.webhook_id);
      if (slot === undefined || slot.free <= 0) continue;
      slot.free--;
      if (slot.tokens !== null) slot.tokens--;
      ids.push(row.id);
      leases.push(slot.leaseExpiresAt);
    }
    if (ids.length === 0) return [];

    const spent = [...slots].filter(([, slot]) => slot.tokens !== null);
    if (spent.length > 0) {
      await client.query(SPEND_TOKENS_SQL, [request.now, spent.map(([id]) => id), spent.map(([, slot]) => slot.tokens)]);
    }

    const leased = await client.query<LeasedRow>(LEASE_SQL, [request.owner, request.now, ids, leases]);
    return toDueDeliveries(ids, leased.rows);
  });
}

interface LockedWebhookRow {
  id: string;
  max_concurrency: number;
  timeout_ms: number;
  rate_limit_per_second: number | null;
  rate_tokens: number | null;
  rate_refilled_at: string | null;
}

/**
 * The webhook's shared bucket refilled to `now`: a burst of one second's worth (at least one
 * request), refilled continuously at rateLimitPerSecond. Null when the webhook has no limit.
 */
function refilledTokens(webhook: LockedWebhookRow, now: number): number | null {
  const rate = webhook.rate_limit_per_second;
  if (rate === null) return null;
  const capacity = Math.max(1, rate);
  if (webhook.rate_tokens === null || webhook.rate_refilled_at === null) return capacity;
  const elapsed = Math.max(now - Number(webhook.rate_refilled_at), 0);
  return Math.min(capacity, webhook.rate_tokens + (elapsed / 1000) * rate);
}

/** In the candidates' order (oldest due first; RETURNING has none), each event shared by its deliveries. */
function toDueDeliveries(ids: string[], rows: LeasedRow[]): DueDelivery[] {
  const events = new Map<string, DueDelivery["event"]>();
  for (const row of rows) {
    if (row.type === null || row.data === null) continue;
    events.set(row.event_id, { id: row.event_id, type: row.type, data: row.data, metadata: row.metadata, createdAt: Number(row.event_created_at), traceContext: row.trace_context });
  }
  const byId = new Map(rows.map((row) => [row.id, row]));
  return ids.flatMap((id) => {
    const row = byId.get(id);
    const event = row && events.get(row.event_id);
    if (!row || !event) return [];
    return [{ id: row.id, webhookId: row.webhook_id, tenantId: row.tenant_id, attemptCount: row.attempt_count, createdAt: Number(row.created_at),
      dueAt: Number(row.next_attempt_at), event }];
  });
}
