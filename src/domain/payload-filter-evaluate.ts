/**
 * Evaluating payload filters (src/domain/payload-filter.ts checks them): sift walks the
 * event's paths and combines results, with only Herald's operators and Herald's own
 * comparisons; `$regex` runs on RE2; each evaluation is bounded by MAX_FILTER_STEPS and
 * FILTER_PATTERN_BUDGET_MS, past which the filter does not match.
 */
import { RE2JS } from "re2js";
import sift from "sift";
import { invalidField } from "../errors.js";
import { isJsonObject } from "./json-limits.js";
import { budgetedTest, type PatternBudget } from "./re2-budget.js";

/** What a filter is evaluated against. */
export interface FilteredEvent {
  type: string;
  data: unknown;
  metadata: Record<string, unknown> | null;
}

export type PayloadFilterTester = (event: FilteredEvent) => boolean;

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

export const LOGICAL = ["$and", "$or", "$nor"];
/** `$type`'s names (MongoDB's, for the types JSON has). */
export const TYPE_NAMES: Record<string, (value: unknown) => boolean> = {
  string: (value) => typeof value === "string",
  number: (value) => typeof value === "number",
  bool: (value) => typeof value === "boolean",
  object: (value) => typeof value === "object" && value !== null && !Array.isArray(value),
  array: (value) => Array.isArray(value),
  null: (value) => value === null,
};
const REGEX_FLAGS: Record<string, number> = { i: RE2JS.CASE_INSENSITIVE, m: RE2JS.MULTILINE, s: RE2JS.DOTALL };

export const isOperatorObject = (value: unknown): value is Record<string, unknown> => isJsonObject(value) && Object.keys(value).some((key) => key.startsWith("$"));

// ---- $regex on RE2

/** The regex allowance of the evaluation under way (evaluation is synchronous: one slot serves every filter). */
const patternBudget: PatternBudget = { ns: 0 };

export function compilePattern(source: unknown, options: unknown, at: string): (text: string) => boolean {
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
  return budgetedTest(re, () => patternBudget);
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

/** A checked filter's tester: true when the event matches; false also when the filter cannot finish on it. */
export function compileFilter(filter: Record<string, unknown>): PayloadFilterTester {
  const test = sift.createQueryTester(withEq(filter), { operations: OPERATIONS });
  return (event) => {
    patternBudget.ns = FILTER_PATTERN_BUDGET_MS * 1e6;
    stepsLeft = MAX_FILTER_STEPS;
    try {
      return test(event);
    } catch {
      return false; // past its steps or its regex allowance, or a value sift cannot compare: not a match
    }
  };
}
