/**
 * The payload filter compiler (src/domain/payload-filter.ts) on its own: what a filter sees,
 * what each allowed operator means, what is refused and where, and the bounds on an evaluation.
 */
import { describe, expect, test } from "vitest";
import {
  FILTER_PATTERN_BUDGET_MS, MAX_FILTER_STEPS, checkPayloadFilter, payloadFilterTester, type FilteredEvent,
} from "../../src/domain/payload-filter.js";
import { HeraldError } from "../../src/errors.js";
import { TENANT_FILTER_BURST_MS, TENANT_FILTER_MS_PER_SECOND, TenantFilterAllowances, makeWebhookTargets } from "../../src/ingest/ingest-event.js";

const order: FilteredEvent = {
  type: "order.paid",
  data: {
    amount: 150,
    currency: "EUR",
    customer: { country: "DE", vip: false, email: null },
    items: [{ sku: "a", qty: 2 }, { sku: "b", qty: 5 }],
    tags: ["x", "y"],
    note: "Hello World",
  },
  metadata: { source: "shop" },
};

/** Checks and compiles the filter as a webhook's create would, then evaluates it as ingest does (by its stored text). */
function matches(filter: Record<string, unknown>, event: FilteredEvent = order): boolean {
  const checked = checkPayloadFilter(filter);
  if (checked === null) throw new Error("no filter");
  return payloadFilterTester(JSON.stringify(checked))(event);
}

function refusal(filter: unknown): string | undefined {
  try {
    checkPayloadFilter(filter);
  } catch (error) {
    if (error instanceof HeraldError && error.code === "HERALD_ERR_VALIDATION") return error.field;
    throw error;
  }
  return undefined;
}

