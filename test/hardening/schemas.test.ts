/**
 * Event types' JSON Schemas are tenant code Herald runs on every event of the type, on the one
 * event loop all tenants share: no schema may stall it. Patterns run on RE2 (linear time), and
 * what RE2 cannot run is refused at registration naming where it is; a schema's size, depth,
 * $refs and cost are bounded; the keywords that were superlinear in ajv (uniqueItems) or in
 * Herald's formats (email) are linear; and ordinary patterns still mean what they meant.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { afterEach, describe, expect, it } from "vitest";
import { closeAll, makeTenant, startTestServer, tenantHeaders, type TestServer } from "../api/helpers.js";
import { closeEngines, openEngine, storeOf } from "../helpers/engine.js";

afterEach(closeAll);
afterEach(closeEngines);

/** A generous bound: a stall is seconds (a 27-character string took 3 s), a linear check milliseconds. */
const RESPONSIVE_MS = 500;
const UNLIMITED = { HERALD_RATE_LIMIT_PER_SECOND: "1000000" };

/** Runs `work`, and reports the longest the event loop was blocked meanwhile. */
async function loopDelayDuring<T>(work: () => Promise<T>): Promise<{ result: T; maxDelayMs: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  try {
    const result = await work();
    await new Promise((resolve) => setTimeout(resolve, 30)); // a blocked loop is measured when it next turns
    return { result, maxDelayMs: histogram.max / 1e6 };
  } finally {
    histogram.disable();
  }
}

interface Answer {
  status: number;
  code: unknown;
  field: unknown;
  detail: string;
}

async function registerType(server: TestServer, name: string, schema: unknown, headers = tenantHeaders(server)): Promise<Answer> {
  const response = await server.app.inject({ method: "POST", url: "/v1/event-types", headers, payload: { name, schema } });
  const body = response.json<{ code?: unknown; field?: unknown; detail?: string }>();
  return { status: response.statusCode, code: body.code, field: body.field, detail: body.detail ?? "" };
}

async function postEvent(server: TestServer, type: string, data: unknown): Promise<Answer> {
  const response = await server.app.inject({
    method: "POST", url: "/v1/events", headers: { ...tenantHeaders(server), "content-type": "application/json" },
    payload: typeof data === "string" ? `{"type":${JSON.stringify(type)},"data":${data}}` : JSON.stringify({ type, data }),
  });
  const body = response.json<{ code?: unknown; field?: unknown; detail?: string }>();
  return { status: response.statusCode, code: body.code, field: body.field, detail: body.detail ?? "" };
}

const HOSTILE = "a".repeat(40) + "!";

