/**
 * Event types' JSON Schemas, enforced on every ingest path (API, library, batch, test sends,
 * Herald's own events): an event of a type its tenant registered with a schema must match it.
 *
 * A tenant's schema is code Herald runs on every event of its type, on the one event loop all
 * tenants share, so no schema may be able to stall it. What bounds one validation:
 *
 * - Regular expressions (`pattern`, `patternProperties`) run on RE2 (re2js, pure JavaScript),
 *   whose time is linear in the text: `(a+)+$` costs what `a+$` does, where the backtracking
 *   engine took 3 s for 27 characters. A pattern RE2 cannot compile (backreferences,
 *   lookaround) is refused at registration, naming where it is. RE2's time is the text's
 *   length times, at worst, the pattern's program size, and counted repetitions expand
 *   (`(x){1000}` is 1,000 copies): a pattern is at most MAX_PATTERN_PROGRAM instructions, a
 *   schema's patterns together MAX_SCHEMA_PROGRAM. At run time a test runs only if its worst
 *   case fits the time left to the ingest call (PATTERN_BUDGET_MS, plus
 *   PATTERN_BUDGET_NS_PER_CHAR per character of data checked), and what it took is charged:
 *   past it the event is refused (422 naming `data`). Patterns share a capped DFA cache.
 * - The schema: at most MAX_SCHEMA_BYTES of JSON, 64 levels deep (assertJsonValue),
 *   MAX_SUBSCHEMAS subschemas and MAX_PATTERNS patterns (ajv's compile time and stack grow
 *   faster than linearly with them).
 * - `$ref`s resolve only within the schema (`#`, `#/...`); `$id` is taken only at the top. Ajv
 *   loads no schema (no loadSchema), and each schema compiles in an ajv of its own, so one
 *   tenant's `$id` can neither collide with nor be referenced by another's, ajv keeps no
 *   schema alive after the cache lets it go, and compiling a schema again (after eviction, in
 *   another process) does what its registration did.
 * - Refs share a subschema between places, so a small schema could apply 2^30 subschemas to one
 *   value (anyOf of two refs to anyOf of two refs ...; at 2^24 ajv ran out of memory). The
 *   schema's cost, the most subschemas and keyword entries it can apply to any one value of
 *   data 64 levels deep, over every path through allOf/anyOf/oneOf/not/if/$ref, is at most
 *   MAX_SCHEMA_COST; a `$ref` cycle that does not descend into the data is refused (it
 *   recursed until the stack overflowed).
 * - `uniqueItems`: ajv compares untyped items pairwise, O(n²) (40,000 numbers: 1 s); Herald's
 *   replacement keys each item by its canonical JSON, linear.
 * - `$async` schemas answer a promise (the event passed unchecked, and an invalid one became
 *   an unhandled rejection, which ends the process): refused.
 * - Formats are Herald's own linear checks (the email regex backtracked quadratically).
 * - Every other keyword costs O(1), or O(the value / the schema's own list), per application.
 *
 * With the data at most 64 levels deep (assertJsonValue in prepareIngest, before validation)
 * and at most maxPayloadBytes, a validation is bounded by the schema's cost times the data's
 * size, plus the patterns' time allowance.
 *
 * Compiled validators are kept by schema text in an LRU, so each schema is compiled once and a
 * tenant with many schemas evicts only its coldest. Registration compiles (and so checks) a
 * schema, and ingest in this process then finds it compiled; another process (PostgreSQL, more
 * than one process) compiles it on its first event of the type, passing the same checks (a
 * schema at the limits takes about 0.2 s). A schema stored before these checks that fails them
 * now refuses its events with a 422 naming `type` (register the event type again), reported
 * once through onError.
 */
import { Ajv, type ErrorObject, type FuncKeywordDefinition, type Options, type ValidateFunction } from "ajv";
import { LRUCache } from "lru-cache";
import { RE2JS } from "re2js";
import { MAX_JSON_DEPTH, assertJsonValue, childPath, isJsonObject } from "../domain/json-limits.js";
import { budgetedTest, type PatternBudget, PatternBudgetExceeded } from "../domain/re2-budget.js";
import { HeraldError, invalidField } from "../errors.js";
import type { Store } from "../store/store.js";

