/**
 * Which undici dispatcher carries a webhook's requests (issue 14): the sender's one Agent, a
 * ProxyAgent for a forward proxy (HERALD_PROXY_URL, or the webhook's own proxyUrl), or an Agent
 * presenting the webhook's client certificate (mTLS). A webhook with neither, on a server with no
 * proxy, is answered `null` before any lookup: the plain delivery path allocates nothing here.
 *
 * Agents are shared: one ProxyAgent per distinct proxy URL, one Agent per distinct client
 * certificate (keyed by a hash of the PEM texts), so keep-alive connections are reused across
 * webhooks. When a webhook's settings change, the agent it used is closed once no webhook uses it.
 *
 * Through a proxy, Herald's connection is to the proxy, and the proxy resolves the target: the
 * SSRF guard's checked lookup never sees the target's address. So each proxied request first
 * resolves and checks the target here (checkProxiedTarget), unless private targets are allowed
 * and the port is not a denied one. The server's proxy may itself be on a private address (the
 * operator chose it); a webhook's own proxy is checked like a target.
 */
import { LRUCache } from "lru-cache";
import { Agent, ProxyAgent, type buildConnector, type Dispatcher } from "undici";
import type { Webhook } from "../domain/types.js";
import { DIRECT, describeTls, tlsConnectOptions, tlsFingerprint } from "../domain/webhook-egress.js";
import { checkProxiedTarget, guardedConnector, type TargetPolicy } from "../security/target-guard.js";
import { bypassesProxy, type NoProxy } from "./no-proxy.js";

export interface EgressOptions {
  /** The server's forward proxy (HERALD_PROXY_URL); null: none. */
  proxyUrl: string | null;
  /** Hosts the server's proxy is not used for (HERALD_NO_PROXY). A webhook's own proxyUrl is always used. */
  noProxy: NoProxy;
  policy: TargetPolicy;
  /** Connection settings every agent shares with the sender's own. */
  agentOptions: Agent.Options;
}

export type EgressTarget = Pick<Webhook, "id" | "url" | "proxyUrl" | "tls">;

export interface Route {
  dispatcher: Dispatcher;
  /** Checks run before each request through a proxy; null when none is needed. */
  check: (() => Promise<void>) | null;
  /** Prefixed to the errors of a proxied request (`via proxy http://host:port`); null when direct. */
  via: string | null;
  /** For a webhook with tls settings: why a receiver hanging up right after the handshake most likely did (send-request.ts). */
  tlsHint: string | null;
}

function tlsHintOf(target: EgressTarget): string | null {
  if (!target.tls) return null;
  const cert = describeTls(target.tls).clientCert;
  return cert === null
    ? "it most likely requires a client certificate, and this webhook has none (give tls.clientCert and tls.clientKey)"
    : `it most likely did not accept the client certificate (tls.clientCert: ${cert.subject}, issued by ${cert.issuer}, valid to ${cert.validTo})`;
}

/**
 * TLS alerts receivers sent on connections of mTLS agents, by local and remote port. With TLS 1.3
 * a receiver refuses a client certificate after the handshake, and undici then reports only
 * "other side closed"; the alert (certificate required, unknown ca, ...) arrived on the socket
 * just before, and is what the attempt should say (send-request.ts asks with tlsAlertFor).
 */
const tlsAlerts = new LRUCache<string, string>({ max: 1024 });

function capturingAlerts(connect: buildConnector.connector): buildConnector.connector {
  return (options, callback) => {
    connect(options, (error, socket) => {
      if (socket) {
        const key = `${socket.localPort}:${socket.remotePort}`;
        tlsAlerts.delete(key);
        socket.on("error", (socketError: NodeJS.ErrnoException) => {
          if (!socketError.code?.startsWith("ERR_SSL_")) return;
          const reason = /:([^:]*alert[^:]*):/.exec(socketError.message)?.[1];
          tlsAlerts.set(key, reason ? `${socketError.code} (${reason})` : socketError.code);
        });
      }
      callback(error, socket as never);
    });
  };
}

/** The TLS alert received on the connection undici describes in a SocketError's `socket`, if any. */
export function tlsAlertFor(socket: { localPort?: number; remotePort?: number }): string | undefined {
  return tlsAlerts.get(`${socket.localPort}:${socket.remotePort}`);
}

function portOf(url: URL): number {
  return url.port === "" ? (url.protocol === "https:" ? 443 : 80) : Number(url.port);
}

export class EgressRoutes {
  private readonly routes = new WeakMap<EgressTarget, Route>();
  /** Proxy and mTLS dispatchers by key, with the webhooks using each. */
  private readonly pools = new Map<string, { dispatcher: Dispatcher; users: Set<string> }>();
  /** The pool key each webhook uses now. */
  private readonly usedBy = new Map<string, string>();
  private closed = false;

