/**
 * Authentication under attack, over real HTTP so the server sees a real socket address: wrong
 * keys are throttled per client address (tenant and admin keys alike, X-Forwarded-For does not
 * reset it), every spelling of a path is authenticated and limited as the route it reaches, and
 * credential headers are read one way only (no duplicates, no odd whitespace).
 */
import { request as httpRequest, type OutgoingHttpHeaders } from "node:http";
import { afterEach, describe, expect, test } from "vitest";
import { AUTH_FAILURE_BURST, AUTH_FAILURE_REFILL_SECONDS } from "../../src/api/auth.js";
import { FailureThrottle, addressKey } from "../../src/api/rate-limit.js";
import { closeAll, startTestServer, type TestServer } from "../api/helpers.js";

afterEach(closeAll);

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: { code?: string; detail?: string; field?: string; status?: number };
}

/** One request with the path sent byte for byte (fetch would normalise it) from `localAddress`. */
function send(server: TestServer, path: string, headers: OutgoingHttpHeaders | string[] = {}, localAddress = "127.0.0.1"): Promise<Answer> {
  const { hostname, port } = new URL(server.url);
  // An array is sent as given: name, value, name, value (two spellings of one name stay two lines).
  const all = Array.isArray(headers) ? ["host", `${hostname}:${port}`, "connection", "close", ...headers] : { connection: "close", ...headers };
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port, path, headers: all, localAddress }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => {
        let body: Answer["body"] = {};
        try {
          body = JSON.parse(text) as Answer["body"];
        } catch {
          // Not JSON: the assertions on code fail and show the status.
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
    });
    req.on("error", reject);
    req.end();
  });
}

const HOOK_401 = "send your API key in the apikey header or as Authorization: Bearer <key>";

/** Wrong credentials of every kind, in turn: each one is a failure of the address. */
const WRONG = [{ apikey: "hk_wrong" }, { authorization: "Bearer hk_wrong" }, { "x-admin-api-key": "hk_admin_wrong" }];

/** Sends wrong keys until one is refused 429 (at most `cap`); returns how many were answered 401, and the refusal. */
async function exhaust(server: TestServer, cap = AUTH_FAILURE_BURST + 10, localAddress?: string): Promise<{ failures: number; refused: Answer | null }> {
  for (let i = 0; i < cap; i++) {
    const answer = await send(server, i % 2 ? "/v1/webhooks" : "/v1/tenants", WRONG[i % WRONG.length], localAddress);
    if (answer.status === 429) return { failures: i, refused: answer };
    expect(answer.status, `wrong key ${i + 1}`).toBe(401);
  }
  return { failures: cap, refused: null };
}

function expectThrottled(answer: Answer, label = ""): void {
  expect(answer.status, label).toBe(429);
  expect(answer.headers["content-type"], label).toContain("application/problem+json");
  expect(answer.body.code, label).toBe("HERALD_ERR_RATE_LIMITED");
  expect(answer.body.detail, label).toContain("too many wrong API keys from this address");
  const retryAfter = Number(answer.headers["retry-after"]);
  expect(retryAfter, label).toBeGreaterThanOrEqual(1);
  expect(retryAfter, label).toBeLessThanOrEqual((2 * AUTH_FAILURE_BURST + 1) * AUTH_FAILURE_REFILL_SECONDS);
}

