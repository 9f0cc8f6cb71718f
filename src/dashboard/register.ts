/**
 * The web dashboard (issue 8): static files at `/` and `/dashboard/...`, plus the API routes
 * only the dashboard needs. buildApp calls registerDashboard after the API's auth hook is
 * installed, so the added /v1 routes are authenticated like the rest of the API. The pages
 * themselves are public: they hold no data until the user signs in with an API key.
 */
// For the OpenAPI fields in route schemas (tags, summary, hide), which @fastify/swagger declares.
import type {} from "@fastify/swagger";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Herald } from "../herald.js";
import { registerDashboardRoutes } from "./dashboard-routes.js";
import { type StaticAsset, DASHBOARD_ASSETS_DIR, loadStaticAssets } from "./static-assets.js";

export interface DashboardDeps {
  herald: Herald;
  /** Where the dashboard's files are; default: the `dashboard/` folder of the package. */
  assetsDir?: string;
}

/**
 * The page talks only to its own origin and runs only its own scripts: an event payload or a
 * response body shown in the page can never load or run anything, even if escaping failed.
 */
const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

function sendAsset(request: FastifyRequest, reply: FastifyReply, asset: StaticAsset) {
  reply.headers(SECURITY_HEADERS);
  // no-cache: revalidate each time (a 304 costs nothing), so an upgraded server never runs old scripts.
  reply.header("cache-control", "no-cache").header("etag", asset.etag);
  if (request.headers["if-none-match"] === asset.etag) return reply.code(304).send();
  return reply.type(asset.contentType).send(asset.body);
}

export async function registerDashboard(app: FastifyInstance, deps: DashboardDeps): Promise<void> {
  const assets = loadStaticAssets(deps.assetsDir ?? DASHBOARD_ASSETS_DIR);
  const index = assets.get("index.html");
  if (!index) throw new Error(`dashboard: index.html is missing from ${deps.assetsDir ?? DASHBOARD_ASSETS_DIR}`);

  const hidden = { schema: { hide: true }, config: { access: "public" as const } };
  app.get("/", hidden, (request, reply) => sendAsset(request, reply, index));
  app.get("/dashboard", hidden, (_request, reply) => reply.redirect("/"));
  app.get<{ Params: { "*": string } }>("/dashboard/*", hidden, (request, reply) => {
    const asset = assets.get(request.params["*"]);
    if (asset) return sendAsset(request, reply, asset);
    return reply.callNotFound();
  });

  registerDashboardRoutes(app, deps.herald);
}
