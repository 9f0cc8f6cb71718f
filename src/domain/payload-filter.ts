/**
 * Payload filters: a webhook's MongoDB-style query over each event, beside its event types
 * (Convoy's and Hookdeck Outpost's `filter`). An event the filter rejects gets no delivery to
 * that webhook, as an event of another type does not.
 *
 * What the filter sees is the event's envelope `{type, data, metadata}` (metadata null when
 * the event has none), so `{"data.amount": {"$gte": 100}}` and `{"type": "order.paid"}` work.
 * It is evaluated once per event and webhook at fan-out (src/ingest/ingest-event.ts), with the
 * `sift` library given only the operators below (payload-filter-evaluate.ts): `$where` runs code and is refused, `$regex`
 * runs on RE2 (re2js, linear time, as tenant schema patterns do: src/ingest/event-schemas.ts),
 * and anything else starting with `$` is refused at the webhook's creation or update with a
 * 422 naming its place (`filter.data.amount.$foo`).
 *
 * A filter is checked and compiled once when it is stored, and the compiled tester kept by the
 * filter's text in an LRU, where ingest finds it when the webhook is read as a subscriber
 * (another process compiles it on its first event). A filter that throws on some event does
 * not match it; it never fails the ingest.
 *
 * What bounds one evaluation: a filter is at most MAX_FILTER_BYTES of JSON, MAX_FILTER_DEPTH
 * levels deep and MAX_FILTER_TERMS terms (field paths, operators and list entries); each term
 * walks its path through the event once, so an evaluation is O(terms × the event's size). On
 * top of that an evaluation may take MAX_FILTER_STEPS operator steps and FILTER_PATTERN_BUDGET_MS
 * of RE2 time; past either, the filter does not match that event.
 */
import { LRUCache } from "lru-cache";
import { invalidField } from "../errors.js";
import { assertJsonValue, isJsonObject } from "./json-limits.js";
import {
  FILTER_PATTERN_BUDGET_MS, LOGICAL, MAX_FILTER_PATTERN_LENGTH, MAX_FILTER_PATTERN_PROGRAM, MAX_FILTER_STEPS, TYPE_NAMES,
  compileFilter, compilePattern, isOperatorObject, type FilteredEvent, type PayloadFilterTester,
} from "./payload-filter-evaluate.js";

export { FILTER_PATTERN_BUDGET_MS, MAX_FILTER_PATTERN_LENGTH, MAX_FILTER_PATTERN_PROGRAM, MAX_FILTER_STEPS, type FilteredEvent, type PayloadFilterTester };

/** A stored filter: a query object (never empty: `{}` is stored as no filter). */
export type PayloadFilter = Record<string, unknown>;

export const MAX_FILTER_BYTES = 4096;
/** Objects and arrays each count one level, the filter itself included. */
export const MAX_FILTER_DEPTH = 10;
/** Field paths, operators and $in/$nin/$all entries, all together. */
export const MAX_FILTER_TERMS = 200;
export const MAX_FILTER_PATH_LENGTH = 256;

/** The envelope's fields: a top-level path starts with one of them. */
const ENVELOPE_FIELDS = ["type", "data", "metadata"];
/** Path segments that would read an object's prototype instead of the event. */
const RESERVED_SEGMENTS = new Set(["__proto__", "prototype", "constructor"]);
const FIELD_OPERATORS = [
  "$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$type", "$size", "$all", "$elemMatch", "$not", "$mod", "$regex", "$options",
];
const ALLOWED = [...FIELD_OPERATORS, ...LOGICAL];

// ---- checking

interface Walk {
  terms: number;
}

function countTerm(walk: Walk, at: string, n = 1): void {
  walk.terms += n;
  if (walk.terms > MAX_FILTER_TERMS) {
    throw invalidField("filter", `has more than ${MAX_FILTER_TERMS} terms (field paths, operators and list entries; the limit is reached at ${at}): split the webhook, or use fewer conditions`);
  }
}

/**
 * A query: field paths and `$and`/`$or`/`$nor`. At the top (`root`) paths start at the envelope
 * (`data.amount`); inside `$elemMatch` they are relative to the array's items, and field
 * operators apply to the item itself (`{"$elemMatch": {"$gte": 80}}`).
 */
