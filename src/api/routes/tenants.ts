/** Tenants and their API keys (admin only). */
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { ApiContext } from "../context.js";
import { presentApiKey, presentTenant } from "../present.js";
import { ApiKey, CreateApiKeyBody, CreateTenantBody, IdParams, IssuedApiKey, PageOf, Tenant, problems } from "../schemas.js";

const tags = ["tenants"];
const config = { access: "admin" as const };

export function registerTenantRoutes(app: FastifyInstance, { herald, auth }: ApiContext): void {
  app.post<{ Body: CreateTenantBody }>(
    "/v1/tenants",
    {
      config,
      schema: {
        tags, summary: "Create a tenant; its first API key is returned once", body: CreateTenantBody,
        response: { 201: Type.Intersect([Tenant, Type.Object({ apiKey: IssuedApiKey })]), ...problems(400, 401, 403, 409, 429) },
      },
    },
    async (request, reply) => {
      const tenant = await herald.tenants.create({ name: request.body.name, ...(request.body.id ? { id: request.body.id } : {}) });
      const issued = await herald.apiKeys.issue(tenant.id, "first key");
      return reply.code(201).send({ ...presentTenant(tenant), apiKey: { ...presentApiKey(issued.apiKey), key: issued.key } });
    },
  );

  app.get(
    "/v1/tenants",
    { config, schema: { tags, summary: "List tenants", response: { 200: PageOf(Tenant), ...problems(401, 403, 429) } } },
    async () => ({ data: (await herald.tenants.list()).map(presentTenant), nextCursor: null }),
  );

  app.get<{ Params: IdParams }>(
    "/v1/tenants/:id",
    { config, schema: { tags, summary: "Get a tenant", params: IdParams, response: { 200: Tenant, ...problems(401, 403, 404, 429) } } },
    async (request) => presentTenant(await herald.tenants.get(request.params.id)),
  );

  app.delete<{ Params: IdParams }>(
    "/v1/tenants/:id",
    {
      config,
      schema: {
        tags, summary: "Delete a tenant with its webhooks, events, deliveries and keys", params: IdParams,
        response: { 204: Type.Null({ description: "deleted" }), ...problems(401, 403, 404, 429) },
      },
    },
    async (request, reply) => {
      await herald.tenants.delete(request.params.id);
      auth.forgetKeys();
      return reply.code(204).send();
    },
  );

  app.post<{ Params: IdParams; Body: { name?: string } }>(
    "/v1/tenants/:id/api-keys",
    {
      config,
      schema: {
        tags, summary: "Make a new API key for a tenant; the key is returned once", params: IdParams, body: CreateApiKeyBody,
        response: { 201: IssuedApiKey, ...problems(400, 401, 403, 404, 429) },
      },
    },
    async (request, reply) => {
      const issued = await herald.apiKeys.issue(request.params.id, request.body?.name ?? "api key");
      return reply.code(201).send({ ...presentApiKey(issued.apiKey), key: issued.key });
    },
  );

  app.get<{ Params: IdParams }>(
    "/v1/tenants/:id/api-keys",
    {
      config,
      schema: { tags, summary: "A tenant's API keys (prefixes only)", params: IdParams, response: { 200: PageOf(ApiKey), ...problems(401, 403, 404, 429) } },
    },
    async (request) => {
      return { data: (await herald.apiKeys.list(request.params.id)).map(presentApiKey), nextCursor: null };
    },
  );

  app.delete<{ Params: IdParams }>(
    "/v1/api-keys/:id",
    {
      config,
      schema: { tags, summary: "Revoke an API key", params: IdParams, response: { 200: ApiKey, ...problems(401, 403, 404, 429) } },
    },
    async (request) => {
      const revoked = await herald.apiKeys.revoke(request.params.id);
      auth.forgetKeys();
      return presentApiKey(revoked);
    },
  );
}
