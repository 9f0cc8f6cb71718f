/**
 * Seed 003's webhook management commands: webhooks:list, :create, :info, :update, :delete,
 * :pause, :resume. Each is one API call (list follows pages); the delivery-side commands
 * are in deliveries.ts.
 */
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline/promises";
import type { Command } from "commander";
import { PAYLOAD_FORMATS } from "../../domain/webhook-input.js";
import type { ApiClient } from "../api-client.js";
import {
  checkId, choice, clientFrom, parseJson, parseJsonObject, parseList, parseWholeNumber, withServerOptions, type CommonFlags,
} from "../command-options.js";
import { CliError, formatTime, formatValue, renderFields, renderTable, toJson } from "../output.js";

/** A webhook as the API returns it; only the fields the tables read are typed. */
export interface WebhookView {
  id: string;
  name: string;
  url: string;
  status: string;
  events: string[];
  method?: string;
  payloadFormat?: string;
  description?: string;
  headers?: Record<string, string>;
  publicHeaders?: string[];
  auth?: { type: string; credentials?: Record<string, string> };
  retry?: Record<string, unknown>;
  timeoutMs?: number;
  filter?: Record<string, unknown> | null;
  disabledReason?: string | null;
  secret?: string;
  proxyUrl?: string | null;
  tls?: { clientCert: { subject: string; validTo: string } | null; ca: string[] | null } | null;
  createdAt?: unknown;
  updatedAt?: unknown;
}

interface SecretView {
  secret: string;
  previous: Array<{ secret: string; expiresAt: string }>;
}

interface ListPage<T> {
  data: T[];
  nextCursor?: string | null;
}

const STATUSES = ["active", "inactive", "disabled"] as const;
const METHODS = ["POST", "PUT", "PATCH"] as const;
const AUTH_TYPES = ["none", "bearer", "basic", "api-key", "hmac", "oauth2"] as const;
const HEADERS_EXAMPLE = `'{"X-Custom":"value"}'`;
const CREDENTIALS_EXAMPLE = `'{"token":"secret123"}'`;
const FILTER_EXAMPLE = `'{"data.amount":{"$gte":100}}'`;
const RETRY_EXAMPLE = `'{"strategy":"fixed","maxAttempts":5,"initialDelayMs":2000}'`;
const RETRY_STRATEGIES = ["exponential", "linear", "fixed"] as const;
/** The server's bounds (src/domain/retry-policy.ts), checked here as well so that the error names the flag. */
const MAX_RETRY_ATTEMPTS = 100;
const MAX_RETRY_DELAY_MS = 7 * 24 * 3_600_000;
/** Following pages stops here: 100 pages of the server's page size is more than a terminal shows. */
const MAX_PAGES = 100;