/** Largest schema taken, as JSON bytes. */
export const MAX_SCHEMA_BYTES = 64 * 1024;
/**
 * Most subschemas in a schema, and distinct patterns: ajv's compile time grows faster than
 * linearly with them (2,000 properties with patterns in one object took 2 s; at these limits
 * about 0.2 s), and compiling runs on the event loop, at registration and, in another
 * process, on its first event of the type. Ajv also nests the code for one object's
 * properties, and recurses over it: 2,000 compiled at registration overflowed the stack when
 * compiled 2,000 frames deeper, so a schema that compiled once might not compile again.
 */
export const MAX_SUBSCHEMAS = 1_000;
export const MAX_PATTERNS = 250;
/** Most subschemas and keyword entries a schema may apply to one value of the data. */
export const MAX_SCHEMA_COST = 10_000;
/** RE2 instructions in one pattern (`^.{1,1000}$` is about 2,000), and in one schema's patterns. */
export const MAX_PATTERN_PROGRAM = 2_500;
export const MAX_SCHEMA_PROGRAM = 20_000;
/** Time pattern tests may take per ingest call, and more per character of data checked. */
export const PATTERN_BUDGET_MS = 100;
export const PATTERN_BUDGET_NS_PER_CHAR = 1_000;
/** Subschema entries the cost analysis may build: past it a schema is too intricate to bound. */
const MAX_ANALYSIS_ENTRIES = 50_000;
/** DFA cache a schema's patterns may keep, shared by program size; and the least and most one pattern gets. */
const SCHEMA_DFA_MEMORY = 4 * 1024 * 1024;
const PATTERN_DFA_MEMORY = [16 * 1024, 1024 * 1024] as const;

const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EMAIL_PARTS = /^[^\s@]+@[^\s@]+$/;

function isUri(value: string): boolean {
  try {
    new URL(value);
    return true;
  } catch {
    return false;
  }
}

/** `local@domain` with a dot inside the domain; checked in two linear steps (as one regex it backtracked quadratically). */
function isEmail(value: string): boolean {
  return EMAIL_PARTS.test(value) && value.slice(value.indexOf("@") + 2, -1).includes(".");
}

/** An ajv with the formats Herald's request schemas and typical event schemas use; ajv ships none of its own. */
export function makeAjv(options: Options): Ajv {
  const ajv = new Ajv({ strict: false, allErrors: false, ...options });
  ajv.addFormat("date-time", (value: string) => DATE_TIME.test(value) && !Number.isNaN(Date.parse(value)));
  ajv.addFormat("date", /^\d{4}-\d{2}-\d{2}$/);
  ajv.addFormat("uri", isUri);
  ajv.addFormat("url", isUri);
  ajv.addFormat("uuid", UUID);
  ajv.addFormat("email", isEmail);
  return ajv;
}

// ---- patterns on RE2

/** Pattern work left in the ingest call being validated; validation is synchronous, so one slot serves every engine. */
let activeBudget: PatternBudget | null = null;

type RegExpEngine = NonNullable<NonNullable<Options["code"]>["regExp"]>;

/** What ajv asks of a regex (`test`), on RE2. */
interface Pattern {
  programSize: number;
  re: RE2JS;
  test(text: string): boolean;
  toString(): string;
}

/** JSON Schema patterns are ECMAScript regexes; RE2 spells `\u00e9` and `\u{1F600}` as `\x{...}`. */
function toRe2Syntax(pattern: string): string {
  return pattern.replace(/\\(?:\\|u\{([0-9A-Fa-f]+)\}|u([0-9A-Fa-f]{4})(?:\\u([0-9A-Fa-f]{4}))?)/g, (escape, braced?: string, unit?: string, next?: string) => {
    if (braced !== undefined) return `\\x{${braced}}`;
    if (unit === undefined) return escape;
    const high = parseInt(unit, 16);
    const low = next === undefined ? 0 : parseInt(next, 16);
    if (high >= 0xd800 && high <= 0xdbff && low >= 0xdc00 && low <= 0xdfff) {
      return `\\x{${(((high - 0xd800) << 10) + (low - 0xdc00) + 0x10000).toString(16)}}`;
    }
    return `\\x{${unit}}` + (next === undefined ? "" : `\\x{${next}}`);
  });
}

