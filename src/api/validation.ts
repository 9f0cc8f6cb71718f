/**
 * JSON Schema validation for requests, with ajv, and the application/json body parser.
 *
 * Bodies are validated strictly: no type coercion (`"timeoutMs": "5000"` is an error, not
 * 5000) and unknown fields are refused rather than silently dropped, so a typo in a field name
 * comes back as a 400 naming it. Query strings, path parameters and headers arrive as text, so
 * they are coerced to the schema's types. Event types' own schemas are the engine's
 * (src/ingest/event-schemas.ts).
 */
import type { FastifySchemaCompiler } from "fastify";
import { badRequest } from "../errors.js";
import { makeAjv } from "../ingest/event-schemas.js";

export function makeRequestValidatorCompiler(): FastifySchemaCompiler<unknown> {
  const bodyAjv = makeAjv({ coerceTypes: false, removeAdditional: false, useDefaults: true });
  const textAjv = makeAjv({ coerceTypes: "array", removeAdditional: false, useDefaults: true });
  return ({ schema, httpPart }) => (httpPart === "body" ? bodyAjv : textAjv).compile(schema as object);
}

/**
 * An application/json body, as fastify's own parser reads it (a BOM is skipped; a `__proto__`
 * key or a `constructor` holding `prototype` is refused, as either could alter object
 * prototypes), but every refusal says what is wrong and where instead of "not valid JSON".
 */
export function parseJsonBody(text: string): unknown {
  if (text.length === 0) throw badRequest("body", "is empty but Content-Type is application/json; send a JSON body");
  let value: unknown;
  try {
    value = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (cause) {
    throw badRequest("body", `is not valid JSON: ${(cause as Error).message}`, cause);
  }
  // Only a body that spells one of the keys, or escapes characters, can hold one: most skip the walk.
  if (/__proto__|constructor|\\u/.test(text)) assertNoPrototypeKeys(value);
  return value;
}

const REFUSED = "which Herald refuses because it could alter object prototypes; rename the key";

/** Iterative, so a 100,000-level body cannot overflow the stack here. */
function assertNoPrototypeKeys(root: unknown): void {
  const stack: Array<{ value: unknown; path: string }> = [{ value: root, path: "" }];
  while (stack.length > 0) {
    const { value, path } = stack.pop()!;
    if (typeof value !== "object" || value === null) continue;
    for (const [key, child] of Object.entries(value)) {
      const at = Array.isArray(value) ? `${path}[${key}]` : path ? `${path}.${key}` : key;
      if (key === "__proto__") throw badRequest("body", `has a "__proto__" key (at ${at}), ${REFUSED}`);
      if (key === "constructor" && typeof child === "object" && child !== null && Object.hasOwn(child, "prototype")) {
        throw badRequest("body", `has a "constructor" key holding "prototype" (at ${at}.prototype), ${REFUSED}`);
      }
      stack.push({ value: child, path: at });
    }
  }
}