describe("failed authentication is throttled per client address", () => {
  test("after the burst of wrong keys (tenant, bearer and admin alike) every request carrying a key is refused 429 unchecked, the right key too", async () => {
    const server = await startTestServer();
    const { failures, refused } = await exhaust(server);
    // The burst, plus at most one token dripped in while it was spent.
    expect(failures).toBeGreaterThanOrEqual(AUTH_FAILURE_BURST);
    expect(failures).toBeLessThanOrEqual(AUTH_FAILURE_BURST + 1);
    expectThrottled(refused!);
    expect(refused!.body.detail).toContain(`every ${AUTH_FAILURE_REFILL_SECONDS} s`);
    expect(Number(refused!.headers["retry-after"])).toBeLessThanOrEqual(AUTH_FAILURE_REFILL_SECONDS);

    for (const headers of [
      { apikey: server.defaultTenantApiKey! }, { authorization: `Bearer ${server.defaultTenantApiKey!}` }, { "x-admin-api-key": server.adminApiKey }, ...WRONG,
    ]) {
      expectThrottled(await send(server, "/v1/webhooks", headers), JSON.stringify(Object.keys(headers)));
    }
    // A request without a key is not a guess: 401 as always; public routes need no key at all.
    const anonymous = await send(server, "/v1/webhooks");
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.detail).toBe(HOOK_401);
    expect((await send(server, "/health", { apikey: "hk_wrong" })).status).toBe(200);
  });

  test("a forged X-Forwarded-For or Forwarded gives no fresh allowance; another socket address has its own", async () => {
    const server = await startTestServer();
    expectThrottled((await exhaust(server)).refused!);
    for (const forged of [{ "x-forwarded-for": "203.0.113.9" }, { forwarded: "for=203.0.113.9" }, { "x-real-ip": "203.0.113.9" }]) {
      expectThrottled(await send(server, "/v1/webhooks", { ...forged, apikey: server.defaultTenantApiKey! }), JSON.stringify(forged));
      expectThrottled(await send(server, "/v1/webhooks", { ...forged, apikey: "hk_wrong" }), JSON.stringify(forged));
    }
    // 127.0.0.2 is loopback too, but another client address.
    expect((await send(server, "/v1/webhooks", { apikey: server.defaultTenantApiKey! }, "127.0.0.2")).status).toBe(200);
    const other = await exhaust(server, AUTH_FAILURE_BURST + 10, "127.0.0.2");
    expect(other.failures).toBeGreaterThanOrEqual(AUTH_FAILURE_BURST);
    expectThrottled(other.refused!);
  });

  test("one more key is checked per refill; a right key passes then but does not give the allowance back", async () => {
    const server = await startTestServer();
    const { refused } = await exhaust(server);
    expectThrottled(refused!);
    await new Promise((resolve) => setTimeout(resolve, Number(refused!.headers["retry-after"]) * 1000 + 100));
    expect((await send(server, "/v1/webhooks", { apikey: server.defaultTenantApiKey! })).status).toBe(200);
    expect((await send(server, "/v1/webhooks", { apikey: server.defaultTenantApiKey! })).status).toBe(200);
    expect((await send(server, "/v1/webhooks", { apikey: "hk_wrong" })).status).toBe(401);
    expectThrottled(await send(server, "/v1/webhooks", { apikey: server.defaultTenantApiKey! }));
  });

  test("guesses in flight together are all charged, the debt capped at one more burst; IPv6 counts per /64", () => {
    const throttle = new FailureThrottle({ burst: 3, refillSeconds: 2 });
    expect(throttle.check("198.51.100.1").allowed).toBe(true);
    for (let i = 0; i < 50; i++) throttle.fail("198.51.100.1");
    const refused = throttle.check("198.51.100.1");
    expect(refused).toMatchObject({ allowed: false, notify: true });
    // From -3 tokens to 1, at one per 2 s.
    expect(refused.retryAfterSeconds).toBe(8);
    expect(throttle.check("198.51.100.1").notify).toBe(false);
    expect(throttle.check("::ffff:198.51.100.1").allowed).toBe(false);
    expect(throttle.check("198.51.100.2").allowed).toBe(true);

    for (let i = 0; i < 3; i++) throttle.fail("2001:db8:1:2::1");
    expect(throttle.check("2001:db8:1:2:ffff:ffff:ffff:ffff").allowed).toBe(false);
    expect(throttle.check("2001:0DB8:0001:0002:0:0:0:9%eth0").allowed).toBe(false);
    expect(throttle.check("2001:db8:1:3::1").allowed).toBe(true);
    expect(addressKey("::1")).toBe("0:0:0:0::/64");
    expect(addressKey("2001:db8::")).toBe("2001:db8:0:0::/64");
    expect(addressKey("fe80::1%lo")).toBe("fe80:0:0:0::/64");
  });
});

/**
 * Spellings of tenant paths and what an authenticated GET gets: the router decodes
 * percent-encoding, so the encoded ones reach the route (`/v1/webhooks/` is `/v1/webhooks/:id`
 * with an empty id: 400); the others reach no route (404). Either
 * way, each must be authenticated in the hook and counted against the key. Add new ones here.
 */
const SPELLINGS: Array<{ path: string; status: number }> = [
  { path: "/v1/webhooks", status: 200 },
  { path: "/%761/webhooks", status: 200 },
  { path: "/v1/%77ebhooks", status: 200 },
  { path: "/%76%31/%77%65%62%68%6F%6F%6B%73", status: 200 },
  { path: "/v1/webhooks?limit=5", status: 200 },
  { path: "/events/webhooks", status: 200 },
  { path: "/%65vents/webhooks", status: 200 },
  { path: "/cloud-agent/%65vents/webhooks", status: 200 },
  { path: "/%63loud-agent/events/webhooks", status: 200 },
  { path: "/v1/webhooks/", status: 400 },
  { path: "/v1/webhooks/%2e%2e", status: 404 },
  { path: "//v1/webhooks", status: 404 },
  { path: "/v1//webhooks", status: 404 },
  { path: "/V1/webhooks", status: 404 },
  { path: "/V1/WEBHOOKS", status: 404 },
  { path: "/v1%2Fwebhooks", status: 404 },
  { path: "/v1/./webhooks", status: 404 },
  { path: "/v1/nope", status: 404 },
  { path: "/Cloud-Agent/events/webhooks", status: 404 },
];

