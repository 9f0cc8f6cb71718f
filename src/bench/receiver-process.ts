/**
 * The benchmark's receiver, run as its own process (`fork`) so that it has its own event loop
 * and core: a minimal node:http server that reads each body and answers 204, the cheapest
 * thing a real receiver could do. Requests to paths under `/hang/` are never answered, so the
 * client has to time out (the isolation scenario's broken receivers).
 *
 * It reports to the parent over IPC, batched every REPORT_INTERVAL_MS: a count of requests
 * and, when asked to, each request's `webhook-id` header with the time its body arrived.
 * Sending one IPC message per request would cost about as much as serving the request.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";

export const HANG_PREFIX = "/hang/";
const REPORT_INTERVAL_MS = 50;
/** A hung request is dropped after this long even if the client never gives up (a bound, not a behaviour under test). */
const MAX_HANG_MS = 120_000;

/** Messages from the parent. */
export type ReceiverCommand =
  | { type: "reset"; recordReceipts: boolean; seq: number }
  | { type: "snapshot"; seq: number }
  | { type: "close" };

/** Messages to the parent. */
export type ReceiverReport =
  | { type: "listening"; port: number }
  | { type: "receipts"; ids: string[]; receivedAt: number[] }
  | { type: "snapshot"; seq: number; received: number; hung: number; rssBytes: number };

/** Wall-clock milliseconds with sub-millisecond resolution; comparable across processes on one machine (see docs/benchmarks.md). */
export function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}

function runReceiver(): void {
  const send = (report: ReceiverReport) => process.send?.(report);
  let received = 0;
  let hung = 0;
  let recordReceipts = false;
  let pendingIds: string[] = [];
  let pendingTimes: number[] = [];

  const flushReceipts = () => {
    if (pendingIds.length === 0) return;
    send({ type: "receipts", ids: pendingIds, receivedAt: pendingTimes });
    pendingIds = [];
    pendingTimes = [];
  };

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    if (request.url?.startsWith(HANG_PREFIX)) {
      hung++;
      request.resume();
      const timer = setTimeout(() => response.destroy(), MAX_HANG_MS);
      response.on("close", () => clearTimeout(timer));
      return;
    }
    // The body is read, not parsed: a receiver's minimum work.
    request.on("data", () => {});
    request.on("end", () => {
      received++;
      if (recordReceipts) {
        const id = request.headers["webhook-id"];
        if (typeof id === "string") {
          pendingIds.push(id);
          pendingTimes.push(wallClockMs());
        }
      }
      response.writeHead(204).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 65_000;
  server.requestTimeout = 0;

  const timer = setInterval(flushReceipts, REPORT_INTERVAL_MS);
  process.on("message", (command: ReceiverCommand) => {
    switch (command.type) {
      case "reset":
        flushReceipts();
        received = 0;
        hung = 0;
        recordReceipts = command.recordReceipts;
        send({ type: "snapshot", seq: command.seq, received, hung, rssBytes: process.memoryUsage.rss() });
        break;
      case "snapshot":
        flushReceipts();
        send({ type: "snapshot", seq: command.seq, received, hung, rssBytes: process.memoryUsage.rss() });
        break;
      case "close":
        clearInterval(timer);
        server.closeAllConnections();
        server.close(() => process.exit(0));
        break;
    }
  });
  // The parent going away must not leave a receiver behind.
  process.on("disconnect", () => process.exit(0));

  server.listen(0, "127.0.0.1", () => {
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("receiver: no TCP address");
    send({ type: "listening", port: address.port });
  });
}

if (process.send !== undefined && process.env.HERALD_BENCH_RECEIVER === "1") runReceiver();
