/**
 * JSON Schema validation for requests and for event types' own schemas, with ajv.
 *
 * Bodies are validated strictly: no type coercion (`"timeoutMs": "5000"` is an error, not
 * 5000) and unknown fields are refused rather than silently dropped, so a typo in a field name
 * comes back as a 400 naming it. Query strings, path parameters and headers arrive as text, so
 * they are coerced to the schema's types.
 */
import { Ajv, type Options, type ValidateFunction } from "ajv";
import type { FastifySchemaCompiler } from "fastify";
import { HeraldError, invalidField } from "../errors.js";
import type { Herald } from "../herald.js";

const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function isUri(value: string): boolean {
  try {
    new URL(value);
    return true;
  } catch {
    return false;
  }
}

/** The formats Herald's schemas and typical event schemas use; ajv ships none of its own. */
function makeAjv(options: Options): Ajv {
  const ajv = new Ajv({ strict: false, allErrors: false, ...options });
  ajv.addFormat("date-time", (value: string) => DATE_TIME.test(value) && !Number.isNaN(Date.parse(value)));
  ajv.addFormat("date", /^\d{4}-\d{2}-\d{2}$/);
  ajv.addFormat("uri", isUri);
  ajv.addFormat("url", isUri);
  ajv.addFormat("uuid", UUID);
  ajv.addFormat("email", /^[^\s@]+@[^\s@]+\.[^\s@]+$/);
  return ajv;
}

export function makeRequestValidatorCompiler(): FastifySchemaCompiler<unknown> {
  const bodyAjv = makeAjv({ coerceTypes: false, removeAdditional: false, useDefaults: true });
  const textAjv = makeAjv({ coerceTypes: "array", removeAdditional: false, useDefaults: true });
  return ({ schema, httpPart }) => (httpPart === "body" ? bodyAjv : textAjv).compile(schema as object);
}

/**
 * Validates events against their event type's JSON Schema (`POST /v1/event-types`). Compiled
 * validators are kept per tenant, type and schema text, so each schema is compiled once.
 */
export class EventSchemaValidator {
  private readonly ajv = makeAjv({ coerceTypes: false });
  private readonly compiled = new Map<string, ValidateFunction>();

  /** Throws a 422 naming the schema's problem when the schema itself cannot be compiled. */
  compile(schema: unknown): ValidateFunction {
    const text = JSON.stringify(schema);
    const known = this.compiled.get(text);
    if (known) return known;
    let validate: ValidateFunction;
    try {
      validate = this.ajv.compile(schema as object);
    } catch (cause) {
      throw new HeraldError("HERALD_ERR_VALIDATION", `schema: is not a usable JSON Schema: ${(cause as Error).message}`, { field: "schema", cause });
    }
    if (this.compiled.size > 1000) this.compiled.clear();
    this.compiled.set(text, validate);
    return validate;
  }

  /**
   * Checks `data` when the tenant has registered a schema for this event type; `field` prefixes
   * the error (`events[2].data`). A batch passes one `seen` map, so each type is looked up once.
   */
  async check(
    herald: Herald,
    tenantId: string,
    type: string,
    data: unknown,
    field = "data",
    seen: SchemaMemo = new Map(),
  ): Promise<void> {
    if (typeof type !== "string") return;
    let validate = seen.get(type);
    if (validate === undefined) {
      const eventType = await herald.store.getEventType(tenantId, type);
      validate = !eventType || eventType.schema === null || eventType.schema === undefined ? null : this.compile(eventType.schema);
      seen.set(type, validate);
    }
    if (validate === null) return;
    if (validate(data)) return;
    const first = validate.errors?.[0];
    const path = (first?.instancePath ?? "").split("/").filter(Boolean).join(".");
    const missing = first?.params && "missingProperty" in first.params ? String(first.params.missingProperty) : "";
    const where = [field, path, missing].filter(Boolean).join(".");
    throw invalidField(where, `does not match the schema of event type ${type}: ${first?.message ?? "invalid"}`);
  }
}

/** Compiled schema (or null: none registered) per event type, for one request. */
export type SchemaMemo = Map<string, ValidateFunction | null>;
