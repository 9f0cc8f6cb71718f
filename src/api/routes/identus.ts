/**
 * The Identus Cloud Agent's wallet webhook API (seeds 001/002), at `/events/webhooks` and
 * again under `/cloud-agent`, so the seeds' curl commands work unchanged against port 8080.
 * Webhooks made here are kind "identus": every event, Identus envelope, fixed 3 x 5 s retries.
 */
import type { FastifyInstance } from "fastify";
import { tenantOf } from "../auth.js";
import type { ApiContext } from "../context.js";
import { checkHeaders } from "../../domain/webhook-headers.js";
import { notFound } from "../../errors.js";
import { presentIdentusWebhook } from "../present.js";
import { IdParams, IdentusWebhook, IdentusWebhookBody, IdentusWebhookPage, problems } from "../schemas.js";

const tags = ["identus"];
const MAX_LISTED = 1000;

export function identusRoutes({ herald }: ApiContext) {
  return async function registerIdentusRoutes(app: FastifyInstance): Promise<void> {
    app.post<{ Body: IdentusWebhookBody }>(
      "/events/webhooks",
      {
        schema: {
          tags, summary: "Create a wallet webhook (Identus)", body: IdentusWebhookBody,
          response: { 200: IdentusWebhook, ...problems(400, 401, 404, 413, 422, 429) },
        },
      },
      async (request) => {
        const tenantId = tenantOf(request, herald);
        // The same header rules as /v1 (create applies them again); checked here so an error names customHeaders.
        const headers = checkHeaders(request.body.customHeaders ?? {}, "customHeaders");
        const webhook = await herald.webhooks.create({ url: request.body.url, headers }, { tenantId, kind: "identus" });
        // The caller just sent these headers; echo them as Identus does. Later reads mask credentials.
        return presentIdentusWebhook(webhook, true);
      },
    );

    app.get(
      "/events/webhooks",
      { schema: { tags, summary: "List the wallet's webhooks (Identus)", response: { 200: IdentusWebhookPage, ...problems(401, 429) } } },
      async (request) => {
        const tenantId = tenantOf(request, herald);
        const page = await herald.webhooks.list({ tenantId, kind: "identus", limit: MAX_LISTED });
        const path = request.url.split("?")[0]!;
        return { self: request.url, kind: "WebhookNotificationPage" as const, pageOf: path, contents: page.items.map((w) => presentIdentusWebhook(w)) };
      },
    );

    app.delete<{ Params: IdParams }>(
      "/events/webhooks/:id",
      { schema: { tags, summary: "Delete a wallet webhook (Identus)", params: IdParams, response: { 200: { type: "null", description: "deleted" }, ...problems(401, 404, 429) } } },
      async (request, reply) => {
        const scope = { tenantId: tenantOf(request, herald) };
        const webhook = await herald.webhooks.get(request.params.id, scope);
        if (webhook.kind !== "identus") {
          throw notFound.webhook(request.params.id, "manage it with /v1/webhooks");
        }
        await herald.webhooks.delete(webhook.id, scope);
        return reply.code(200).send();
      },
    );
  };
}
