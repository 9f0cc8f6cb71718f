/**
 * Svix endpoints: an application's webhooks. Made here they carry Svix's body (the message
 * payload itself, payloadFormat "svix"); a /v1 webhook of the tenant lists here too.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Webhook } from "../../domain/types.js";
import type { WebhookInput, WebhookPatch } from "../../domain/webhook-input.js";
import { shownHeaders } from "../../domain/webhook-headers.js";
import { isHeraldError } from "../../errors.js";
import type { Herald } from "../../herald.js";
import { parseTime, refuseUnsupported, resolveApp, noContent } from "./common.js";
import { listOf, presentEndpoint } from "./present.js";
import {
  AppParams, EndpointHeadersIn, EndpointHeadersOut, EndpointHeadersPatchIn, EndpointIn, EndpointOut, EndpointParams, EndpointPatch,
  EndpointSecretOut, EndpointSecretRotateIn, EndpointStats, EndpointUpdate, ListQuery, ListResponse, RecoverIn, RecoverOut, svixErrors,
} from "./schemas.js";

const tags = ["svix"];
const readErrors = svixErrors(401, 404, 429);
const writeErrors = svixErrors(401, 404, 409, 413, 422, 429, 501);

/** Header names whose values Svix calls sensitive and Herald masks in answers; the rest are shown. */
const SENSITIVE_HEADER = /auth|token|key|secret|cookie|signature|password|session/i;

/** Svix accepts a secret with or without its whsec_ prefix. */
const withPrefix = (secret: string): string => (secret.startsWith("whsec_") ? secret : `whsec_${secret}`);

const UNSUPPORTED_ENDPOINT_FIELDS = {
  throttleRate: "Herald limits an endpoint with rateLimit (requests per second); give that instead",
};

/** The parts of EndpointIn/EndpointUpdate/EndpointPatch that map onto a webhook's fields; absent fields are left out. */
function webhookFields(body: EndpointPatch): WebhookPatch {
  const fields: WebhookPatch = {};
  if (body.url !== undefined) fields.url = body.url;
  if (body.description !== undefined) fields.description = body.description;
  if (body.filterTypes !== undefined) fields.events = body.filterTypes ?? ["*"];
  if (body.channels !== undefined) fields.channels = body.channels;
  if (body.rateLimit !== undefined) fields.rateLimitPerSecond = body.rateLimit;
  if (body.uid !== undefined) fields.uid = body.uid;
  if (body.disabled !== undefined) fields.status = body.disabled ? "inactive" : "active";
  if (body.metadata !== undefined) fields.metadata = body.metadata;
  return fields;
}

function publicNames(headers: Record<string, string>): string[] {
  return Object.keys(headers).filter((name) => !SENSITIVE_HEADER.test(name));
}

/** The endpoint an `endpoint_id` names in this application: its id or its uid. */
async function resolveEndpoint(herald: Herald, request: FastifyRequest, params: EndpointParams): Promise<{ tenantId: string; webhook: Webhook }> {
  const app = await resolveApp(herald, request, params.app_id);
  const scope = { tenantId: app.id };
  try {
    return { tenantId: app.id, webhook: await herald.webhooks.get(params.endpoint_id, scope) };
  } catch (error) {
    if (!isHeraldError(error) || error.status !== 404) throw error;
    return { tenantId: app.id, webhook: await herald.webhooks.getByUid(app.id, params.endpoint_id) };
  }
}

