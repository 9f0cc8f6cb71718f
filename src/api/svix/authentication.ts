/**
 * Svix's app portal access (`authentication.appPortalAccess`): the same signed, expiring portal
 * link as `POST /v1/tenants/{id}/portal-links`, for the application's tenant, in Svix's
 * `{url, token}`; and `expireAll`, which revokes them as `DELETE /v1/tenants/{id}/portal-links`
 * does. Admin key only, as on /v1.
 */
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { isHeraldError } from "../../errors.js";
import type { Herald } from "../../herald.js";
import type { Tenant } from "../../domain/types.js";
import { portalUrl } from "../routes/portal-links.js";
import { noContent, refuseUnsupported, requireAdmin, resolveApp } from "./common.js";
import { AppParams, ApplicationIn, svixErrors } from "./schemas.js";

/** Svix's default app portal session; Herald's own /v1 default is one hour. */
const SVIX_DEFAULT_EXPIRY_SECONDS = 7 * 86_400;

const AppPortalAccessIn = Type.Object(
  {
    application: Type.Optional(Type.Union([ApplicationIn, Type.Null()])),
    capabilities: Type.Optional(Type.Union([Type.Array(Type.String()), Type.Null()])),
    expiry: Type.Optional(Type.Union([Type.Number(), Type.Null()], { description: "seconds the token is valid: 1 to 604800 (7 days); default 7 days, as Svix" })),
    featureFlags: Type.Optional(Type.Array(Type.String())),
    readOnly: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
    sessionId: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  },
  { additionalProperties: true },
);
interface AppPortalAccessIn {
  application?: ApplicationIn | null;
  capabilities?: string[] | null;
  expiry?: number | null;
  featureFlags?: string[];
  readOnly?: boolean | null;
  sessionId?: string | null;
}

const AppPortalAccessOut = Type.Object({
  url: Type.String({ description: "Herald's dashboard with the token in its fragment (#portal=...)" }),
  token: Type.String(),
});

const UNSUPPORTED_PORTAL_FIELDS = {
  capabilities: "a Herald portal link has the tenant key's rights, or reads only with readOnly: true",
  sessionId: "Herald's portal links are not sessions; each link ends at its expiry",
};

export function registerSvixAuthenticationRoutes(app: FastifyInstance, herald: Herald): void {
  app.post<{ Params: AppParams; Body: AppPortalAccessIn | undefined }>(
    "/api/v1/auth/app-portal-access/:app_id",
    {
      schema: {
        tags: ["svix"],
        summary: "A portal link for an application (Svix); `application` creates it when the path names none",
        params: AppParams,
        body: AppPortalAccessIn,
        response: { 200: AppPortalAccessOut, ...svixErrors(401, 403, 404, 409, 422, 429, 501) },
      },
    },
    async (request) => {
      requireAdmin(request, "making an app portal link");
      const body = request.body ?? {};
      refuseUnsupported(body as Record<string, unknown>, UNSUPPORTED_PORTAL_FIELDS, [undefined, null]);
      if (body.featureFlags !== undefined && body.featureFlags.length > 0) refuseUnsupported(body as Record<string, unknown>, { featureFlags: "Herald has no feature flags" });
      const tenant = await appOrCreated(herald, request, body.application ?? null);
      const link = await herald.portalLinks.issue(tenant.id, {
        expiresInSeconds: body.expiry ?? SVIX_DEFAULT_EXPIRY_SECONDS,
        readOnly: body.readOnly ?? false,
      });
      return { url: portalUrl(request, link.token), token: link.token };
    },
  );
}

const ApplicationTokenExpireIn = Type.Object(
  {
    expiry: Type.Optional(Type.Union([Type.Number(), Type.Null()], { description: "seconds until the old links stop: only 0 (at once) is supported" })),
    sessionIds: Type.Optional(Type.Array(Type.String())),
  },
  { additionalProperties: true },
);
interface ApplicationTokenExpireIn {
  expiry?: number | null;
  sessionIds?: string[];
}

/** Svix's `authentication.expireAll`: every portal link of the application made until now stops at once. */
export function registerSvixExpireAllRoute(app: FastifyInstance, herald: Herald, forgetKeys: () => void): void {
  app.post<{ Params: AppParams; Body: ApplicationTokenExpireIn | undefined }>(
    "/api/v1/auth/app/:app_id/expire-all",
    {
      schema: {
        tags: ["svix"],
        summary: "Revoke every portal link of an application made until now (Svix)",
        params: AppParams,
        body: ApplicationTokenExpireIn,
        response: { 204: { type: "null", description: "revoked" }, ...svixErrors(401, 403, 404, 422, 429, 501) },
      },
    },
    async (request, reply) => {
      requireAdmin(request, "expiring app portal links");
      const body = request.body ?? {};
      refuseUnsupported(body as Record<string, unknown>, { expiry: "Herald ends the links at once; leave expiry out or give 0" }, [undefined, null, 0]);
      if (body.sessionIds !== undefined && body.sessionIds.length > 0) {
        refuseUnsupported(body as Record<string, unknown>, { sessionIds: "Herald's portal links are not sessions; every link of the application is revoked" });
      }
      const tenant = await resolveApp(herald, request, request.params.app_id);
      await herald.portalLinks.revokeAll(tenant.id);
      forgetKeys();
      return noContent(reply);
    },
  );
}

/** The application the path names; when there is none and `application` is given, it is made (uid: the path's id unless it gives one). */
async function appOrCreated(herald: Herald, request: Parameters<typeof resolveApp>[1] & { params: AppParams }, application: ApplicationIn | null): Promise<Tenant> {
  try {
    return await resolveApp(herald, request, request.params.app_id);
  } catch (error) {
    if (application === null || !isHeraldError(error) || error.status !== 404) throw error;
    refuseUnsupported(application as Record<string, unknown>, {
      rateLimit: "Herald limits each endpoint (its rateLimit) and each API key, not an application",
      throttleRate: "Herald limits each endpoint (its rateLimit), not an application",
    });
    const { name, uid, metadata } = application;
    return herald.tenants.create({ name, uid: uid ?? request.params.app_id, ...(metadata ? { metadata } : {}) });
  }
}
