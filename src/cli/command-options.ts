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

const SERVER_URL_HELP = "Herald server URL (env HERALD_URL; default: the local server's data/server.json, else http://127.0.0.1:8080)";

/**
 * Adds --url (or only --server where --url names the webhook's endpoint), --api-key,
 * --admin-key, --data-dir and --format to a command.
 */
export function withServerOptions(command: Command, options: { urlIsEndpoint?: boolean } = {}): Command {
  if (!options.urlIsEndpoint) command.option("--url <url>", SERVER_URL_HELP);
  return command
    .option("--server <url>", options.urlIsEndpoint ? "Herald server URL (env HERALD_URL); --url names the endpoint here" : "same as --url")
    .option("--api-key <key>", "tenant API key (env HERALD_API_KEY; default: data/default-tenant.key)")
    .option("--admin-key <key>", "admin API key (env HERALD_ADMIN_API_KEY; default: data/admin.key)")
    .option("--data-dir <dir>", "the local server's data folder, for its URL and keys (env HERALD_DATA_DIR)")
    .addOption(new Option("--format <format>", "output format: table for people, json for scripts").default("table").argParser(parseFormat));
}

/** `urlIsEndpoint`: the command's --url is the webhook's endpoint, so only --server names the server. */
export function clientFrom(flags: CommonFlags, urlIsEndpoint = false): ApiClient {
  const url = flags.server ?? (urlIsEndpoint ? undefined : flags.url);
  const { apiKey, adminKey, dataDir } = flags;
  return new ApiClient(resolveConnection({ url, apiKey, adminKey, dataDir }));
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
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value < 1 || value > max) {
    throw new CliError(`${flag}: must be a whole number from 1 to ${max}, not ${JSON.stringify(text)}`);
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
