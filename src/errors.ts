/**
 * The one catalogue of Herald's error codes, each with the HTTP status it maps to, and one
 * factory per code (fastify's `createError` style), so a caller never builds an error by hand
 * and every "not found" of a kind reads the same. Tests assert on `code`; messages are for
 * people and may change.
 */
export const errorCatalogue = {
  HERALD_ERR_VALIDATION: 422,
  HERALD_ERR_BAD_REQUEST: 400,
  HERALD_ERR_PAYLOAD_TOO_LARGE: 413,
  HERALD_ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  HERALD_ERR_UNAUTHORIZED: 401,
  HERALD_ERR_FORBIDDEN: 403,
  HERALD_ERR_RATE_LIMITED: 429,
  HERALD_ERR_NOT_FOUND: 404,
  HERALD_ERR_WEBHOOK_NOT_FOUND: 404,
  HERALD_ERR_EVENT_NOT_FOUND: 404,
  HERALD_ERR_DELIVERY_NOT_FOUND: 404,
  HERALD_ERR_TENANT_NOT_FOUND: 404,
  HERALD_ERR_API_KEY_NOT_FOUND: 404,
  HERALD_ERR_EVENT_TYPE_NOT_FOUND: 404,
  HERALD_ERR_EVENT_ID_CONFLICT: 409,
  HERALD_ERR_CONFLICT: 409,
  HERALD_ERR_PRIVATE_TARGET: 422,
  HERALD_ERR_NOT_SUPPORTED: 501,
  HERALD_ERR_NOT_RUNNING: 503,
  HERALD_ERR_STORE_UNAVAILABLE: 503,
  HERALD_ERR_CONFIG: 500,
  HERALD_ERR_INTERNAL: 500,
} as const;

export type HeraldErrorCode = keyof typeof errorCatalogue;

export interface HeraldErrorOptions {
  /** The input field at fault, as a dotted path (`retry.maxAttempts`). */
  field?: string;
  cause?: unknown;
}

export class HeraldError extends Error {
  readonly code: HeraldErrorCode;
  readonly status: number;
  readonly field: string | undefined;

  constructor(code: HeraldErrorCode, message: string, options: HeraldErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "HeraldError";
    this.code = code;
    this.status = errorCatalogue[code];
    this.field = options.field;
  }
}

export function isHeraldError(value: unknown): value is HeraldError {
  return value instanceof HeraldError;
}

/** A factory for one code: `(message, options) => HeraldError`. */
function defineError(code: HeraldErrorCode) {
  return (message: string, options?: HeraldErrorOptions) => new HeraldError(code, message, options);
}

/** A message that names the field first: `retry.maxAttempts: must be ...`. */
function fieldError(code: HeraldErrorCode) {
  const make = defineError(code);
  return (field: string, problem: string, cause?: unknown) => make(`${field}: ${problem}`, { field, ...(cause === undefined ? {} : { cause }) });
}

/** A bad value in one named input field (422): the message names the field and the fix. */
export const invalidField = fieldError("HERALD_ERR_VALIDATION");
/** A request that cannot be read as asked (400), naming the field. */
export const badRequest = fieldError("HERALD_ERR_BAD_REQUEST");
/** The input is too large (413), naming the field. */
export const tooLarge = fieldError("HERALD_ERR_PAYLOAD_TOO_LARGE");
/** A state conflict (409), naming the field. */
export const conflict = fieldError("HERALD_ERR_CONFLICT");
/** An event id reused outside its idempotency window or by another tenant (409). */
export const eventIdConflict = fieldError("HERALD_ERR_EVENT_ID_CONFLICT");
/** A webhook URL that resolves to a refused address (422). */
export const privateTarget = fieldError("HERALD_ERR_PRIVATE_TARGET");
/** Bad configuration: one line naming the variable and the fix. */
export const configError = fieldError("HERALD_ERR_CONFIG");
/** Missing or wrong credentials (401), naming the header. */
export const unauthorized = fieldError("HERALD_ERR_UNAUTHORIZED");
/** Authenticated but not allowed (403), naming the header. */
export const forbidden = fieldError("HERALD_ERR_FORBIDDEN");
/** The engine cannot do this now (503). */
export const notRunning = defineError("HERALD_ERR_NOT_RUNNING");
/**
 * The store cannot write now (disk full, read-only, its file deleted or replaced, connection
 * lost): nothing was accepted, and the caller should retry after `retryAfterSeconds` (503).
 */
export const storeUnavailable = (message: string, cause?: unknown) =>
  new HeraldError("HERALD_ERR_STORE_UNAVAILABLE", message, cause === undefined ? {} : { cause });
/** Seconds a caller is told to wait (Retry-After) after HERALD_ERR_STORE_UNAVAILABLE. */
export const STORE_RETRY_AFTER_SECONDS = 5;
/** A broken invariant inside Herald (500); never bad input. */
export const internalError = defineError("HERALD_ERR_INTERNAL");

/** One "not found" per kind; another tenant's id answers exactly as an unknown one. */
export const notFound = {
  /** `hint` says where such a webhook is found instead (an Identus route given a /v1 webhook's id). */
  webhook: (id: string, hint?: string) =>
    new HeraldError("HERALD_ERR_WEBHOOK_NOT_FOUND", `webhook ${id} not found${hint ? `; ${hint}` : ""}`, { field: "id" }),
  event: (id: string) => new HeraldError("HERALD_ERR_EVENT_NOT_FOUND", `event ${id} not found`, { field: "id" }),
  delivery: (id: string) => new HeraldError("HERALD_ERR_DELIVERY_NOT_FOUND", `delivery ${id} not found`, { field: "id" }),
  /** `field` is where the id came from: a path id, or `tenantId` in a body or query. */
  tenant: (id: string, field = "id") =>
    new HeraldError("HERALD_ERR_TENANT_NOT_FOUND", `${field === "id" ? "" : `${field}: `}tenant ${id} not found`, { field }),
  apiKey: (id: string) => new HeraldError("HERALD_ERR_API_KEY_NOT_FOUND", `API key ${id} not found or already revoked`, { field: "id" }),
  eventType: (name: string) => new HeraldError("HERALD_ERR_EVENT_TYPE_NOT_FOUND", `event type ${name} not found`, { field: "name" }),
  recovery: (id: string, field = "id") => new HeraldError("HERALD_ERR_NOT_FOUND", `recovery ${id} not found`, { field }),
};

/** `86_400_000` → `24 h`, `90_000` → `90 s`: windows and delays as people write them. */
export function formatDuration(ms: number): string {
  if (ms % 86_400_000 === 0 && ms >= 2 * 86_400_000) return `${ms / 86_400_000} days`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms % 1_000 === 0) return `${ms / 1_000} s`;
  return `${ms} ms`;
}
