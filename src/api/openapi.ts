/**
 * /openapi.json and /docs through @fastify/swagger, generated from the route schemas that also
 * validate requests. Schemas are JSON Schema; OpenAPI 3.0 knows a subset of it, so the document
 * is normalised on the way out (`type: "null"` unions become `nullable`, `const` becomes `enum`)
 * and stays valid whoever writes a route.
 */
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";
import { HERALD_VERSION } from "../version.js";

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value);
const isNullSchema = (value: unknown) => isObject(value) && value.type === "null";

const SCHEMA_MAPS = new Set(["properties", "patternProperties", "definitions", "$defs"]);
const SCHEMA_LISTS = new Set(["anyOf", "oneOf", "allOf", "prefixItems"]);
const SCHEMA_VALUES = new Set(["items", "additionalProperties", "not", "contains"]);

/** Rewrites one schema, and the schemas inside it (never example or default values), into the OpenAPI 3.0 dialect. */
export function toOpenApi30(schema: unknown): unknown {
  if (!isObject(schema)) return schema;
  let out: Json = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === "$id" || key === "$schema") continue;
    if (SCHEMA_MAPS.has(key) && isObject(value)) {
      out[key] = Object.fromEntries(Object.entries(value).map(([name, child]) => [name, toOpenApi30(child)]));
    } else if (SCHEMA_LISTS.has(key) && Array.isArray(value)) out[key] = value.map(toOpenApi30);
    else if (SCHEMA_VALUES.has(key)) out[key] = Array.isArray(value) ? value.map(toOpenApi30) : toOpenApi30(value);
    else out[key] = value;
  }
  for (const combiner of ["anyOf", "oneOf"] as const) {
    const members = out[combiner];
    if (Array.isArray(members) && members.some(isNullSchema)) {
      const rest = members.filter((m) => !isNullSchema(m));
      delete out[combiner];
      out = rest.length === 1 && isObject(rest[0]) ? { ...rest[0], ...out, nullable: true } : { ...out, [combiner]: rest, nullable: true };
    }
  }
  if (Array.isArray(out.type)) {
    const types = out.type.filter((t) => t !== "null");
    if (types.length !== out.type.length) out.nullable = true;
    if (types.length === 1) out.type = types[0];
    else {
      delete out.type;
      if (types.length > 1) out.anyOf = types.map((type) => ({ type }));
    }
  }
  // JSON Schema's numeric exclusive bounds are OpenAPI 3.0's boolean flags beside minimum/maximum.
  for (const [exclusive, bound] of [["exclusiveMinimum", "minimum"], ["exclusiveMaximum", "maximum"]] as const) {
    if (typeof out[exclusive] === "number") {
      out[bound] = out[exclusive];
      out[exclusive] = true;
    }
  }
  if ("const" in out) {
    out.enum = [out.const];
    delete out.const;
  }
  return out;
}

function normaliseSchemas(document: Json): Json {
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk);
    if (!isObject(node)) return node;
    return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, key === "schema" ? toOpenApi30(value) : walk(value)]));
  };
  const out = walk(document) as Json;
  const components = out.components;
  if (isObject(components) && isObject(components.schemas)) {
    components.schemas = Object.fromEntries(Object.entries(components.schemas).map(([name, schema]) => [name, toOpenApi30(schema)]));
  }
  return out;
}

export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: "3.0.3",
      info: {
        title: "Herald",
        version: HERALD_VERSION,
        description:
          "Self-hosted webhook delivery. Errors are application/problem+json with a stable `code`. Lists answer `{data, nextCursor}`: pass nextCursor back as `cursor` for the next page.",
      },
      components: {
        securitySchemes: {
          apiKey: { type: "apiKey", in: "header", name: "apikey", description: "tenant API key (Identus header)" },
          bearer: { type: "http", scheme: "bearer", description: "tenant API key as a bearer token" },
          adminApiKey: { type: "apiKey", in: "header", name: "x-admin-api-key", description: "admin key" },
        },
      },
      security: [{ apiKey: [] }, { bearer: [] }, { adminApiKey: [] }],
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === "string" ? json.$id : `def-${i}`),
    },
    transformObject: (documentObject) => normaliseSchemas((documentObject as { openapiObject: Json }).openapiObject) as never,
  });
  await app.register(swaggerUi, { routePrefix: "/docs", uiConfig: { deepLinking: true } });
}