/**
 * An upper bound, from the text alone, of the instructions RE2 compiles a pattern to: counted
 * repetitions multiply what they repeat, and compiling a 1 KiB pattern to 1,000,000
 * instructions takes a second, so a pattern is measured before it is compiled.
 */
function estimateProgram(source: string): number {
  const outer: number[] = [];
  let size = 0;
  let last = 0; // the atom or group just read, which a {m,n} repeats
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === "(") {
      outer.push(size);
      size = last = 0;
    } else if (c === ")") {
      last = size + 2; // a group's own instructions
      size = last + (outer.pop() ?? 0);
    } else if (c === "{" && /^\{\d/.test(source.slice(i, i + 2))) {
      const repeat = /^\{(\d{1,9})(?:,(\d{0,9}))?\}/.exec(source.slice(i, i + 22));
      if (!repeat) {
        size += last = 1;
        continue;
      }
      const times = Math.max(Number(repeat[1]), Number(repeat[2] || 0)) + 1;
      size += last * (times - 1) + times;
      last = last * times + times;
      i += repeat[0].length - 1;
    } else if (c === "\\") {
      // \p{Greek}, \x{1F600}: one atom
      const close = /[pPx]/.test(source[i + 1] ?? "") && source[i + 2] === "{" ? source.indexOf("}", i) : -1;
      i = close > 0 ? close : i + 1;
      size += last = 1;
    } else if (c === "[") {
      let j = i + 1;
      if (source[j] === "^") j++;
      if (source[j] === "]") j++;
      while (j < source.length && source[j] !== "]") j += source[j] === "\\" ? 2 : 1;
      i = j;
      size += last = 1;
    } else {
      size += 1;
      if (!"*+?|".includes(c!)) last = 1;
    }
  }
  return size + outer.reduce((sum, n) => sum + n, 0);
}

function tooComplex(at: string, source: string, size: number): HeraldError {
  return invalidField(at, `${JSON.stringify(source)} compiles to about ${size} RE2 instructions; the limit is ${MAX_PATTERN_PROGRAM} (a counted repetition such as .{1,1000} repeats what it counts): use maxLength/minLength, or a smaller count`);
}

/** Compiles a pattern on RE2, or throws a 422 at `at` saying why it cannot be used. */
function compilePattern(source: string, at: string): Pattern {
  const estimate = estimateProgram(source);
  if (estimate > MAX_PATTERN_PROGRAM * 2) throw tooComplex(at, source, estimate);
  let re: RE2JS;
  try {
    re = RE2JS.compile(toRe2Syntax(source));
  } catch (cause) {
    throw invalidField(
      at,
      `${JSON.stringify(source)} is not RE2 syntax (${(cause as Error).message}). Herald matches patterns with RE2, whose time is linear in the text, ` +
        "so that no pattern can stall validation; RE2 has no backreferences (\\1, \\k<name>) and no lookahead or lookbehind ((?=, (?!, (?<=, (?<!): rewrite the pattern without them",
      cause,
    );
  }
  const programSize = re.programSize();
  if (programSize > MAX_PATTERN_PROGRAM) throw tooComplex(at, source, programSize);
  return {
    programSize,
    re,
    // Outside an ingest call (a schema checked on its own) each test gets a fresh allowance.
    test: budgetedTest(re, () => activeBudget ?? { ns: PATTERN_BUDGET_MS * 1e6 }),
    // ajv keys a schema's patterns by this: one object per pattern text.
    toString: () => source,
  };
}

/**
 * re2js keeps each pattern's DFA states, up to 8 MB, for as long as the pattern lives: a few
 * hostile patterns in each cached schema would hold gigabytes. A schema's patterns share
 * SCHEMA_DFA_MEMORY by program size instead. The budget is internal to re2js, so this lowers
 * it only where it finds it; past it re2js falls back to its NFA, which the charge above assumes.
 */
