/**
 * One HTTP attempt through undici, with keep-alive connections per origin. Never throws: every
 * outcome, from a 2xx to a refused connection, comes back as a SendResult with an error class.
 *
 * The request goes through `Agent.dispatch` with a handler of our own rather than
 * `agent.request()`: no Readable stream for the response body, no async iterator to read it, no
 * AbortSignal per request (one `setTimeout` bounds the whole attempt instead). Measured on the
 * 2-core bench machine, 400-byte POSTs to a node:http receiver answering 204, concurrency 10:
 * `agent.request()` + `AbortSignal.timeout` + `for await` over the body cost 38-40 µs of CPU per
 * request, against 19-26 µs for a bare undici Pool with `body.dump()`; AbortSignal creation and
 * its event-target plumbing alone were 8% of the sender's profile, GC another 10%.
 */
import { Agent, type Dispatcher } from "undici";
import { LRUCache } from "lru-cache";
import type { AttemptErrorClass } from "../domain/types.js";
import type { OutgoingRequest } from "./build-request.js";
import { EgressRoutes, tlsAlertFor, type EgressOptions, type EgressTarget, type Route } from "./egress.js";

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
  /** Forward proxies and mTLS (./egress.ts); without it every request goes through the one Agent. */
  egress?: Omit<EgressOptions, "agentOptions">;
}

export interface Sender {
  /** `target`: the webhook, whose proxy and client certificate choose the dispatcher (./egress.ts). */
  send(request: OutgoingRequest, timeoutMs: number, target?: EgressTarget): Promise<SendResult>;
  close(): Promise<void>;
}

const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|HOSTNAME_MISMATCH|EPROTO)/;

export function classifyError(error: unknown): { errorClass: AttemptErrorClass; message: string } {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current; depth++) {
    const e = current as { code?: string; name?: string; message?: string; cause?: unknown };
    const code = e.code ?? "";
    const message = `${code ? code + ": " : ""}${e.message ?? String(current)}`;
    // undici's refused CONNECT is a RequestAbortedError, named AbortError: the proxy said no, no time ran out.
    if (/^Proxy response \(\d+\)/.test(e.message ?? "")) return { errorClass: "network", message: `the proxy refused the tunnel: ${message}` };
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

function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

function timeoutError(timeoutMs: number): Error {
  const error = new Error(`no complete answer within ${timeoutMs.toLocaleString("en-US")} ms (the webhook's timeoutMs)`);
  error.name = "TimeoutError";
  return error;
}

/**
 * One attempt's undici handler: collects the status, headers and the first RECORDED_BODY_BYTES
 * of the body, and settles exactly once — on the response's end, an error, or the deadline.
 */
class AttemptHandler implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | null = null;
  private status: number | null = null;
  private headers: Record<string, string> = {};
  private chunks: Buffer[] = [];
  private kept = 0;
  private seen = 0;
  /** Set when the deadline passed or the body ran past DRAINED_BODY_BYTES: the connection is dropped. */
  private abortReason: Error | null = null;
  private settled = false;
  private readonly timer: NodeJS.Timeout;
  /** Set once a proxied request is dispatched: its errors say which proxy they came through. */
  via: string | null = null;
  /** Set for a webhook with tls settings: what to say when the receiver hangs up right after the handshake. */
  tlsHint: string | null = null;

  constructor(
    private readonly started: number,
    private readonly timeoutMs: number,
    private readonly resolve: (result: SendResult) => void,
  ) {
    this.timer = setTimeout(() => this.onDeadline(), timeoutMs);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    // The deadline passed while the request waited for a connection: never send it.
    if (this.abortReason !== null) controller.abort(this.abortReason);
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    if (statusCode < 200) return; // 1xx informational: the real response follows
    this.status = statusCode;
    this.headers = flattenHeaders(headers);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.seen += chunk.length;
    if (this.kept < RECORDED_BODY_BYTES) {
      const part = chunk.length <= RECORDED_BODY_BYTES - this.kept ? chunk : chunk.subarray(0, RECORDED_BODY_BYTES - this.kept);
      this.chunks.push(part);
      this.kept += part.length;
    }
    if (this.seen > DRAINED_BODY_BYTES && this.abortReason === null) {
      this.abortReason = new Error("response body over 1 MB: connection dropped");
      this.settleWithResponse();
      controller.abort(this.abortReason);
    }
  }

  onResponseEnd(): void {
    this.settleWithResponse();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    // After an oversized body the response was already settled; the abort's error is ours.
    this.settleWithError(error);
  }

  /** The request could not even be dispatched (a bad URL, a closed agent). */
  fail(error: unknown): void {
    this.settleWithError(error);
  }

  private onDeadline(): void {
    if (this.settled) return;
    this.abortReason = timeoutError(this.timeoutMs);
    this.settleWithError(this.abortReason);
    this.controller?.abort(this.abortReason);
  }

  private settleWithResponse(): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    const status = this.status ?? 0;
    const ok = status >= 200 && status < 300;
    const body = this.chunks.length === 0 ? "" : this.chunks.length === 1 ? this.chunks[0]!.toString("utf8") : Buffer.concat(this.chunks).toString("utf8");
    this.resolve({
      status,
      headers: this.headers,
      body,
      durationMs: performance.now() - this.started,
      errorClass: ok ? null : "http",
      errorMessage: ok ? null : `HTTP ${status}`,
    });
  }

  private settleWithError(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    let { errorClass, message } = classifyError(error);
    if (this.tlsHint !== null && this.status === null && errorClass === "network" && CLOSED_BEFORE_ANSWER.test(message)) {
      // Only a connection that never received a byte: one that answered before and then closed is no handshake failure.
      const socket = (error as { socket?: { bytesRead?: number; localPort?: number; remotePort?: number } }).socket;
      if (socket === undefined || socket.bytesRead === 0) {
        const alert = socket === undefined ? undefined : tlsAlertFor(socket);
        errorClass = "tls";
        message = alert === undefined
          ? `TLS handshake not accepted: the receiver closed the connection before answering (${message}); ${this.tlsHint}`
          : `TLS handshake not accepted: the receiver sent the alert ${alert} and closed the connection; ${this.tlsHint}`;
      }
    }
    const errorMessage = this.via === null || error === this.abortReason ? message : `${this.via}: ${message}`;
    this.resolve({ status: null, headers: {}, body: "", durationMs: performance.now() - this.started, errorClass, errorMessage });
  }
}

