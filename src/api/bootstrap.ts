/**
 * Environment bootstrap at each start (SPEC section 5, seeds 000-002): the admin key, the
 * default tenant with its key and, on its first creation only, its webhook; and the global
 * webhook, kept in step with GLOBAL_WEBHOOK_URL / _API_KEY / _PAYLOAD_FORMAT on every start.
 * Generated keys are written to the data folder (0600, never overwritten) and printed once.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { EnvWebhook, HeraldConfig } from "../config/load-config.js";
import { readOrCreateSecretFile } from "../config/secret-files.js";
import type { Webhook } from "../domain/types.js";
import type { WebhookInput } from "../domain/webhook-input.js";
import { configError } from "../errors.js";
import type { Herald } from "../herald.js";
import { generateApiKey } from "../secrets/api-key-text.js";

/** Marks webhooks made from the environment, so the next start can find and update them. */
const GLOBAL_SOURCE = "GLOBAL_WEBHOOK_URL";
const DEFAULT_WALLET_SOURCE = "DEFAULT_WALLET_WEBHOOK_URL";
const GENERATED_KEY_NAME = "default (generated)";

export interface BootstrapResult {
  adminApiKey: string;
  /** The default tenant's key when this process knows it (from the environment or default-tenant.key). */
  defaultTenantApiKey: string | null;
}

export interface BootstrapLog {
  /** Shown once to the operator (stdout): generated keys. */
  print(line: string): void;
  warn(message: string): void;
}

export async function bootstrapEnvironment(herald: Herald, config: HeraldConfig, log: BootstrapLog): Promise<BootstrapResult> {
  const adminApiKey = resolveAdminKey(config, log);
  let defaultTenantApiKey: string | null = null;
  if (config.defaultWalletEnabled) {
    const { created } = await herald.tenants.ensure({ id: herald.defaultTenantId, name: "default" });
    if (created && config.defaultWalletWebhook) {
      await herald.webhooks.create(envWebhookInput(config.defaultWalletWebhook, "default wallet", DEFAULT_WALLET_SOURCE), {
        tenantId: herald.defaultTenantId,
        kind: "identus",
      });
    }
    defaultTenantApiKey = await resolveDefaultTenantKey(herald, config, log);
  }
  await syncGlobalWebhook(herald, config.globalWebhook);
  return { adminApiKey, defaultTenantApiKey };
}

function resolveAdminKey(config: HeraldConfig, log: BootstrapLog): string {
  if (config.adminApiKey !== null) return config.adminApiKey;
  const path = join(config.dataDir, "admin.key");
  const { value, created } = readOrCreateSecretFile(path, () => generateApiKey("admin"));
  if (created) log.print(`herald: generated the admin API key (header x-admin-api-key), saved to ${path}; it is shown only this once:\n  ${value}`);
  return value;
}

async function resolveDefaultTenantKey(herald: Herald, config: HeraldConfig, log: BootstrapLog): Promise<string | null> {
  const tenantId = herald.defaultTenantId;
  if (config.defaultWalletApiKey !== null) {
    await ensureKeyStored(herald, config.defaultWalletApiKey, "DEFAULT_WALLET_AUTH_API_KEY", log);
    return config.defaultWalletApiKey;
  }
  const path = join(config.dataDir, "default-tenant.key");
  const keys = await herald.apiKeys.list(tenantId);
  const generatedEarlier = keys.some((key) => key.name === GENERATED_KEY_NAME && key.revokedAt === null);
  if (generatedEarlier && !existsSync(path)) {
    // The key was made by an earlier start with another data folder (or the file was removed): it cannot be shown again.
    log.warn(`the default tenant's generated API key is not in ${path}; make a new one with POST /v1/tenants/${tenantId}/api-keys`);
    return null;
  }
  const file = readOrCreateSecretFile(path, () => generateApiKey());
  await ensureKeyStored(herald, file.value, GENERATED_KEY_NAME, log);
  if (file.created) {
    log.print(`herald: generated the default tenant's API key (header apikey), saved to ${path}; it is shown only this once:\n  ${file.value}`);
  }
  return file.value;
}

/** Stores a known key for the default tenant unless it is stored already (e.g. a database made afresh under an old data folder). */
async function ensureKeyStored(herald: Herald, key: string, name: string, log: BootstrapLog): Promise<void> {
  const stored = await herald.apiKeys.findByKey(key);
  if (!stored) {
    await herald.apiKeys.issue(herald.defaultTenantId, name, key);
    return;
  }
  if (stored.tenantId !== herald.defaultTenantId) throw configError(name, `this key already belongs to tenant ${stored.tenantId}; choose another key`);
  if (stored.revokedAt !== null) log.warn(`${name}: this key was revoked through the API and stays revoked; set a new one`);
}

function envWebhookInput(env: EnvWebhook, name: string, source: string): WebhookInput {
  return {
    name,
    url: env.url,
    auth: env.apiKey === null ? null : { type: "bearer", credentials: { token: env.apiKey } },
    payloadFormat: env.payloadFormat,
    metadata: { source },
  };
}

function sameAuth(webhook: Webhook, env: EnvWebhook): boolean {
  if (env.apiKey === null) return webhook.auth.type === "none";
  return webhook.auth.type === "bearer" && webhook.auth.credentials.token === env.apiKey;
}

async function syncGlobalWebhook(herald: Herald, env: EnvWebhook | null): Promise<void> {
  const scope = { tenantId: null };
  const page = await herald.webhooks.list({ tenantId: null, kind: "identus", limit: 1000 });
  const fromEnv = page.items.filter((webhook) => webhook.metadata.source === GLOBAL_SOURCE);
  const [kept, ...extra] = fromEnv;
  // Extras come from two processes starting at once; one is enough.
  for (const webhook of env === null ? fromEnv : extra) await herald.webhooks.delete(webhook.id, scope);
  if (env === null) return;
  if (!kept) {
    await herald.webhooks.create(envWebhookInput(env, "global", GLOBAL_SOURCE), { tenantId: null, kind: "identus" });
  } else if (kept.url !== env.url || !sameAuth(kept, env) || kept.payloadFormat !== env.payloadFormat) {
    const input = envWebhookInput(env, "global", GLOBAL_SOURCE);
    await herald.webhooks.update(kept.id, { url: input.url, auth: input.auth ?? null, payloadFormat: env.payloadFormat }, scope);
  }
}