function capDfaMemory(patterns: Iterable<Pattern>): void {
  const all = [...patterns];
  const program = all.reduce((sum, pattern) => sum + pattern.programSize, 0);
  for (const { re, programSize } of all) {
    const bytes = Math.min(PATTERN_DFA_MEMORY[1], Math.max(PATTERN_DFA_MEMORY[0], Math.floor((SCHEMA_DFA_MEMORY * programSize) / program)));
    const dfa = (re.re2() as unknown as { dfa?: { stateBudget?: unknown; memBudget?: unknown } }).dfa;
    if (dfa && typeof dfa.stateBudget === "number" && typeof dfa.memBudget === "number") {
      dfa.stateBudget = Math.min(dfa.stateBudget, bytes);
      dfa.memBudget = Math.min(dfa.memBudget, bytes);
    }
  }
}

// ---- what a schema may cost

/** One subschema: what it costs to apply, what it applies in place (same value), and to which children of the value. */
interface SchemaNode {
  weight: number;
  inPlace: Array<{ to: number; at: string }>;
  /** To which children: a label of SchemaGraph.labels (a property name, an item index, or every property / item). */
  descend: Array<{ label: number; to: number }>;
}

const IN_PLACE_ONE = ["not", "if", "then", "else"];
const IN_PLACE_LIST = ["allOf", "anyOf", "oneOf"];
const IN_PLACE_MAP = ["dependentSchemas", "dependencies"];
const EVERY_PROPERTY = "*obj";
const EVERY_ITEM = "*arr";
const DESCEND_ONE: Record<string, string> = {
  additionalProperties: EVERY_PROPERTY, unevaluatedProperties: EVERY_PROPERTY, propertyNames: EVERY_PROPERTY,
  additionalItems: EVERY_ITEM, contains: EVERY_ITEM, unevaluatedItems: EVERY_ITEM,
};
const CONTAINERS = ["definitions", "$defs"];

const entriesOf = (value: unknown): Array<[string, unknown]> => (isJsonObject(value) ? Object.entries(value) : []);
const countOf = (value: unknown): number => (Array.isArray(value) ? value.length : isJsonObject(value) ? Object.keys(value).length : 0);

/** A schema's subschemas and patterns, checked: refs, `$id`, `$async`, patterns, cost. */
class SchemaGraph {
  readonly nodes: SchemaNode[] = [];
  readonly patterns = new Map<string, Pattern>();
  private readonly ids = new Map<object, number>();
  private readonly labels = new Map<string, number>([[EVERY_PROPERTY, 0], [EVERY_ITEM, 1]]);
  private readonly itemLabels = new Set<number>();
  private readonly refs: Array<{ from: number; ref: string; at: string }> = [];
  private program = 0;

  constructor(private readonly root: unknown) {
    this.add(root, "schema");
    for (let i = 0; i < this.refs.length; i++) this.resolve(this.refs[i]!);
    const order = this.inPlaceOrder();
    const cost = this.costPerValue(order);
    if (cost > MAX_SCHEMA_COST) {
      throw invalidField("schema", `applies ${Number.isFinite(cost) ? cost : "unboundedly many"} subschemas and keyword entries to one value of the data (every path through $ref, allOf, anyOf, oneOf, not, if counts); the limit is ${MAX_SCHEMA_COST}, so that checking an event stays fast: reference shared definitions less often, or flatten nested anyOf/allOf`);
    }
  }

