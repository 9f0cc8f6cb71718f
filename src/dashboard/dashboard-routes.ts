/**
 * The two API routes the dashboard needs that SPEC section 6 lacks. Both sit under /v1, so the
 * API's onRequest hook authenticates them like every tenant route: a tenant key sees only its
 * tenant's webhooks and events (others answer 404), the admin key sees all.
 */
import { type Static, Type } from "@sinclair/typebox";
// For the OpenAPI fields in route schemas (tags, summary, hide), which @fastify/swagger declares.
import type {} from "@fastify/swagger";
import type { FastifyInstance } from "fastify";
import { listScope, scopeOf } from "../api/auth.js";
import { parseTime, presentDelivery, presentPage } from "../api/present.js";
import { Delivery, IdParams, PageOf, problems } from "../api/schemas.js";
import { badRequest } from "../errors.js";
import type { Herald } from "../herald.js";

const HOUR = 3_600_000;
/** Enough points for a smooth line on a wide screen; more only costs the browser. */
const MAX_BUCKETS = 1000;
const DEFAULT_BUCKET_COUNT = 48;

const SeriesQuery = Type.Object(
  {
    since: Type.Optional(Type.String({ maxLength: 40, description: "window start: ISO-8601 or epoch milliseconds (default: until minus 24 h)" })),
    until: Type.Optional(Type.String({ maxLength: 40, description: "window end, exclusive: ISO-8601 or epoch milliseconds (default: now)" })),
    bucket: Type.Optional(Type.String({ maxLength: 20, description: 'bucket size: milliseconds or 30s, 5m, 1h, 1d (default: the window in 48 buckets)' })),
  },
  { additionalProperties: false },
);

const SeriesBucket = Type.Object({
  start: Type.String({ format: "date-time" }),
  attempts: Type.Integer(),
  succeeded: Type.Integer({ description: "attempts answered with a 2xx" }),
  failed: Type.Integer(),
  successRate: Type.Union([Type.Number(), Type.Null()], { description: "succeeded / attempts; null for a bucket with no attempts" }),
  p50DurationMs: Type.Union([Type.Number(), Type.Null()]),
  p95DurationMs: Type.Union([Type.Number(), Type.Null()]),
});

const Series = Type.Object({
  webhookId: Type.String(),
  since: Type.String({ format: "date-time" }),
  until: Type.String({ format: "date-time" }),
  bucketMs: Type.Integer(),
  data: Type.Array(SeriesBucket),
});

const EventDeliveriesQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: "page size (default 50)" })),
    cursor: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: HOUR, d: 24 * HOUR };

/** `300000`, `30s`, `5m`, `1h` or `1d` to milliseconds. */
export function parseBucket(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const match = /^(\d+)(ms|s|m|h|d)?$/.exec(value.trim());
  const ms = match ? Number(match[1]) * (UNITS[match[2] ?? "ms"] ?? 1) : NaN;
  if (!Number.isSafeInteger(ms) || ms < 1000) {
    throw badRequest("bucket", `${JSON.stringify(value)} is not a bucket size of at least 1 s; use milliseconds or 30s, 5m, 1h, 1d`);
  }
  return ms;
}

export function registerDashboardRoutes(app: FastifyInstance, herald: Herald): void {
  app.get<{ Params: Static<typeof IdParams>; Querystring: Static<typeof SeriesQuery> }>(
    "/v1/webhooks/:id/stats/series",
    {
      schema: {
        tags: ["webhooks"],
        summary: "A webhook's attempts over time: success rate and p50/p95 duration per bucket (dashboard charts)",
        params: IdParams,
        querystring: SeriesQuery,
        response: { 200: Series, ...problems(400, 401, 404) },
      },
    },
    async (request) => {
      const scope = scopeOf(request);
      const webhook = await herald.webhooks.get(request.params.id, scope);
      const until = parseTime("until", request.query.until) ?? Date.now();
      const since = parseTime("since", request.query.since) ?? until - 24 * HOUR;
      if (since >= until) throw badRequest("since", "must be before until");
      const bucketMs = parseBucket(request.query.bucket) ?? Math.max(1000, Math.ceil((until - since) / DEFAULT_BUCKET_COUNT));
      if ((until - since) / bucketMs > MAX_BUCKETS) {
        throw badRequest("bucket", `the window would have more than ${MAX_BUCKETS} buckets; use a larger bucket or a shorter window`);
      }
      const buckets = await herald.webhooks.attemptSeries(webhook.id, { since, until, bucketMs }, scope);
      return {
        webhookId: webhook.id,
        since: new Date(since).toISOString(),
        until: new Date(until).toISOString(),
        bucketMs,
        data: buckets.map((bucket) => ({
          start: new Date(bucket.start).toISOString(),
          attempts: bucket.attempts,
          succeeded: bucket.succeeded,
          failed: bucket.failed,
          successRate: bucket.attempts === 0 ? null : Math.round((bucket.succeeded / bucket.attempts) * 10_000) / 10_000,
          p50DurationMs: bucket.p50DurationMs,
          p95DurationMs: bucket.p95DurationMs,
        })),
      };
    },
  );

  app.get<{ Params: Static<typeof IdParams>; Querystring: Static<typeof EventDeliveriesQuery> }>(
    "/v1/events/:id/deliveries",
    {
      schema: {
        tags: ["events"],
        summary: "An event's fan-out: its deliveries, one per webhook it matched, newest first",
        params: IdParams,
        querystring: EventDeliveriesQuery,
        response: { 200: PageOf(Delivery), ...problems(400, 401, 404) },
      },
    },
    async (request) => {
      const scope = scopeOf(request);
      const event = await herald.events.get(request.params.id, scope);
      const page = await herald.deliveries.list({
        ...listScope(scope),
        eventId: event.id,
        ...(request.query.limit === undefined ? {} : { limit: request.query.limit }),
        ...(request.query.cursor === undefined ? {} : { cursor: request.query.cursor }),
      });
      return presentPage(page, presentDelivery);
    },
  );
}