export function registerSvixEndpointRoutes(app: FastifyInstance, herald: Herald): void {
  const base = "/api/v1/app/:app_id/endpoint";

  app.get<{ Params: AppParams; Querystring: ListQuery }>(
    base,
    { schema: { tags, summary: "List endpoints (Svix)", params: AppParams, querystring: ListQuery, response: { 200: ListResponse(EndpointOut), ...readErrors } } },
    async (request) => {
      const tenant = await resolveApp(herald, request, request.params.app_id);
      const { limit, iterator } = request.query;
      const page = await herald.webhooks.list({ tenantId: tenant.id, ...(limit ? { limit } : {}), ...(iterator ? { cursor: iterator } : {}) });
      return listOf(page.items.map(presentEndpoint), page.nextCursor);
    },
  );

  app.post<{ Params: AppParams; Body: EndpointIn }>(
    base,
    { schema: { tags, summary: "Create an endpoint (Svix)", params: AppParams, body: EndpointIn, response: { 201: EndpointOut, ...writeErrors } } },
    async (request, reply) => {
      const tenant = await resolveApp(herald, request, request.params.app_id);
      const body = request.body;
      refuseUnsupported(body, UNSUPPORTED_ENDPOINT_FIELDS);
      const input: WebhookInput = {
        ...(body.uid ? { name: body.uid } : {}),
        payloadFormat: "svix",
        ...(webhookFields(body) as WebhookInput),
        url: body.url,
      };
      if (body.secret) input.secret = withPrefix(body.secret);
      if (body.headers) {
        input.headers = body.headers;
        input.publicHeaders = publicNames(body.headers);
      }
      const webhook = await herald.webhooks.create(input, { tenantId: tenant.id });
      return reply.code(201).send(presentEndpoint(webhook));
    },
  );

  app.get<{ Params: EndpointParams }>(
    `${base}/:endpoint_id`,
    { schema: { tags, summary: "Get an endpoint (Svix)", params: EndpointParams, response: { 200: EndpointOut, ...readErrors } } },
    async (request) => presentEndpoint((await resolveEndpoint(herald, request, request.params)).webhook),
  );

  app.put<{ Params: EndpointParams; Body: EndpointUpdate }>(
    `${base}/:endpoint_id`,
    { schema: { tags, summary: "Replace an endpoint (Svix)", params: EndpointParams, body: EndpointUpdate, response: { 200: EndpointOut, ...writeErrors } } },
    async (request) => {
      const { tenantId, webhook } = await resolveEndpoint(herald, request, request.params);
      refuseUnsupported(request.body, UNSUPPORTED_ENDPOINT_FIELDS);
      // A PUT replaces: every field left out takes Svix's default.
      const replaced: EndpointPatch = { description: "", filterTypes: null, channels: null, rateLimit: null, uid: null, disabled: false, metadata: {}, ...request.body };
      return presentEndpoint(await herald.webhooks.update(webhook.id, webhookFields(replaced), { tenantId }));
    },
  );

  app.patch<{ Params: EndpointParams; Body: EndpointPatch }>(
    `${base}/:endpoint_id`,
    { schema: { tags, summary: "Change an endpoint (Svix)", params: EndpointParams, body: EndpointPatch, response: { 200: EndpointOut, ...writeErrors } } },
    async (request) => {
      const { tenantId, webhook } = await resolveEndpoint(herald, request, request.params);
      refuseUnsupported(request.body, UNSUPPORTED_ENDPOINT_FIELDS);
      let updated = await herald.webhooks.update(webhook.id, webhookFields(request.body), { tenantId });
      // A secret given here replaces the current one at once, as Svix does.
      if (request.body.secret) updated = (await herald.webhooks.rotateSecret(webhook.id, { tenantId, secret: withPrefix(request.body.secret), graceMs: 0 })).webhook;
      return presentEndpoint(updated);
    },
  );

  app.delete<{ Params: EndpointParams }>(
    `${base}/:endpoint_id`,
    { schema: { tags, summary: "Delete an endpoint (Svix)", params: EndpointParams, response: { 204: { type: "null", description: "deleted" }, ...readErrors } } },
    async (request, reply) => {
      const { tenantId, webhook } = await resolveEndpoint(herald, request, request.params);
      await herald.webhooks.delete(webhook.id, { tenantId });
      return noContent(reply);
    },
  );

  app.get<{ Params: EndpointParams }>(
    `${base}/:endpoint_id/secret`,
    { schema: { tags, summary: "Get an endpoint's signing secret (Svix)", params: EndpointParams, response: { 200: EndpointSecretOut, ...readErrors } } },
    async (request) => ({ key: (await resolveEndpoint(herald, request, request.params)).webhook.secrets[0]!.secret }),
  );

  app.post<{ Params: EndpointParams; Body: EndpointSecretRotateIn }>(
    `${base}/:endpoint_id/secret/rotate`,
    {
      schema: {
        tags, summary: "Rotate an endpoint's signing secret (Svix); the old one keeps signing for the grace period", params: EndpointParams,
        body: EndpointSecretRotateIn, response: { 204: { type: "null", description: "rotated" }, ...writeErrors },
      },
    },
    async (request, reply) => {
      const { tenantId, webhook } = await resolveEndpoint(herald, request, request.params);
      const { key, gracePeriodSeconds } = request.body ?? {};
      await herald.webhooks.rotateSecret(webhook.id, {
        tenantId,
        ...(key ? { secret: withPrefix(key) } : {}),
        ...(gracePeriodSeconds !== undefined && gracePeriodSeconds !== null ? { graceMs: gracePeriodSeconds * 1000 } : {}),
      });
      return noContent(reply);
    },
  );

  app.get<{ Params: EndpointParams }>(
    `${base}/:endpoint_id/headers`,
    { schema: { tags, summary: "Get an endpoint's custom headers (Svix)", params: EndpointParams, response: { 200: EndpointHeadersOut, ...readErrors } } },
    async (request) => {
      const { webhook } = await resolveEndpoint(herald, request, request.params);
      const shown = new Set((webhook.publicHeaders ?? []).map((name) => name.toLowerCase()));
      return { headers: shownHeaders(webhook), sensitive: Object.keys(webhook.headers).filter((name) => !shown.has(name.toLowerCase())) };
    },
  );

  const setHeaders = async (request: FastifyRequest<{ Params: EndpointParams }>, merge: (current: Record<string, string>) => Record<string, string>) => {
    const { tenantId, webhook } = await resolveEndpoint(herald, request, request.params);
    const headers = merge(webhook.headers);
    await herald.webhooks.update(webhook.id, { headers, publicHeaders: publicNames(headers) }, { tenantId });
  };

  app.put<{ Params: EndpointParams; Body: EndpointHeadersIn }>(
    `${base}/:endpoint_id/headers`,
    { schema: { tags, summary: "Replace an endpoint's custom headers (Svix)", params: EndpointParams, body: EndpointHeadersIn, response: { 204: { type: "null", description: "replaced" }, ...writeErrors } } },
    async (request, reply) => {
      await setHeaders(request, () => request.body.headers);
      return noContent(reply);
    },
  );

  app.patch<{ Params: EndpointParams; Body: EndpointHeadersPatchIn }>(
    `${base}/:endpoint_id/headers`,
    { schema: { tags, summary: "Add to or remove from an endpoint's custom headers (Svix)", params: EndpointParams, body: EndpointHeadersPatchIn, response: { 204: { type: "null", description: "changed" }, ...writeErrors } } },
    async (request, reply) => {
      const removed = new Set((request.body.deleteHeaders ?? []).map((name) => name.toLowerCase()));
      await setHeaders(request, (current) => {
        const kept = Object.fromEntries(Object.entries(current).filter(([name]) => !removed.has(name.toLowerCase())));
        return { ...kept, ...request.body.headers };
      });
      return noContent(reply);
    },
  );

  app.post<{ Params: EndpointParams; Body: RecoverIn }>(
    `${base}/:endpoint_id/recover`,
    { schema: { tags, summary: "Send an endpoint's failed messages since a time again (Svix)", params: EndpointParams, body: RecoverIn, response: { 202: RecoverOut, ...writeErrors } } },
    async (request, reply) => {
      const { tenantId, webhook } = await resolveEndpoint(herald, request, request.params);
      refuseUnsupported(request.body, { until: "Herald recovers everything since `since`; leave until out" });
      const job = await herald.webhooks.recover(webhook.id, parseTime(request.body.since, "since")!, { tenantId });
      return reply.code(202).send({ id: job.id, status: job.status === "done" ? "finished" : "running", task: "endpoint.recover", updatedAt: new Date(job.updatedAt).toISOString() });
    },
  );

  app.get<{ Params: EndpointParams; Querystring: { since?: string; until?: string } }>(
    `${base}/:endpoint_id/stats`,
    { schema: { tags, summary: "Count an endpoint's messages by delivery status (Svix)", params: EndpointParams, response: { 200: EndpointStats, ...readErrors } } },
    async (request) => {
      const { tenantId, webhook } = await resolveEndpoint(herald, request, request.params);
      refuseUnsupported(request.query, { since: "Herald counts every delivery the endpoint has; leave since out", until: "Herald counts every delivery the endpoint has; leave until out" });
      const counts = await herald.webhooks.deliveryCounts(webhook.id, { tenantId });
      return { success: counts.succeeded, pending: counts.pending, sending: counts.in_flight, fail: counts.failed, canceled: counts.cancelled };
    },
  );
}
