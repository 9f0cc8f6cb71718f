/** Native webhook routes (SPEC section 6): `/v1/webhooks` and its actions. */
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { WebhookInput, WebhookPatch } from "../../domain/webhook-input.js";
import { scopeOf } from "../auth.js";
import type { ApiContext } from "../context.js";
import { notFound } from "../../errors.js";
import { parseTime, presentAttempt, presentDelivery, presentPage, presentRecovery, presentWebhook } from "../present.js";
import {
  CreateWebhookBody, CreatedWebhook, Delivery, IdParams, PageOf, PatchWebhookBody, RecoverBody, Webhook, WebhookDeliveriesQuery,
  WebhookListQuery, WebhookStats, problems, Attempt, Nullable, Recovery,
} from "../schemas.js";

const tags = ["webhooks"];
const byId = { params: IdParams };

export function registerWebhookRoutes(app: FastifyInstance, { herald }: ApiContext): void {
  app.post<{ Body: CreateWebhookBody }>(
    "/v1/webhooks",
    {
      schema: {
        tags, summary: "Create a webhook", body: CreateWebhookBody,
        response: { 201: CreatedWebhook, ...problems(400, 401, 404, 413, 422, 429) },
      },
    },
    async (request, reply) => {
      const { tenantId, ...input } = request.body;
      const webhook = await herald.webhooks.create(input as WebhookInput, scopeOf(request, tenantId));
      return reply.code(201).send({ ...presentWebhook(webhook), secret: webhook.secrets[0]?.secret });
    },
  );

  app.get<{ Querystring: WebhookListQuery }>(
    "/v1/webhooks",
    { schema: { tags, summary: "List webhooks", querystring: WebhookListQuery, response: { 200: PageOf(Webhook), ...problems(400, 401, 429) } } },
    async (request) => {
      const { tenantId, status, event, limit, cursor } = request.query;
      const scope = scopeOf(request, tenantId);
      const page = await herald.webhooks.list({
        ...(scope.tenantId === undefined ? { allTenants: true } : { tenantId: scope.tenantId }),
        ...(status ? { status } : {}),
        ...(event ? { event } : {}),
        ...(limit !== undefined ? { limit } : {}),
        ...(cursor ? { cursor } : {}),
      });
      return presentPage(page, presentWebhook);
    },
  );

  app.get<{ Params: IdParams }>(
    "/v1/webhooks/:id",
    { schema: { tags, summary: "Get a webhook", ...byId, response: { 200: Webhook, ...problems(401, 404, 429) } } },
    async (request) => presentWebhook(await herald.webhooks.get(request.params.id, scopeOf(request))),
  );

  app.patch<{ Params: IdParams; Body: WebhookPatch }>(
    "/v1/webhooks/:id",
    {
      schema: {
        tags, summary: "Update a webhook (fields left out keep their values)", ...byId, body: PatchWebhookBody,
        response: { 200: Webhook, ...problems(400, 401, 404, 413, 422, 429) },
      },
    },
    async (request) => presentWebhook(await herald.webhooks.update(request.params.id, request.body, scopeOf(request))),
  );

  app.delete<{ Params: IdParams }>(
    "/v1/webhooks/:id",
    { schema: { tags, summary: "Delete a webhook and its delivery records", ...byId, response: { 204: Type.Null({ description: "deleted" }), ...problems(401, 404, 429) } } },
    async (request, reply) => {
      await herald.webhooks.delete(request.params.id, scopeOf(request));
      return reply.code(204).send();
    },
  );

  app.post<{ Params: IdParams }>(
    "/v1/webhooks/:id/test",
    {
      schema: {
        tags, summary: "Send a webhook.test event to this webhook only and report the first attempt", ...byId,
        response: {
          200: Type.Object({ success: Type.Boolean(), delivery: Delivery, attempt: Nullable(Attempt) }),
          202: Type.Object({ success: Type.Boolean(), delivery: Delivery, attempt: Nullable(Attempt) }, { description: "no attempt yet: the webhook is paused or no worker took it in time" }),
          ...problems(401, 404, 429),
        },
      },
    },
    async (request, reply) => {
      const { delivery, attempt } = await herald.webhooks.sendTest(request.params.id, scopeOf(request));
      const status = attempt?.response?.status;
      return reply.code(attempt ? 200 : 202).send({
        success: status !== undefined && status >= 200 && status <= 299,
        delivery: presentDelivery(delivery),
        attempt: attempt ? presentAttempt(attempt) : null,
      });
    },
  );

  app.post<{ Params: IdParams }>(
    "/v1/webhooks/:id/pause",
    { schema: { tags, summary: "Pause (status inactive): deliveries wait until resumed", ...byId, response: { 200: Webhook, ...problems(401, 404, 429) } } },
    async (request) => presentWebhook(await herald.webhooks.pause(request.params.id, scopeOf(request))),
  );

  app.post<{ Params: IdParams }>(
    "/v1/webhooks/:id/resume",
    { schema: { tags, summary: "Resume (status active), also after a 410 disabled it", ...byId, response: { 200: Webhook, ...problems(401, 404, 429) } } },
    async (request) => presentWebhook(await herald.webhooks.resume(request.params.id, scopeOf(request))),
  );

  app.post<{ Params: IdParams }>(
    "/v1/webhooks/:id/rotate-secret",
    {
      schema: {
        tags, summary: "New signing secret; the old one keeps signing for the grace period", ...byId,
        response: { 200: Type.Object({ secret: Type.String(), webhook: Webhook }), ...problems(401, 404, 429) },
      },
    },
    async (request) => {
      const { webhook, secret } = await herald.webhooks.rotateSecret(request.params.id, scopeOf(request));
      return { secret, webhook: presentWebhook(webhook) };
    },
  );

  app.get<{ Params: IdParams }>(
    "/v1/webhooks/:id/secret",
    {
      schema: {
        tags, summary: "The current signing secret (and older ones still in their grace period)", ...byId,
        response: {
          200: Type.Object({ secret: Type.String(), previous: Type.Array(Type.Object({ secret: Type.String(), expiresAt: Type.String({ format: "date-time" }) })) }),
          ...problems(401, 404, 429),
        },
      },
    },
    async (request) => {
      const webhook = await herald.webhooks.get(request.params.id, scopeOf(request));
      const [current, ...older] = webhook.secrets;
      return {
        secret: current?.secret ?? "",
        previous: older.filter((s) => s.expiresAt !== null).map((s) => ({ secret: s.secret, expiresAt: new Date(s.expiresAt!).toISOString() })),
      };
    },
  );

  app.post<{ Params: IdParams; Body: { since: string } }>(
    "/v1/webhooks/:id/recover",
    {
      schema: {
        tags, summary: "Re-queue this webhook's failed deliveries created since a time (a durable job, run in batches)", ...byId, body: RecoverBody,
        response: { 202: Recovery, ...problems(400, 401, 404, 422, 429) },
      },
    },
    async (request, reply) => {
      const since = parseTime("since", request.body.since)!;
      const job = await herald.webhooks.recover(request.params.id, since, scopeOf(request));
      return reply.code(202).send(presentRecovery(job));
    },
  );

  app.get<{ Params: IdParams & { jobId: string } }>(
    "/v1/webhooks/:id/recover/:jobId",
    {
      schema: {
        tags, summary: "Progress of a recovery job", params: Type.Object({ id: IdParams.properties.id, jobId: IdParams.properties.id }),
        response: { 200: Recovery, ...problems(401, 404, 429) },
      },
    },
    async (request) => {
      const job = await herald.webhooks.recovery(request.params.jobId, scopeOf(request));
      if (job.webhookId !== request.params.id) throw notFound.recovery(request.params.jobId, "jobId");
      return presentRecovery(job);
    },
  );

  app.get<{ Params: IdParams; Querystring: WebhookDeliveriesQuery }>(
    "/v1/webhooks/:id/deliveries",
    {
      schema: {
        tags, summary: "This webhook's deliveries, newest first", ...byId, querystring: WebhookDeliveriesQuery,
        response: { 200: PageOf(Delivery), ...problems(400, 401, 404, 429) },
      },
    },
    async (request) => {
      const webhook = await herald.webhooks.get(request.params.id, scopeOf(request));
      const { status, limit, cursor } = request.query;
      const page = await herald.deliveries.list({
        allTenants: true,
        webhookId: webhook.id,
        ...(status ? { state: status } : {}),
        ...(limit !== undefined ? { limit } : {}),
        ...(cursor ? { cursor } : {}),
      });
      return presentPage(page, presentDelivery);
    },
  );

  app.get<{ Params: IdParams }>(
    "/v1/webhooks/:id/stats",
    { schema: { tags, summary: "Delivery statistics (seed 003's fields)", ...byId, response: { 200: WebhookStats, ...problems(401, 404, 429) } } },
    async (request) => herald.webhooks.stats(request.params.id, scopeOf(request)),
  );
}