describe("payload filter compiler", () => {
  test("the filter sees {type, data, metadata}: paths into each, nested and through arrays", () => {
    expect(matches({ type: "order.paid" })).toBe(true);
    expect(matches({ type: "order.created" })).toBe(false);
    expect(matches({ "metadata.source": "shop" })).toBe(true);
    expect(matches({ "data.customer.country": "DE" })).toBe(true);
    expect(matches({ "data.items.sku": "b" })).toBe(true);
    expect(matches({ "data.items.1.qty": 5 })).toBe(true);
    expect(matches({ "data.items.0.qty": 5 })).toBe(false);
    expect(matches({ "data.tags": "y" })).toBe(true);
    // An exact object matches by its keys in any order, not by a subset of them.
    expect(matches({ "data.customer": { vip: false, country: "DE", email: null } })).toBe(true);
    expect(matches({ "data.customer": { country: "DE" } })).toBe(false);
    expect(matches({ "metadata.source": { $exists: false } }, { ...order, metadata: null })).toBe(true);
  });

  test("comparison operators compare like with like", () => {
    expect(matches({ "data.amount": { $gte: 150, $lt: 151 } })).toBe(true);
    expect(matches({ "data.amount": { $gt: 150 } })).toBe(false);
    expect(matches({ "data.amount": { $lte: "200" } })).toBe(false); // a number is not compared with a string
    expect(matches({ "data.currency": { $gt: "E", $lt: "F" } })).toBe(true);
    expect(matches({ "data.amount": { $eq: 150 } })).toBe(true);
    expect(matches({ "data.amount": { $ne: 150 } })).toBe(false);
    expect(matches({ "data.missing": { $ne: 1 } })).toBe(true);
    expect(matches({ "data.tags": { $ne: "x" } })).toBe(false); // no item may equal it
    expect(matches({ "data.customer.email": null })).toBe(true);
    expect(matches({ "data.missing": null })).toBe(true); // null also matches a missing field, as in MongoDB
    expect(matches({ "data.customer.country": { $in: ["FR", "DE"] } })).toBe(true);
    expect(matches({ "data.customer.country": { $nin: ["FR", "DE"] } })).toBe(false);
    expect(matches({ "data.tags": { $in: ["z", "y"] } })).toBe(true);
    expect(matches({ "data.tags": { $nin: ["z", "y"] } })).toBe(false);
    expect(matches({ "data.missing": { $in: [null] } })).toBe(true);
    expect(matches({ "data.tags": { $in: [["x", "y"]] } })).toBe(true); // the whole array is one of the values
    expect(matches({ "data.amount": { $mod: [50, 0] } })).toBe(true);
  });

  test("logic, element and array operators", () => {
    expect(matches({ $or: [{ "data.amount": { $lt: 10 } }, { "data.currency": "EUR" }] })).toBe(true);
    expect(matches({ $and: [{ "data.amount": { $gt: 10 } }, { "data.currency": "USD" }] })).toBe(false);
    expect(matches({ $nor: [{ "data.currency": "USD" }, { "data.customer.vip": true }] })).toBe(true);
    expect(matches({ "data.amount": { $not: { $gt: 100 } } })).toBe(false);
    expect(matches({ "data.customer.vip": { $exists: true } })).toBe(true);
    expect(matches({ "data.coupon": { $exists: true } })).toBe(false);
    expect(matches({ "data.customer.email": { $exists: true } })).toBe(true); // present, though null
    expect(matches({ "data.customer.email": { $type: "null" }, "data.customer": { $type: "object" }, "data.tags": { $type: "array" } })).toBe(true);
    expect(matches({ "data.customer.vip": { $type: "bool" }, "data.amount": { $type: "number" }, "data.note": { $type: "string" } })).toBe(true);
    expect(matches({ "data.amount": { $type: "string" } })).toBe(false);
    expect(matches({ "data.tags": { $size: 2 } })).toBe(true);
    expect(matches({ "data.tags": { $all: ["y", "x"] } })).toBe(true);
    expect(matches({ "data.tags": { $all: ["x", "z"] } })).toBe(false);
    expect(matches({ "data.items": { $elemMatch: { sku: "a", qty: { $gt: 4 } } } })).toBe(false); // one item must hold both
    expect(matches({ "data.items": { $elemMatch: { sku: "b", qty: { $gt: 4 } } } })).toBe(true);
    expect(matches({ "data.items.qty": { $elemMatch: { $gte: 5 } } }, { ...order, data: { items: { qty: [1, 7] } } })).toBe(true);
  });

  test("$regex runs on RE2, with the flags i, m and s", () => {
    expect(matches({ "data.note": { $regex: "^hello", $options: "i" } })).toBe(true);
    expect(matches({ "data.note": { $regex: "^hello" } })).toBe(false);
    expect(matches({ "data.note": { $not: { $regex: "^hello" } } })).toBe(true);
    expect(matches({ "data.note": { $regex: "^World$", $options: "m" } }, { ...order, data: { note: "Hello\nWorld" } })).toBe(true);
    expect(matches({ "data.note": { $regex: "Hello.World", $options: "s" } }, { ...order, data: { note: "Hello\nWorld" } })).toBe(true);
    expect(matches({ "data.amount": { $regex: "150" } })).toBe(false); // only strings
    // A backtracking engine takes seconds on this; RE2 is linear.
    const started = performance.now();
    expect(matches({ "data.note": { $regex: "^(a+)+$" } }, { ...order, data: { note: `${"a".repeat(5_000)}!` } })).toBe(false);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  test("null and {} are no filter; the stored text compiles once and is kept", () => {
    expect(checkPayloadFilter(null)).toBeNull();
    expect(checkPayloadFilter({})).toBeNull();
    const text = JSON.stringify(checkPayloadFilter({ "data.amount": { $gt: 1 } }));
    expect(payloadFilterTester(text)).toBe(payloadFilterTester(text));
    // A text never checked in this process (another process stored it) compiles on first use.
    const stored = JSON.stringify({ "data.fresh": { $in: [1, 2] } });
    expect(payloadFilterTester(stored)({ type: "t", data: { fresh: 2 }, metadata: null })).toBe(true);
  });

  test("a stored filter that fails the checks now matches nothing, as does text that is not JSON", () => {
    const event: FilteredEvent = { type: "t", data: { a: 1 }, metadata: null };
    expect(payloadFilterTester(JSON.stringify({ $where: "true" }))(event)).toBe(false);
    expect(payloadFilterTester(JSON.stringify({ "data.a": { $foo: 1 } }))(event)).toBe(false);
    expect(payloadFilterTester("{not json")(event)).toBe(false);
    expect(payloadFilterTester("{}")(event)).toBe(true);
  });

  test("refusals name the place and the fix", () => {
    expect(refusal({ $where: "sleep(1000)" })).toBe("filter.$where");
    expect(refusal({ "data.a": { $where: "1" } })).toBe("filter.data.a.$where");
    expect(refusal({ "data.amount": { $foo: 1 } })).toBe("filter.data.amount.$foo");
    // Names an object inherits are not type names.
    for (const inherited of ["constructor", "toString", "hasOwnProperty", "__proto__"]) {
      expect(refusal({ "data.x": { $type: inherited } })).toBe("filter.data.x.$type");
    }
    expect(refusal({ "data.a": { $elemMatch: { $foo: 1 } } })).toBe("filter.data.a.$elemMatch.$foo");
    expect(refusal({ "data.a": { $gt: null } })).toBe("filter.data.a.$gt");
    expect(refusal({ "data.a": { $in: [{ $gt: 1 }] } })).toBe("filter.data.a.$in[0]");
    expect(refusal({ "data.a": { $mod: [0, 1] } })).toBe("filter.data.a.$mod");
    expect(refusal({ "data.a": { $not: 5 } })).toBe("filter.data.a.$not");
    expect(refusal({ "data.a": { $elemMatch: [1] } })).toBe("filter.data.a.$elemMatch");
    expect(refusal({ "data.a": { $regex: 5 } })).toBe("filter.data.a.$regex");
    expect(refusal({ "data.a": { $regex: "a".repeat(513) } })).toBe("filter.data.a.$regex");
    expect(refusal({ "data.a": { $regex: "(?<!x)a" } })).toBe("filter.data.a.$regex");
    expect(refusal({ "data.prototype": 1 })).toBe("filter.data.prototype");
    expect(refusal({ [`data.${"a".repeat(300)}`]: 1 })).toBe(`filter.data.${"a".repeat(300)}`);
    expect(refusal({ "data.a": { $eq: Infinity } })).toBe('filter["data.a"].$eq'); // 1e400 in JSON: not a number JSON carries
    expect(refusal([])).toBe("filter");
    expect(refusal({ "data.a": { $gt: 1 } })).toBeUndefined();
    try {
      checkPayloadFilter({ "data.a": { $where: "true" } });
    } catch (error) {
      expect((error as Error).message).toMatch(/runs code/);
    }
  });

  test("an evaluation is bounded: past its steps or its regex allowance the filter does not match", () => {
    // 190 values each found near the end of 4,000 items: over 700,000 steps, past MAX_FILTER_STEPS.
    const descending = (n: number) => Array.from({ length: n }, (_, i) => n - 1 - i);
    const filter = { "data.items": { $all: Array.from({ length: 190 }, (_, i) => i) } };
    expect(MAX_FILTER_STEPS).toBeLessThan(190 * 3_800);
    let started = performance.now();
    expect(matches(filter, { type: "t", data: { items: descending(4_000) }, metadata: null })).toBe(false);
    expect(performance.now() - started).toBeLessThan(2_000);
    // The same filter over 500 items fits: about 76,000 steps.
    expect(matches(filter, { type: "t", data: { items: descending(500) }, metadata: null })).toBe(true);
    started = performance.now();
    expect(matches({ "data.text": { $regex: "needle" } }, { type: "t", data: { text: `${"x".repeat(200_000)}needle` }, metadata: null })).toBe(false);
    expect(performance.now() - started).toBeLessThan(FILTER_PATTERN_BUDGET_MS * 20);
  });

  test("one ingest call's filter work is bounded: costly filters over many events refuse the call, cheap ones never do", () => {
    const descending = Array.from({ length: 4_000 }, (_, i) => 3_999 - i);
    const costly = JSON.stringify(checkPayloadFilter({ "data.items": { $all: Array.from({ length: 190 }, (_, i) => i) } }));
    const targets = makeWebhookTargets([{ id: "a", events: ["*"], filter: costly }, { id: "b", events: ["*"], filter: costly }]);
    let refused: unknown;
    let calls = 0;
    for (; calls < 1_000 && refused === undefined; calls++) {
      try {
        expect(targets("t", null, { data: { items: descending }, metadata: null })).toEqual([]);
      } catch (error) {
        refused = error;
      }
    }
    expect(refused).toMatchObject({ status: 422, field: "filter" });
    expect((refused as Error).message).toMatch(/took more than 250 ms in this request; send fewer events per request/);
    expect(calls).toBeGreaterThan(1); // the first event's evaluations fit

    const cheap = makeWebhookTargets([{ id: "c", events: ["*"], filter: JSON.stringify(checkPayloadFilter({ "data.n": { $gte: 0 } })) }]);
    for (let n = 0; n < 20_000; n++) expect(cheap("t", null, { data: { n }, metadata: null })).toEqual(["c"]);
  });

  test("a tenant's filter work across calls is bounded per second: past its allowance a call is a 429, and it refills", () => {
    let now = 0;
    const allowances = new TenantFilterAllowances(() => now);
    const descending = Array.from({ length: 4_000 }, (_, i) => 3_999 - i);
    const costly = JSON.stringify(checkPayloadFilter({ "data.items": { $all: Array.from({ length: 190 }, (_, i) => i) } }));
    const subscribers = [{ id: "a", events: ["*"], filter: costly }];
    // One call per event, as separate POST /v1/events would be; the fake clock stands still, so nothing refills.
    const call = (tenantId: string) => makeWebhookTargets(subscribers, allowances.of(tenantId))("t", null, { data: { items: descending }, metadata: null });
    let refused: unknown;
    let calls = 0;
    for (; calls < 1_000 && refused === undefined; calls++) {
      try {
        expect(call("acme")).toEqual([]);
      } catch (error) {
        refused = error;
      }
    }
    expect(refused).toMatchObject({ status: 429, code: "HERALD_ERR_RATE_LIMITED", field: "filter" });
    expect((refused as Error).message).toMatch(/allowance of 250 ms per second; retry in a few seconds/);
    expect(calls).toBeGreaterThan(1);
    expect(() => call("acme")).toThrow(/allowance/);
    // Another tenant has its own allowance; the first refills with time.
    expect(call("globex")).toEqual([]);
    now += (TENANT_FILTER_BURST_MS / TENANT_FILTER_MS_PER_SECOND) * 1_000;
    expect(call("acme")).toEqual([]);
  });

  test("fan-out evaluates each webhook's filter per event, and only for webhooks of the event's type", () => {
    const filterText = JSON.stringify(checkPayloadFilter({ "data.amount": { $gte: 100 } }));
    const targets = makeWebhookTargets([
      { id: "all", events: ["*"] },
      { id: "big", events: ["order.*"], filter: filterText },
      { id: "users", events: ["user.*"], filter: JSON.stringify({ $where: "true" }) },
    ]);
    expect(targets("order.paid", null, { data: { amount: 150 }, metadata: null })).toEqual(["all", "big"]);
    expect(targets("order.paid", null, { data: { amount: 50 }, metadata: null })).toEqual(["all"]);
    expect(targets("user.created", null, { data: {}, metadata: null })).toEqual(["all"]);
    expect(targets("other", null, { data: {}, metadata: null })).toEqual(["all"]);
  });
});
