/**
 * JSON Schema validation for requests, with ajv.
 *
 * Bodies are validated strictly: no type coercion (`"timeoutMs": "5000"` is an error, not
 * 5000) and unknown fields are refused rather than silently dropped, so a typo in a field name
 * comes back as a 400 naming it. Query strings, path parameters and headers arrive as text, so
 * they are coerced to the schema's types. Event types' own schemas are the engine's
 * (src/ingest/event-schemas.ts).
 */
import type { FastifySchemaCompiler } from "fastify";
import { makeAjv } from "../ingest/event-schemas.js";

export function makeRequestValidatorCompiler(): FastifySchemaCompiler<unknown> {
  const bodyAjv = makeAjv({ coerceTypes: false, removeAdditional: false, useDefaults: true });
  const textAjv = makeAjv({ coerceTypes: "array", removeAdditional: false, useDefaults: true });
  return ({ schema, httpPart }) => (httpPart === "body" ? bodyAjv : textAjv).compile(schema as object);
}
