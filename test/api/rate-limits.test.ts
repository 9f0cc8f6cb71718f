/** The per-key API limit beyond auth.test.ts: what is counted, what is not, and when it lifts. */
import { afterEach, describe, expect, test } from "vitest";
import { adminHeaders, closeAll, expectProblem, startTestServer, tenantHeaders } from "./helpers.js";

afterEach(closeAll);

describe("per-key rate limit", () => {
  test("the refusal names HERALD_RATE_LIMIT_PER_SECOND and the limit lifts once the window has passed", async () => {
    const server = await startTestServer({ HERALD_RATE_LIMIT_PER_SECOND: "10", HERALD_RATE_LIMIT_BURST: "2" });
    const get = () => server.app.inject({ method: "GET", url: "/v1/webhooks", headers: tenantHeaders(server) });
    expect((await get()).statusCode).toBe(200);
    expect((await get()).statusCode).toBe(200);
    const refused = await get();
    expect(refused.statusCode).toBe(429);
    expectProblem(refused, "HERALD_ERR_RATE_LIMITED");
    expect(refused.headers["content-type"]).toContain("application/problem+json");
    expect(refused.headers["retry-after"]).toBe("1");
    expect(refused.json()).toMatchObject({ code: "HERALD_ERR_RATE_LIMITED", instance: "/v1/webhooks" });
    expect(refused.json().detail).toContain("HERALD_RATE_LIMIT_PER_SECOND");
    // Two requests at ten a second: the window is 200 ms.
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect((await get()).statusCode).toBe(200);
  });

  test("a key that spent its burst goes on at the steady rate at once, not locked out for a window", async () => {
    // 5 a second with a burst of 20: a fixed 4 s window would refuse everything for 4 s after the burst.
    const server = await startTestServer({ HERALD_RATE_LIMIT_PER_SECOND: "5", HERALD_RATE_LIMIT_BURST: "20" });
    const get = () => server.app.inject({ method: "GET", url: "/v1/webhooks", headers: tenantHeaders(server) });
    let allowed = 0;
    let refused = await get();
    while (refused.statusCode === 200 && allowed < 40) {
      allowed++;
      refused = await get();
    }
    // The burst, plus the few tokens that dripped in while it was spent.
    expect(allowed).toBeGreaterThanOrEqual(20);
    expect(allowed).toBeLessThan(40);
    expectProblem(refused, "HERALD_ERR_RATE_LIMITED");
    expect(refused.headers["retry-after"]).toBe("1");
    // One token every 200 ms: 450 ms later the key may send again.
    await new Promise((resolve) => setTimeout(resolve, 450));
    expect((await get()).statusCode).toBe(200);
  });

  test("public routes and refused callers are not counted against any key", async () => {
    const server = await startTestServer({ HERALD_RATE_LIMIT_PER_SECOND: "1", HERALD_RATE_LIMIT_BURST: "1" });
    for (let i = 0; i < 5; i++) {
      expect((await server.app.inject({ method: "GET", url: "/" })).statusCode).toBe(200);
      expectProblem(await server.app.inject({ method: "GET", url: "/v1/webhooks" }), "HERALD_ERR_UNAUTHORIZED");
      expectProblem(await server.app.inject({ method: "GET", url: "/v1/tenants", headers: tenantHeaders(server) }), "HERALD_ERR_FORBIDDEN");
    }
    expect((await server.app.inject({ method: "GET", url: "/v1/webhooks", headers: tenantHeaders(server) })).statusCode).toBe(200);
    expectProblem(await server.app.inject({ method: "GET", url: "/v1/webhooks", headers: tenantHeaders(server) }), "HERALD_ERR_RATE_LIMITED");
  });

  test("HERALD_RATE_LIMIT_PER_SECOND=0 turns the limit off", async () => {
    const server = await startTestServer({ HERALD_RATE_LIMIT_PER_SECOND: "0" });
    const statuses = new Set<number>();
    for (let i = 0; i < 30; i++) {
      statuses.add((await server.app.inject({ method: "GET", url: "/v1/tenants", headers: adminHeaders(server) })).statusCode);
    }
    expect([...statuses]).toEqual([200]);
  });
});
