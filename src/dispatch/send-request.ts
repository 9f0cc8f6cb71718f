/**
 * One HTTP attempt through undici, with keep-alive connections per origin. Never throws: every
 * outcome, from a 2xx to a refused connection, comes back as a SendResult with an error class.
 */
import { Agent, type Dispatcher } from "undici";
import type { AttemptErrorClass } from "../domain/types.js";
import type { OutgoingRequest } from "./build-request.js";

/** Response bodies are recorded up to 10 kB; the rest is read and dropped, up to 1 MB, to keep the connection reusable. */
export const RECORDED_BODY_BYTES = 10 * 1024;
const DRAINED_BODY_BYTES = 1024 * 1024;

export interface SendResult {
  status: number | null;
  headers: Record<string, string>;
  body: string;
  durationMs: number;
  errorClass: AttemptErrorClass | null;
  errorMessage: string | null;
}

export interface SenderOptions {
  /** Most keep-alive connections to one origin; the per-webhook in-flight cap bounds use below this. */
  connectionsPerOrigin?: number;
  /** undici connect options: the SSRF guard installs its checked DNS lookup here. */
  connect?: Agent.Options["connect"];
}

export interface Sender {
  send(request: OutgoingRequest, timeoutMs: number): Promise<SendResult>;
  close(): Promise<void>;
}

const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|HOSTNAME_MISMATCH|EPROTO)/;

export function classifyError(error: unknown): { errorClass: AttemptErrorClass; message: string } {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current; depth++) {
    const e = current as { code?: string; name?: string; message?: string; cause?: unknown };
    const code = e.code ?? "";
    const message = `${code ? code + ": " : ""}${e.message ?? String(current)}`;
    if (e.name === "TimeoutError" || e.name === "AbortError" || /TIMEOUT/.test(code)) return { errorClass: "timeout", message };
    if (code === "ECONNREFUSED") return { errorClass: "refused", message };
    if (code === "ENOTFOUND" || code === "EAI_AGAIN" || code === "EAI_NONAME" || code === "EAI_FAIL") return { errorClass: "dns", message };
    if (TLS_CODE.test(code)) return { errorClass: "tls", message };
    if (code === "HERALD_ERR_PRIVATE_TARGET") return { errorClass: "blocked", message: e.message ?? message };
    if (!e.cause) return { errorClass: "network", message };
    current = e.cause;
  }
  return { errorClass: "network", message: String(error) };
}

async function readBody(body: Dispatcher.ResponseData["body"]): Promise<string> {
  const chunks: Buffer[] = [];
  let kept = 0;
  let seen = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    seen += chunk.length;
    if (kept < RECORDED_BODY_BYTES) {
      const part = chunk.subarray(0, RECORDED_BODY_BYTES - kept);
      chunks.push(part);
      kept += part.length;
    }
    if (seen > DRAINED_BODY_BYTES) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).toString("utf8");
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

export function makeSender(options: SenderOptions = {}): Sender {
  const agent = new Agent({
    connections: options.connectionsPerOrigin ?? 256,
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 600_000,
    pipelining: 1,
    ...(options.connect === undefined ? {} : { connect: options.connect }),
  });
  return {
    async send(request, timeoutMs) {
      const started = performance.now();
      try {
        const response = await agent.request({
          origin: new URL(request.url).origin,
          path: pathOf(request.url),
          method: request.method as Dispatcher.HttpMethod,
          headers: request.headers,
          body: request.body,
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
          signal: AbortSignal.timeout(timeoutMs),
        });
        const body = await readBody(response.body);
        const status = response.statusCode;
        const ok = status >= 200 && status < 300;
        return {
          status,
          headers: flattenHeaders(response.headers),
          body,
          durationMs: performance.now() - started,
          errorClass: ok ? null : "http",
          errorMessage: ok ? null : `HTTP ${status}`,
        };
      } catch (error) {
        const { errorClass, message } = classifyError(error);
        return { status: null, headers: {}, body: "", durationMs: performance.now() - started, errorClass, errorMessage: message };
      }
    },
    async close() {
      await agent.close();
    },
  };
}

const pathCache = new Map<string, string>();
function pathOf(url: string): string {
  let path = pathCache.get(url);
  if (path === undefined) {
    const parsed = new URL(url);
    path = parsed.pathname + parsed.search;
    if (pathCache.size > 10_000) pathCache.clear();
    pathCache.set(url, path);
  }
  return path;
}
