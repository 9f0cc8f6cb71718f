/** Svix applications (Herald tenants) and event types (with the admin key, for every application). */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { ALL_TENANTS } from "../../domain/types.js";
import { HeraldError, isHeraldError } from "../../errors.js";
import type { Herald } from "../../herald.js";
import { principalOf } from "../auth.js";
import { noContent, refuseUnsupported, requireAdmin, resolveApp } from "./common.js";
import { listOf, presentApplication, presentEventType } from "./present.js";
import {
  AppParams, ApplicationIn, ApplicationOut, ApplicationPatch, EventTypeIn, EventTypeOut, EventTypeParams, EventTypePatch, EventTypeUpdate,
  ListQuery, ListResponse, svixErrors,
} from "./schemas.js";

const tags = ["svix"];
const readErrors = svixErrors(401, 404, 429);
const writeErrors = svixErrors(401, 403, 404, 409, 413, 422, 429, 501);

const UNSUPPORTED_APP_FIELDS = {
  rateLimit: "Herald limits each endpoint (its rateLimit) and each API key (HERALD_RATE_LIMIT_PER_SECOND), not an application",
  throttleRate: "Herald limits each endpoint (its rateLimit), not an application",
};

const UNSUPPORTED_EVENT_TYPE_FIELDS = {
  archived: "Herald has no archived event types; delete it instead",
  deprecated: "Herald does not mark event types deprecated",
  featureFlag: "Herald has no feature flags",
  featureFlags: "Herald has no feature flags",
  groupName: "Herald does not group event types",
};

/** The newest version of a Svix `schemas` object (`{"1": {...}}`): Herald keeps one schema per event type. */
function schemaOf(schemas: Record<string, unknown> | null | undefined): unknown {
  if (!schemas) return null;
  const versions = Object.keys(schemas).sort((a, b) => Number(a) - Number(b) || a.localeCompare(b));
  return versions.length > 0 ? schemas[versions[versions.length - 1]!] : null;
}

/** Whose event types a caller manages: the admin key's are every application's; a tenant key's are its own. */
function eventTypeTenant(request: FastifyRequest): string {
  const principal = principalOf(request);
  return principal.kind === "admin" ? ALL_TENANTS : principal.tenantId;
}

