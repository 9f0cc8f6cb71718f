/**
 * A real HTTP receiver on 127.0.0.1 for delivery tests. Each request is recorded with its raw
 * body and arrival time; `respond` scripts the answer per request (status, headers, delay,
 * or hang until the client gives up).
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  receivedAt: number;
  /** 1-based count of requests this receiver got, across all paths. */
  n: number;
}

export interface ScriptedResponse {
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  delayMs?: number;
  /** Never answer; the socket stays open until the client times out or the receiver closes. */
  hang?: boolean;
}

export type Responder = (request: ReceivedRequest) => ScriptedResponse | undefined;

export interface TestReceiver {
  url: string;
  port: number;
  requests: ReceivedRequest[];
  respond: Responder;
  /** Resolves once `count` requests matching `filter` have arrived, or rejects after `timeoutMs`. */
  waitFor(count: number, filter?: (r: ReceivedRequest) => boolean, timeoutMs?: number): Promise<ReceivedRequest[]>;
  close(): Promise<void>;
}

export async function startReceiver(respond: Responder = () => undefined): Promise<TestReceiver> {
  const hanging = new Set<ServerResponse>();
  const waiters: Array<() => void> = [];
  const receiver: TestReceiver = {
    url: "",
    port: 0,
    requests: [],
    respond,
    waitFor(count, filter = () => true, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const matching = receiver.requests.filter(filter);
          if (matching.length >= count) {
            clearTimeout(timer);
            resolve(matching);
            return true;
          }
          return false;
        };
        const timer = setTimeout(() => {
          const index = waiters.indexOf(onRequest);
          if (index >= 0) waiters.splice(index, 1);
          reject(new Error(`receiver got ${receiver.requests.filter(filter).length} of ${count} expected requests within ${timeoutMs} ms`));
        }, timeoutMs);
        const onRequest = () => {
          if (check()) waiters.splice(waiters.indexOf(onRequest), 1);
        };
        if (!check()) waiters.push(onRequest);
      });
    },
    async close() {
      if (!server.listening) return;
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const request: ReceivedRequest = {
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
        receivedAt: Date.now(),
        n: receiver.requests.length + 1,
      };
      receiver.requests.push(request);
      for (const waiter of [...waiters]) waiter();
      const answer = receiver.respond(request) ?? {};
      if (answer.hang) {
        hanging.add(res);
        res.on("close", () => hanging.delete(res));
        return;
      }
      const send = () => {
        res.writeHead(answer.status ?? 200, { "content-type": "text/plain", ...answer.headers });
        res.end(answer.body ?? "ok");
      };
      if (answer.delayMs) setTimeout(send, answer.delayMs);
      else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  receiver.port = (server.address() as AddressInfo).port;
  receiver.url = `http://127.0.0.1:${receiver.port}`;
  return receiver;
}

const opened: TestReceiver[] = [];

/** A receiver that `closeReceivers()` (in afterEach) closes. */
export async function receiver(respond?: Responder): Promise<TestReceiver> {
  const r = await startReceiver(respond);
  opened.push(r);
  return r;
}

export async function closeReceivers(): Promise<void> {
  for (const r of opened.splice(0)) await r.close();
}
