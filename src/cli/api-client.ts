/**
 * The CLI's connection to a running Herald: where it is and which keys to present, then one
 * `request()` that turns every failure (refused connection, problem+json error, timeout)
 * into a one-line CliError.
 *
 * Resolution order, first found wins, so a flag always beats the environment and the
 * environment beats the files a local `herald serve` writes into its data folder:
 *   URL:       --url, HERALD_URL, <data>/server.json `url`, http://127.0.0.1:8080
 *   API key:   --api-key, HERALD_API_KEY, <data>/default-tenant.key
 *   admin key: --admin-key, HERALD_ADMIN_API_KEY, <data>/admin.key
 *   data:      --data-dir, HERALD_DATA_DIR, the folder of HERALD_DATABASE_URL's SQLite file, ./data
 *              (the same rule as the server's loadConfig, so both find the same files)
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { DEFAULT_DATABASE_URL, parseDatabaseUrl } from "../store/open-store.js";
import { CliError } from "./output.js";

export interface ConnectionFlags {
  url?: string;
  apiKey?: string;
  adminKey?: string;
  dataDir?: string;
}

export interface Connection {
  url: string;
  /** The local server's data folder, where its URL and keys were looked for. */
  dataDir: string;
  apiKey: string | undefined;
  adminKey: string | undefined;
  /** Where the URL came from, so a refused connection can say what to change. */
  urlSource: string;
}

export const DEFAULT_SERVER_URL = "http://127.0.0.1:8080";
export const DEFAULT_DATA_DIR = "./data";
/** Above the longest the server holds a request: webhooks:test waits up to 35 s for the receiver's answer. */
const REQUEST_TIMEOUT_MS = 60_000;

export function resolveDataDir(flags: Pick<ConnectionFlags, "dataDir">, env: NodeJS.ProcessEnv): string {
  const explicit = nonEmpty(flags.dataDir) ?? nonEmpty(env.HERALD_DATA_DIR);
  if (explicit !== undefined) return resolve(explicit);
  try {
    const database = parseDatabaseUrl(nonEmpty(env.HERALD_DATABASE_URL) ?? DEFAULT_DATABASE_URL);
    if (database.backend === "sqlite" && database.dataDir !== null) return database.dataDir;
  } catch {
    // A bad database URL is the server's to report; the client only looks for files.
  }
  return resolve(DEFAULT_DATA_DIR);
}

export function resolveConnection(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env): Connection {
  const dataDir = resolveDataDir(flags, env);
  let url: string;
  let urlSource: string;
  if (nonEmpty(flags.url)) {
    [url, urlSource] = [flags.url!, "--url"];
  } else if (nonEmpty(env.HERALD_URL)) {
    [url, urlSource] = [env.HERALD_URL!, "HERALD_URL"];
  } else {
    const serverFile = join(dataDir, "server.json");
    const fromFile = readServerUrl(serverFile);
    [url, urlSource] = fromFile === undefined ? [DEFAULT_SERVER_URL, "the default"] : [fromFile, serverFile];
  }
  try {
    new URL(url);
  } catch {
    throw new CliError(`${urlSource}: ${JSON.stringify(url)} is not a URL; give e.g. http://127.0.0.1:8080`);
  }
  return {
    url: url.replace(/\/+$/, ""),
    dataDir,
    urlSource,
    apiKey: nonEmpty(flags.apiKey) ?? nonEmpty(env.HERALD_API_KEY) ?? readKeyFile(join(dataDir, "default-tenant.key")),
    adminKey: nonEmpty(flags.adminKey) ?? nonEmpty(env.HERALD_ADMIN_API_KEY) ?? readKeyFile(join(dataDir, "admin.key")),
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

function readKeyFile(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return nonEmpty(readFileSync(path, "utf8").split("\n")[0]);
  } catch {
    return undefined;
  }
}

function readServerUrl(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const parsed = JSON.parse(readFileSync(path, "utf8")) as { url?: unknown };
    return typeof parsed.url === "string" ? parsed.url : undefined;
  } catch {
    throw new CliError(`${path} is not valid JSON; delete it or pass --url`);
  }
}