describe("patterns run on RE2: linear in the text", () => {
  it("a catastrophic-backtracking pattern is accepted, and a hostile 40-character string answers at once while /health answers too", async () => {
    const server = await startTestServer();
    const schema = { type: "object", properties: { name: { type: "string", pattern: "(a+)+$" } } };
    expect((await registerType(server, "user.signup", schema)).status).toBe(201);

    const { result, maxDelayMs } = await loopDelayDuring(async () => {
      const started = performance.now();
      const [event, health] = await Promise.all([
        fetch(`${server.url}/v1/events`, {
          method: "POST", headers: { ...tenantHeaders(server), "content-type": "application/json" },
          body: JSON.stringify({ type: "user.signup", data: { name: HOSTILE } }),
        }),
        fetch(`${server.url}/health`),
      ]);
      return { event: { status: event.status, body: (await event.json()) as { field?: string; detail?: string } }, health: health.status, ms: performance.now() - started };
    });
    // `(a+)+$` needs a's up to the end: the "!" fails it, as it did under the backtracking engine (in 2^40 steps).
    expect(result.event.status).toBe(422);
    expect(result.event.body.field).toBe("data.name");
    expect(result.event.body.detail).toContain("must match pattern");
    expect(result.health).toBe(200);
    expect(result.ms).toBeLessThan(RESPONSIVE_MS);
    expect(maxDelayMs).toBeLessThan(RESPONSIVE_MS);
    expect((await postEvent(server, "user.signup", { name: "aaaa" })).status).toBe(202);
  });

  it("patterns RE2 cannot run (backreferences, lookaround) are refused at registration, naming the pattern's place and why", async () => {
    const server = await startTestServer(UNLIMITED);
    const cases: Array<{ schema: unknown; field: string }> = [
      { schema: { properties: { name: { type: "string", pattern: "^(a+)\\1$" } } }, field: "schema.properties.name.pattern" },
      { schema: { properties: { password: { pattern: "^(?=.*\\d).{8,}$" } } }, field: "schema.properties.password.pattern" },
      { schema: { type: "array", items: { pattern: "(?<!x)y" } }, field: "schema.items.pattern" },
      { schema: { $defs: { code: { pattern: "^(?<c>[A-Z])\\k<c>$" } }, $ref: "#/$defs/code" }, field: "schema.$defs.code.pattern" },
      { schema: { propertyNames: { pattern: "^(?!x-)" } }, field: "schema.propertyNames.pattern" },
      { schema: { anyOf: [{ type: "number" }, { pattern: "(?<=a)b" }] }, field: "schema.anyOf[1].pattern" },
    ];
    for (const { schema, field } of cases) {
      const answer = await registerType(server, "probe.sent", schema);
      expect({ status: answer.status, code: answer.code, field: answer.field }, field).toEqual({ status: 422, code: "HERALD_ERR_VALIDATION", field });
      expect(answer.detail, field).toMatch(/is not RE2 syntax .*linear in the text.*no backreferences.*no lookahead or lookbehind/);
    }
    // Nothing was registered.
    const list = await server.app.inject({ method: "GET", url: "/v1/event-types", headers: tenantHeaders(server) });
    expect(list.json<{ data: unknown[] }>().data).toEqual([]);
  });

  it("patternProperties run on RE2 too: a lookaround key is refused naming it; a backtracking one checks hostile keys at once", async () => {
    const server = await startTestServer(UNLIMITED);
    const refused = await registerType(server, "probe.sent", { patternProperties: { "^(a+)+(?=x)": {} } });
    expect({ status: refused.status, field: refused.field }).toEqual({ status: 422, field: 'schema.patternProperties["^(a+)+(?=x)"]' });
    expect(refused.detail).toContain("is not RE2 syntax");

    const schema = { type: "object", patternProperties: { "(a+)+$": { type: "string" } }, additionalProperties: false };
    expect((await registerType(server, "probe.sent", schema)).status).toBe(201);
    const { result, maxDelayMs } = await loopDelayDuring(async () => ({
      // The key fails the pattern (in patternProperties and again in additionalProperties): an additional property.
      hostileKey: await postEvent(server, "probe.sent", { [HOSTILE]: "x" }),
      matchingKey: await postEvent(server, "probe.sent", { aaaa: 1 }),
      fine: await postEvent(server, "probe.sent", { aaaa: "x" }),
    }));
    expect(result.hostileKey).toMatchObject({ status: 422, field: "data" });
    expect(result.hostileKey.detail).toContain("must NOT have additional properties");
    expect(result.matchingKey).toMatchObject({ status: 422, field: "data.aaaa" });
    expect(result.fine.status).toBe(202);
    expect(maxDelayMs).toBeLessThan(RESPONSIVE_MS);
  });

  it("ordinary patterns mean what they meant: anchors, classes, \\p{L}, \\u escapes, astral characters, named groups", async () => {
    const server = await startTestServer(UNLIMITED);
    const cases: Array<{ pattern: string; good: string[]; bad: string[] }> = [
      { pattern: "^[a-z]+$", good: ["abc"], bad: ["abC", "abc\n", ""] },
      { pattern: "^\\p{L}+$", good: ["héllo", "Ωμέγα"], bad: ["h3llo", "a b"] },
      { pattern: "^\\d{3}-\\d{4}$", good: ["555-1234"], bad: ["5551234", "555-12345"] },
      { pattern: "^\\u00e9t\\u00e9$", good: ["été"], bad: ["ete"] },
      { pattern: "^.$", good: ["😀", "x"], bad: ["ab", ""] },
      { pattern: "^\\uD83D\\uDE00$", good: ["😀"], bad: ["😁"] },
      { pattern: "colou?r", good: ["my color", "colour!"], bad: ["colr"] },
      { pattern: "^(?<year>\\d{4})-(0[1-9]|1[0-2])$", good: ["2024-12"], bad: ["2024-13"] },
      { pattern: "^[\\w.+-]+@example\\.com$", good: ["a.b+c@example.com"], bad: ["a@example.org"] },
      { pattern: "^a\\/b\\-c$", good: ["a/b-c"], bad: ["a/bc"] },
    ];
    for (const [i, { pattern, good, bad }] of cases.entries()) {
      const type = `pattern.case${i}`;
      const registered = await registerType(server, type, { type: "object", properties: { value: { type: "string", pattern } } });
      expect(registered.status, `${pattern}: ${registered.detail}`).toBe(201);
      for (const value of good) expect((await postEvent(server, type, { value })).status, `${pattern} should match ${JSON.stringify(value)}`).toBe(202);
      for (const value of bad) {
        const answer = await postEvent(server, type, { value });
        expect({ status: answer.status, field: answer.field }, `${pattern} should not match ${JSON.stringify(value)}`).toEqual({ status: 422, field: "data.value" });
        expect(answer.detail).toContain("must match pattern");
      }
    }
  });

  it("a pattern too costly for the text it is given refuses the event, naming data, without running; counted repetitions are bounded at registration", async () => {
    const server = await startTestServer(UNLIMITED);
    const huge = await registerType(server, "probe.sent", { properties: { v: { pattern: "^(abcdefghij){1000}$" } } });
    expect({ status: huge.status, field: huge.field }).toEqual({ status: 422, field: "schema.properties.v.pattern" });
    expect(huge.detail).toContain("use maxLength/minLength");

    // About 1,000 RE2 instructions, unanchored: RE2's worst case is every instruction for every character.
    expect((await registerType(server, "probe.sent", { properties: { v: { type: "string", pattern: "(\\p{L}|\\p{N}|a){1,250}$" } } })).status).toBe(201);
    const { result, maxDelayMs } = await loopDelayDuring(async () => ({
      long: await postEvent(server, "probe.sent", { v: "a".repeat(200_000) + "!" }),
      short: await postEvent(server, "probe.sent", { v: "abc" }),
    }));
    expect(result.long).toMatchObject({ status: 422, code: "HERALD_ERR_VALIDATION", field: "data" });
    expect(result.long.detail).toContain("can check in one request");
    expect(result.short.status).toBe(202);
    expect(maxDelayMs).toBeLessThan(RESPONSIVE_MS);
  });
});