/**
 * With TLS 1.3 a client learns that the receiver refused its certificate only after the
 * handshake: the server checks it and hangs up (node:https sends no alert at all), so undici
 * reports a closed socket. For a webhook with tls settings that is the handshake's failure.
 */
const CLOSED_BEFORE_ANSWER = /^(UND_ERR_SOCKET|ECONNRESET|EPIPE)\b/;

/** Webhook URLs split into undici's origin and path once, not per attempt (`new URL` was 1-2% of a delivery). */
const urlParts = new LRUCache<string, { origin: string; path: string }>({ max: 10_000 });

function splitUrl(url: string): { origin: string; path: string } {
  let parts = urlParts.get(url);
  if (parts === undefined) {
    const parsed = new URL(url);
    parts = { origin: parsed.origin, path: parsed.pathname + parsed.search };
    urlParts.set(url, parts);
  }
  return parts;
}

function dispatchVia(route: Route, request: OutgoingRequest, timeoutMs: number, handler: AttemptHandler): void {
  const { origin, path } = splitUrl(request.url);
  handler.via = route.via;
  handler.tlsHint = route.tlsHint;
  route.dispatcher.dispatch(
    {
      origin,
      path,
      method: request.method as Dispatcher.HttpMethod,
      // A copy: ProxyAgent adds a host header to the object it is given, which the attempt record would keep.
      headers: route.via === null ? request.headers : { ...request.headers },
      body: request.body,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    },
    handler,
  );
}

export function makeSender(options: SenderOptions = {}): Sender {
  const agentOptions = {
    connections: options.connectionsPerOrigin ?? 256,
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 600_000,
    pipelining: 1,
  };
  const agent = new Agent({ ...agentOptions, ...(options.connect === undefined ? {} : { connect: options.connect }) });
  const egress = options.egress === undefined ? null : new EgressRoutes({ ...options.egress, agentOptions }, agent);
  return {
    send(request, timeoutMs, target) {
      const started = performance.now();
      return new Promise<SendResult>((resolve) => {
        const handler = new AttemptHandler(started, timeoutMs, resolve);
        try {
          const route = egress === null || target === undefined ? null : egress.route(target);
          if (route !== null) {
            if (route.check === null) dispatchVia(route, request, timeoutMs, handler);
            else {
              route.check().then(
                () => dispatchVia(route, request, timeoutMs, handler),
                (error: unknown) => handler.fail(error),
              ).catch((error: unknown) => handler.fail(error));
            }
            return;
          }
          const { origin, path } = splitUrl(request.url);
          agent.dispatch(
            {
              origin,
              path,
              method: request.method as Dispatcher.HttpMethod,
              headers: request.headers,
              body: request.body,
              headersTimeout: timeoutMs,
              bodyTimeout: timeoutMs,
            },
            handler,
          );
        } catch (error) {
          handler.fail(error);
        }
      });
    },
    async close() {
      await Promise.all([agent.close(), egress?.close()]);
    },
  };
}
