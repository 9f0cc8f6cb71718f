/** Herald as a library: `import { createHerald } from "herald"`. */
export { createHerald, SYSTEM_EVENT_TYPES } from "./herald.js";
export type {
  Herald, HeraldOptions, EngineConfig, Scope, TriggerOptions, TriggerResult, WebhookCreateOptions, WebhookListOptions, WebhookTestResult,
  IssuedApiKey, SystemEventType, TriggerManyOptions, TraceHeaders, PortalAccess, PortalLink, PortalLinkOptions,
} from "./herald.js";
export { HeraldError, errorCatalogue, isHeraldError } from "./errors.js";
export type { HeraldErrorCode } from "./errors.js";
export type * from "./domain/types.js";
export { DEFAULT_TENANT_ID } from "./domain/types.js";
export type { WebhookInput, WebhookPatch, PublicWebhook } from "./domain/webhook-input.js";
export { redactWebhook } from "./domain/webhook-input.js";
export { DEFAULT_RETRY_POLICY, IDENTUS_RETRY_POLICY } from "./domain/retry-policy.js";
export { matchesEventType } from "./domain/event-patterns.js";
export type { Store } from "./store/store.js";
export { SqliteStore } from "./store/sqlite/sqlite-store.js";
export { makeSecretBox, generateMasterKey, parseMasterKey } from "./secrets/secret-box.js";
export { signStandardWebhook } from "./signing/standard-webhooks.js";