  private add(schema: unknown, at: string): number | null {
    if (typeof schema === "boolean") return this.push({ weight: 1, inPlace: [], descend: [] });
    if (!isJsonObject(schema)) return null; // not a schema: the meta-schema check refused it already
    const known = this.ids.get(schema);
    if (known !== undefined) return known;
    const node: SchemaNode = { weight: 1, inPlace: [], descend: [] };
    const id = this.push(node);
    this.ids.set(schema, id);
    const inPlace = (sub: unknown, where: string) => {
      const to = this.add(sub, where);
      if (to !== null) node.inPlace.push({ to, at: where });
    };
    const descend = (sub: unknown, where: string, name: string) => {
      const to = this.add(sub, where);
      if (to !== null) node.descend.push({ label: this.label(name), to });
    };
    for (const [keyword, value] of Object.entries(schema)) {
      const where = childPath(at, keyword);
      if (keyword === "$async" && value !== false) throw invalidField(where, "makes validation asynchronous, which Herald's ingest does not wait for: remove it");
      if (keyword === "$id" && at !== "schema") throw invalidField(where, "is taken only at the top of a schema; refer to subschemas by JSON pointer (\"#/$defs/name\")");
      if (keyword === "$ref" && typeof value === "string") this.refs.push({ from: id, ref: value, at: where });
      if (keyword === "pattern" && typeof value === "string") this.addPattern(value, where);
      if (IN_PLACE_ONE.includes(keyword)) inPlace(value, where);
      if (IN_PLACE_LIST.includes(keyword) && Array.isArray(value)) value.forEach((sub, i) => inPlace(sub, childPath(where, i)));
      if (IN_PLACE_MAP.includes(keyword)) {
        for (const [name, sub] of entriesOf(value)) {
          if (Array.isArray(sub)) node.weight += sub.length; // dependencies: names required
          else inPlace(sub, childPath(where, name));
        }
      }
      if (keyword in DESCEND_ONE) descend(value, where, DESCEND_ONE[keyword]!);
      if (keyword === "properties") for (const [name, sub] of entriesOf(value)) descend(sub, childPath(where, name), `p:${name}`);
      if (keyword === "patternProperties") {
        for (const [source, sub] of entriesOf(value)) {
          this.addPattern(source, childPath(where, source));
          descend(sub, childPath(where, source), EVERY_PROPERTY);
        }
      }
      if (keyword === "items" || keyword === "prefixItems") {
        if (Array.isArray(value)) value.forEach((sub, i) => descend(sub, childPath(where, i), `i:${i}`));
        else descend(value, where, EVERY_ITEM);
      }
      if (CONTAINERS.includes(keyword)) for (const [name, sub] of entriesOf(value)) this.add(sub, childPath(where, name));
      if (["properties", "patternProperties", "required", "enum", "dependentRequired"].includes(keyword)) node.weight += countOf(value);
    }
    return id;
  }

  /** `p:name` a property, `i:3` an item; EVERY_PROPERTY and EVERY_ITEM are 0 and 1. */
  private label(name: string): number {
    let label = this.labels.get(name);
    if (label === undefined) this.labels.set(name, (label = this.labels.size));
    if (name.startsWith("i:")) this.itemLabels.add(label);
    return label;
  }

  private push(node: SchemaNode): number {
    if (this.nodes.length >= MAX_SUBSCHEMAS) {
      throw invalidField("schema", `has more than ${MAX_SUBSCHEMAS} subschemas; split the event type, or share definitions through $ref`);
    }
    this.nodes.push(node);
    return this.nodes.length - 1;
  }

  private addPattern(source: string, at: string): void {
    if (this.patterns.has(source)) return;
    if (this.patterns.size >= MAX_PATTERNS) throw invalidField(at, `is one pattern more than the ${MAX_PATTERNS} different patterns a schema may hold`);
    const pattern = compilePattern(source, at);
    this.program += pattern.programSize;
    if (this.program > MAX_SCHEMA_PROGRAM) {
      throw invalidField(at, `brings the schema's patterns to ${this.program} RE2 instructions; the limit is ${MAX_SCHEMA_PROGRAM}: use fewer or simpler patterns`);
    }
    this.patterns.set(source, pattern);
  }

  /** `#` or `#/json/pointer` within this schema; ajv would try nothing else without a loader, and Herald gives it none. */
  private resolve({ from, ref, at }: { from: number; ref: string; at: string }): void {
    if (ref !== "#" && !ref.startsWith("#/")) {
      throw invalidField(at, `is ${JSON.stringify(ref)}; Herald resolves only references within the schema ("#" or a JSON pointer such as "#/$defs/name") and loads no other schema`);
    }
    let target: unknown = this.root;
    let path = "schema";
    let tokens: string[];
    try {
      tokens = decodeURIComponent(ref.slice(1)).split("/").slice(1);
    } catch {
      throw invalidField(at, `is ${JSON.stringify(ref)}, which is not a valid URI fragment`);
    }
    for (const raw of tokens) {
      const token = raw.replace(/~1/g, "/").replace(/~0/g, "~");
      const index = Array.isArray(target) && /^\d+$/.test(token) ? Number(token) : null;
      target = index !== null ? (target as unknown[])[index] : isJsonObject(target) && Object.hasOwn(target, token) ? target[token] : undefined;
      path = childPath(path, index ?? token);
      if (target === undefined) throw invalidField(at, `is ${JSON.stringify(ref)}, which points at nothing in this schema`);
    }
    const to = this.add(target, path);
    if (to === null) throw invalidField(at, `is ${JSON.stringify(ref)}, which points at ${path}, not at a schema`);
    this.nodes[from]!.inPlace.push({ to, at });
  }

