/**
 * The web dashboard (issue 8): static files at `/` and `/dashboard/...`, plus the API routes
 * only the dashboard needs. buildApp calls registerDashboard after the API's auth hook is
 * installed, so the added /v1 routes are authenticated like the rest of the API. The pages
 * themselves are public: they hold no data until the user signs in with an API key.
 */
import type { FastifyInstance } from "fastify";
import type { Herald } from "../herald.js";
import { registerDashboardRoutes } from "./dashboard-routes.js";
import { DASHBOARD_ASSETS_DIR, registerDashboardAssets } from "./static-assets.js";

export interface DashboardDeps {
  herald: Herald;
  /** Where the dashboard's files are; default: the `dashboard/` folder of the package. */
  assetsDir?: string;
}

export async function registerDashboard(app: FastifyInstance, deps: DashboardDeps): Promise<void> {
  await registerDashboardAssets(app, deps.assetsDir ?? DASHBOARD_ASSETS_DIR);
  registerDashboardRoutes(app, deps.herald);
}