export function registerWebhookCommands(program: Command): void {
  withServerOptions(program.command("webhooks:list").description("list webhooks"), { tenant: true })
    .option("--status <status>", "only webhooks with this status: active, inactive or disabled")
    .option("--event <event>", "only webhooks subscribed to this event type")
    .action(async (flags: CommonFlags & { status?: string; event?: string }) => {
      const status = flags.status === undefined ? undefined : choice("--status", flags.status, STATUSES);
      const client = clientFrom(flags, { tenant: true });
      const webhooks = await listAll<WebhookView>(client, "/v1/webhooks", { status, event: flags.event, tenantId: client.connection.tenant });
      print(flags, webhooks, () => webhookTable(webhooks));
    });

  const create = program
    .command("webhooks:create")
    .description("create a webhook")
    .requiredOption("--url <url>", "the receiving endpoint")
    .option("--secret <whsec>", "a whsec_ signing secret to use instead of a generated one");
  withServerOptions(withWebhookFields(create), { urlIsEndpoint: true, tenant: true })
    .action(async (flags: CommonFlags & WebhookFlags & { url: string; secret?: string }) => {
      const body: Record<string, unknown> = { ...webhookBody(flags), url: flags.url, ...(flags.secret === undefined ? {} : { secret: flags.secret }) };
      const client = clientFrom(flags, { urlIsEndpoint: true, tenant: true });
      if (client.connection.tenant !== undefined) body.tenantId = client.connection.tenant;
      const webhook = await client.request<WebhookView>("POST", "/v1/webhooks", { body });
      print(flags, webhook, () => {
        // The API returns the secret in full only here (and from GET /v1/webhooks/{id}/secret).
        const secret = webhook.secret ? `\n\nSigning secret: ${webhook.secret}\n(verify with it, e.g. herald listen <port> --secret ${webhook.secret})` : "";
        return `Created webhook ${webhook.id}\n${webhookFields(webhook)}${secret}`;
      });
    });

  withServerOptions(program.command("webhooks:info").description("show a webhook's configuration"))
    .argument("<webhook-id>")
    .action(async (id: string, flags: CommonFlags) => {
      const webhook = await clientFrom(flags).request<WebhookView>("GET", `/v1/webhooks/${checkId("webhook-id", id)}`);
      print(flags, webhook, () => webhookFields(webhook));
    });

  const update = program
    .command("webhooks:update")
    .description("change a webhook's configuration")
    .argument("<webhook-id>")
    .option("--url <url>", "a new receiving endpoint")
    .option("--status <status>", "active or inactive");
  withServerOptions(withWebhookFields(update), { urlIsEndpoint: true })
    .action(async (id: string, flags: CommonFlags & WebhookFlags & { status?: string }) => {
      const patch: Record<string, unknown> = webhookBody(flags);
      if (flags.url !== undefined) patch.url = flags.url;
      if (flags.status !== undefined) patch.status = choice("--status", flags.status, ["active", "inactive"] as const);
      if (Object.keys(patch).length === 0) throw new CliError("nothing to update: give at least one of --name, --url, --events, --status, ...");
      const webhook = await clientFrom(flags, { urlIsEndpoint: true }).request<WebhookView>("PATCH", `/v1/webhooks/${checkId("webhook-id", id)}`, {
        body: patch,
      });
      print(flags, webhook, () => `Updated webhook ${webhook.id}\n${webhookFields(webhook)}`);
    });

  withServerOptions(program.command("webhooks:delete").description("delete a webhook and its delivery history"))
    .argument("<webhook-id>")
    .option("--force", "do not ask for confirmation")
    .action(async (id: string, flags: CommonFlags & { force?: boolean }) => {
      const client = clientFrom(flags);
      const path = `/v1/webhooks/${checkId("webhook-id", id)}`;
      if (!flags.force) {
        if (!process.stdin.isTTY) throw new CliError("refusing to delete without confirmation: not a terminal; pass --force");
        const webhook = await client.request<WebhookView>("GET", path);
        if (!(await confirm(`Delete webhook ${webhook.id} (${webhook.name}, ${webhook.url})? [y/N] `))) {
          throw new CliError("not deleted");
        }
      }
      await client.request("DELETE", path);
      print(flags, { id, deleted: true }, () => `Deleted webhook ${id}`);
    });

  withServerOptions(program.command("webhooks:secret").description("show a webhook's signing secret (for herald listen --secret or your receiver)"))
    .argument("<webhook-id>")
    .action(async (id: string, flags: CommonFlags) => {
      const answer = await clientFrom(flags).request<SecretView>("GET", `/v1/webhooks/${checkId("webhook-id", id)}/secret`);
      print(flags, answer, () => [answer.secret, ...answer.previous.map((p) => `${p.secret} (previous, signs until ${formatTime(p.expiresAt)})`)].join("\n"));
    });

  withServerOptions(program.command("webhooks:rotate-secret").description("give a webhook a new signing secret; the old one keeps signing through the grace period"))
    .argument("<webhook-id>")
    .action(async (id: string, flags: CommonFlags) => {
      const answer = await clientFrom(flags).request<{ secret: string; webhook: WebhookView }>("POST", `/v1/webhooks/${checkId("webhook-id", id)}/rotate-secret`);
      print(flags, answer, () => `New signing secret for webhook ${answer.webhook.id}: ${answer.secret}\n(the previous one keeps signing alongside it during the grace period)`);
    });

  for (const [verb, action] of [["pause", "paused"], ["resume", "resumed"]] as const) {
    withServerOptions(program.command(`webhooks:${verb}`).description(verb === "pause" ? "stop delivering to a webhook (status inactive)" : "deliver to a webhook again (status active)"))
      .argument("<webhook-id>")
      .action(async (id: string, flags: CommonFlags) => {
        const webhook = await clientFrom(flags).request<WebhookView>("POST", `/v1/webhooks/${checkId("webhook-id", id)}/${verb}`);
        print(flags, webhook, () => `Webhook ${webhook.id} ${action}: status ${webhook.status}`);
      });
  }
}

