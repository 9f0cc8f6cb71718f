/**
 * Egress through a forward proxy (issue 14): HERALD_PROXY_URL / `proxyUrl` for every webhook,
 * HERALD_NO_PROXY, a webhook's own proxy or "direct", a proxy that is down or refuses, and the
 * SSRF guard on the target behind the proxy. The proxy is a real one on 127.0.0.1
 * (test/helpers/forward-proxy.ts), forwarding http:// requests and tunnelling https:// ones.
 */
import { Agent } from "undici";
import { afterEach, describe, expect, test } from "vitest";
import { EgressRoutes } from "../../src/dispatch/egress.js";
import { resolveEngineConfig } from "../../src/engine/options.js";
import { loadConfig } from "../../src/config/load-config.js";
import { bypassesProxy, parseNoProxy } from "../../src/dispatch/no-proxy.js";
import { buildWebhook, redactWebhook } from "../../src/domain/webhook-input.js";
import type { Herald, HeraldOptions } from "../../src/index.js";
import { closeEngines, eventually, openEngine, storeOf } from "../helpers/engine.js";
import { closedPort, closeProxies, startForwardProxy } from "../helpers/forward-proxy.js";
import { closeReceivers, receiver } from "../helpers/receiver.js";
import { closeTlsReceivers, fixture, startTlsReceiver } from "../helpers/tls-receiver.js";

afterEach(async () => {
  await closeEngines();
  await closeReceivers();
  await closeTlsReceivers();
  await closeProxies();
});

async function started(options: HeraldOptions): Promise<Herald> {
  const herald = await openEngine(options);
  await herald.start();
  return herald;
}

/** Triggers one event and waits until every delivery it made has settled. */
async function deliverAll(herald: Herald) {
  const { deliveries } = await herald.trigger("custom", { via: "proxy" });
  return eventually(async () => {
    const all = await Promise.all(deliveries.map((id) => herald.deliveries.get(id)));
    return all.every((d) => d.state === "succeeded" || d.state === "failed") ? all : undefined;
  }, 10_000, "every delivery to settle");
}

describe("the server's proxy (HERALD_PROXY_URL)", () => {
  test("an http:// delivery goes through the proxy as an absolute-form request and reaches the receiver", async () => {
    const proxy = await startForwardProxy();
    const r = await receiver();
    const herald = await started({ proxyUrl: proxy.url });
    await herald.webhooks.create({ url: `${r.url}/hook?x=1` });
    const [delivery] = await deliverAll(herald);
    expect(delivery!.state).toBe("succeeded");
    expect(proxy.seen).toEqual([{ kind: "forward", target: `${r.url}/hook?x=1`, proxyAuthorization: undefined }]);
    expect(r.requests).toHaveLength(1);
    expect(r.requests[0]!.path).toBe("/hook?x=1");
    // The attempt records what Herald sent the receiver, not the proxy's own header.
    expect(Object.keys(delivery!.attempts[0]!.request.headers)).not.toContain("host");
  });

  test("an https:// delivery goes through a CONNECT tunnel: TLS end to end, the receiver's certificate checked and the client certificate presented", async () => {
    const proxy = await startForwardProxy();
    const tlsReceiver = await startTlsReceiver({ requestCert: true });
    const herald = await started({ proxyUrl: proxy.url });
    const tls = { clientCert: fixture("client.pem"), clientKey: fixture("client.key"), ca: fixture("ca.pem") };
    await herald.webhooks.create({ url: `${tlsReceiver.url}/secure`, tls });
    const [delivery] = await deliverAll(herald);
    expect(delivery!.state).toBe("succeeded");
    expect(proxy.seen).toEqual([{ kind: "connect", target: new URL(tlsReceiver.url).host, proxyAuthorization: undefined }]);
    expect(tlsReceiver.requests).toMatchObject([{ path: "/secure", clientCn: "herald-test-client" }]);
  });

  test("proxy credentials in the URL are sent as Proxy-Authorization and appear in no answer or attempt record", async () => {
    const proxy = await startForwardProxy({ credentials: "egress:s3cret-pass" });
    const r = await receiver();
    const proxyUrl = proxy.url.replace("http://", "http://egress:s3cret-pass@");
    const herald = await started({ proxyUrl });
    const webhook = await herald.webhooks.create({ url: r.url });
    const [delivery] = await deliverAll(herald);
    expect(delivery!.state).toBe("succeeded");
    expect(proxy.seen[0]!.proxyAuthorization).toBe(`Basic ${Buffer.from("egress:s3cret-pass").toString("base64")}`);
    expect(JSON.stringify([delivery, redactWebhook(await herald.webhooks.get(webhook.id))])).not.toContain("s3cret-pass");
  });

  test("a proxy that is down fails the attempt with a clear error, and the delivery is retried", async () => {
    const port = await closedPort();
    const r = await receiver();
    const herald = await started({ proxyUrl: `http://127.0.0.1:${port}` });
    await herald.webhooks.create({ url: r.url, retry: { maxAttempts: 2, initialDelayMs: 50, jitter: 0 } });
    const [delivery] = await deliverAll(herald);
    expect(delivery!.state).toBe("failed");
    expect(delivery!.attempts).toHaveLength(2);
    for (const attempt of delivery!.attempts) {
      expect(attempt.errorClass).toBe("refused");
      expect(attempt.errorMessage).toBe(`via proxy http://127.0.0.1:${port} (HERALD_PROXY_URL): ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:${port}`);
    }
    expect(r.requests).toHaveLength(0);
  });

  test("a proxy that refuses the tunnel fails the attempt saying so, not as a timeout", async () => {
    const proxy = await startForwardProxy({ refuse: true });
    const tlsReceiver = await startTlsReceiver({ requestCert: false });
    const herald = await started({ proxyUrl: proxy.url });
    await herald.webhooks.create({ url: tlsReceiver.url, tls: { ca: fixture("ca.pem") }, retry: { maxAttempts: 2, initialDelayMs: 50, jitter: 0 } });
    const [delivery] = await deliverAll(herald);
    expect(delivery!.attempts).toHaveLength(2);
    expect(delivery!.attempts[0]!.errorClass).toBe("network");
    expect(delivery!.attempts[0]!.errorMessage).toMatch(/^via proxy http:\/\/127\.0\.0\.1:\d+ \(HERALD_PROXY_URL\): the proxy refused the tunnel: .*403/);
    expect(proxy.seen.map((s) => s.kind)).toEqual(["connect", "connect"]);
    expect(tlsReceiver.requests).toHaveLength(0);
  });

  test("a proxy that wants credentials it was not given answers 407, recorded on the attempt", async () => {
    const proxy = await startForwardProxy({ credentials: "egress:pass" });
    const r = await receiver();
    const herald = await started({ proxyUrl: proxy.url });
    await herald.webhooks.create({ url: r.url, retry: { maxAttempts: 1 } });
    const [delivery] = await deliverAll(herald);
    expect(delivery!.state).toBe("failed");
    expect(delivery!.attempts[0]!.errorMessage).toMatch(/407/);
    expect(r.requests).toHaveLength(0);
  });
});