describe("a schema's size, depth, references and cost are bounded", () => {
  it("an oversized, over-deep or over-many schema is refused naming schema, by the API and by the engine", async () => {
    const server = await startTestServer(UNLIMITED);
    const oversized = await registerType(server, "probe.sent", { enum: Array.from({ length: 10_000 }, (_, i) => `value-${i}`) });
    expect({ status: oversized.status, field: oversized.field }).toEqual({ status: 422, field: "schema" });
    let deep: unknown = { type: "string" };
    for (let i = 0; i < 100; i++) deep = { properties: { a: deep } };
    const tooDeep = await registerType(server, "probe.sent", deep);
    expect({ status: tooDeep.status, field: tooDeep.field }).toEqual({ status: 422, field: "schema" });
    expect(tooDeep.detail).toContain("nested deeper than 64 levels");

    // Small in bytes, but ajv's compile time (and stack) grows faster than linearly with subschemas and patterns.
    const many = await registerType(server, "probe.sent", { properties: Object.fromEntries(Array.from({ length: 1_200 }, (_, i) => [`p${i}`, {}])) });
    expect({ status: many.status, field: many.field }).toEqual({ status: 422, field: "schema" });
    expect(many.detail).toContain("more than 1000 subschemas");
    const patterns = await registerType(server, "probe.sent", { properties: Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`p${i}`, { pattern: `^${i}$` }])) });
    expect({ status: patterns.status, field: patterns.field }).toEqual({ status: 422, field: "schema.properties.p250.pattern" });

    // 100,000 levels through the engine: refused, not a stack overflow.
    const herald = await openEngine();
    let deeper: unknown = {};
    for (let i = 0; i < 100_000; i++) deeper = { not: deeper };
    await expect(herald.eventTypes.upsert(herald.defaultTenantId, { name: "probe.sent", schema: deeper })).rejects.toMatchObject({ code: "HERALD_ERR_VALIDATION", field: "schema" });
  });

  it("$refs shared so that a small schema applies billions of subschemas, or that loop without descending, are refused", async () => {
    const herald = await openEngine();
    const upsert = (schema: unknown) => herald.eventTypes.upsert(herald.defaultTenantId, { name: "probe.sent", schema });
    const defs: Record<string, unknown> = { a0: { type: "string" } };
    for (let k = 1; k <= 30; k++) defs[`a${k}`] = { anyOf: [{ $ref: `#/$defs/a${k - 1}` }, { $ref: `#/$defs/a${k - 1}` }] };
    // ajv took minutes on this and ran out of memory: 2^30 subschemas for one number.
    await expect(upsert({ $defs: defs, $ref: "#/$defs/a30" })).rejects.toMatchObject({ code: "HERALD_ERR_VALIDATION", field: "schema", message: expect.stringContaining("subschemas") });
    // Doubling at every level of the data: 2^64 for 64 levels of {"x": ...}.
    await expect(upsert({ allOf: [{ properties: { x: { $ref: "#" } } }, { properties: { x: { $ref: "#" } } }] })).rejects.toMatchObject({ field: "schema" });
    await expect(upsert({ anyOf: [{ type: "string" }, { $ref: "#" }] })).rejects.toMatchObject({ field: "schema.anyOf[1].$ref", message: expect.stringContaining("never end") });
    await expect(upsert({ $ref: "https://example.com/schema.json" })).rejects.toMatchObject({ field: "schema.$ref", message: expect.stringContaining("loads no other schema") });
    await expect(upsert({ properties: { a: { $ref: "#/$defs/missing" } } })).rejects.toMatchObject({ field: "schema.properties.a.$ref" });
    await expect(upsert({ properties: { a: { $id: "https://example.com/a", type: "string" } } })).rejects.toMatchObject({ field: "schema.properties.a.$id" });
    // An async schema answered a promise: the event passed unchecked, and an invalid one became an unhandled rejection.
    await expect(upsert({ $async: true, type: "object", required: ["x"] })).rejects.toMatchObject({ field: "schema.$async" });

    // Recursion that descends into the data is fine, even through two properties (a tree) or allOf.
    const tree = { type: "object", properties: { value: { type: "number" }, left: { $ref: "#" }, right: { $ref: "#" } } };
    await upsert(tree);
    await expect(herald.trigger("probe.sent", { value: 1, left: { value: 2, right: { value: 3 } } })).resolves.toBeDefined();
    await expect(herald.trigger("probe.sent", { value: 1, left: { right: { value: "three" } } })).rejects.toMatchObject({ field: "data.left.right.value" });
    await upsert({ allOf: [{ properties: { left: { $ref: "#" } } }, { properties: { right: { $ref: "#" } } }] });
  });

  it("a recursive schema and data 3,000 levels deep answers 422 naming data, not a stack overflow", async () => {
    const server = await startTestServer();
    const schema = { $ref: "#/$defs/node", $defs: { node: { type: "object", properties: { child: { $ref: "#/$defs/node" }, n: { type: "number" } } } } };
    expect((await registerType(server, "tree.grown", schema)).status).toBe(201);
    const deep = await postEvent(server, "tree.grown", '{"child":'.repeat(3_000) + "{}" + "}".repeat(3_000));
    expect({ status: deep.status, code: deep.code, field: deep.field }).toEqual({ status: 422, code: "HERALD_ERR_VALIDATION", field: "data" });
    // Within the depth limit the recursive schema checks every level.
    expect((await postEvent(server, "tree.grown", '{"child":'.repeat(50) + '{"n":1}' + "}".repeat(50))).status).toBe(202);
    const wrong = await postEvent(server, "tree.grown", '{"child":'.repeat(50) + '{"n":"one"}' + "}".repeat(50));
    expect({ status: wrong.status, field: wrong.field }).toEqual({ status: 422, field: `data.${"child.".repeat(50)}n` });
  });

  it("$id is one schema's own: it can be registered again changed, by another tenant too, and no schema can refer to another's", async () => {
    const server = await startTestServer(UNLIMITED);
    const other = await makeTenant(server);
    const order = (type: string) => ({ $id: "https://example.com/order.json", type: "object", properties: { amount: { type } } });
    expect((await registerType(server, "order.paid", order("number"))).status).toBe(201);
    // The shared ajv kept the first schema under its $id: the second answered "already exists".
    expect((await registerType(server, "order.paid", order("string"))).status).toBe(200);
    expect((await registerType(server, "order.paid", order("integer"), other.headers)).status).toBe(201);
    expect((await postEvent(server, "order.paid", { amount: "ten" })).status).toBe(202);
    const foreign = await registerType(server, "order.copied", { $ref: "https://example.com/order.json" }, other.headers);
    expect({ status: foreign.status, field: foreign.field }).toEqual({ status: 422, field: "schema.$ref" });
  });

  it("a schema stored before these checks refuses its events with a 422 naming the type to register again, without stalling", async () => {
    const reported: string[] = [];
    const herald = await openEngine({ onError: (_error, context) => reported.push(context) });
    const store = await storeOf(herald);
    // As an older Herald accepted it: a backreference only a backtracking engine runs.
    await store.upsertEventType({
      tenantId: herald.defaultTenantId, name: "user.signup", description: "", createdAt: Date.now(),
      schema: { type: "object", properties: { name: { type: "string", pattern: "^(a+)+\\1$" } } },
    });
    const { result, maxDelayMs } = await loopDelayDuring(async () => {
      const refusals: unknown[] = [];
      for (let i = 0; i < 3; i++) refusals.push(await herald.trigger("user.signup", { name: HOSTILE }).catch((error: unknown) => error));
      return refusals;
    });
    for (const refusal of result) {
      expect(refusal).toMatchObject({ code: "HERALD_ERR_VALIDATION", field: "type", message: expect.stringContaining("register the event type again") });
      expect((refusal as Error).message).toContain("schema.properties.name.pattern");
    }
    await expect(herald.triggerMany([{ type: "custom", data: {} }, { type: "user.signup", data: {} }])).rejects.toMatchObject({ field: "events[1].type" });
    expect(maxDelayMs).toBeLessThan(RESPONSIVE_MS);
    // Registering it again with a pattern RE2 runs fixes the type.
    await herald.eventTypes.upsert(herald.defaultTenantId, { name: "user.signup", schema: { properties: { name: { pattern: "^a+$" } } } });
    await expect(herald.trigger("user.signup", { name: "aaa" })).resolves.toBeDefined();
    expect(reported.every((context) => context.includes("user.signup"))).toBe(true);
  });
});

