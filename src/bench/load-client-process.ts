/**
 * The ingest scenario's HTTP client, run as its own process (`fork`) so that the server under
 * test has this process's core to itself: a fixed number of POSTs from `concurrency` callers
 * over keep-alive connections (undici Pool). One message in, one result out, per load.
 */
import { Pool } from "undici";

export interface LoadCommand {
  type: "load";
  seq: number;
  origin: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  requests: number;
  concurrency: number;
  /** The load stops here even if requests remain (a bound, reported as `sent` < `requests`). */
  maxSeconds: number;
  expectStatus: number;
}

export interface LoadResult {
  type: "loaded";
  seq: number;
  sent: number;
  failed: number;
  firstFailure: string | null;
  seconds: number;
}

async function runLoad(command: LoadCommand): Promise<LoadResult> {
  const pool = new Pool(command.origin, { connections: command.concurrency, pipelining: 1, keepAliveTimeout: 30_000 });
  let sent = 0;
  let failed = 0;
  let firstFailure: string | null = null;
  const started = performance.now();
  const deadline = started + command.maxSeconds * 1000;
  try {
    await Promise.all(
      Array.from({ length: command.concurrency }, async () => {
        while (sent < command.requests && performance.now() < deadline) {
          sent++;
          try {
            const response = await pool.request({ path: command.path, method: "POST", headers: command.headers, body: command.body });
            const text = await response.body.text();
            if (response.statusCode !== command.expectStatus) {
              failed++;
              firstFailure ??= `HTTP ${response.statusCode}: ${text.slice(0, 300)}`;
            }
          } catch (error) {
            failed++;
            firstFailure ??= error instanceof Error ? error.message : String(error);
          }
        }
      }),
    );
    return { type: "loaded", seq: command.seq, sent, failed, firstFailure, seconds: (performance.now() - started) / 1000 };
  } finally {
    await pool.close();
  }
}

if (process.send !== undefined && process.env.HERALD_BENCH_LOAD_CLIENT === "1") {
  process.on("message", (command: LoadCommand | { type: "close" }) => {
    if (command.type === "close") process.exit(0);
    else runLoad(command).then((result) => process.send?.(result), (error: unknown) => {
      console.error("load client:", error);
      process.exit(1);
    });
  });
  process.on("disconnect", () => process.exit(0));
}