  /** Subschemas in an order where each comes before those it applies in place; a cycle among them never ends. */
  private inPlaceOrder(): number[] {
    const state = new Uint8Array(this.nodes.length); // 0 unseen, 1 on the path, 2 done
    const order: number[] = [];
    for (let start = 0; start < this.nodes.length; start++) {
      if (state[start] !== 0) continue;
      state[start] = 1;
      const stack: Array<[number, number]> = [[start, 0]];
      while (stack.length > 0) {
        const top = stack[stack.length - 1]!;
        const edge = this.nodes[top[0]]!.inPlace[top[1]++];
        if (edge === undefined) {
          state[top[0]] = 2;
          order.push(top[0]);
          stack.pop();
        } else if (state[edge.to] === 1) {
          throw invalidField(edge.at, "leads back to a schema that applies it, without descending into the data: validating would never end; a recursive schema must recurse through properties or items");
        } else if (state[edge.to] === 0) {
          state[edge.to] = 1;
          stack.push([edge.to, 0]);
        }
      }
    }
    return order.reverse();
  }

  /**
   * The most weight applied to one value, over every value of data up to MAX_JSON_DEPTH deep.
   * cost[n] at level k: the most a value k levels below one that subschema n applies to can
   * cost, over every path of property names and item indices down to it. Level 0 is n with
   * all it applies in place; level k follows, for the costliest name or index, the subschemas
   * that n and all it applies in place send there. Children first, so each level is one pass.
   */
  private costPerValue(order: number[]): number {
    const childrenFirst = [...order].reverse();
    let cost = new Float64Array(this.nodes.length);
    for (const id of childrenFirst) {
      const node = this.nodes[id]!;
      cost[id] = node.inPlace.reduce((sum, { to }) => sum + cost[to]!, node.weight);
    }
    let worst = cost[0]!;
    let entries = 0;
    for (let level = 1; level <= MAX_JSON_DEPTH && worst <= MAX_SCHEMA_COST; level++) {
      const previous = cost;
      cost = new Float64Array(this.nodes.length);
      // Per subschema: what each name or index ("*obj": every property, "*arr": every item) brings, over it and all it applies in place.
      const byLabel: Array<Map<number, number> | undefined> = new Array(this.nodes.length);
      let reached = false;
      for (const id of childrenFirst) {
        const node = this.nodes[id]!;
        let own: Map<number, number> | undefined;
        for (const { label, to } of node.descend) {
          if (previous[to] === 0) continue;
          own ??= new Map();
          own.set(label, (own.get(label) ?? 0) + previous[to]!);
        }
        const applied = node.inPlace.map(({ to }) => byLabel[to]).filter((labels) => labels !== undefined);
        let labels = own;
        if (!own && applied.length === 1) labels = applied[0];
        else if (applied.length > 0) {
          labels = own ?? new Map();
          for (const more of applied) {
            for (const [label, n] of more) labels.set(label, (labels.get(label) ?? 0) + n);
            entries += more.size;
          }
        }
        if (!labels) continue;
        byLabel[id] = labels;
        reached = true;
        let most = 0;
        for (const [label, n] of labels) {
          const every = label < 2 ? 0 : (labels.get(this.itemLabels.has(label) ? 1 : 0) ?? 0);
          most = Math.max(most, n + every);
        }
        cost[id] = most;
        entries += labels.size;
        if (entries > MAX_ANALYSIS_ENTRIES) {
          throw invalidField("schema", "is too intricate for Herald to bound what checking an event against it costs (its $refs and allOf/anyOf nest too many properties into one another): simplify it");
        }
      }
      if (!reached) break;
      worst = Math.max(worst, cost[0]!);
    }
    return worst;
  }
}

