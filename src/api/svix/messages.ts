/**
 * Svix messages (Herald events) and their attempts. A message's eventId and channels are kept in
 * its event's metadata; its eventId is also the event's idempotency key, so the same eventId
 * again answers the first message and is not delivered twice.
 */
import type { FastifyInstance } from "fastify";
import { checkChannels } from "../../domain/webhook-input.js";
import { HeraldError } from "../../errors.js";
import type { Herald } from "../../herald.js";
import { isAdmin, parseList, parseTime, refuseUnsupported, resolveApp } from "./common.js";
import { type MessageExtras, listOf, presentAttempt, presentMessage } from "./present.js";
import { traceHeadersOf } from "../../tracing/tracing.js";
import {
  AppParams, AttemptListQuery, EndpointParams, ListResponse, MessageAttemptOut, MessageIn, MessageListQuery, MessageOut, MessageParams, svixErrors,
} from "./schemas.js";

const tags = ["svix"];
const readErrors = svixErrors(401, 404, 422, 429);

type AttemptParams = MessageParams & { attempt_id: string };
type ResendParams = MessageParams & { endpoint_id: string };

/** Attempts Herald records are made: they succeeded (0) or failed (2); none is pending (1) or sending (3). */
function successFilter(status: number | undefined): { success?: boolean } | "none" {
  if (status === undefined) return {};
  if (status === 0) return { success: true };
  if (status === 2) return { success: false };
  return "none";
}