export function registerSvixApplicationRoutes(app: FastifyInstance, herald: Herald): void {
  app.get<{ Querystring: ListQuery }>(
    "/api/v1/app",
    { schema: { tags, summary: "List applications (Svix); a tenant key lists its own", querystring: ListQuery, response: { 200: ListResponse(ApplicationOut), ...readErrors } } },
    async (request) => {
      const principal = principalOf(request);
      const all = principal.kind === "admin" ? await herald.tenants.list() : [await herald.tenants.get(principal.tenantId)];
      const ordered = request.query.order === "descending" ? [...all].reverse() : all;
      const start = request.query.iterator ? ordered.findIndex((tenant) => tenant.id === request.query.iterator) + 1 : 0;
      const limit = request.query.limit ?? 50;
      const page = ordered.slice(start, start + limit);
      const more = start + limit < ordered.length;
      return listOf(page.map(presentApplication), more ? page[page.length - 1]!.id : null);
    },
  );

  app.post<{ Body: ApplicationIn; Querystring: { get_if_exists?: boolean } }>(
    "/api/v1/app",
    {
      schema: {
        tags, summary: "Create an application (Svix); with get_if_exists, the one with this uid if there is one", body: ApplicationIn,
        response: { 200: ApplicationOut, 201: ApplicationOut, ...writeErrors },
      },
    },
    async (request, reply) => {
      requireAdmin(request, "creating an application");
      const { name, uid, metadata } = request.body;
      refuseUnsupported(request.body, UNSUPPORTED_APP_FIELDS);
      if (request.query.get_if_exists && uid) {
        try {
          return reply.code(200).send(presentApplication(await herald.tenants.getByUid(uid)));
        } catch (error) {
          if (!isHeraldError(error) || error.status !== 404) throw error;
        }
      }
      const tenant = await herald.tenants.create({ name, ...(uid ? { uid } : {}), ...(metadata ? { metadata } : {}) });
      return reply.code(201).send(presentApplication(tenant));
    },
  );

  app.get<{ Params: AppParams }>(
    "/api/v1/app/:app_id",
    { schema: { tags, summary: "Get an application by id or uid (Svix)", params: AppParams, response: { 200: ApplicationOut, ...readErrors } } },
    async (request) => presentApplication(await resolveApp(herald, request, request.params.app_id)),
  );

  const change = async (request: FastifyRequest<{ Params: AppParams; Body: ApplicationPatch }>, replace: boolean) => {
    const tenant = await resolveApp(herald, request, request.params.app_id);
    refuseUnsupported(request.body, UNSUPPORTED_APP_FIELDS);
    const { name, uid, metadata } = request.body;
    const patch = replace ? { name: name!, uid: uid ?? null, metadata: metadata ?? {} } : {
      ...(name !== undefined ? { name } : {}), ...(uid !== undefined ? { uid } : {}), ...(metadata !== undefined ? { metadata } : {}),
    };
    return presentApplication(await herald.tenants.update(tenant.id, patch));
  };

  app.put<{ Params: AppParams; Body: ApplicationIn }>(
    "/api/v1/app/:app_id",
    { schema: { tags, summary: "Replace an application (Svix)", params: AppParams, body: ApplicationIn, response: { 200: ApplicationOut, ...writeErrors } } },
    async (request) => change(request, true),
  );

  app.patch<{ Params: AppParams; Body: ApplicationPatch }>(
    "/api/v1/app/:app_id",
    { schema: { tags, summary: "Change an application (Svix)", params: AppParams, body: ApplicationPatch, response: { 200: ApplicationOut, ...writeErrors } } },
    async (request) => change(request, false),
  );

  app.delete<{ Params: AppParams }>(
    "/api/v1/app/:app_id",
    { schema: { tags, summary: "Delete an application with its endpoints, messages and attempts (Svix)", params: AppParams, response: { 204: { type: "null", description: "deleted" }, ...svixErrors(401, 403, 404, 429) } } },
    async (request, reply) => {
      const tenant = await resolveApp(herald, request, request.params.app_id);
      requireAdmin(request, "deleting an application");
      await herald.tenants.delete(tenant.id);
      return noContent(reply);
    },
  );

  // ---- event types

  app.get<{ Querystring: ListQuery & { include_archived?: boolean; with_content?: boolean } }>(
    "/api/v1/event-type",
    { schema: { tags, summary: "List event types (Svix)", querystring: ListQuery, response: { 200: ListResponse(EventTypeOut), ...readErrors } } },
    async (request) => {
      const all = await herald.eventTypes.list(eventTypeTenant(request));
      const start = request.query.iterator ? all.findIndex((type) => type.name === request.query.iterator) + 1 : 0;
      const limit = request.query.limit ?? 50;
      const page = all.slice(start, start + limit);
      return listOf(page.map(presentEventType), start + limit < all.length ? page[page.length - 1]!.name : null);
    },
  );

  app.post<{ Body: EventTypeIn }>(
    "/api/v1/event-type",
    { schema: { tags, summary: "Create an event type (Svix); its schemas validate every message of the type", body: EventTypeIn, response: { 201: EventTypeOut, ...writeErrors } } },
    async (request, reply) => {
      const tenantId = eventTypeTenant(request);
      refuseUnsupported(request.body, UNSUPPORTED_EVENT_TYPE_FIELDS);
      const { name, description, schemas } = request.body;
      const existing = (await herald.eventTypes.list(tenantId)).find((type) => type.name === name && type.tenantId === tenantId);
      if (existing) throw new HeraldError("HERALD_ERR_CONFLICT", `event type ${name} already exists; update it instead`, { field: "name" });
      const { eventType } = await herald.eventTypes.upsert(tenantId, { name, description, schema: schemaOf(schemas) });
      return reply.code(201).send(presentEventType(eventType));
    },
  );

  app.get<{ Params: EventTypeParams }>(
    "/api/v1/event-type/:event_type_name",
    { schema: { tags, summary: "Get an event type (Svix)", params: EventTypeParams, response: { 200: EventTypeOut, ...readErrors } } },
    async (request) => presentEventType(await herald.eventTypes.get(eventTypeTenant(request), request.params.event_type_name)),
  );

  app.put<{ Params: EventTypeParams; Body: EventTypeUpdate }>(
    "/api/v1/event-type/:event_type_name",
    { schema: { tags, summary: "Replace an event type, creating it if need be (Svix)", params: EventTypeParams, body: EventTypeUpdate, response: { 200: EventTypeOut, 201: EventTypeOut, ...writeErrors } } },
    async (request, reply) => {
      refuseUnsupported(request.body, UNSUPPORTED_EVENT_TYPE_FIELDS);
      const { eventType, created } = await herald.eventTypes.upsert(eventTypeTenant(request), {
        name: request.params.event_type_name, description: request.body.description, schema: schemaOf(request.body.schemas),
      });
      return reply.code(created ? 201 : 200).send(presentEventType(eventType));
    },
  );

  app.patch<{ Params: EventTypeParams; Body: EventTypePatch }>(
    "/api/v1/event-type/:event_type_name",
    { schema: { tags, summary: "Change an event type (Svix)", params: EventTypeParams, body: EventTypePatch, response: { 200: EventTypeOut, ...writeErrors } } },
    async (request) => {
      refuseUnsupported(request.body, UNSUPPORTED_EVENT_TYPE_FIELDS);
      const tenantId = eventTypeTenant(request);
      const current = await herald.eventTypes.get(tenantId, request.params.event_type_name);
      const { description, schemas } = request.body;
      const { eventType } = await herald.eventTypes.upsert(tenantId, {
        name: current.name,
        description: description ?? current.description,
        schema: schemas === undefined ? current.schema : schemaOf(schemas),
      });
      return presentEventType(eventType);
    },
  );

  app.delete<{ Params: EventTypeParams; Querystring: { expunge?: boolean } }>(
    "/api/v1/event-type/:event_type_name",
    { schema: { tags, summary: "Delete an event type (Svix); its messages are no longer validated", params: EventTypeParams, response: { 204: { type: "null", description: "deleted" }, ...readErrors } } },
    async (request, reply) => {
      await herald.eventTypes.delete(eventTypeTenant(request), request.params.event_type_name);
      return noContent(reply);
    },
  );
}
