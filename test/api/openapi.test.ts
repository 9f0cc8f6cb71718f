import { Ajv } from "ajv";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { registeredRoutes } from "../../src/api/server.js";
import { closeAll, startTestServer, type TestServer } from "./helpers.js";
import { openApi30Schema } from "./openapi-3.0-schema.js";

let server: TestServer;
let document: { openapi: string; paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };

beforeAll(async () => {
  server = await startTestServer();
  const response = await server.app.inject({ method: "GET", url: "/openapi.json" });
  expect(response.statusCode).toBe(200);
  document = response.json();
});
afterAll(closeAll);

/** `/v1/webhooks/:id` → `/v1/webhooks/{id}`, as OpenAPI writes path parameters. */
const toOpenApiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, "{$1}");

describe("/openapi.json", () => {
  test("validates against the OpenAPI 3.0 schema", () => {
    const ajv = new Ajv({ strict: false, allErrors: true });
    const validate = ajv.compile(openApi30Schema);
    const valid = validate(document);
    // The deepest error first: the outer ones only repeat that some oneOf failed.
    const errors = (validate.errors ?? []).filter((e) => e.keyword !== "oneOf" && e.params.missingProperty !== "$ref");
    expect(errors.map((e) => `${e.instancePath}: ${e.message}`)).toEqual([]);
    expect(valid).toBe(true);
    expect(document.openapi).toMatch(/^3\.0\./);
  });

  test("lists every registered route that is not hidden", () => {
    const routes = registeredRoutes(server.app).filter((r) => !r.hidden && r.method !== "HEAD" && !r.url.startsWith("/docs"));
    expect(routes.length).toBeGreaterThan(40);
    const missing = routes.filter((r) => !document.paths[toOpenApiPath(r.url)]?.[r.method.toLowerCase()]);
    expect(missing).toEqual([]);
  });

  test("lists every SPEC section 6 route, Identus ones also under /cloud-agent", () => {
    const expected = [
      "post /events/webhooks", "get /events/webhooks", "delete /events/webhooks/{id}",
      "post /cloud-agent/events/webhooks", "get /cloud-agent/events/webhooks", "delete /cloud-agent/events/webhooks/{id}",
      "post /v1/tenants", "get /v1/tenants", "get /v1/tenants/{id}", "delete /v1/tenants/{id}", "post /v1/tenants/{id}/api-keys",
      "delete /v1/api-keys/{id}",
      "post /v1/webhooks", "get /v1/webhooks", "get /v1/webhooks/{id}", "patch /v1/webhooks/{id}", "delete /v1/webhooks/{id}",
      "post /v1/webhooks/{id}/test", "post /v1/webhooks/{id}/pause", "post /v1/webhooks/{id}/resume",
      "post /v1/webhooks/{id}/rotate-secret", "post /v1/webhooks/{id}/recover", "get /v1/webhooks/{id}/deliveries",
      "get /v1/webhooks/{id}/stats", "get /v1/webhooks/{id}/secret",
      "post /v1/events", "post /v1/events/batch", "get /v1/events", "get /v1/events/{id}",
      "get /v1/deliveries", "get /v1/deliveries/{id}", "post /v1/deliveries/{id}/retry",
      "get /v1/event-types", "post /v1/event-types",
      "get /health", "get /ready", "get /metrics", "get /openapi.json",
    ];
    const listed = Object.entries(document.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method} ${path}`));
    expect(expected.filter((route) => !listed.includes(route))).toEqual([]);
  });

  test("/docs serves the interactive documentation", async () => {
    const response = await server.app.inject({ method: "GET", url: "/docs/" });
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toContain("text/html");
  });
});