interface WebhookFlags {
  name?: string;
  description?: string;
  events?: string;
  method?: string;
  headers?: string;
  publicHeaders?: string;
  authType?: string;
  authCredentials?: string;
  payloadFormat?: string;
  timeout?: string;
  retry?: string;
  retryStrategy?: string;
  retryMaxAttempts?: string;
  retryInitialDelay?: string;
  retryMaxDelay?: string;
  filter?: string;
  propagateTraceContext?: string;
  proxyUrl?: string;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  tlsCaFile?: string;
  tlsPassphrase?: string;
}

/** The flags create and update share (seed 003's, plus the SPEC's webhook fields). */
function withWebhookFields(command: Command): Command {
  return command
    .option("--name <name>", "a name for people")
    .option("--description <text>", "what the webhook is for")
    .option("--events <list>", 'event types or patterns, comma-separated, e.g. "agent.started,agent.*" (default: all)')
    .option("--method <method>", "POST, PUT or PATCH")
    .option("--headers <json>", `extra request headers as a JSON object, e.g. ${HEADERS_EXAMPLE}; their values are shown masked`)
    .option("--public-headers <list>", 'names of --headers whose values are not secret and may be shown, comma-separated ("" for none)')
    .option("--auth-type <type>", "none, bearer, basic, api-key, hmac or oauth2")
    .option("--auth-credentials <json>", `credentials for --auth-type as JSON, e.g. ${CREDENTIALS_EXAMPLE}`)
    .option("--filter <json>", `payload filter: a MongoDB-style query over the event's {type, data, metadata}, e.g. ${FILTER_EXAMPLE}; only events it matches are delivered ("null" removes it)`)
    .option("--payload-format <format>", "body shape: identus (default), prism (seed 000), standard, systemprompt (seed 003), agentfactory (seed 004) or svix")
    .option("--propagate-trace-context <bool>", "true: attempts carry the producer's W3C traceparent when tracing is on (docs/observability.md); false: they do not (the default)")
    .option("--timeout <ms>", "request timeout in milliseconds")
    .option("--retry <json>", `retry policy as JSON, e.g. ${RETRY_EXAMPLE}; the --retry-* flags below win over its fields`)
    .option("--retry-strategy <strategy>", "how the delay between attempts grows: exponential (doubles; the default), linear or fixed")
    .option("--retry-max-attempts <n>", `attempts in all, the first one included, 1 to ${MAX_RETRY_ATTEMPTS} (a new webhook: 3; update keeps the current)`)
    .option("--retry-initial-delay <ms>", "delay before the first retry, in milliseconds (a new webhook: 1000)")
    .option("--retry-max-delay <ms>", "longest delay between two attempts, in milliseconds, at least the initial delay (a new webhook: 60000)")
    .option("--proxy-url <url>", 'forward proxy for this webhook, http://[user:password@]host:port; "direct" for none; "server" for the server\'s HERALD_PROXY_URL (the default)')
    .option("--tls-cert-file <path>", "PEM client certificate presented to the receiver (mTLS); with --tls-key-file")
    .option("--tls-key-file <path>", "PEM private key of --tls-cert-file")
    .option("--tls-passphrase <text>", "passphrase of an encrypted --tls-key-file")
    .option("--tls-ca-file <path>", "PEM CA certificates to trust for the receiver instead of the system's");
}

function readPem(flag: string, path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new CliError(`${flag}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)}); give the path of a PEM file`);
  }
}

/** --tls-* flags as the API's tls object; the engine checks what the files hold. */
function tlsBody(flags: WebhookFlags): Record<string, string> | undefined {
  if (flags.tlsCertFile === undefined && flags.tlsKeyFile === undefined && flags.tlsCaFile === undefined) {
    if (flags.tlsPassphrase !== undefined) throw new CliError("--tls-passphrase: give --tls-cert-file and --tls-key-file too");
    return undefined;
  }
  if ((flags.tlsCertFile === undefined) !== (flags.tlsKeyFile === undefined)) {
    throw new CliError(`${flags.tlsCertFile === undefined ? "--tls-cert-file" : "--tls-key-file"}: required with the other (a client certificate and its key go together)`);
  }
  return {
    ...(flags.tlsCertFile === undefined ? {} : { clientCert: readPem("--tls-cert-file", flags.tlsCertFile), clientKey: readPem("--tls-key-file", flags.tlsKeyFile!) }),
    ...(flags.tlsPassphrase === undefined ? {} : { passphrase: flags.tlsPassphrase }),
    ...(flags.tlsCaFile === undefined ? {} : { ca: readPem("--tls-ca-file", flags.tlsCaFile) }),
  };
}