describe("HERALD_NO_PROXY and a webhook's own proxyUrl", () => {
  test("hosts in noProxy go direct; the others through the proxy", async () => {
    const proxy = await startForwardProxy();
    const r = await receiver();
    const herald = await started({ proxyUrl: proxy.url, noProxy: "example.internal, 127.0.0.1" });
    await herald.webhooks.create({ url: `${r.url}/direct` });
    await herald.webhooks.create({ url: `http://localhost:${r.port}/proxied` });
    const deliveries = await deliverAll(herald);
    expect(deliveries.map((d) => d.state)).toEqual(["succeeded", "succeeded"]);
    expect(proxy.seen.map((s) => s.target)).toEqual([`http://localhost:${r.port}/proxied`]);
    expect(r.requests.map((q) => q.path).sort()).toEqual(["/direct", "/proxied"]);
  });

  test("a webhook's proxyUrl wins over the server's, and proxyUrl \"direct\" uses none", async () => {
    const serverProxy = await startForwardProxy();
    const ownProxy = await startForwardProxy();
    const r = await receiver();
    const herald = await started({ proxyUrl: serverProxy.url });
    await herald.webhooks.create({ url: `${r.url}/own`, proxyUrl: ownProxy.url });
    const direct = await herald.webhooks.create({ url: `${r.url}/direct`, proxyUrl: "direct" });
    await herald.webhooks.create({ url: `${r.url}/server` });
    const deliveries = await deliverAll(herald);
    expect(deliveries.every((d) => d.state === "succeeded")).toBe(true);
    expect(ownProxy.seen.map((s) => s.target)).toEqual([`${r.url}/own`]);
    expect(serverProxy.seen.map((s) => s.target)).toEqual([`${r.url}/server`]);
    expect(r.requests.map((q) => q.path).sort()).toEqual(["/direct", "/own", "/server"]);

    // Back to the server's proxy: null.
    await herald.webhooks.update(direct.id, { proxyUrl: null });
    await deliverAll(herald);
    expect(serverProxy.seen.map((s) => s.target)).toContain(`${r.url}/direct`);
  });

  test("a webhook's own proxy works on a server with no proxy, and its password is kept sealed and masked", async () => {
    const proxy = await startForwardProxy({ credentials: "hook:hook-pass-123" });
    const r = await receiver();
    const herald = await started({});
    const proxyUrl = proxy.url.replace("http://", "http://hook:hook-pass-123@");
    const webhook = await herald.webhooks.create({ url: r.url, proxyUrl });
    const [delivery] = await deliverAll(herald);
    expect(delivery!.state).toBe("succeeded");
    expect(proxy.seen).toHaveLength(1);
    const shown = redactWebhook(await herald.webhooks.get(webhook.id));
    expect(shown.proxyUrl).toBe(proxy.url.replace("http://", "http://hook:****@"));
    // Sent back as read (a read-modify-write form), the masked URL keeps the stored password.
    await herald.webhooks.update(webhook.id, { proxyUrl: shown.proxyUrl, name: "renamed" });
    expect((await (await storeOf(herald)).getWebhook(webhook.id))?.proxyUrl).toBe(proxyUrl);
    await deliverAll(herald);
    expect(proxy.seen).toHaveLength(2);
    expect(r.requests).toHaveLength(2);
  });

  test("a bad proxyUrl is a 422 naming proxyUrl", async () => {
    const herald = await openEngine();
    for (const proxyUrl of ["socks5://127.0.0.1:1080", "not a url", "http://127.0.0.1:3128/path", ""]) {
      await expect(herald.webhooks.create({ url: "https://example.com/", proxyUrl })).rejects.toMatchObject({ code: "HERALD_ERR_VALIDATION", field: "proxyUrl" });
    }
  });
});

