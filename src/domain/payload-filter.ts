/**
 * Payload filters: a webhook's MongoDB-style query over each event, beside its event types
 * (Convoy's and Hookdeck Outpost's `filter`). An event the filter rejects gets no delivery to
 * that webhook, as an event of another type does not.
 *
 * What the filter sees is the event's envelope `{type, data, metadata}` (metadata null when
 * the event has none), so `{"data.amount": {"$gte": 100}}` and `{"type": "order.paid"}` work.
 * It is evaluated once per event and webhook at fan-out (src/ingest/ingest-event.ts), with the
 * `sift` library given only the operators below: `$where` runs code and is refused, `$regex`
 * runs on RE2 (re2js, linear time, as tenant schema patterns do: src/ingest/event-schemas.ts),
 * and anything else starting with `$` is refused at the webhook's creation or update with a
 * 422 naming its place (`filter.data.amount.$foo`).
 *
 * A filter is checked and compiled once when it is stored, and the compiled tester kept by the
 * filter's text in an LRU, where ingest finds it when the webhook is read as a subscriber
 * (another process compiles it on its first event). A filter that throws on some event (a
 * regex over a text longer than its time allowance) does not match it; it never fails the ingest.
 *
 * What bounds one evaluation: a filter is at most MAX_FILTER_BYTES of JSON, MAX_FILTER_DEPTH
 * levels deep and MAX_FILTER_TERMS terms (field paths, operators and list entries); each term
 * walks its path through the event once, so an evaluation is O(terms × the event's size), and
 * regex tests together get FILTER_PATTERN_BUDGET_MS of RE2 time per evaluation.
 */
import { LRUCache } from "lru-cache";
import { RE2JS } from "re2js";
import sift from "sift";
import { invalidField } from "../errors.js";
import { assertJsonValue } from "./json-limits.js";

/** A stored filter: a query object (never empty: `{}` is stored as no filter). */
export type PayloadFilter = Record<string, unknown>;

/** What a filter is evaluated against. */
export interface FilteredEvent {
  type: string;
  data: unknown;
  metadata: Record<string, unknown> | null;
}

export type PayloadFilterTester = (event: FilteredEvent) => boolean;

export const MAX_FILTER_BYTES = 4096;
/** Objects and arrays each count one level, the filter itself included. */
export const MAX_FILTER_DEPTH = 10;
/** Field paths, operators and $in/$nin/$all entries, all together. */
export const MAX_FILTER_TERMS = 200;
export const MAX_FILTER_PATH_LENGTH = 256;
export const MAX_FILTER_PATTERN_LENGTH = 512;
/** RE2 instructions one `$regex` may compile to (`^.{1,400}$` is about 800). */
export const MAX_FILTER_PATTERN_PROGRAM = 1_000;
/** RE2 time a filter's regex tests may take in one evaluation; past it the filter does not match. */
export const FILTER_PATTERN_BUDGET_MS = 50;
/**
 * Operator steps (one operator applied to one value on its path) one evaluation may take;
 * past it the filter does not match. A step took 100 to 250 ns here (deep paths cost most),
 * so this is at most about 50 ms: an event of a few KiB takes hundreds of steps, and 200 terms
 * over an array of 1,000 items fit.
 */
export const MAX_FILTER_STEPS = 200_000;
/** A test's worst case, charged before it runs (as in event-schemas.ts: about 16 ns per instruction per character, and a floor per character). */
const NS_PER_STEP = 20;
const STEP_OVERHEAD = 16;

