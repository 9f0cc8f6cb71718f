/** Tenant portal links (admin only): a signed, expiring URL that opens the dashboard as one tenant. */
import { type Static, Type } from "@sinclair/typebox";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { PortalLink } from "../../herald.js";
import { PORTAL_LINK_DEFAULT_SECONDS, PORTAL_LINK_MAX_SECONDS } from "../../engine/portal-links-service.js";
import type { ApiContext } from "../context.js";
import { iso } from "../present.js";
import { IdParams, problems } from "../schemas.js";

export const CreatePortalLinkBody = Type.Object(
  {
    expiresInSeconds: Type.Optional(Type.Number({ description: `seconds until the link stops working: 1 to ${PORTAL_LINK_MAX_SECONDS} (7 days); default ${PORTAL_LINK_DEFAULT_SECONDS}` })),
    readOnly: Type.Optional(Type.Boolean({ description: "the link can look but not change anything (writes answer 403); default false" })),
  },
  { additionalProperties: false },
);
type CreatePortalLinkBody = Static<typeof CreatePortalLinkBody>;

export const PortalLinkOut = Type.Object({
  url: Type.String({ description: "the dashboard with the token in its fragment (#portal=...), so browsers send it in no request line or Referer" }),
  token: Type.String({ description: "the credential itself; also accepted as Authorization: Bearer by the API, as the tenant's key" }),
  tenantId: Type.String(),
  expiresAt: Type.String({ format: "date-time" }),
  readOnly: Type.Boolean(),
});

/**
 * The link's address: the dashboard on the host the caller reached this server by. Behind a
 * proxy that changes the scheme or host, put the token after your own address: `<url>/#portal=<token>`.
 */
export function portalUrl(request: FastifyRequest, token: string): string {
  return `${request.protocol}://${request.host}/#portal=${token}`;
}

export function presentPortalLink(request: FastifyRequest, link: PortalLink) {
  return { url: portalUrl(request, link.token), token: link.token, tenantId: link.tenantId, expiresAt: iso(link.expiresAt), readOnly: link.readOnly };
}

export function registerPortalLinkRoutes(app: FastifyInstance, { herald, auth }: ApiContext): void {
  app.post<{ Params: IdParams; Body: CreatePortalLinkBody }>(
    "/v1/tenants/:id/portal-links",
    {
      config: { access: "admin" },
      // No body at all (a bare `curl -X POST`) is the defaults, as `{}` is.
      preValidation: async (request) => {
        request.body ??= {};
      },
      schema: {
        tags: ["tenants"],
        summary: "Make a portal link: the dashboard, signed in as this tenant until the link expires",
        params: IdParams,
        body: CreatePortalLinkBody,
        response: { 201: PortalLinkOut, ...problems(400, 401, 403, 404, 422, 429) },
      },
    },
    async (request, reply) => {
      const { expiresInSeconds, readOnly } = request.body;
      const link = await herald.portalLinks.issue(request.params.id, {
        ...(expiresInSeconds !== undefined ? { expiresInSeconds } : {}),
        ...(readOnly !== undefined ? { readOnly } : {}),
      });
      return reply.code(201).send(presentPortalLink(request, link));
    },
  );

  app.delete<{ Params: IdParams }>(
    "/v1/tenants/:id/portal-links",
    {
      config: { access: "admin" },
      schema: {
        tags: ["tenants"],
        summary: "Revoke every portal link of this tenant made until now (at once in this process, within 5 s in others)",
        params: IdParams,
        response: { 200: Type.Object({ tenantId: Type.String(), revokedBefore: Type.String({ format: "date-time" }) }), ...problems(401, 403, 404, 429) },
      },
    },
    async (request) => {
      const { revokedBefore } = await herald.portalLinks.revokeAll(request.params.id);
      auth.forgetKeys();
      return { tenantId: request.params.id, revokedBefore: iso(revokedBefore) };
    },
  );
}