describe("the SSRF guard behind a proxy", () => {
  test("a private target is refused before anything reaches the proxy when private targets are not allowed", async () => {
    const proxy = await startForwardProxy();
    const r = await receiver();
    // The server's proxy is on 127.0.0.1, as an operator's local egress proxy would be: that is allowed.
    const herald = await openEngine({ allowPrivateTargets: false, proxyUrl: proxy.url });
    // As if the name re-resolved after the creation check: the stored URLs bypass it.
    for (const url of [r.url, `http://localhost:${r.port}/`]) {
      const webhook = buildWebhook({ url, retry: { maxAttempts: 1 } }, { tenantId: herald.defaultTenantId, now: Date.now() });
      await (await storeOf(herald)).insertWebhook(webhook);
    }
    await herald.start();
    const deliveries = await deliverAll(herald);
    expect(deliveries.map((d) => d.attempts[0]!.errorClass)).toEqual(["blocked", "blocked"]);
    expect(deliveries.map((d) => d.attempts[0]!.errorMessage).join("\n")).toMatch(/loopback.*HERALD_ALLOW_PRIVATE_TARGETS/);
    expect(proxy.seen).toHaveLength(0);
    expect(r.requests).toHaveLength(0);
  });

  test("a denied port is refused behind the proxy too", async () => {
    const proxy = await startForwardProxy();
    const herald = await openEngine({ proxyUrl: proxy.url, deniedPorts: [6379] });
    const webhook = buildWebhook({ url: "http://127.0.0.1:6379/", retry: { maxAttempts: 1 } }, { tenantId: herald.defaultTenantId, now: Date.now() });
    await (await storeOf(herald)).insertWebhook(webhook);
    await herald.start();
    const [delivery] = await deliverAll(herald);
    expect(delivery!.attempts[0]).toMatchObject({ errorClass: "blocked", errorMessage: expect.stringMatching(/port 6379/) as unknown });
    expect(proxy.seen).toHaveLength(0);
  });

  test("a webhook's own proxy on a private address is refused when private targets are not allowed", async () => {
    const herald = await openEngine({ allowPrivateTargets: false });
    await expect(herald.webhooks.create({ url: "https://93.184.216.34/hook", proxyUrl: "http://10.0.0.8:3128" }))
      .rejects.toMatchObject({ code: "HERALD_ERR_PRIVATE_TARGET", field: "proxyUrl" });
  });

  test("a webhook's own proxy stored on a private address is refused at send time, before anything reaches it", async () => {
    const proxy = await startForwardProxy();
    const herald = await openEngine({ allowPrivateTargets: false });
    // A public target, never dialled: the check of the webhook's own proxy refuses first.
    const webhook = buildWebhook({ url: "http://93.184.216.34/hook", proxyUrl: proxy.url, retry: { maxAttempts: 1 } }, { tenantId: herald.defaultTenantId, now: Date.now() });
    await (await storeOf(herald)).insertWebhook(webhook);
    await herald.start();
    const [delivery] = await deliverAll(herald);
    expect(delivery!.attempts[0]).toMatchObject({ errorClass: "blocked", errorMessage: expect.stringMatching(/^proxyUrl: 127\.0\.0\.1 is in the loopback/) as unknown });
    expect(proxy.seen).toHaveLength(0);
  });
});

