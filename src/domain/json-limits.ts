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

interface Pending {
  value: unknown;
  path: string;
  depth: number;
}

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
 */
export function assertJsonValue(value: unknown, field: string, maxDepth = MAX_JSON_DEPTH): void {
  const stack: Pending[] = [{ value, path: field, depth: 0 }];
  while (stack.length > 0) {
    const { value: current, path, depth } = stack.pop()!;
    if (typeof current === "number") {
      if (!Number.isFinite(current)) {
        throw invalidField(path, "is a number outside the range JSON can carry (a double); send it as a string");
      }
      continue;
    }
    if (typeof current !== "object" || current === null) continue;
    if (depth + 1 > maxDepth) {
      throw invalidField(field, `is nested deeper than ${maxDepth} levels (at ${path}); flatten it`);
    }
    if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--) stack.push({ value: current[i], path: childPath(path, i), depth: depth + 1 });
    } else {
      for (const [key, child] of Object.entries(current)) stack.push({ value: child, path: childPath(path, key), depth: depth + 1 });
    }
  }
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