export function registerSvixMessageRoutes(app: FastifyInstance, herald: Herald): void {
  app.post<{ Params: AppParams; Body: MessageIn; Querystring: { with_content?: boolean }; Headers: { "idempotency-key"?: string } }>(
    "/api/v1/app/:app_id/msg",
    {
      schema: {
        tags, summary: "Send a message (Svix): fanned out to the application's matching endpoints", params: AppParams, body: MessageIn,
        response: { 202: MessageOut, ...svixErrors(401, 404, 409, 413, 422, 429, 501) },
      },
    },
    async (request, reply) => {
      const tenant = await resolveApp(herald, request, request.params.app_id);
      const body = request.body;
      refuseUnsupported(body, {
        application: "create the application first (application.create or getOrCreate), then send to it",
        deliverAt: "Herald delivers at once; schedule the send on your side",
        tags: "Herald has no message tags; use channels or eventType to route",
        transformationsParams: "Herald has no transformations",
      });
      if (body.payload === undefined) throw new HeraldError("HERALD_ERR_VALIDATION", "is required: the message's JSON payload", { field: "payload" });
      const channels = body.channels === undefined || body.channels === null ? null : checkChannels(body.channels);
      const extras: MessageExtras = {
        ...(body.eventId ? { eventId: body.eventId } : {}),
        ...(channels ? { channels } : {}),
      };
      // The eventId is the idempotency key when given (the same eventId again is the same message);
      // otherwise the client's idempotency-key header (the official clients send one with every POST).
      const idempotencyKey = body.eventId ? `svix-event-id:${body.eventId}` : request.headers["idempotency-key"];
      const traceHeaders = traceHeadersOf(request.headers);
      const result = await herald.trigger(body.eventType, body.payload, Object.keys(extras).length > 0 ? (extras as Record<string, unknown>) : null, {
        tenantId: tenant.id,
        ...(idempotencyKey ? { idempotencyKey } : {}),
        ...(channels ? { channels } : {}),
        ...(traceHeaders ? { traceHeaders } : {}),
      });
      return reply.code(202).send(presentMessage(result.event, request.query.with_content !== false));
    },
  );

  app.get<{ Params: AppParams; Querystring: MessageListQuery }>(
    "/api/v1/app/:app_id/msg",
    { schema: { tags, summary: "List messages, newest first (Svix)", params: AppParams, querystring: MessageListQuery, response: { 200: ListResponse(MessageOut), ...readErrors } } },
    async (request) => {
      const tenant = await resolveApp(herald, request, request.params.app_id);
      const { limit, iterator, before, after, channel, with_content: withContent } = request.query;
      const types = parseList(request.query.event_types);
      const since = parseTime(after, "after");
      const until = parseTime(before, "before");
      const page = await herald.events.list({
        tenantId: tenant.id,
        ...(limit ? { limit } : {}),
        ...(iterator ? { cursor: iterator } : {}),
        ...(types ? { types } : {}),
        ...(since !== undefined ? { since } : {}),
        ...(until !== undefined ? { until } : {}),
      });
      // A channel narrows the page read (Herald does not index channels): a page may hold fewer than `limit`.
      const items = channel ? page.items.filter((event) => ((event.metadata as MessageExtras | null)?.channels ?? []).includes(channel)) : page.items;
      return listOf(items.map((event) => presentMessage(event, withContent !== false)), page.nextCursor);
    },
  );

  app.get<{ Params: MessageParams; Querystring: { with_content?: boolean } }>(
    "/api/v1/app/:app_id/msg/:msg_id",
    { schema: { tags, summary: "Get a message (Svix)", params: MessageParams, response: { 200: MessageOut, ...readErrors } } },
    async (request) => {
      const tenant = await resolveApp(herald, request, request.params.app_id);
      const event = await herald.events.get(request.params.msg_id, { tenantId: tenant.id });
      return presentMessage(event, request.query.with_content !== false);
    },
  );

  async function listAttempts(
    appId: string,
    request: Parameters<typeof resolveApp>[1],
    filter: { webhookId?: string; eventId?: string },
    query: AttemptListQuery,
  ) {
    const tenant = await resolveApp(herald, request, appId);
    const scope = { tenantId: tenant.id };
    if (filter.webhookId !== undefined) await herald.webhooks.get(filter.webhookId, scope);
    if (filter.eventId !== undefined) await herald.events.get(filter.eventId, scope);
    const success = successFilter(query.status);
    if (success === "none") return listOf([], null);
    const types = parseList(query.event_types);
    const since = parseTime(query.after, "after");
    const until = parseTime(query.before, "before");
    const page = await herald.deliveries.eventAttempts({
      // The admin sees every attempt of the application's events; a tenant key its own webhooks' only.
      tenantId: tenant.id,
      ...filter,
      ...success,
      ...(query.endpoint_id ? { webhookId: query.endpoint_id } : {}),
      ...(types ? { eventTypes: types } : {}),
      ...(since !== undefined ? { since } : {}),
      ...(until !== undefined ? { until } : {}),
      ...(query.limit ? { limit: query.limit } : {}),
      ...(query.iterator ? { cursor: query.iterator } : {}),
    });
    const messages = new Map<string, Awaited<ReturnType<typeof herald.events.get>>>();
    if (query.with_msg) for (const attempt of page.items) if (!messages.has(attempt.eventId)) messages.set(attempt.eventId, await herald.events.get(attempt.eventId, scope));
    return listOf(page.items.map((attempt) => presentAttempt(attempt, messages.get(attempt.eventId))), page.nextCursor);
  }

  app.get<{ Params: EndpointParams; Querystring: AttemptListQuery }>(
    "/api/v1/app/:app_id/attempt/endpoint/:endpoint_id",
    { schema: { tags, summary: "List an endpoint's attempts, newest first (Svix)", params: EndpointParams, querystring: AttemptListQuery, response: { 200: ListResponse(MessageAttemptOut), ...readErrors } } },
    async (request) => listAttempts(request.params.app_id, request, { webhookId: request.params.endpoint_id }, request.query),
  );

  app.get<{ Params: MessageParams; Querystring: AttemptListQuery }>(
    "/api/v1/app/:app_id/attempt/msg/:msg_id",
    { schema: { tags, summary: "List a message's attempts, newest first (Svix)", params: MessageParams, querystring: AttemptListQuery, response: { 200: ListResponse(MessageAttemptOut), ...readErrors } } },
    async (request) => listAttempts(request.params.app_id, request, { eventId: request.params.msg_id }, request.query),
  );

  app.get<{ Params: AttemptParams }>(
    "/api/v1/app/:app_id/msg/:msg_id/attempt/:attempt_id",
    { schema: { tags, summary: "Get one attempt (Svix)", params: { ...MessageParams, properties: { ...MessageParams.properties, attempt_id: { type: "string", minLength: 1, maxLength: 256 } } }, response: { 200: MessageAttemptOut, ...readErrors } } },
    async (request) => {
      const tenant = await resolveApp(herald, request, request.params.app_id);
      await herald.events.get(request.params.msg_id, { tenantId: tenant.id });
      for (let cursor: string | undefined; ;) {
        const page = await herald.deliveries.eventAttempts({ tenantId: tenant.id, eventId: request.params.msg_id, limit: 1000, ...(cursor ? { cursor } : {}) });
        const attempt = page.items.find((item) => item.id === request.params.attempt_id);
        if (attempt) return presentAttempt(attempt);
        if (page.nextCursor === null) break;
        cursor = page.nextCursor;
      }
      throw new HeraldError("HERALD_ERR_NOT_FOUND", `attempt ${request.params.attempt_id} of message ${request.params.msg_id} not found`, { field: "attempt_id" });
    },
  );

  app.post<{ Params: ResendParams }>(
    "/api/v1/app/:app_id/msg/:msg_id/endpoint/:endpoint_id/resend",
    {
      schema: {
        tags, summary: "Send a message to an endpoint again (Svix)",
        params: { ...MessageParams, properties: { ...MessageParams.properties, endpoint_id: { type: "string", minLength: 1, maxLength: 256 } } },
        response: { 202: { type: "object", description: "empty" }, ...svixErrors(401, 404, 409, 429) },
      },
    },
    async (request, reply) => {
      const tenant = await resolveApp(herald, request, request.params.app_id);
      const scope = { tenantId: tenant.id };
      await herald.events.get(request.params.msg_id, scope);
      await herald.webhooks.get(request.params.endpoint_id, scope);
      const page = await herald.deliveries.list({ ...scope, eventId: request.params.msg_id, webhookId: request.params.endpoint_id, limit: 1 });
      const delivery = page.items[0];
      if (!delivery) {
        throw new HeraldError("HERALD_ERR_DELIVERY_NOT_FOUND", `message ${request.params.msg_id} was never sent to endpoint ${request.params.endpoint_id}`, { field: "endpoint_id" });
      }
      await herald.deliveries.retry(delivery.id, isAdmin(request) ? {} : scope);
      return reply.code(202).send({});
    },
  );
}
