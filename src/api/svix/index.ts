/**
 * The Svix-compatible API under /api/v1 (SPEC section 10): the routes and shapes Svix's official
 * clients call, over the same engine as /v1, so a Svix user changes only the server URL and the
 * token. Applications are tenants, endpoints webhooks, messages events. What Herald does not do
 * answers 501 with a detail saying so; see docs/svix.md.
 */
import type { FastifyInstance } from "fastify";
import { assertJsonValue } from "../../domain/json-limits.js";
import type { ApiContext } from "../context.js";
import { registerSvixApplicationRoutes } from "./applications.js";
import { registerSvixAuthenticationRoutes, registerSvixExpireAllRoute } from "./authentication.js";
import { installSvixErrors, notSupported } from "./common.js";
import { registerSvixEndpointRoutes } from "./endpoints.js";
import { registerSvixMessageRoutes } from "./messages.js";
import { SvixError, SvixValidationError } from "./schemas.js";

export function svixRoutes({ herald, auth }: ApiContext) {
  return async function registerSvixRoutes(app: FastifyInstance): Promise<void> {
    app.addSchema(SvixError);
    app.addSchema(SvixValidationError);
    installSvixErrors(app);
    // Svix's bodies take fields they do not know (as Svix's server does): each top-level value is
    // bounded like every JSON input before anything recursive reads it, named when refused.
    app.addHook("preValidation", async (request) => {
      const body = request.body;
      if (typeof body !== "object" || body === null || Array.isArray(body)) return;
      for (const [field, value] of Object.entries(body)) assertJsonValue(value, field);
    });
    registerSvixApplicationRoutes(app, herald);
    registerSvixEndpointRoutes(app, herald);
    registerSvixMessageRoutes(app, herald);
    registerSvixAuthenticationRoutes(app, herald);
    registerSvixExpireAllRoute(app, herald, () => auth.forgetKeys());
    // Every other Svix path (transformations, replays, integrations, statistics, operational
    // webhooks, ...) is a Svix feature Herald lacks: 501, after authentication like the rest.
    app.all("/api/v1/*", { schema: { hide: true } }, async (request) => {
      throw notSupported(`${request.method} ${request.url.split("?")[0]!}`, "see docs/svix.md for the calls Herald supports and what to use instead");
    });
  };
}
