/**
 * `herald listen <port>`: a local receiver for trying webhooks out. It prints every request
 * the way the Identus docs' Python logging server does (seed 001: timestamp - INFO -
 * http-request, the dashed request banner, method and path in green, the headers, the JSON
 * body pretty-printed in yellow), verifies signatures with --secret, and answers with a
 * chosen status, delay or failure rate so Herald's retries can be watched (seed 004's tester).
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Command } from "commander";
import { verifyWebhook, WebhookVerificationError } from "../../receiver/index.js";
import { CliError, colourEnabled, palette, type Palette } from "../output.js";

export interface ListenOptions {
  port: number;
  host: string;
  secrets: string[];
  signatureHeader: string | undefined;
  status: number;
  delayMs: number;
  failRate: number;
  write(text: string): void;
  colour: boolean;
  /** Injectable for tests; Math.random by default. */
  random?: () => number;
}

export interface RunningListener {
  url: string;
  close(): Promise<void>;
}

/** Bodies above this are cut off: a receiver for testing has no business buffering gigabytes. */
const MAX_BODY_BYTES = 10 * 1024 * 1024;

export function registerListenCommand(program: Command): void {
  program
    .command("listen")
    .description("run a local webhook receiver that prints each request and verifies its signature")
    .argument("<port>", "port to listen on (0 picks a free one)")
    .option("--host <host>", "address to bind", "127.0.0.1")
    .option("--secret <secret>", "verify signatures: a whsec_ secret checks the Standard Webhooks headers, any other string the sha256= body HMAC; repeat for both", collect)
    .option("--signature-header <name>", "header carrying the sha256= body HMAC, e.g. X-AgentFactory-Signature", "X-Webhook-Signature")
    .option("--status <code>", "HTTP status to answer with", "200")
    .option("--delay <ms>", "wait this long before answering", "0")
    .option("--fail-rate <ratio>", "answer 500 to this share of requests (0..1), to exercise retries", "0")
    .action(async (portText: string, flags: Record<string, unknown>) => {
      const listener = await startListener({
        port: parseInteger("port", portText, 0, 65_535),
        host: String(flags.host),
        secrets: (flags.secret as string[] | undefined) ?? [],
        signatureHeader: flags.signatureHeader as string | undefined,
        status: parseInteger("--status", String(flags.status), 200, 599),
        delayMs: parseInteger("--delay", String(flags.delay), 0, 600_000),
        failRate: parseRatio(String(flags.failRate)),
        write: (text) => process.stdout.write(text),
        colour: colourEnabled(process.stdout),
      });
      const stopped = new Promise<void>((resolveStop) => {
        const stop = () => {
          void listener.close().then(resolveStop);
        };
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
      // Announced only once the signal handlers are in place: a script that stops us as soon as it reads this line gets a clean exit.
      process.stdout.write(`listening on ${listener.url} (Ctrl-C to stop)\n`);
      await stopped;
    });
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function parseInteger(name: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value < min || value > max) {
    throw new CliError(`${name}: must be a whole number from ${min} to ${max}, not ${JSON.stringify(text)}`);
  }
  return value;
}

function parseRatio(text: string): number {
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || value < 0 || value > 1) {
    throw new CliError(`--fail-rate: must be a number from 0 to 1, not ${JSON.stringify(text)}`);
  }
  return value;
}

export async function startListener(options: ListenOptions): Promise<RunningListener> {
  const colours = palette(options.colour);
  const random = options.random ?? Math.random;
  const server: Server = createServer((request, response) => {
    readBody(request)
      .then(async (body) => {
        const failed = options.failRate > 0 && random() < options.failRate;
        const status = failed ? 500 : options.status;
        const lines = [formatRequest(request, body, colours)];
        for (const secret of options.secrets) lines.push(describeVerification(body, request, secret, options.signatureHeader, colours));
        const why = failed ? ` (--fail-rate ${options.failRate})` : "";
        const delay = options.delayMs > 0 ? ` after ${options.delayMs} ms` : "";
        lines.push(`answered ${status}${why}${delay}`, "-----------------------------------", "");
        options.write(lines.join("\n") + "\n");
        if (options.delayMs > 0) await new Promise((r) => setTimeout(r, options.delayMs));
        response.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
        response.end(`${request.method ?? "GET"} request for ${request.url ?? "/"}`);
      })
      .catch((error: unknown) => {
        options.write(`${colours.red}could not read the request: ${(error as Error).message}${colours.reset}\n`);
        if (!response.headersSent) response.writeHead(413);
        response.end();
      });
  });

  await new Promise<void>((resolveListen, rejectListen) => {
    server.once("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EADDRINUSE") rejectListen(new CliError(`port ${options.port} on ${options.host} is already in use; pick another`));
      else if (error.code === "EACCES") rejectListen(new CliError(`no permission to listen on port ${options.port}; use one above 1023`));
      else rejectListen(new CliError(`cannot listen on ${options.host}:${options.port}: ${error.message}`));
    });
    server.listen(options.port, options.host, () => resolveListen());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        server.closeAllConnections();
      }),
  };
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolveBody, rejectBody) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        rejectBody(new Error(`body larger than ${MAX_BODY_BYTES} bytes`));
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on("end", () => resolveBody(Buffer.concat(chunks)));
    request.on("error", rejectBody);
  });
}

/** Python logging's default asctime: local `YYYY-MM-DD HH:MM:SS,mmm`. */
export function pythonAsctime(date: Date): string {
  const pad = (n: number, width = 2) => String(n).padStart(width, "0");
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())},${pad(date.getMilliseconds(), 3)}`
  );
}

/** Seed 001's log record: banner, method and path, headers as received, the body pretty-printed. */
export function formatRequest(request: Pick<IncomingMessage, "method" | "url" | "rawHeaders">, body: Buffer, colours: Palette, now = new Date()): string {
  const headerLines: string[] = [];
  for (let i = 0; i + 1 < request.rawHeaders.length; i += 2) headerLines.push(`${request.rawHeaders[i]}: ${request.rawHeaders[i + 1]}`);
  return [
    `${pythonAsctime(now)} - INFO - http-request`,
    "--------------------------------------- request ---------------------------------------",
    `${colours.green}${request.method ?? "GET"} ${request.url ?? "/"}${colours.reset}`,
    ...headerLines,
    "",
    `${colours.yellow}${prettyBody(body)}${colours.reset}`,
  ].join("\n");
}

function prettyBody(body: Buffer): string {
  if (body.length === 0) return "(empty body)";
  const text = body.toString("utf8");
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** One line per secret: which scheme passed, or why it failed. */
export function describeVerification(
  body: Buffer,
  request: Pick<IncomingMessage, "headers">,
  secret: string,
  signatureHeader: string | undefined,
  colours: Palette,
): string {
  try {
    const result = verifyWebhook(body, request.headers, secret, signatureHeader === undefined ? {} : { signatureHeader });
    const detail = result.scheme === "standard-webhooks" ? `webhook-id ${result.id}` : result.header;
    return `${colours.green}signature ok: ${result.scheme} (${detail})${colours.reset}`;
  } catch (error) {
    if (!(error instanceof WebhookVerificationError)) throw error;
    return `${colours.red}signature FAILED: ${error.scheme}: ${error.code}: ${error.message}${colours.reset}`;
  }
}