function checkQuery(query: unknown, at: string, root: boolean, walk: Walk): void {
  if (!isJsonObject(query)) throw invalidField(at, 'must be an object of field paths and conditions, e.g. {"data.amount": {"$gte": 100}}');
  for (const [key, value] of Object.entries(query)) {
    const here = `${at}.${key}`;
    countTerm(walk, here);
    if (LOGICAL.includes(key)) {
      if (!Array.isArray(value) || value.length === 0) throw invalidField(here, `must be a non-empty list of conditions, e.g. [{"type": "order.paid"}, {"data.amount": {"$gt": 0}}]`);
      value.forEach((sub, i) => checkQuery(sub, `${here}[${i}]`, root, walk));
    } else if (key.startsWith("$")) {
      if (root && FIELD_OPERATORS.includes(key)) {
        throw invalidField(here, `applies to a field: put it under a path, e.g. {"data.amount": {"${key}": ...}}`);
      }
      if (!root && FIELD_OPERATORS.includes(key)) checkOperator(key, value, query, here, walk);
      else throw unknownOperator(key, here);
    } else {
      checkPath(key, here, root);
      checkCondition(value, here, walk);
    }
  }
}

function unknownOperator(key: string, at: string) {
  if (key === "$where") return invalidField(at, "runs code, which Herald does not run from a filter: use the comparison operators ($eq, $gt, $in, ...) instead");
  return invalidField(at, `is not an operator Herald's filters take; allowed: ${ALLOWED.join(", ")}`);
}

function checkPath(path: string, at: string, root: boolean): void {
  const segments = path.split(".");
  if (path.length > MAX_FILTER_PATH_LENGTH || segments.some((segment) => segment === "")) {
    throw invalidField(at, `must be a dotted path of at most ${MAX_FILTER_PATH_LENGTH} characters with no empty part, e.g. data.customer.country`);
  }
  const reserved = segments.find((segment) => RESERVED_SEGMENTS.has(segment));
  if (reserved !== undefined) throw invalidField(at, `names ${reserved}, which reads an object's prototype rather than the event: filters cannot match on it`);
  if (root && !ENVELOPE_FIELDS.includes(segments[0]!)) {
    throw invalidField(at, `the filter sees the event as {type, data, metadata}: start the path with one of them, e.g. data.${path}`);
  }
}

/** A path's condition: a value it must equal, or an object of operators. */
function checkCondition(value: unknown, at: string, walk: Walk): void {
  if (!isOperatorObject(value)) return; // an exact value (JSON checked by assertJsonValue)
  for (const [key, operand] of Object.entries(value)) {
    const here = `${at}.${key}`;
    if (!key.startsWith("$")) {
      throw invalidField(here, "is beside operators: a condition is either operators ({\"$gte\": 1}) or an exact value, not both; to match a nested field, write its dotted path");
    }
    countTerm(walk, here);
    if (!FIELD_OPERATORS.includes(key)) {
      throw LOGICAL.includes(key)
        ? invalidField(here, `combines whole conditions, not a field's: put it at the top, e.g. {"${key}": [{"data.a": 1}, {"data.b": 2}]}`)
        : unknownOperator(key, here);
    }
    checkOperator(key, operand, value, here, walk);
  }
}