export interface RequestOptions {
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  /** Extra request headers, e.g. Idempotency-Key. */
  headers?: Record<string, string>;
}

/** A problem+json body as the API sends it (SPEC section 6). */
interface Problem {
  title?: string;
  status?: number;
  detail?: string;
  code?: string;
  field?: string;
}

export class ApiClient {
  constructor(readonly connection: Connection) {}

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const target = new URL(this.connection.url + path);
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined && value !== "") target.searchParams.set(name, String(value));
    }
    const headers: Record<string, string> = { ...options.headers, accept: "application/json" };
    if (options.body !== undefined) headers["content-type"] = "application/json";
    const { apiKey, adminKey } = this.connection;
    if (apiKey !== undefined) {
      headers.authorization = `Bearer ${apiKey}`;
    } else if (adminKey !== undefined) {
      // No tenant key but an admin one: the admin writes to the default tenant and lists every tenant's data.
      headers["x-admin-api-key"] = adminKey;
    } else {
      throw new CliError(
        `no API key: pass --api-key, set HERALD_API_KEY, or run on the server's machine (looked in ${this.dataDirHint()})`,
      );
    }

    let response: Response;
    try {
      response = await fetch(target, {
        method,
        headers,
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      throw new CliError(this.describeNetworkError(error));
    }
    const text = await response.text();
    if (!response.ok) throw new CliError(describeHttpError(response.status, text));
    if (text === "") return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new CliError(`${method} ${target.pathname}: the server answered ${response.status} with a body that is not JSON`);
    }
  }

  private dataDirHint(): string {
    return `${this.connection.dataDir}; set HERALD_DATA_DIR or --data-dir`;
  }

  private describeNetworkError(error: unknown): string {
    const where = `${this.connection.url} (from ${this.connection.urlSource})`;
    if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError")) {
      return `no answer from Herald at ${where} within ${REQUEST_TIMEOUT_MS / 1000}s`;
    }
    const code = networkErrorCode(error);
    if (code === "ECONNREFUSED") return `cannot reach Herald at ${where}: connection refused; start it with \`herald serve\` or pass --url`;
    if (code === "ENOTFOUND" || code === "EAI_AGAIN") return `cannot reach Herald at ${where}: host not found`;
    const message = error instanceof Error ? ((error.cause as Error | undefined)?.message ?? error.message) : String(error);
    return `cannot reach Herald at ${where}: ${code ?? message}`;
  }
}

function networkErrorCode(error: unknown): string | undefined {
  // fetch wraps socket errors: TypeError("fetch failed") with the errno error as its cause,
  // sometimes an AggregateError of one attempt per resolved address.
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const code = (current as NodeJS.ErrnoException).code;
    if (typeof code === "string" && code.startsWith("E")) return code;
    if (current instanceof AggregateError && current.errors[0] !== undefined) current = current.errors[0];
    else current = current.cause;
  }
  return undefined;
}

/** A failed answer as one line: the problem's detail, then the status and Herald's error code. */
export function describeHttpError(status: number, body: string): string {
  let problem: Problem | undefined;
  try {
    const parsed = JSON.parse(body) as unknown;
    if (typeof parsed === "object" && parsed !== null) problem = parsed as Problem;
  } catch {
    problem = undefined;
  }
  const detail = problem?.detail ?? problem?.title ?? (body.trim().slice(0, 200) || `HTTP ${status}`);
  const code = problem?.code ? ` ${problem.code}` : "";
  if (status === 401) return `${detail} (401${code}): check --api-key / HERALD_API_KEY`;
  return `${detail.replace(/\s*\n\s*/g, " ")} (${status}${code})`;
}