describe("keywords and formats that were superlinear are linear", () => {
  it("uniqueItems over 40,000 untyped items (pairwise in ajv: over a second) answers at once, with ajv's meaning", async () => {
    const server = await startTestServer(UNLIMITED);
    expect((await registerType(server, "probe.sent", { type: "object", properties: { ids: { type: "array", uniqueItems: true } } })).status).toBe(201);
    const ids = Array.from({ length: 40_000 }, (_, i) => i);
    const { result, maxDelayMs } = await loopDelayDuring(async () => ({
      distinct: await postEvent(server, "probe.sent", { ids }),
      repeated: await postEvent(server, "probe.sent", { ids: [...ids, 39_999] }),
    }));
    expect(result.distinct.status).toBe(202);
    expect(result.repeated).toMatchObject({ status: 422, field: "data.ids" });
    expect(result.repeated.detail).toContain("items ## 39999 and 40000 are identical");
    expect(maxDelayMs).toBeLessThan(RESPONSIVE_MS);
    // Equal as JSON values: key order does not matter, and 1 and 1.0 are one number.
    expect((await postEvent(server, "probe.sent", { ids: [{ a: 1, b: [2] }, { b: [2], a: 1 }] })).status).toBe(422);
    expect((await postEvent(server, "probe.sent", { ids: [1, 2, "1", [1], { a: 1 }, null] })).status).toBe(202);
    expect((await postEvent(server, "probe.sent", '{"ids":[1,1.0]}')).status).toBe(422);
  });

  it("the email format checks a hostile 50,000-character address at once (its regex backtracked quadratically)", async () => {
    const server = await startTestServer(UNLIMITED);
    expect((await registerType(server, "probe.sent", { properties: { email: { type: "string", format: "email" } } })).status).toBe(201);
    const { result, maxDelayMs } = await loopDelayDuring(() => postEvent(server, "probe.sent", { email: "a@" + ".".repeat(50_000) + "@" }));
    expect(result).toMatchObject({ status: 422, field: "data.email" });
    expect(maxDelayMs).toBeLessThan(RESPONSIVE_MS);
    for (const good of ["bob@example.com", "a@b.co"]) expect((await postEvent(server, "probe.sent", { email: good })).status, good).toBe(202);
    for (const bad of ["bob@example", "bob@.com", "bob@com.", "bob example@x.com", "a@b@c.com"]) {
      expect((await postEvent(server, "probe.sent", { email: bad })).status, bad).toBe(422);
    }
  });
});
