/**
 * Options every server-talking command shares (where the server is, which key, which output
 * format) and the parsing of flag values, each failure a one-line CliError naming the flag.
 */
import { Option, type Command } from "commander";
import { ApiClient, resolveConnection, type ConnectionFlags } from "./api-client.js";
import { CliError, parseFormat, type OutputFormat } from "./output.js";

export interface CommonFlags extends ConnectionFlags {
  format: OutputFormat;
  /** The server URL under the name webhooks:create and :update use, where --url is the endpoint (seed 003). */
  server?: string;
}

export interface ServerOptionsShape {
  /** The command's --url is the webhook's endpoint, so only --server names the server. */
  urlIsEndpoint?: boolean;
  /** The command creates, lists or sends things of one tenant: it takes --tenant (and HERALD_TENANT). */
  tenant?: boolean;
}

const SERVER_URL_HELP = "Herald server URL (env HERALD_URL; default: the local server's data/server.json, else http://127.0.0.1:8080)";
const TENANT_HELP = "act for this tenant (env HERALD_TENANT) with the admin key; a tenant's API key acts only for its own (default: the key's tenant, for the admin key the default tenant)";

/**
 * Adds --url (or only --server where --url names the webhook's endpoint), --api-key,
 * --admin-key, --data-dir, --format and, for tenant-scoped commands, --tenant to a command.
 */
export function withServerOptions(command: Command, options: ServerOptionsShape = {}): Command {
  if (!options.urlIsEndpoint) command.option("--url <url>", SERVER_URL_HELP);
  command
    .option("--server <url>", options.urlIsEndpoint ? "Herald server URL (env HERALD_URL); --url names the endpoint here" : "same as --url")
    .option("--api-key <key>", "tenant API key (env HERALD_API_KEY; default: data/default-tenant.key)")
    .option("--admin-key <key>", "admin API key (env HERALD_ADMIN_API_KEY; default: data/admin.key)");
  if (options.tenant) command.option("--tenant <id>", TENANT_HELP);
  return command
    .option("--data-dir <dir>", "the local server's data folder, for its URL and keys (env HERALD_DATA_DIR)")
    .addOption(new Option("--format <format>", "output format: table for people, json for scripts").default("table").argParser(parseFormat));
}

/** The client for a command registered with the same `options` as withServerOptions. */
export function clientFrom(flags: CommonFlags, options: ServerOptionsShape = {}): ApiClient {
  const url = flags.server ?? (options.urlIsEndpoint ? undefined : flags.url);
  const { apiKey, adminKey, dataDir, tenant } = flags;
  return new ApiClient(resolveConnection({ url, apiKey, adminKey, dataDir, tenant }, process.env, { tenantScoped: options.tenant === true }));
}

/** A JSON object flag such as --headers '{"X-Custom":"value"}'. */
export function parseJsonObject(flag: string, text: string, example: string): Record<string, unknown> {
  const value = parseJson(flag, text, example);
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new CliError(`${flag}: must be a JSON object, e.g. ${example}`);
  }
  return value as Record<string, unknown>;
}

export function parseJson(flag: string, text: string, example: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new CliError(`${flag}: not valid JSON (${(error as Error).message}); e.g. ${example}`);
  }
}

/** `agent.started,agent.failed` (commas or spaces) as a list. */
export function parseList(flag: string, text: string): string[] {
  const items = text.split(/[\s,]+/).filter((item) => item.length > 0);
  if (items.length === 0) throw new CliError(`${flag}: give at least one value, e.g. "agent.started,agent.failed"`);
  return items;
}

export function parsePositiveInteger(flag: string, text: string, max: number): number {
  return parseWholeNumber(flag, text, 1, max);
}

/** `unit` names what the number counts in the error, e.g. "milliseconds". */
export function parseWholeNumber(flag: string, text: string, min: number, max: number, unit?: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value < min || value > max) {
    throw new CliError(`${flag}: must be a whole number${unit ? ` of ${unit}` : ""} from ${min} to ${max}, not ${JSON.stringify(text)}`);
  }
  return value;
}

export function choice<T extends string>(flag: string, text: string, allowed: readonly T[]): T {
  if (!allowed.includes(text as T)) throw new CliError(`${flag}: must be one of ${allowed.join(", ")}, not ${JSON.stringify(text)}`);
  return text as T;
}

/** Ids go into URL paths: anything but a plain token is a user mistake, said plainly. */
export function checkId(label: string, id: string): string {
  if (!/^[A-Za-z0-9_.:-]{1,200}$/.test(id)) throw new CliError(`${label}: ${JSON.stringify(id)} is not an id`);
  return encodeURIComponent(id);
}
