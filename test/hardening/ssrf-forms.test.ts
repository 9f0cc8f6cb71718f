/**
 * SSRF forms: every spelling of a non-public address is refused when a webhook is saved and
 * again when a connection is dialled (a webhook saved by an older Herald, or a hostname that
 * re-resolves), and service ports (SSH, databases, brokers) are refused on any host. The
 * create-time table of ranges is in test/core/target-ranges.test.ts; this file adds the
 * connect side, the HTTP answer, and the port policy, over real sockets.
 */
import { afterEach, describe, expect, it } from "vitest";
import { buildWebhook } from "../../src/domain/webhook-input.js";
import { loadConfig } from "../../src/config/load-config.js";
import { DEFAULT_DENIED_PORTS } from "../../src/security/target-guard.js";
import { closeEngines, eventually, openEngine, sleep, storeOf } from "../helpers/engine.js";
import { closeReceivers, receiver } from "../helpers/receiver.js";
import { closeAll, expectProblem, startTestServer } from "../api/helpers.js";

afterEach(async () => {
  await closeEngines();
  await closeReceivers();
  await closeAll();
});

/** Forms that carry a loopback or otherwise non-public address inside an IPv6 literal. */
const FORMS: Array<[url: string, range: RegExp]> = [
  ["http://[::127.0.0.1]:9/hook", /IPv4-compatible/],
  ["http://[::7f00:1]:9/hook", /IPv4-compatible/],
  ["http://[::ffff:0:7f00:1]:9/hook", /loopback.*IPv4-translated/],
  ["http://[::ffff:7f00:1]:9/hook", /loopback.*IPv4-mapped/],
  ["http://[fec0::1]:9/hook", /site-local/],
  ["http://[100::1]:9/hook", /discard/],
  ["http://[64:ff9b::7f00:1]:9/hook", /loopback.*NAT64/],
  ["http://[2002:7f00:1::1]:9/hook", /loopback.*6to4/],
];

describe("SSRF forms", () => {
  it.each(FORMS)("POST /v1/webhooks to %s answers 422 problem+json naming the range", async (url, range) => {
    const server = await startTestServer({ HERALD_ALLOW_PRIVATE_TARGETS: "false" });
    const response = await server.app.inject({ method: "POST", url: "/v1/webhooks", headers: { "x-admin-api-key": server.adminApiKey }, payload: { url } });
    expectProblem(response, "HERALD_ERR_PRIVATE_TARGET");
    expect(response.headers["content-type"]).toContain("application/problem+json");
    const problem = response.json<{ field: string; detail: string }>();
    expect(problem.field).toBe("url");
    expect(problem.detail).toMatch(range);
  });

  it.each(FORMS)("a stored webhook to %s is refused when the connection is dialled, naming the range", async (url, range) => {
    const herald = await openEngine({ allowPrivateTargets: false });
    // A row saved before the create-time check knew this form: only the connect-time guard stands.
    const webhook = buildWebhook({ url, retry: { maxAttempts: 1 } }, { tenantId: herald.defaultTenantId, now: Date.now() });
    await (await storeOf(herald)).insertWebhook(webhook);
    await herald.start();
    const { deliveries } = await herald.trigger("ssrf.probe", {});
    const [attempt] = await eventually(async () => {
      const attempts = await herald.deliveries.attempts(deliveries[0]!);
      return attempts.length > 0 ? attempts : undefined;
    });
    expect(attempt!.response).toBeNull();
    expect(attempt!.errorMessage).toMatch(range);
    expect(attempt!.errorMessage).toContain("HERALD_ALLOW_PRIVATE_TARGETS");
  });
});

describe("service ports", () => {
  it.each([22, 5432, 6379, 27017])("a webhook to a public host on port %i is refused at create, naming the port and HERALD_DENIED_PORTS", async (port) => {
    const herald = await openEngine({ allowPrivateTargets: false });
    const error = await herald.webhooks.create({ url: `http://93.184.216.34:${port}/hook` }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "HERALD_ERR_PRIVATE_TARGET", field: "url" });
    expect((error as Error).message).toContain(`port ${port}`);
    expect((error as Error).message).toContain("HERALD_DENIED_PORTS");
  });

  it("https on the default port and http on 8080 are allowed; the default list covers SSH, PostgreSQL and Redis", async () => {
    const herald = await openEngine({ allowPrivateTargets: false });
    await expect(herald.webhooks.create({ url: "https://93.184.216.34/hook" })).resolves.toMatchObject({ status: "active" });
    await expect(herald.webhooks.create({ url: "http://93.184.216.34:8080/hook" })).resolves.toMatchObject({ status: "active" });
    expect(DEFAULT_DENIED_PORTS).toEqual(expect.arrayContaining([22, 5432, 6379]));
  });

  it("HERALD_DENIED_PORTS replaces the list, none empties it, and a bad entry fails at start naming the variable", () => {
    expect(loadConfig({}).deniedPorts).toEqual([...DEFAULT_DENIED_PORTS]);
    expect(loadConfig({ HERALD_DENIED_PORTS: "22, 8081" }).deniedPorts).toEqual([22, 8081]);
    expect(loadConfig({ HERALD_DENIED_PORTS: "none" }).deniedPorts).toEqual([]);
    for (const bad of ["22,ssh", "0", "70000", "22,,23"]) {
      expect(() => loadConfig({ HERALD_DENIED_PORTS: bad }), bad).toThrow(/^HERALD_DENIED_PORTS: .*comma-separated ports/);
    }
  });

  it("a denied port is refused on a private host too, and the change of URL to one is refused", async () => {
    const herald = await openEngine({ allowPrivateTargets: true });
    await expect(herald.webhooks.create({ url: "http://127.0.0.1:6379/" })).rejects.toMatchObject({ code: "HERALD_ERR_PRIVATE_TARGET" });
    const webhook = await herald.webhooks.create({ url: "http://127.0.0.1:8080/" });
    await expect(herald.webhooks.update(webhook.id, { url: "http://127.0.0.1:22/" })).rejects.toMatchObject({ code: "HERALD_ERR_PRIVATE_TARGET", field: "url" });
  });

  it("the connect-time guard refuses a denied port: the receiver listening there gets nothing, the attempt names the port", async () => {
    const r = await receiver();
    const herald = await openEngine({ allowPrivateTargets: true, deniedPorts: [r.port] });
    const webhook = buildWebhook({ url: r.url, retry: { maxAttempts: 1 } }, { tenantId: herald.defaultTenantId, now: Date.now() });
    await (await storeOf(herald)).insertWebhook(webhook);
    await herald.start();
    const { deliveries } = await herald.trigger("ssrf.probe", {});
    const [attempt] = await eventually(async () => {
      const attempts = await herald.deliveries.attempts(deliveries[0]!);
      return attempts.length > 0 ? attempts : undefined;
    });
    expect(attempt!.errorMessage).toContain(`port ${r.port}`);
    await sleep(100);
    expect(r.requests).toHaveLength(0);
  });

  it("with the port not denied the same receiver gets the delivery (the guard, not the socket, refused it above)", async () => {
    const r = await receiver();
    const herald = await openEngine({ allowPrivateTargets: true, deniedPorts: [] });
    await herald.webhooks.create({ url: r.url });
    await herald.start();
    await herald.trigger("ssrf.probe", {});
    await r.waitFor(1);
  });
});
