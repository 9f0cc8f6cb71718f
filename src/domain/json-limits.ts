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
 * count one level; `{}` at the top is depth 1. "First" is the walk's order: an array's items in
 * order, an object's keys from the last.
 *
 * Runs on every event's data and metadata, so it allocates nothing per value: what waits is kept
 * in parallel arrays (value, depth, parent, key), containers are remembered by index, and a path
 * is spelled only for the error. It built one path string and one object per value, 5-6% of a
 * `POST /v1/events/batch` and its garbage.
 */
export function assertJsonValue(value: unknown, field: string, maxDepth = MAX_JSON_DEPTH): void {
  // Containers met so far: their parent container and their key in it (-1 and "" for the top).
  const nodeParents: number[] = [];
  const nodeKeys: Array<string | number> = [];
  const values: unknown[] = [value];
  const depths: number[] = [0];
  const parents: number[] = [-1];
  const keys: Array<string | number> = [""];
  const pathOf = (parent: number, key: string | number): string => {
    if (parent === -1) return field;
    const chain: Array<string | number> = [key];
    for (let node = parent; nodeParents[node] !== -1; node = nodeParents[node]!) chain.push(nodeKeys[node]!);
    let path = field;
    for (let i = chain.length - 1; i >= 0; i--) path = childPath(path, chain[i]!);
    return path;
  };
  while (values.length > 0) {
    const current = values.pop();
    const depth = depths.pop()!;
    const parent = parents.pop()!;
    const key = keys.pop()!;
    if (typeof current === "number") {
      if (!Number.isFinite(current)) throw nonFinite(pathOf(parent, key));
      continue;
    }
    if (typeof current !== "object" || current === null) continue;
    if (depth + 1 > maxDepth) throw invalidField(field, `is nested deeper than ${maxDepth} levels (at ${pathOf(parent, key)}); flatten it`);
    const node = nodeParents.push(parent) - 1;
    nodeKeys.push(key);
    if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--) {
        values.push(current[i]);
        depths.push(depth + 1);
        parents.push(node);
        keys.push(i);
      }
    } else {
      const record = current as Record<string, unknown>;
      for (const name of Object.keys(record)) {
        values.push(record[name]);
        depths.push(depth + 1);
        parents.push(node);
        keys.push(name);
      }
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
