/**
 * Limits every JSON value Herald takes (event `data` and `metadata`, webhook `metadata`, event
 * type schemas) is checked against before any recursive work touches it (JSON.stringify, a
 * schema validator, a store write): at most MAX_JSON_DEPTH levels of nesting, no number JSON
 * cannot carry (`1e400` parses to Infinity and would be stored as `null`). And the rule for
 * text Herald stores as given (names, types, ids, descriptions): no NUL and no lone UTF-16
 * surrogate, which a store would refuse or silently replace with U+FFFD.
 *
 * The walk is iterative, so a hostile 100,000-level document cannot overflow the stack here.
 */
import { invalidField } from "../errors.js";

/** Nesting deeper than this is refused; real payloads stay far below it. */
export const MAX_JSON_DEPTH = 64;

/** A JSON object: not null, not an array. */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function childPath(path: string, key: string | number): string {
  if (typeof key === "number") return `${path}[${key}]`;
  return /^[A-Za-z_$][\w$-]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/**
 * Throws a 422 naming the first offending path under `field` (`data.items[3].price`) when the
 * value nests deeper than `maxDepth` or holds a non-finite number. Objects and arrays each
 * count one level; `{}` at the top is depth 1.
 *
 * Runs on every event's data and metadata, so it allocates nothing per value: containers wait
 * on a stack of indices into parallel arrays (value, depth, parent, key), leaves are checked
 * where they are met, and a path is spelled only for the error. It built one path string and
 * one object per value, 5-6% of a `POST /v1/events/batch` and its garbage.
 */
export function assertJsonValue(value: unknown, field: string, maxDepth = MAX_JSON_DEPTH): void {
  if (typeof value !== "object" || value === null) {
    if (typeof value === "number" && !Number.isFinite(value)) throw nonFinite(field);
    return;
  }
  if (maxDepth < 1) throw invalidField(field, `is nested deeper than ${maxDepth} levels (at ${field}); flatten it`);
  const values: object[] = [value];
  const depths: number[] = [1];
  const parents: number[] = [-1];
  const keys: Array<string | number> = [""];
  const stack: number[] = [0];
  const pathOf = (at: number, last?: string | number): string => {
    const chain: Array<string | number> = last === undefined ? [] : [last];
    for (let i = at; i > 0; i = parents[i]!) chain.push(keys[i]!);
    let path = field;
    for (let i = chain.length - 1; i >= 0; i--) path = childPath(path, chain[i]!);
    return path;
  };
  const visit = (child: unknown, at: number, key: string | number): void => {
    if (typeof child === "number") {
      if (!Number.isFinite(child)) throw nonFinite(pathOf(at, key));
      return;
    }
    if (typeof child !== "object" || child === null) return;
    const depth = depths[at]! + 1;
    if (depth > maxDepth) throw invalidField(field, `is nested deeper than ${maxDepth} levels (at ${pathOf(at, key)}); flatten it`);
    stack.push(values.push(child) - 1);
    depths.push(depth);
    parents.push(at);
    keys.push(key);
  };
  while (stack.length > 0) {
    const at = stack.pop()!;
    const current = values[at]!;
    if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--) visit(current[i], at, i);
    } else {
      const record = current as Record<string, unknown>;
      for (const key of Object.keys(record)) visit(record[key], at, key);
    }
  }
}

function nonFinite(path: string): Error {
  return invalidField(path, "is a number outside the range JSON can carry (a double); send it as a string");
}

// A NUL, a high surrogate not followed by a low one, or a low one not preceded by a high one.
const UNSTORABLE = /\0|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Whether a string can be stored and read back unchanged by both stores (UTF-8 text columns). */
export function isStorableText(value: string): boolean {
  return !UNSTORABLE.test(value);
}

/** Throws a 422 naming `field` when the text holds a NUL or a lone surrogate. */
export function assertStorableText(value: string, field: string): void {
  if (!isStorableText(value)) {
    throw invalidField(field, "holds a NUL character or an unpaired UTF-16 surrogate, which cannot be stored as text; remove it");
  }
}