  constructor(
    private readonly options: EgressOptions,
    private readonly defaultAgent: Dispatcher,
  ) {}

  /** The route of this webhook's requests; null: the sender's own agent, with no check before sending. */
  route(target: EgressTarget): Route | null {
    if (!target.tls && (target.proxyUrl == null ? this.options.proxyUrl === null : target.proxyUrl === DIRECT)) {
      if (this.usedBy.size > 0 && this.usedBy.has(target.id)) this.release(target.id);
      return null;
    }
    let route = this.routes.get(target);
    if (route === undefined) {
      route = this.build(target);
      this.routes.set(target, route);
    }
    return route;
  }

  private build(target: EgressTarget): Route {
    const url = new URL(target.url);
    const port = portOf(url);
    const own = target.proxyUrl != null && target.proxyUrl !== DIRECT ? target.proxyUrl : null;
    const proxyUrl = own ?? (target.proxyUrl === DIRECT || bypassesProxy(this.options.noProxy, url.hostname, port) ? null : this.options.proxyUrl);
    const tlsKey = target.tls ? tlsFingerprint(target.tls) : null;
    if (proxyUrl === null) {
      if (tlsKey === null) {
        this.release(target.id);
        return { dispatcher: this.defaultAgent, check: null, via: null, tlsHint: null };
      }
      const dispatcher = this.acquire(`tls ${tlsKey}`, target.id, () => new Agent({
        ...this.options.agentOptions,
        connect: capturingAlerts(guardedConnector(this.options.policy, tlsConnectOptions(target.tls!))!),
      }));
      return { dispatcher, check: null, via: null, tlsHint: tlsHintOf(target) };
    }
    const tls = target.tls ? tlsConnectOptions(target.tls) : null;
    const dispatcher = this.acquire(`proxy ${proxyUrl} ${tlsKey ?? ""}`, target.id, () => new ProxyAgent({
      ...this.options.agentOptions,
      uri: proxyUrl,
      // Plain http:// targets are forwarded with absolute-form requests, as most forward proxies
      // expect (many refuse CONNECT to port 80); https:// targets are tunnelled with CONNECT.
      proxyTunnel: false,
      ...(tls === null ? {} : { requestTls: tls }),
    }));
    const policy = this.options.policy;
    const checks: Array<() => Promise<void>> = [];
    if (!policy.allowPrivateTargets || policy.deniedPorts.includes(port)) {
      checks.push(() => checkProxiedTarget(url.hostname, port, policy));
    }
    if (own !== null && !policy.allowPrivateTargets) {
      const proxy = new URL(own);
      checks.push(() => checkProxiedTarget(proxy.hostname, portOf(proxy), { ...policy, deniedPorts: [] }, "proxyUrl"));
    }
    const check = checks.length === 0 ? null : checks.length === 1 ? checks[0]! : async () => {
      for (const run of checks) await run();
    };
    // The origin: never the proxy's credentials, which attempt records would keep.
    const via = `via proxy ${new URL(proxyUrl).origin}${own === null ? " (HERALD_PROXY_URL)" : " (the webhook's proxyUrl)"}`;
    return { dispatcher, check, via, tlsHint: tlsHintOf(target) };
  }

  private acquire(key: string, webhookId: string, make: () => Dispatcher): Dispatcher {
    if (this.closed) throw new Error("the sender is closed");
    if (this.usedBy.get(webhookId) !== key) {
      this.release(webhookId);
      this.usedBy.set(webhookId, key);
    }
    let pool = this.pools.get(key);
    if (pool === undefined) {
      pool = { dispatcher: make(), users: new Set() };
      this.pools.set(key, pool);
    }
    pool.users.add(webhookId);
    return pool.dispatcher;
  }

  /** The webhook no longer uses its pool; a pool no webhook uses is closed (its requests in flight finish first). */
  private release(webhookId: string): void {
    const key = this.usedBy.get(webhookId);
    if (key === undefined) return;
    this.usedBy.delete(webhookId);
    const pool = this.pools.get(key);
    if (!pool) return;
    pool.users.delete(webhookId);
    if (pool.users.size > 0) return;
    this.pools.delete(key);
    pool.dispatcher.close().catch(() => undefined);
  }

  /** How many proxy and mTLS dispatchers are open (tests). */
  get openPools(): number {
    return this.pools.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    const pools = [...this.pools.values()];
    this.pools.clear();
    this.usedBy.clear();
    await Promise.all(pools.map((pool) => pool.dispatcher.close()));
  }
}
