/**
 * The dashboard's files (HTML, CSS, JS modules, icons) from the `dashboard/` folder shipped
 * beside `dist/`, served by @fastify/static: it keeps request paths inside the folder, answers
 * If-None-Match with 304 and streams each file. The page is at `/`, the rest under `/dashboard/`.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
// For `hide` in route schemas, which @fastify/swagger declares.
import type {} from "@fastify/swagger";
import type { FastifyInstance } from "fastify";
import { internalError } from "../errors.js";

/** src/dashboard/ and dist/dashboard/ are both two levels below the package root. */
export const DASHBOARD_ASSETS_DIR = fileURLToPath(new URL("../../dashboard/", import.meta.url));

/**
 * The page talks only to its own origin and runs only its own scripts: an event payload or a
 * response body shown in the page can never load or run anything, even if escaping failed.
 * no-cache: revalidate each time (a 304 costs nothing), so an upgraded server never runs old scripts.
 */
const ASSET_HEADERS = {
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cache-control": "no-cache",
};

/** Registered in a scope of its own so `reply.sendFile` does not leak to the API's routes. */
export async function registerDashboardAssets(app: FastifyInstance, dir = DASHBOARD_ASSETS_DIR): Promise<void> {
  if (!existsSync(join(dir, "index.html"))) throw internalError(`dashboard: index.html is missing from ${dir}`);
  await app.register(async (scope) => {
    await scope.register(fastifyStatic, {
      root: dir,
      prefix: "/dashboard/",
      // An editor's or the OS's dotfiles left in the folder are not part of the dashboard.
      dotfiles: "ignore",
      cacheControl: false,
      setHeaders: (response) => {
        for (const [name, value] of Object.entries(ASSET_HEADERS)) response.setHeader(name, value);
      },
    });
    // fetch() and a browser's reload add `cache-control: no-cache` to a conditional request, and
    // @fastify/send then never answers 304. That directive asks caches to revalidate with the
    // origin (RFC 9111 5.2.1.4); the origin comparing the ETag is that revalidation, so it is dropped here.
    scope.addHook("onRequest", async (request) => {
      if (request.headers["if-none-match"] !== undefined) delete request.raw.headers["cache-control"];
    });
    // The mime table under @fastify/send still says application/javascript; RFC 9239 and browsers use text/javascript.
    scope.addHook("onSend", async (_request, reply) => {
      if (String(reply.getHeader("content-type")).startsWith("application/javascript")) reply.type("text/javascript; charset=utf-8");
    });
    const hidden = { schema: { hide: true }, config: { access: "public" as const } };
    scope.get("/", hidden, (_request, reply) => reply.sendFile("index.html"));
    scope.get("/dashboard", hidden, (_request, reply) => reply.redirect("/"));
  });
}