function webhookBody(flags: WebhookFlags): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (flags.name !== undefined) body.name = flags.name;
  if (flags.description !== undefined) body.description = flags.description;
  if (flags.events !== undefined) body.events = parseList("--events", flags.events);
  if (flags.method !== undefined) body.method = choice("--method", flags.method.toUpperCase(), METHODS);
  if (flags.headers !== undefined) body.headers = parseJsonObject("--headers", flags.headers, HEADERS_EXAMPLE);
  if (flags.publicHeaders !== undefined) body.publicHeaders = flags.publicHeaders.trim() === "" ? [] : parseList("--public-headers", flags.publicHeaders);
  if (flags.filter !== undefined) body.filter = parseFilter(flags.filter);
  if (flags.propagateTraceContext !== undefined) {
    body.propagateTraceContext = choice("--propagate-trace-context", flags.propagateTraceContext.toLowerCase(), ["true", "false"] as const) === "true";
  }
  if (flags.payloadFormat !== undefined) body.payloadFormat = choice("--payload-format", flags.payloadFormat, PAYLOAD_FORMATS);
  if (flags.timeout !== undefined) body.timeoutMs = parseWholeNumber("--timeout", flags.timeout, 100, 300_000, "milliseconds");
  const retry = retryBody(flags);
  if (retry !== undefined) body.retry = retry;
  if (flags.proxyUrl !== undefined) body.proxyUrl = flags.proxyUrl === "server" ? null : flags.proxyUrl;
  const tls = tlsBody(flags);
  if (tls !== undefined) body.tls = tls;
  if (flags.authType !== undefined) {
    const type = choice("--auth-type", flags.authType, AUTH_TYPES);
    const credentials = flags.authCredentials === undefined ? undefined : parseJsonObject("--auth-credentials", flags.authCredentials, CREDENTIALS_EXAMPLE);
    if (type !== "none" && credentials === undefined) throw new CliError(`--auth-credentials: required with --auth-type ${type}, e.g. ${CREDENTIALS_EXAMPLE}`);
    body.auth = credentials === undefined ? { type } : { type, credentials };
  } else if (flags.authCredentials !== undefined) {
    throw new CliError("--auth-credentials: give --auth-type too (bearer, basic, api-key, hmac or oauth2)");
  }
  return body;
}

/** A JSON query object, or null (no filter); the server checks the query itself and names the place of a fault (filter.data.amount.$foo). */
function parseFilter(text: string): Record<string, unknown> | null {
  const value = parseJson("--filter", text, FILTER_EXAMPLE);
  if (value === null) return null;
  if (typeof value !== "object" || Array.isArray(value)) throw new CliError(`--filter: must be a JSON object, or null to remove the filter, e.g. ${FILTER_EXAMPLE}`);
  return value as Record<string, unknown>;
}

/** --retry's JSON with the single-setting flags (seed 003's names) merged over it: a flag beside the JSON wins. */
function retryBody(flags: WebhookFlags): Record<string, unknown> | undefined {
  const retry = flags.retry === undefined ? {} : parseJsonObject("--retry", flags.retry, RETRY_EXAMPLE);
  if (flags.retryStrategy !== undefined) retry.strategy = choice("--retry-strategy", flags.retryStrategy.toLowerCase(), RETRY_STRATEGIES);
  if (flags.retryMaxAttempts !== undefined) retry.maxAttempts = parseWholeNumber("--retry-max-attempts", flags.retryMaxAttempts, 1, MAX_RETRY_ATTEMPTS);
  if (flags.retryInitialDelay !== undefined) {
    retry.initialDelayMs = parseWholeNumber("--retry-initial-delay", flags.retryInitialDelay, 0, MAX_RETRY_DELAY_MS, "milliseconds");
  }
  if (flags.retryMaxDelay !== undefined) retry.maxDelayMs = parseWholeNumber("--retry-max-delay", flags.retryMaxDelay, 0, MAX_RETRY_DELAY_MS, "milliseconds");
  const { initialDelayMs, maxDelayMs } = retry;
  if (typeof initialDelayMs === "number" && typeof maxDelayMs === "number" && maxDelayMs < initialDelayMs) {
    const flag = flags.retryMaxDelay !== undefined ? "--retry-max-delay" : flags.retryInitialDelay !== undefined ? "--retry-initial-delay" : undefined;
    if (flag !== undefined) {
      throw new CliError(`${flag}: the longest delay (${maxDelayMs} ms) is shorter than the initial delay (${initialDelayMs} ms); raise --retry-max-delay or lower --retry-initial-delay`);
    }
  }
  return flags.retry === undefined && Object.keys(retry).length === 0 ? undefined : retry;
}

