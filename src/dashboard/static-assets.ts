/**
 * The dashboard's files (HTML, CSS, JS modules, icons), read once at start from the `dashboard/`
 * folder shipped beside `dist/`. Serving only what was listed at start means no request path
 * ever reaches the file system, so there is no path traversal to guard against; the whole
 * folder is a few tens of kilobytes.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** src/dashboard/ and dist/dashboard/ are both two levels below the package root. */
export const DASHBOARD_ASSETS_DIR = fileURLToPath(new URL("../../dashboard/", import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
};

export interface StaticAsset {
  body: Buffer;
  contentType: string;
  etag: string;
}

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? listFiles(path) : [path];
  });
}

/** Asset by URL path relative to the folder (`js/main.js`); files of unknown types are left out. */
export function loadStaticAssets(dir = DASHBOARD_ASSETS_DIR): Map<string, StaticAsset> {
  const assets = new Map<string, StaticAsset>();
  for (const path of listFiles(dir)) {
    const contentType = CONTENT_TYPES[extname(path).toLowerCase()];
    if (!contentType) continue;
    const body = readFileSync(path);
    const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`;
    assets.set(relative(dir, path).split(sep).join("/"), { body, contentType, etag });
  }
  return assets;
}