function checkOperator(operator: string, operand: unknown, owner: Record<string, unknown>, at: string, walk: Walk): void {
  switch (operator) {
    case "$eq":
    case "$ne":
      return;
    case "$gt":
    case "$gte":
    case "$lt":
    case "$lte":
      if (typeof operand !== "number" && typeof operand !== "string") {
        throw invalidField(at, `must be a number or a string to compare with; got ${JSON.stringify(operand)}`);
      }
      return;
    case "$in":
    case "$nin":
      if (!Array.isArray(operand)) throw invalidField(at, `must be a list of values, e.g. ["DE", "FR"]; got ${JSON.stringify(operand)}`);
      countTerm(walk, at, operand.length);
      operand.forEach((item, i) => {
        if (isOperatorObject(item)) throw invalidField(`${at}[${i}]`, "must be a value: operators cannot be nested in " + operator);
      });
      return;
    case "$all":
      if (!Array.isArray(operand)) throw invalidField(at, `must be a list of values the array must all hold, e.g. ["a", "b"]; got ${JSON.stringify(operand)}`);
      countTerm(walk, at, operand.length);
      operand.forEach((item, i) => checkCondition(item, `${at}[${i}]`, walk));
      return;
    case "$exists":
      if (typeof operand !== "boolean") throw invalidField(at, `must be true or false; got ${JSON.stringify(operand)}`);
      return;
    case "$type":
      if (typeof operand !== "string" || !Object.hasOwn(TYPE_NAMES, operand)) {
        throw invalidField(at, `must be one of ${Object.keys(TYPE_NAMES).join(", ")}; got ${JSON.stringify(operand)}`);
      }
      return;
    case "$size":
      if (typeof operand !== "number" || !Number.isInteger(operand) || operand < 0) throw invalidField(at, `must be a whole number (an array's length); got ${JSON.stringify(operand)}`);
      return;
    case "$mod":
      if (!Array.isArray(operand) || operand.length !== 2 || typeof operand[0] !== "number" || typeof operand[1] !== "number" || operand[0] === 0) {
        throw invalidField(at, `must be [divisor, remainder], two numbers with a divisor other than 0; got ${JSON.stringify(operand)}`);
      }
      return;
    case "$elemMatch":
      checkQuery(operand, at, false, walk);
      return;
    case "$not":
      if (!isOperatorObject(operand)) throw invalidField(at, `must be an object of operators, e.g. {"$in": ["test"]}; got ${JSON.stringify(operand)}`);
      checkCondition(operand, at, walk);
      return;
    case "$regex":
      compilePattern(operand, owner.$options, at);
      return;
    case "$options":
      if (!("$regex" in owner)) throw invalidField(at, "goes with $regex, which is missing here");
      return; // checked with $regex
  }
}

// ---- the compiled filters

/** Tester per filter text: each text is compiled once per process while it is in use. */
const compiled = new LRUCache<string, PayloadFilterTester>({ max: 10_000 });

const matchesNothing: PayloadFilterTester = () => false;
const matchesEvery: PayloadFilterTester = () => true;

/**
 * A webhook's `filter` input, checked and compiled: null for none (null, or `{}`), else the
 * query. Throws a 422 naming the offending place (`filter.data.amount.$foo`) and the fix.
 */
export function checkPayloadFilter(value: unknown, field = "filter"): PayloadFilter | null {
  const checked = checkAndCompile(value, field);
  if (checked === null) return null;
  compiled.set(checked.text, checked.tester);
  return checked.filter;
}

function checkAndCompile(value: unknown, field: string): { filter: PayloadFilter; text: string; tester: PayloadFilterTester } | null {
  if (value === null) return null;
  if (!isJsonObject(value)) throw invalidField(field, 'must be null (no filter) or a query object, e.g. {"data.amount": {"$gte": 100}}');
  if (Object.keys(value).length === 0) return null;
  // Before anything recursive: depth and numbers JSON can carry; then the size.
  assertJsonValue(value, field, MAX_FILTER_DEPTH);
  const text = JSON.stringify(value);
  if (Buffer.byteLength(text) > MAX_FILTER_BYTES) throw invalidField(field, `must be at most ${MAX_FILTER_BYTES} bytes as JSON`);
  checkQuery(value, field, true, { terms: 0 });
  try {
    return { filter: value, text, tester: compileFilter(value) };
  } catch (cause) {
    throw invalidField(field, `cannot be compiled (${(cause as Error).message})`, cause);
  }
}

/**
 * The tester of a stored filter, by its text (as the store keeps it): compiled on its first
 * use in this process. A filter stored before a check it now fails matches no event, rather
 * than every one.
 */
export function payloadFilterTester(text: string): PayloadFilterTester {
  let tester = compiled.get(text);
  if (tester === undefined) {
    try {
      tester = checkAndCompile(JSON.parse(text), "filter")?.tester ?? matchesEvery;
    } catch {
      tester = matchesNothing;
    }
    compiled.set(text, tester);
  }
  return tester;
}