/** The envelope's fields: a top-level path starts with one of them. */
const ENVELOPE_FIELDS = ["type", "data", "metadata"];
/** Path segments that would read an object's prototype instead of the event. */
const RESERVED_SEGMENTS = new Set(["__proto__", "prototype", "constructor"]);
const LOGICAL = ["$and", "$or", "$nor"];
const FIELD_OPERATORS = [
  "$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$type", "$size", "$all", "$elemMatch", "$not", "$mod", "$regex", "$options",
];
const ALLOWED = [...FIELD_OPERATORS, ...LOGICAL];
/** `$type`'s names (MongoDB's, for the types JSON has). */
const TYPE_NAMES: Record<string, (value: unknown) => boolean> = {
  string: (value) => typeof value === "string",
  number: (value) => typeof value === "number",
  bool: (value) => typeof value === "boolean",
  object: (value) => typeof value === "object" && value !== null && !Array.isArray(value),
  array: (value) => Array.isArray(value),
  null: (value) => value === null,
};
const REGEX_FLAGS: Record<string, number> = { i: RE2JS.CASE_INSENSITIVE, m: RE2JS.MULTILINE, s: RE2JS.DOTALL };

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);
const isOperatorObject = (value: unknown): value is Record<string, unknown> => isObject(value) && Object.keys(value).some((key) => key.startsWith("$"));

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
  if (!isObject(query)) throw invalidField(at, 'must be an object of field paths and conditions, e.g. {"data.amount": {"$gte": 100}}');
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
      if (typeof operand !== "string" || !(operand in TYPE_NAMES)) {
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

// ---- $regex on RE2

let patternBudgetNs = 0;

class PatternBudgetExceeded extends Error {}

function compilePattern(source: unknown, options: unknown, at: string): (text: string) => boolean {
  if (typeof source !== "string" || source.length > MAX_FILTER_PATTERN_LENGTH) {
    throw invalidField(at, `must be a regular expression as a string of at most ${MAX_FILTER_PATTERN_LENGTH} characters`);
  }
  let flags = 0;
  if (options !== undefined) {
    if (typeof options !== "string" || ![...options].every((flag) => flag in REGEX_FLAGS)) {
      throw invalidField(`${at.slice(0, -"$regex".length)}$options`, `must be a string of the flags i (ignore case), m (multiline) and s (dot matches newline); got ${JSON.stringify(options)}`);
    }
    for (const flag of options) flags |= REGEX_FLAGS[flag]!;
  }
  let re: RE2JS;
  try {
    re = RE2JS.compile(source, flags);
  } catch (cause) {
    throw invalidField(
      at,
      `${JSON.stringify(source)} is not RE2 syntax (${(cause as Error).message}). Herald matches regexes with RE2, whose time is linear in the text; ` +
        "RE2 has no backreferences (\\1) and no lookahead or lookbehind ((?=, (?!, (?<=, (?<!): rewrite the pattern without them",
      cause,
    );
  }
  const programSize = re.programSize();
  if (programSize > MAX_FILTER_PATTERN_PROGRAM) {
    throw invalidField(at, `${JSON.stringify(source)} compiles to ${programSize} RE2 instructions; the limit is ${MAX_FILTER_PATTERN_PROGRAM} (a counted repetition such as .{1,1000} repeats what it counts): use a smaller count`);
  }
  const worstPerChar = (programSize + STEP_OVERHEAD) * NS_PER_STEP;
  return (text) => {
    // Runs only if its worst case fits what is left of the evaluation's allowance; what it took is charged.
    if (worstPerChar * (text.length + 1) > patternBudgetNs) throw new PatternBudgetExceeded();
    const start = performance.now();
    const matched = re.test(text);
    patternBudgetNs -= (performance.now() - start) * 1e6;
    return matched;
  };
}

// ---- sift, with Herald's operators only

/*
 * sift walks the paths and combines the results; the comparisons are Herald's own. sift's
 * compare every value through comparable(), which copies an array each time it meets one: a
 * filter of 200 `$in` entries over an event holding a 40,000-number array took 1.9 s, and
 * with these testers (a Set for `$in`, and every exact value rewritten to `$eq`) 40 ms.
 */

/** Equality as sift's: objects by their keys in any order, arrays item by item, and null also matching a missing value. */
function jsonEquals(expected: unknown, value: unknown): boolean {
  if (expected === value) return true;
  if (expected === null) return value === undefined;
  if (typeof expected !== "object" || typeof value !== "object" || value === null) return false;
  if (Array.isArray(expected)) {
    return Array.isArray(value) && expected.length === value.length && expected.every((item, i) => jsonEquals(item, value[i]));
  }
  if (Array.isArray(value)) return false;
  const keys = Object.keys(expected);
  const actual = value as Record<string, unknown>;
  return keys.length === Object.keys(actual).length && keys.every((key) => Object.hasOwn(actual, key) && jsonEquals((expected as Record<string, unknown>)[key], actual[key]));
}

function isMember(list: unknown[]): (value: unknown) => boolean {
  const scalars = new Set(list.filter((item) => item === null || typeof item !== "object"));
  const composites = list.filter((item) => item !== null && typeof item === "object");
  const withNull = scalars.has(null);
  return (value) => {
    if (value === undefined) return withNull;
    if (value === null || typeof value !== "object") return scalars.has(value);
    return composites.some((item) => jsonEquals(item, value));
  };
}

type Operations = NonNullable<NonNullable<Parameters<typeof sift.createQueryTester>[1]>["operations"]>;
type Operation = Operations[string];

/** An operator whose test is a function of the value alone. */
const valueTest = <T>(makeTest: (operand: T) => (value: unknown) => boolean): Operation =>
  (operand: T, owner, options) => sift.createEqualsOperation(makeTest(operand), owner, options);

const ordered = (compare: (value: number | string, operand: number | string) => boolean) =>
  valueTest<number | string>((operand) => (value) => typeof value === typeof operand && compare(value as number | string, operand));

const OPERATIONS: Operations = counted({
  $eq: valueTest((operand: unknown) => (value) => jsonEquals(operand, value)),
  // $ne and $nin hold when no value on the path matches, the complement over every value (array items too).
  $ne: (operand: unknown, owner, options, name) => sift.$not({ $eq: operand }, owner, options, name),
  $gt: ordered((value, operand) => value > operand),
  $gte: ordered((value, operand) => value >= operand),
  $lt: ordered((value, operand) => value < operand),
  $lte: ordered((value, operand) => value <= operand),
  $in: valueTest(isMember),
  $nin: (operand: unknown[], owner, options, name) => sift.$not({ $in: operand }, owner, options, name),
  $mod: valueTest(([divisor, remainder]: [number, number]) => (value) => typeof value === "number" && value % divisor === remainder),
  $type: valueTest((name: string) => TYPE_NAMES[name]!),
  $regex: (source: string, owner: Record<string, unknown>, options) => {
    const test = compilePattern(source, owner.$options, "filter");
    return sift.createEqualsOperation((value: unknown) => typeof value === "string" && test(value), owner, options);
  },
  $options: () => null as never,
  $exists: sift.$exists, $size: sift.$size, $all: sift.$all, $elemMatch: sift.$elemMatch, $not: sift.$not,
  $and: sift.$and, $or: sift.$or, $nor: sift.$nor,
});

let stepsLeft = 0;

class FilterBudgetExceeded extends Error {}

/** Every operation's step on a value counts against the evaluation's MAX_FILTER_STEPS. */
function counted(operations: Operations): Operations {
  const out: Operations = {};
  for (const [name, create] of Object.entries(operations)) {
    out[name] = (...args) => {
      const operation = create(...args) as ReturnType<Operation> | null;
      if (operation === null) return operation as never;
      const next = operation.next.bind(operation);
      operation.next = (...step: Parameters<typeof next>) => {
        if (--stepsLeft < 0) throw new FilterBudgetExceeded();
        return next(...step) as unknown;
      };
      return operation;
    };
  }
  return out;
}

/** The checked filter with every exact value as `{$eq: value}`, so that sift compares nothing itself. */
function withEq(query: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(query)) {
    if (LOGICAL.includes(key)) out[key] = (value as Array<Record<string, unknown>>).map(withEq);
    else if (key.startsWith("$")) out[key] = operandWithEq(key, value);
    else out[key] = conditionWithEq(value);
  }
  return out;
}