describe("configuration", () => {
  test("HERALD_PROXY_URL and HERALD_NO_PROXY reach the engine; a bad value names the variable and never echoes the password", () => {
    const config = loadConfig({ HERALD_PROXY_URL: "http://u:pw@127.0.0.1:3128", HERALD_NO_PROXY: ".internal,10.0.0.0/8" });
    expect([config.proxyUrl, config.noProxy]).toEqual(["http://u:pw@127.0.0.1:3128", ".internal,10.0.0.0/8"]);
    for (const [variable, value] of [["HERALD_PROXY_URL", "socks5://u:topsecret@127.0.0.1:1080"], ["HERALD_PROXY_URL", "http://u:topsecret@127.0.0.1:3128/path"], ["HERALD_NO_PROXY", "a..b"], ["HERALD_NO_PROXY", "10.0.0.0/99"]] as const) {
      const error = (() => {
        try {
          loadConfig({ [variable]: value });
        } catch (e) {
          return e as Error & { field?: string };
        }
        return null;
      })();
      expect(error, `${variable}=${value}`).toMatchObject({ code: "HERALD_ERR_CONFIG", field: variable });
      expect(error!.message).not.toContain("topsecret");
      expect(error!.message.split("\n")).toHaveLength(1);
    }
  });

  test("the library's proxyUrl and noProxy are checked when the engine's configuration is resolved, naming the option", () => {
    expect(() => resolveEngineConfig({ proxyUrl: "socks5://127.0.0.1:1080" })).toThrow(expect.objectContaining({ code: "HERALD_ERR_VALIDATION", field: "proxyUrl" }) as Error);
    expect(() => resolveEngineConfig({ noProxy: "10.0.0.0/99" })).toThrow(expect.objectContaining({ code: "HERALD_ERR_VALIDATION", field: "noProxy" }) as Error);
    expect(resolveEngineConfig({ proxyUrl: "http://127.0.0.1:3128", noProxy: ".internal" }).egress).toEqual({ proxyUrl: "http://127.0.0.1:3128", noProxy: ".internal" });
  });

  test("no_proxy rules: *, domains and their subdomains, IPs, CIDR blocks and ports", () => {
    const rules = parseNoProxy(" .corp.example, intra.test ,10.0.0.0/8, [::1], 192.168.1.5:8443, fd00::/8 ");
    const cases: Array<[string, number, boolean]> = [
      ["corp.example", 443, true], ["api.corp.example", 443, true], ["notcorp.example", 443, false],
      ["intra.test", 80, true], ["a.b.intra.test", 80, true], ["intra.test.evil.com", 80, false],
      ["10.1.2.3", 80, true], ["11.1.2.3", 80, false], ["[::1]", 80, true], ["::1", 80, true],
      ["192.168.1.5", 8443, true], ["192.168.1.5", 443, false], ["[fd00::5]", 443, true], ["example.com", 443, false],
    ];
    for (const [host, port, bypass] of cases) expect(bypassesProxy(rules, host, port), `${host}:${port}`).toBe(bypass);
    expect(bypassesProxy(parseNoProxy("*"), "anything.example", 443)).toBe(true);
    expect(bypassesProxy(parseNoProxy(""), "anything.example", 443)).toBe(false);
  });
});

describe("dispatchers", () => {
  test("one ProxyAgent per distinct proxy URL, shared by the webhooks using it and closed with the sender", async () => {
    const own = new Agent();
    const routes = new EgressRoutes(
      { proxyUrl: "http://127.0.0.1:3128", noProxy: parseNoProxy(".local"), policy: { allowPrivateTargets: true, httpsOnly: false, deniedPorts: [] }, agentOptions: {} },
      own,
    );
    const a = routes.route({ id: "a", url: "http://127.0.0.1:1/" })!;
    const b = routes.route({ id: "b", url: "https://127.0.0.1:2/" })!;
    const c = routes.route({ id: "c", url: "http://127.0.0.1:3/", proxyUrl: "http://127.0.0.1:8080" })!;
    expect(b.dispatcher).toBe(a.dispatcher);
    expect(c.dispatcher).not.toBe(a.dispatcher);
    // A host in noProxy goes through the sender's own agent, with no check of its own.
    expect(routes.route({ id: "d", url: "http://printer.local/" })).toMatchObject({ dispatcher: own, check: null, via: null });
    expect(routes.route({ id: "e", url: "http://127.0.0.1:4/", proxyUrl: "direct" })).toBeNull();
    expect(routes.openPools).toBe(2);
    await routes.close();
    expect(routes.openPools).toBe(0);
    await own.close();
  });
});
