/** Event types: a catalogue per tenant; a type with a JSON Schema has its events validated on ingest. */
import type { FastifyInstance } from "fastify";
import { tenantOf } from "../auth.js";
import type { ApiContext } from "../context.js";
import { presentEventType } from "../present.js";
import { CreateEventTypeBody, EventType, PageOf, TenantQuery, problems } from "../schemas.js";

const tags = ["event-types"];

export function registerEventTypeRoutes(app: FastifyInstance, { herald }: ApiContext): void {
  app.post<{ Body: CreateEventTypeBody }>(
    "/v1/event-types",
    {
      schema: {
        tags, summary: "Create or replace an event type", body: CreateEventTypeBody,
        response: { 200: EventType, 201: EventType, ...problems(400, 401, 404, 413, 422, 429) },
      },
    },
    async (request, reply) => {
      const { name, description, schema, tenantId: requested } = request.body;
      const tenantId = tenantOf(request, herald, requested);
      const { eventType, created } = await herald.eventTypes.upsert(tenantId, {
        name, ...(description !== undefined ? { description } : {}), ...(schema !== undefined ? { schema } : {}),
      });
      return reply.code(created ? 201 : 200).send(presentEventType(eventType));
    },
  );

  app.get<{ Querystring: { tenantId?: string } }>(
    "/v1/event-types",
    { schema: { tags, summary: "List event types", querystring: TenantQuery, response: { 200: PageOf(EventType), ...problems(400, 401, 404, 429) } } },
    async (request) => {
      const tenantId = tenantOf(request, herald, request.query.tenantId);
      return { data: (await herald.eventTypes.list(tenantId)).map(presentEventType), nextCursor: null };
    },
  );
}
