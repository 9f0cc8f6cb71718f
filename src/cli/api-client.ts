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
 *   tenant:    --tenant, HERALD_TENANT (only commands that create, list or send one tenant's things)
 *
 * The tenant key is sent when one is found, else the admin key; with a tenant named, the admin
 * key is sent when one is found, because only the admin may act for a tenant other than its key's.
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { DEFAULT_TENANT_ID } from "../domain/types.js";
import { DEFAULT_DATABASE_URL, parseDatabaseUrl } from "../store/open-store.js";
import { CliError } from "./output.js";

export interface ConnectionFlags {
  url?: string;
  apiKey?: string;
  adminKey?: string;
  dataDir?: string;
  tenant?: string;
}

export interface Connection {
  url: string;
  /** The local server's data folder, where its URL and keys were looked for. */
  dataDir: string;
  apiKey: string | undefined;
  adminKey: string | undefined;
  /** Where the URL came from, so a refused connection can say what to change. */
  urlSource: string;
  /** The tenant the command acts for (sent as `tenantId`); undefined: the key's own, or the default tenant for the admin key. */
  tenant: string | undefined;
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

/** `tenantScoped`: the command takes --tenant, so HERALD_TENANT applies to it. */
export function resolveConnection(flags: ConnectionFlags, env: NodeJS.ProcessEnv = process.env, { tenantScoped = false } = {}): Connection {
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
    tenant: tenantScoped ? resolveTenant(flags, env) : undefined,
    apiKey: nonEmpty(flags.apiKey) ?? nonEmpty(env.HERALD_API_KEY) ?? readKeyFile(join(dataDir, "default-tenant.key")),
    adminKey: nonEmpty(flags.adminKey) ?? nonEmpty(env.HERALD_ADMIN_API_KEY) ?? readKeyFile(join(dataDir, "admin.key")),
  };
}

function resolveTenant(flags: Pick<ConnectionFlags, "tenant">, env: NodeJS.ProcessEnv): string | undefined {
  const [tenant, source] = nonEmpty(flags.tenant) !== undefined ? [nonEmpty(flags.tenant), "--tenant"] : [nonEmpty(env.HERALD_TENANT), "HERALD_TENANT"];
  if (tenant !== undefined && !/^[A-Za-z0-9_.:-]{1,200}$/.test(tenant)) {
    throw new CliError(`${source}: ${JSON.stringify(tenant)} is not a tenant id; give the id POST /v1/tenants returned, e.g. 0190c5a2-...`);
  }
  return tenant;
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
    const { apiKey, adminKey, tenant } = this.connection;
    // No tenant key but an admin one: without --tenant the admin writes to the default tenant and lists every tenant's data.
    const asAdmin = adminKey !== undefined && (apiKey === undefined || tenant !== undefined);
    if (asAdmin) {
      headers["x-admin-api-key"] = adminKey;
    } else if (apiKey !== undefined) {
      headers.authorization = `Bearer ${apiKey}`;
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
    if (!response.ok) throw new CliError(this.describeTenantNotFound(response.status, text, asAdmin) ?? describeHttpError(response.status, text));
    if (text === "") return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new CliError(`${method} ${target.pathname}: the server answered ${response.status} with a body that is not JSON`);
    }
  }

  /**
   * A tenant the caller did not expect to be missing, said with what to do. The API answers the
   * same 404 for the default tenant when DEFAULT_WALLET_ENABLED=false left it uncreated, and for
   * a tenant a tenant key may not act for; neither names a flag the user gave.
   */
  private describeTenantNotFound(status: number, body: string, asAdmin: boolean): string | undefined {
    const problem = parseProblem(body);
    if (status !== 404 || problem?.code !== "HERALD_ERR_TENANT_NOT_FOUND") return undefined;
    const suffix = `(404 ${problem.code})`;
    const { tenant, url, dataDir } = this.connection;
    if (tenant === undefined && (problem.detail ?? "").includes(DEFAULT_TENANT_ID)) {
      const adminKeyFile = join(dataDir, "admin.key");
      const adminKey = existsSync(adminKeyFile) ? `$(cat ${adminKeyFile})` : "<admin key>";
      return (
        `the default tenant ${DEFAULT_TENANT_ID} does not exist (the server runs with DEFAULT_WALLET_ENABLED=false, or the tenant was deleted) ${suffix}: ` +
        `pass --tenant <id> or set HERALD_TENANT to act for a tenant with the admin key, or pass a tenant's own --api-key; ` +
        `create a tenant with: curl -X POST ${url}/v1/tenants -H "x-admin-api-key: ${adminKey}" -H "content-type: application/json" -d '{"name":"acme"}'`
      );
    }
    if (tenant !== undefined && !asAdmin) {
      return `tenant ${tenant} not found for this API key ${suffix}: a tenant's API key acts only for its own tenant; to act for ${tenant} pass the admin key (--admin-key or HERALD_ADMIN_API_KEY)`;
    }
    return undefined;
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

function parseProblem(body: string): Problem | undefined {
  try {
    const parsed = JSON.parse(body) as unknown;
    return typeof parsed === "object" && parsed !== null ? (parsed as Problem) : undefined;
  } catch {
    return undefined;
  }
}

/** A failed answer as one line: the problem's detail, then the status and Herald's error code. */
export function describeHttpError(status: number, body: string): string {
  const problem = parseProblem(body);
  const detail = problem?.detail ?? problem?.title ?? (body.trim().slice(0, 200) || `HTTP ${status}`);
  const code = problem?.code ? ` ${problem.code}` : "";
  if (status === 401) return `${detail} (401${code}): check --api-key / HERALD_API_KEY`;
  return `${detail.replace(/\s*\n\s*/g, " ")} (${status}${code})`;
}