export async function listAll<T>(client: ApiClient, path: string, query: Record<string, string | number | undefined>, max = Infinity): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES && items.length < max; page++) {
    const answer = await client.request<ListPage<T>>("GET", path, { query: { ...query, cursor } });
    items.push(...answer.data);
    if (!answer.nextCursor) break;
    cursor = answer.nextCursor;
  }
  return items.slice(0, max);
}

export function print(flags: Pick<CommonFlags, "format">, value: unknown, human: () => string): void {
  console.log(flags.format === "json" ? toJson(value) : human());
}

export function webhookTable(webhooks: readonly WebhookView[]): string {
  return renderTable(
    webhooks,
    [
      { header: "id", value: (w) => w.id },
      { header: "name", value: (w) => w.name },
      { header: "status", value: (w) => w.status },
      { header: "events", value: (w) => formatValue(w.events) },
      { header: "url", value: (w) => w.url },
    ],
    "No webhooks.",
  );
}

export function webhookFields(webhook: WebhookView): string {
  const fields: Array<readonly [string, string]> = [
    ["ID", webhook.id],
    ["Name", webhook.name],
    ["URL", webhook.url],
    ["Status", webhook.status + (webhook.disabledReason ? ` (${webhook.disabledReason})` : "")],
    ["Events", formatValue(webhook.events)],
    ["Filter", webhook.filter ? JSON.stringify(webhook.filter) : "-"],
    ["Method", formatValue(webhook.method)],
    ["Payload format", formatValue(webhook.payloadFormat)],
    ["Headers", formatValue(webhook.headers && Object.keys(webhook.headers).length > 0 ? webhook.headers : null)],
    ["Public headers", formatValue(webhook.publicHeaders)],
    ["Auth", webhook.auth ? webhook.auth.type + (webhook.auth.credentials ? ` ${JSON.stringify(webhook.auth.credentials)}` : "") : "-"],
    ["Retry", formatRetry(webhook.retry)],
    ["Timeout", webhook.timeoutMs === undefined ? "-" : `${webhook.timeoutMs} ms`],
    ["Created", formatTime(webhook.createdAt)],
    ["Updated", formatTime(webhook.updatedAt)],
  ];
  if (webhook.description) fields.splice(2, 0, ["Description", webhook.description]);
  if (webhook.proxyUrl) fields.splice(fields.length - 2, 0, ["Proxy", webhook.proxyUrl]);
  if (webhook.tls) {
    const cert = webhook.tls.clientCert ? `${webhook.tls.clientCert.subject}, valid to ${webhook.tls.clientCert.validTo}` : "none";
    fields.splice(fields.length - 2, 0, ["TLS", `client certificate ${cert}; trusts ${webhook.tls.ca ? webhook.tls.ca.join("; ") : "the system's CAs"}`]);
  }
  return renderFields(fields);
}

function formatRetry(retry: WebhookView["retry"]): string {
  if (!retry) return "-";
  const { strategy, maxAttempts, initialDelayMs, multiplier, maxDelayMs, windowMs } = retry as Record<string, number | string | null>;
  const growth = strategy === "exponential" ? ` x${multiplier}` : strategy === "linear" ? ` +${initialDelayMs} ms` : "";
  const window = typeof windowMs === "number" ? `, within ${windowMs} ms` : "";
  return `${strategy}, ${maxAttempts} attempts, ${initialDelayMs} ms${growth}, at most ${maxDelayMs} ms apart${window}`;
}

async function confirm(question: string): Promise<boolean> {
  const readline = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await readline.question(question)).trim());
  } finally {
    readline.close();
  }
}
