/**
 * Event types' JSON Schemas, enforced on every ingest path (API, library, batch, test sends,
 * Herald's own events): an event of a type its tenant registered with a schema must match it.
 * Compiled validators are kept by schema text in an LRU, so each schema is compiled once and a
 * tenant with many schemas evicts only its coldest, never the whole cache.
 */
import { Ajv, type Options, type ValidateFunction } from "ajv";
import { LRUCache } from "lru-cache";
import { invalidField } from "../errors.js";
import type { Store } from "../store/store.js";

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

/** An ajv with the formats Herald's request schemas and typical event schemas use; ajv ships none of its own. */
export function makeAjv(options: Options): Ajv {
  const ajv = new Ajv({ strict: false, allErrors: false, ...options });
  ajv.addFormat("date-time", (value: string) => DATE_TIME.test(value) && !Number.isNaN(Date.parse(value)));
  ajv.addFormat("date", /^\d{4}-\d{2}-\d{2}$/);
  ajv.addFormat("uri", isUri);
  ajv.addFormat("url", isUri);
  ajv.addFormat("uuid", UUID);
  ajv.addFormat("email", /^[^\s@]+@[^\s@]+\.[^\s@]+$/);
  return ajv;
}

/** Compiled schema (or null: none registered) per event type, for one ingest call. */
export type SchemaMemo = Map<string, ValidateFunction | null>;

const COMPILED_SCHEMAS = 1_000;

export class EventSchemas {
  private readonly ajv = makeAjv({ coerceTypes: false });
  private readonly compiled = new LRUCache<string, ValidateFunction>({ max: COMPILED_SCHEMAS });

  constructor(private readonly store: Store) {}

  /** Throws a 422 naming the schema's problem when the schema itself cannot be compiled. */
  compile(schema: unknown): ValidateFunction {
    const text = JSON.stringify(schema);
    const known = this.compiled.get(text);
    if (known) return known;
    let validate: ValidateFunction;
    try {
      validate = this.ajv.compile(schema as object);
    } catch (cause) {
      throw invalidField("schema", `is not a usable JSON Schema: ${(cause as Error).message}`, cause);
    }
    this.compiled.set(text, validate);
    return validate;
  }

  /**
   * Checks `data` when the tenant has registered a schema for this event type; `field` names
   * the input in the error (`events[2].data`). One `memo` per ingest call: each type looked up once.
   */
  async check(tenantId: string, type: string, data: unknown, field: string, memo: SchemaMemo): Promise<void> {
    let validate = memo.get(type);
    if (validate === undefined) {
      const eventType = await this.store.getEventType(tenantId, type);
      validate = !eventType || eventType.schema === null || eventType.schema === undefined ? null : this.compile(eventType.schema);
      memo.set(type, validate);
    }
    if (validate === null || validate(data)) return;
    const first = validate.errors?.[0];
    const path = (first?.instancePath ?? "").split("/").filter(Boolean).join(".");
    const missing = first?.params && "missingProperty" in first.params ? String(first.params.missingProperty) : "";
    const where = [field, path, missing].filter(Boolean).join(".");
    throw invalidField(where, `does not match the schema of event type ${type}: ${first?.message ?? "invalid"}`);
  }
}
