/** Event ingest and queries: `/v1/events`. Answered only after the event and its deliveries are committed. */
import { Type } from "@sinclair/typebox";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { TriggerResult } from "../../herald.js";
import type { EventInput } from "../../ingest/ingest-event.js";
import { traceHeadersOf } from "../../tracing/tracing.js";
import { listScope, principalOf, tenantOf, scopeOf } from "../auth.js";
import type { ApiContext } from "../context.js";
import { parseTime, presentDelivery, presentEvent, presentPage } from "../present.js";
import {
  Accepted, BatchEventsBody, CreateEventBody, Delivery, Event, EventListQuery, IdParams, IdempotencyHeaders, PageOf, problems,
} from "../schemas.js";

const tags = ["events"];

/** A tenant is shown the deliveries to its own webhooks only: a global webhook's are the operator's, and it could not read them. */
const accepted = (result: TriggerResult, request: FastifyRequest) => ({
  id: result.event.id,
  deliveries: principalOf(request).kind === "tenant" ? result.tenantDeliveries : result.deliveries,
  duplicate: result.duplicate,
});

export function registerEventRoutes(app: FastifyInstance, { herald }: ApiContext): void {
  app.post<{ Body: CreateEventBody; Headers: { "idempotency-key"?: string } }>(
    "/v1/events",
    {
      schema: {
        tags, summary: "Accept an event and fan it out to every matching webhook", body: CreateEventBody, headers: IdempotencyHeaders,
        response: { 202: Accepted, ...problems(400, 401, 404, 409, 413, 422, 429) },
      },
    },
    async (request, reply) => {
      const { tenantId: requested, type, data, metadata, id } = request.body;
      const tenantId = tenantOf(request, herald, requested);
      const idempotencyKey = request.headers["idempotency-key"];
      const traceHeaders = traceHeadersOf(request.headers);
      const result = await herald.trigger(type, data, metadata ?? null, {
        tenantId,
        ...(id !== undefined ? { id } : {}),
        ...(idempotencyKey !== undefined ? { idempotencyKey } : {}),
        ...(traceHeaders ? { traceHeaders } : {}),
      });
      return reply.code(202).send(accepted(result, request));
    },
  );

  app.post<{ Body: BatchEventsBody }>(
    "/v1/events/batch",
    {
      schema: {
        tags, summary: "Accept up to 1000 events in one transaction: all or none", body: BatchEventsBody,
        response: { 202: Type.Object({ data: Type.Array(Accepted) }), ...problems(400, 401, 404, 409, 413, 422, 429) },
      },
    },
    async (request, reply) => {
      const tenantId = tenantOf(request, herald, request.body.tenantId);
      const inputs: EventInput[] = request.body.events.map((event) => ({
        type: event.type,
        data: event.data,
        metadata: event.metadata ?? null,
        ...(event.id !== undefined ? { id: event.id } : {}),
      }));
      const traceHeaders = traceHeadersOf(request.headers);
      const results = await herald.triggerMany(inputs, traceHeaders ? { tenantId, traceHeaders } : { tenantId });
      return reply.code(202).send({ data: results.map((result) => accepted(result, request)) });
    },
  );

  app.get<{ Querystring: EventListQuery }>(
    "/v1/events",
    { schema: { tags, summary: "List events, newest first", querystring: EventListQuery, response: { 200: PageOf(Event), ...problems(400, 401, 404, 429) } } },
    async (request) => {
      const { tenantId, type, since, limit, cursor } = request.query;
      const scope = scopeOf(request, tenantId);
      const sinceMs = parseTime("since", since);
      const page = await herald.events.list({
        ...listScope(scope),
        ...(type ? { type } : {}),
        ...(sinceMs !== undefined ? { since: sinceMs } : {}),
        ...(limit !== undefined ? { limit } : {}),
        ...(cursor ? { cursor } : {}),
      });
      return presentPage(page, presentEvent);
    },
  );

  app.get<{ Params: IdParams }>(
    "/v1/events/:id",
    {
      schema: {
        tags, summary: "Get an event with its deliveries", params: IdParams,
        response: { 200: Type.Intersect([Event, Type.Object({ deliveries: Type.Array(Delivery) })]), ...problems(401, 404, 429) },
      },
    },
    async (request) => {
      const scope = scopeOf(request);
      const event = await herald.events.get(request.params.id, scope);
      const deliveries = await herald.deliveries.list({
        ...listScope(scope),
        eventId: event.id,
        limit: 1000,
      });
      return { ...presentEvent(event), deliveries: deliveries.items.map(presentDelivery) };
    },
  );
}
