/**
 * A small forward proxy on 127.0.0.1 for egress tests, written with node:http as squid or
 * tinyproxy behave: an absolute-form request (`POST http://host:port/path`) is forwarded and its
 * answer relayed; `CONNECT host:port` opens a tunnel. It records what passed through it, can ask
 * for Basic credentials (407) and can refuse every request (403).
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server } from "node:http";
import { connect as netConnect, type AddressInfo, type Socket } from "node:net";

export interface ProxiedRequest {
  /** `forward` for an absolute-form request, `connect` for a tunnel. */
  kind: "forward" | "connect";
  /** The absolute URL forwarded, or the `host:port` tunnelled to. */
  target: string;
  proxyAuthorization: string | undefined;
}

export interface ProxyOptions {
  /** `user:password` the proxy requires (Proxy-Authorization: Basic); absent: none. */
  credentials?: string;
  /** Answer every request and CONNECT with 403. */
  refuse?: boolean;
}

export interface TestProxy {
  url: string;
  port: number;
  seen: ProxiedRequest[];
  close(): Promise<void>;
}

const opened: TestProxy[] = [];

export async function startForwardProxy(options: ProxyOptions = {}): Promise<TestProxy> {
  const sockets = new Set<Socket>();
  const expected = options.credentials === undefined ? undefined : `Basic ${Buffer.from(options.credentials).toString("base64")}`;
  const refusal = (req: IncomingMessage): number | null => {
    if (expected !== undefined && req.headers["proxy-authorization"] !== expected) return 407;
    return options.refuse ? 403 : null;
  };
  const server: Server = createServer((req, res) => {
    proxy.seen.push({ kind: "forward", target: req.url ?? "", proxyAuthorization: req.headers["proxy-authorization"] });
    const status = refusal(req);
    if (status !== null || !/^http:\/\//.test(req.url ?? "")) {
      res.writeHead(status ?? 400, status === 407 ? { "proxy-authenticate": 'Basic realm="test"' } : {});
      res.end(status === null ? "absolute-form http:// URLs only" : "refused by the test proxy");
      return;
    }
    const target = new URL(req.url!);
    const headers = { ...req.headers };
    delete headers["proxy-authorization"];
    delete headers["proxy-connection"];
    const upstream = httpRequest(
      { host: target.hostname, port: target.port || 80, method: req.method, path: target.pathname + target.search, headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", (error) => {
      if (!res.headersSent) res.writeHead(502);
      res.end(`upstream: ${error.message}`);
    });
    req.pipe(upstream);
  });
  server.on("connect", (req: IncomingMessage, client: Socket, head: Buffer) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => client.destroy());
    proxy.seen.push({ kind: "connect", target: req.url ?? "", proxyAuthorization: req.headers["proxy-authorization"] });
    const status = refusal(req);
    if (status !== null) {
      client.end(`HTTP/1.1 ${status} ${status === 407 ? "Proxy Authentication Required" : "Forbidden"}\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    const [host, port] = [(req.url ?? "").replace(/:\d+$/, "").replace(/^\[|\]$/g, ""), Number((req.url ?? "").split(":").pop())];
    const upstream = netConnect(port, host, () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on("close", () => sockets.delete(upstream));
    upstream.on("error", () => client.end("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n"));
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const proxy: TestProxy = {
    url: `http://127.0.0.1:${port}`,
    port,
    seen: [],
    async close() {
      if (!server.listening) return;
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  opened.push(proxy);
  return proxy;
}

/** Closes every proxy startForwardProxy opened (afterEach). */
export async function closeProxies(): Promise<void> {
  for (const proxy of opened.splice(0)) await proxy.close();
}

/** A port on 127.0.0.1 with nothing listening: a proxy that is down. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
