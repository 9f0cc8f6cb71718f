/**
 * `retry.preset`: named policies after the senders Herald stands in for. `agentfactory` is seed
 * 004's "exponential backoff, max 3 retries, 24-hour retry window"; the preset is resolved when
 * the webhook is written, and fields given beside it override it.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  AGENTFACTORY_RETRY_POLICY, DEFAULT_RETRY_POLICY, IDENTUS_RETRY_POLICY, nextAttemptAt, resolveRetryPolicy, retryDelayMs,
} from "../../src/domain/retry-policy.js";
import { HeraldError } from "../../src/index.js";
import { closeEngines, openEngine } from "../helpers/engine.js";
import { closeAll, startTestServer, tenantHeaders } from "../api/helpers.js";

afterEach(async () => {
  await closeEngines();
  await closeAll();
});

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function failure(run: () => unknown): HeraldError {
  try {
    run();
  } catch (error) {
    if (error instanceof HeraldError) return error;
    throw error;
  }
  throw new Error("accepted");
}

describe("the agentfactory preset", () => {
  it("is exponential, 4 attempts (1 + 3 retries), inside a 24-hour window", () => {
    expect(resolveRetryPolicy({ preset: "agentfactory" })).toEqual({
      strategy: "exponential", maxAttempts: 4, initialDelayMs: HOUR, maxDelayMs: 16 * HOUR, multiplier: 4, jitter: 0, windowMs: 86_400_000,
    });
  });

  it("waits 1 h, 4 h, then 16 h: its three retries all fit in the window, even with every request taking the longest timeout", () => {
    const policy = resolveRetryPolicy({ preset: "agentfactory" });
    expect([1, 2, 3].map((failed) => retryDelayMs(policy, failed))).toEqual([HOUR, 4 * HOUR, 16 * HOUR]);
    const created = 1_700_000_000_000;
    const slowestRequest = 300_000; // timeoutMs maximum
    let now = created + slowestRequest;
    const due: number[] = [];
    for (let failed = 1; failed <= 3; failed++) {
      const at = nextAttemptAt(policy, failed, created, now);
      expect(at, `retry ${failed}`).not.toBeNull();
      due.push(at!);
      now = at! + slowestRequest;
    }
    expect(due[2]! - created).toBeLessThan(DAY);
    expect(nextAttemptAt(policy, 4, created, now)).toBeNull(); // attempts spent
  });

  it("never schedules past the window: a first attempt made 4 h late loses the retry that would land after 24 h", () => {
    const policy = resolveRetryPolicy({ preset: "agentfactory" });
    const created = 1_700_000_000_000;
    const secondRetryFailedAt = created + 4 * HOUR + HOUR + 4 * HOUR;
    expect(nextAttemptAt(policy, 3, created, secondRetryFailedAt)).toBeNull();
  });

  it("fields beside the preset override it, and windowMs null lifts the window", () => {
    expect(resolveRetryPolicy({ preset: "agentfactory", maxAttempts: 2, jitter: 0.2 })).toEqual({ ...AGENTFACTORY_RETRY_POLICY, maxAttempts: 2, jitter: 0.2 });
    expect(resolveRetryPolicy({ preset: "agentfactory", windowMs: null }).windowMs).toBeNull();
  });

  it("replaces the webhook's current policy rather than merging over it", () => {
    const current = { ...DEFAULT_RETRY_POLICY, strategy: "linear" as const, maxAttempts: 9 };
    expect(resolveRetryPolicy({ preset: "agentfactory" }, current)).toEqual(AGENTFACTORY_RETRY_POLICY);
    expect(resolveRetryPolicy({ maxAttempts: 5 }, current)).toEqual({ ...current, maxAttempts: 5 });
  });

  it("identus and systemprompt name the policies those senders document", () => {
    expect(resolveRetryPolicy({ preset: "identus" })).toEqual(IDENTUS_RETRY_POLICY);
    expect(resolveRetryPolicy({ preset: "systemprompt" }, AGENTFACTORY_RETRY_POLICY)).toEqual(DEFAULT_RETRY_POLICY);
  });
});

describe("an unknown preset", () => {
  it.each([["agent-factory"], ["toString"], [4], [null]])("%j is refused naming retry.preset and the presets", (preset) => {
    const error = failure(() => resolveRetryPolicy({ preset }));
    expect(error.code).toBe("HERALD_ERR_VALIDATION");
    expect(error.field).toBe("retry.preset");
    expect(error.message).toContain("agentfactory, identus, systemprompt");
  });

  it("is a 422 problem over HTTP, naming retry.preset", async () => {
    const server = await startTestServer();
    const response = await server.app.inject({
      method: "POST", url: "/v1/webhooks", headers: tenantHeaders(server), payload: { url: "https://example.com/hook", retry: { preset: "agentfactroy" } },
    });
    expect(response.statusCode).toBe(422);
    const problem = response.json<{ code: string; field: string; detail: string }>();
    expect(problem).toMatchObject({ code: "HERALD_ERR_VALIDATION", field: "retry.preset" });
    expect(problem.detail).toContain("agentfactory");
  });
});

describe("the preset through the engine and the API", () => {
  it("a webhook created with it stores and shows the resolved policy", async () => {
    const server = await startTestServer();
    const response = await server.app.inject({
      method: "POST", url: "/v1/webhooks", headers: tenantHeaders(server),
      payload: { url: "https://example.com/hook", payloadFormat: "agentfactory", retry: { preset: "agentfactory" } },
    });
    expect(response.statusCode).toBe(201);
    expect(response.json<{ retry: unknown }>().retry).toEqual(AGENTFACTORY_RETRY_POLICY);
  });

  it("PATCH with a preset moves an existing webhook onto it", async () => {
    const herald = await openEngine();
    const webhook = await herald.webhooks.create({ url: "https://example.com/h", retry: { strategy: "fixed", maxAttempts: 7 } });
    const patched = await herald.webhooks.update(webhook.id, { retry: { preset: "agentfactory", maxAttempts: 3 } });
    expect(patched.retry).toEqual({ ...AGENTFACTORY_RETRY_POLICY, maxAttempts: 3 });
    expect((await herald.webhooks.get(webhook.id)).retry).toEqual({ ...AGENTFACTORY_RETRY_POLICY, maxAttempts: 3 });
  });
});