// ---- uniqueItems, linear

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (isJsonObject(value)) return `{${Object.keys(value).sort().map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`).join(",")}}`;
  return JSON.stringify(value) ?? "null";
}

const uniqueItems: FuncKeywordDefinition = {
  keyword: "uniqueItems",
  type: "array",
  schemaType: "boolean",
  validate: function unique(wanted: boolean, data: unknown[]): boolean {
    if (!wanted) return true;
    const seen = new Map<string, number>();
    for (const [j, item] of data.entries()) {
      const key = canonicalJson(item);
      const i = seen.get(key);
      if (i !== undefined) {
        (unique as { errors?: Array<Partial<ErrorObject>> }).errors = [
          { keyword: "uniqueItems", message: `must NOT have duplicate items (items ## ${i} and ${j} are identical)`, params: { i, j } },
        ];
        return false;
      }
      seen.set(key, j);
    }
    return true;
  },
};

// ---- compiling and checking

/** Validates tenant schemas against the JSON Schema meta-schema; keeps none of them. */
const metaAjv = makeAjv({});

/** Compiled schema (or null: none registered) per event type, for one ingest call. */
export type SchemaMemo = Map<string, ValidateFunction | null>;

const COMPILED_SCHEMAS = 1_000;

export class EventSchemas {
  /** By schema text: a validator, or why that schema cannot be used. */
  private readonly compiled = new LRUCache<string, ValidateFunction | HeraldError>({ max: COMPILED_SCHEMAS });
  /** Validators that test patterns: their data's length adds to the call's allowance. */
  private readonly withPatterns = new WeakSet<ValidateFunction>();
  /** Pattern work left per ingest call (a memo is one call). */
  private readonly budgets = new WeakMap<SchemaMemo, PatternBudget>();

  constructor(
    private readonly store: Store,
    private readonly onError?: (error: unknown, context: string) => void,
  ) {}

  /** Throws a 422 naming the schema's problem (`schema.properties.name.pattern`) when the schema itself cannot be used. */
  compile(schema: unknown): ValidateFunction {
    const { result } = this.lookup(schema);
    if (result instanceof HeraldError) throw result;
    return result;
  }

  /** The cached outcome for this schema's text, or a new one (`fresh`); a schema is compiled once, usable or not. */
  private lookup(schema: unknown): { result: ValidateFunction | HeraldError; fresh: boolean } {
    let text: string | undefined;
    try {
      text = JSON.stringify(schema);
    } catch {
      // too deep or not JSON: build says which, uncached
    }
    const known = text === undefined ? undefined : this.compiled.get(text);
    if (known) return { result: known, fresh: false };
    let result: ValidateFunction | HeraldError;
    try {
      result = this.build(schema, text);
    } catch (error) {
      if (!(error instanceof HeraldError)) throw error;
      result = error;
    }
    if (text !== undefined) this.compiled.set(text, result);
    return { result, fresh: true };
  }

