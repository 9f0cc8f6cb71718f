/** assertJsonValue directly: the paths its errors name, and the depth it allows, exactly. */
import { describe, expect, it } from "vitest";
import { MAX_JSON_DEPTH, assertJsonValue } from "../../src/domain/json-limits.js";

function refusal(value: unknown, field = "data"): { field: unknown; message: string } | null {
  try {
    assertJsonValue(value, field);
    return null;
  } catch (error) {
    return { field: (error as { field?: unknown }).field, message: (error as Error).message };
  }
}

function nested(levels: number): unknown {
  let value: unknown = {};
  for (let i = 1; i < levels; i++) value = { a: value };
  return value;
}

describe("assertJsonValue", () => {
  it("names the path of a non-finite number, through arrays and keys that need quoting", () => {
    expect(refusal({ items: [{ price: 1 }, { price: 2 }, { "unit price": Infinity }] })?.field).toBe('data.items[2]["unit price"]');
    expect(refusal([[1, [NaN]]], "metadata")?.field).toBe("metadata[0][1][0]");
    expect(refusal(-Infinity)?.field).toBe("data");
    expect(refusal({ a: { b: { c: 1e308 * 10 } } })?.field).toBe("data.a.b.c");
  });

  it(`allows ${MAX_JSON_DEPTH} levels and refuses ${MAX_JSON_DEPTH + 1}, naming the field and where`, () => {
    expect(refusal(nested(MAX_JSON_DEPTH))).toBeNull();
    const deeper = refusal(nested(MAX_JSON_DEPTH + 1));
    expect(deeper?.field).toBe("data");
    expect(deeper?.message).toContain(`nested deeper than ${MAX_JSON_DEPTH} levels (at data${".a".repeat(MAX_JSON_DEPTH)})`);
    expect(refusal([nested(MAX_JSON_DEPTH)])?.message).toContain(`(at data[0]${".a".repeat(MAX_JSON_DEPTH - 1)})`);
  });

  it("with several offenders names the walk's first: an array's items in order, an object's keys from the last", () => {
    expect(refusal(JSON.parse("[1e400, 1e400]"))?.field).toBe("data[0]");
    expect(refusal(JSON.parse('{"a": 1e400, "b": 1e400}'))?.field).toBe("data.b");
    let deep: { field: unknown; message: string } | null = null;
    try {
      assertJsonValue([[[1]], Infinity], "data", 2);
    } catch (error) {
      deep = { field: (error as { field?: unknown }).field, message: (error as Error).message };
    }
    expect(deep).toEqual({ field: "data", message: expect.stringContaining("nested deeper than 2 levels (at data[0][0])") });
  });

  it("takes what JSON carries: strings, booleans, null, empty containers, large finite numbers", () => {
    expect(refusal({ s: "x", b: true, n: null, e: [], o: {}, big: Number.MAX_VALUE, small: -Number.MIN_VALUE })).toBeNull();
    expect(refusal(null)).toBeNull();
    expect(refusal("text")).toBeNull();
  });

  it("walks a 100,000-level document without overflowing the stack", () => {
    let value: unknown = [];
    for (let i = 0; i < 100_000; i++) value = [value];
    expect(refusal(value)?.message).toContain(`nested deeper than ${MAX_JSON_DEPTH} levels`);
  });
});
