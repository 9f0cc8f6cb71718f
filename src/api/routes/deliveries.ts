/** Delivery log: `/v1/deliveries` (the tenant-wide filterable list the dashboard reads), one delivery with its attempts, manual retry. */
import type { FastifyInstance } from "fastify";
import { listScope, scopeOf } from "../auth.js";
import type { ApiContext } from "../context.js";
import { parseTime, presentAttempt, presentDelivery, presentPage } from "../present.js";
import { Delivery, DeliveryListQuery, DeliveryWithAttempts, IdParams, PageOf, problems } from "../schemas.js";

const tags = ["deliveries"];

export function registerDeliveryRoutes(app: FastifyInstance, { herald }: ApiContext): void {
  app.get<{ Querystring: DeliveryListQuery }>(
    "/v1/deliveries",
    {
      schema: {
        tags, summary: "List deliveries, newest first, filtered by webhook, event type, status and time", querystring: DeliveryListQuery,
        response: { 200: PageOf(Delivery), ...problems(400, 401, 404, 429) },
      },
    },
    async (request) => {
      const { tenantId, webhookId, eventType, status, since, until, limit, cursor } = request.query;
      const scope = scopeOf(request, tenantId);
      const sinceMs = parseTime("since", since);
      const untilMs = parseTime("until", until);
      const page = await herald.deliveries.list({
        ...listScope(scope),
        ...(webhookId ? { webhookId } : {}),
        ...(eventType ? { eventType } : {}),
        ...(status ? { state: status } : {}),
        ...(sinceMs !== undefined ? { since: sinceMs } : {}),
        ...(untilMs !== undefined ? { until: untilMs } : {}),
        ...(limit !== undefined ? { limit } : {}),
        ...(cursor ? { cursor } : {}),
      });
      return presentPage(page, presentDelivery);
    },
  );

  app.get<{ Params: IdParams }>(
    "/v1/deliveries/:id",
    {
      schema: {
        tags, summary: "Get a delivery with every attempt's request and response", params: IdParams,
        response: { 200: DeliveryWithAttempts, ...problems(401, 404, 429) },
      },
    },
    async (request) => {
      const delivery = await herald.deliveries.get(request.params.id, scopeOf(request));
      return { ...presentDelivery(delivery), attempts: delivery.attempts.map(presentAttempt) };
    },
  );

  app.post<{ Params: IdParams }>(
    "/v1/deliveries/:id/retry",
    {
      schema: {
        tags, summary: "Make a delivery due again now (manual retry)", params: IdParams,
        response: { 202: Delivery, ...problems(401, 404, 409, 429) },
      },
    },
    async (request, reply) => reply.code(202).send(presentDelivery(await herald.deliveries.retry(request.params.id, scopeOf(request)))),
  );
}