  private build(schema: unknown, text: string | undefined): ValidateFunction {
    assertJsonValue(schema, "schema");
    if (text === undefined) throw invalidField("schema", "must be JSON: no cycles, no BigInt");
    const bytes = Buffer.byteLength(text);
    if (bytes > MAX_SCHEMA_BYTES) throw invalidField("schema", `is ${bytes} bytes of JSON; the limit is ${MAX_SCHEMA_BYTES}: split the event type, or share definitions through $ref`);
    try {
      if (!metaAjv.validateSchema(schema as object)) {
        throw invalidField("schema", `is not a usable JSON Schema: ${metaAjv.errorsText(metaAjv.errors, { dataVar: "schema" })}`);
      }
    } catch (cause) {
      if (cause instanceof HeraldError) throw cause;
      throw invalidField("schema", `is not a usable JSON Schema: ${(cause as Error).message}`, cause);
    }
    const { patterns } = new SchemaGraph(schema);
    capDfaMemory(patterns.values());
    const regExp: RegExpEngine = Object.assign((source: string) => patterns.get(source) ?? compilePattern(source, "schema"), { code: "re2js" });
    // An ajv per schema: nothing one schema registers ($id, refs, compiled code) reaches another.
    // inlineRefs off: ajv copied a referenced schema's code into every place referring to it (a
    // 39 KB schema with 300 refs to one definition took 2 s to compile), as it optimises by default.
    const ajv = makeAjv({ coerceTypes: false, meta: false, validateSchema: false, logger: false, inlineRefs: false, code: { regExp, optimize: false } });
    ajv.removeKeyword("uniqueItems");
    ajv.addKeyword(uniqueItems);
    let validate: ValidateFunction;
    try {
      validate = ajv.compile(schema as object);
    } catch (cause) {
      if (cause instanceof HeraldError) throw cause;
      throw invalidField("schema", `is not a usable JSON Schema: ${(cause as Error).message}`, cause);
    }
    if ((validate as { $async?: unknown }).$async) throw invalidField("schema", "is asynchronous ($async), which Herald's ingest does not wait for: remove $async");
    if (patterns.size > 0) this.withPatterns.add(validate);
    return validate;
  }

  /** The stored schema of `type`, compiled; one that no longer passes refuses the event, naming the type to register again. */
  private stored(schema: unknown, type: string): ValidateFunction {
    const { result, fresh } = this.lookup(schema);
    if (!(result instanceof HeraldError)) return result;
    const refusal = invalidField(
      "type",
      `is ${type}, whose registered schema Herald can no longer use (${result.message}); register the event type again with a schema that passes, or without one`,
      result,
    );
    if (fresh) this.onError?.(refusal, `compiling the stored schema of event type ${type}`);
    throw refusal;
  }

  /**
   * Checks `data` when the tenant has registered a schema for this event type; `field` names
   * the input in the error (`events[2].data`). One `memo` per ingest call: each type looked up once.
   * `dataChars` is the length of `data` as JSON text (ingest has serialised it already): it adds to the patterns' time allowance.
   */
  async check(tenantId: string, type: string, data: unknown, dataChars: number, field: string, memo: SchemaMemo): Promise<void> {
    let validate = memo.get(type);
    if (validate === undefined) {
      const eventType = await this.store.getEventType(tenantId, type);
      validate = !eventType || eventType.schema === null || eventType.schema === undefined ? null : this.stored(eventType.schema, type);
      memo.set(type, validate);
    }
    if (validate === null || this.run(validate, data, dataChars, field, type, memo)) return;
    const first = validate.errors?.[0];
    const path = (first?.instancePath ?? "").split("/").filter(Boolean).join(".");
    const missing = first?.params && "missingProperty" in first.params ? String(first.params.missingProperty) : "";
    const where = [field, path, missing].filter(Boolean).join(".");
    throw invalidField(where, `does not match the schema of event type ${type}: ${first?.message ?? "invalid"}`);
  }

  private run(validate: ValidateFunction, data: unknown, dataChars: number, field: string, type: string, memo: SchemaMemo): boolean {
    let budget = this.budgets.get(memo);
    if (!budget) this.budgets.set(memo, (budget = { ns: PATTERN_BUDGET_MS * 1e6 }));
    if (this.withPatterns.has(validate)) budget.ns += PATTERN_BUDGET_NS_PER_CHAR * dataChars;
    activeBudget = budget;
    try {
      return validate(data) as boolean;
    } catch (error) {
      if (error instanceof PatternBudgetExceeded) {
        throw invalidField(field, `holds more text than the patterns of event type ${type}'s schema can check in one request (a test may take up to its RE2 program size times the text's length, and one request gets ${PATTERN_BUDGET_MS} ms plus ${PATTERN_BUDGET_NS_PER_CHAR / 1000} µs per character of data): send less text per request, or use maxLength/minLength instead of patterns with large counted repetitions`);
      }
      if (error instanceof RangeError) {
        throw invalidField(field, `is nested too deeply to check against the schema of event type ${type}: flatten it`, error);
      }
      throw error;
    } finally {
      activeBudget = null;
    }
  }
}