function conditionWithEq(condition: unknown): Record<string, unknown> {
  if (!isOperatorObject(condition)) return { $eq: condition };
  const out: Record<string, unknown> = {};
  for (const [operator, operand] of Object.entries(condition)) out[operator] = operandWithEq(operator, operand);
  return out;
}

function operandWithEq(operator: string, operand: unknown): unknown {
  if (operator === "$elemMatch") return withEq(operand as Record<string, unknown>);
  if (operator === "$not") return conditionWithEq(operand);
  if (operator === "$all") return (operand as unknown[]).map(conditionWithEq);
  return operand;
}

/** Tester per filter text: each text is compiled once per process while it is in use. */
const compiled = new LRUCache<string, PayloadFilterTester>({ max: 10_000 });

function compile(filter: PayloadFilter): PayloadFilterTester {
  const test = sift.createQueryTester(withEq(filter), { operations: OPERATIONS });
  return (event) => {
    patternBudgetNs = FILTER_PATTERN_BUDGET_MS * 1e6;
    stepsLeft = MAX_FILTER_STEPS;
    try {
      return test(event);
    } catch {
      return false; // past its steps or its regex allowance, or a value sift cannot compare: not a match
    }
  };
}

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
  if (!isObject(value)) throw invalidField(field, 'must be null (no filter) or a query object, e.g. {"data.amount": {"$gte": 100}}');
  if (Object.keys(value).length === 0) return null;
  // Before anything recursive: depth and numbers JSON can carry; then the size.
  assertJsonValue(value, field, MAX_FILTER_DEPTH);
  const text = JSON.stringify(value);
  if (Buffer.byteLength(text) > MAX_FILTER_BYTES) throw invalidField(field, `must be at most ${MAX_FILTER_BYTES} bytes as JSON`);
  checkQuery(value, field, true, { terms: 0 });
  try {
    return { filter: value, text, tester: compile(value) };
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