describe("every spelling of a path is authenticated and limited as the route it reaches", () => {
  test.each(SPELLINGS)("$path without a key, or with a wrong one, answers 401 from the auth hook", async ({ path }) => {
    const server = await startTestServer();
    const anonymous = await send(server, path);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers["content-type"]).toContain("application/problem+json");
    expect(anonymous.body).toMatchObject({ code: "HERALD_ERR_UNAUTHORIZED", field: "apikey", detail: HOOK_401 });
    const wrong = await send(server, path, { apikey: "hk_wrong" });
    expect(wrong.status).toBe(401);
    expect(wrong.body.code).toBe("HERALD_ERR_UNAUTHORIZED");
    expect(wrong.body.detail).toContain("the API key is unknown or revoked");
  });

  test("with a key, each spelling reaches its route or a problem+json 400/404, and counts against the key's limit", async () => {
    // One request per key, none refilled during the test.
    const server = await startTestServer({ HERALD_RATE_LIMIT_PER_SECOND: "0.001", HERALD_RATE_LIMIT_BURST: "1" });
    const keyFor = async () => (await server.herald.apiKeys.issue(server.herald.defaultTenantId, "spelling")).key;
    for (const { path, status } of SPELLINGS) {
      const first = await keyFor();
      const reached = await send(server, path, { apikey: first });
      expect(reached.status, path).toBe(status);
      if (status !== 200) expect(reached.headers["content-type"], path).toContain("application/problem+json");
      const after = await send(server, "/v1/webhooks", { apikey: first });
      expect(after.status, `${path}, then /v1/webhooks`).toBe(429);
      expect(after.body.code).toBe("HERALD_ERR_RATE_LIMITED");

      const second = await keyFor();
      expect((await send(server, "/v1/webhooks", { apikey: second })).status, path).toBe(200);
      const limited = await send(server, path, { apikey: second });
      expect(limited.status, `/v1/webhooks, then ${path}`).toBe(429);
      expect(limited.headers["retry-after"]).toBeDefined();
    }
  });

  test("wrong keys on any spelling count toward the address's failures", async () => {
    const server = await startTestServer();
    let failures = 0;
    let answer: Answer | null = null;
    for (let i = 0; i < AUTH_FAILURE_BURST + 10; i++) {
      answer = await send(server, SPELLINGS[i % SPELLINGS.length]!.path, { apikey: "hk_wrong" });
      if (answer.status === 429) break;
      expect(answer.status).toBe(401);
      failures++;
    }
    expect(failures).toBeGreaterThanOrEqual(AUTH_FAILURE_BURST);
    expect(failures).toBeLessThanOrEqual(AUTH_FAILURE_BURST + 1);
    expectThrottled(answer!);
  });
});

describe("credential headers are read one way", () => {
  test("a key sent twice, in one header name or two spellings of it, is refused, not read as either copy", async () => {
    const server = await startTestServer();
    const key = server.defaultTenantApiKey!;
    const cases: Array<[OutgoingHttpHeaders | string[], string]> = [
      [["apikey", key, "ApiKey", "hk_wrong"], "apikey"],
      [["Authorization", `Bearer ${key}`, "authorization", `Bearer ${key}`], "authorization"],
      [{ apikey: [key, "hk_wrong"] }, "apikey"],
      [{ apikey: [key, key] }, "apikey"],
      [{ authorization: [`Bearer ${key}`, "Bearer hk_wrong"] }, "authorization"],
      [{ "x-admin-api-key": [server.adminApiKey, "hk_wrong"] }, "x-admin-api-key"],
    ];
    for (const [headers, field] of cases) {
      const answer = await send(server, "/v1/webhooks", headers);
      expect(answer.status, JSON.stringify(headers)).toBe(401);
      expect(answer.body).toMatchObject({ code: "HERALD_ERR_UNAUTHORIZED", field });
      expect(answer.body.detail).toContain("more than once");
    }
  });

  test("spaces and tabs around a key are dropped; other whitespace or a second word makes it a wrong key", async () => {
    const server = await startTestServer();
    const key = server.defaultTenantApiKey!;
    for (const headers of [
      { apikey: ` \t${key}\t ` }, { authorization: `Bearer \t ${key} ` }, { authorization: `bearer ${key}` }, { "x-admin-api-key": `\t${server.adminApiKey} ` },
    ]) {
      expect((await send(server, "/v1/webhooks", headers)).status, JSON.stringify(headers)).toBe(200);
    }
    // Header bytes are latin1: \u00a0 is a no-break space after the key, which String.trim() would drop.
    for (const headers of [
      { apikey: `${key}\u00a0` }, { authorization: `Bearer ${key}\u00a0` }, { authorization: `Bearer ${key} ${key}` }, { "x-admin-api-key": `${server.adminApiKey}\u00a0` },
    ]) {
      const answer = await send(server, "/v1/webhooks", headers);
      expect(answer.status, JSON.stringify(headers)).toBe(401);
      expect(answer.body.code).toBe("HERALD_ERR_UNAUTHORIZED");
    }
    // A scheme other than Bearer, or a no-break space for the separator, is no key at all.
    for (const authorization of [`Basic ${key}`, `Bearer\u00a0${key}`, "Bearer "]) {
      const answer = await send(server, "/v1/webhooks", { authorization });
      expect(answer.status, authorization).toBe(401);
      expect(answer.body.detail).toBe(HOOK_401);
    }
  });
});
