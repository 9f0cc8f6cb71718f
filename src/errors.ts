/**
 * The one catalogue of Herald's error codes, each with the HTTP status it maps to.
 * Tests assert on `code`; messages are for people and may change.
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
  HERALD_ERR_NOT_RUNNING: 503,
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

/** A bad value in one named input field: the message names the field and the fix. */
export function invalidField(field: string, problem: string): HeraldError {
  return new HeraldError("HERALD_ERR_VALIDATION", `${field}: ${problem}`, { field });
}

export function isHeraldError(value: unknown): value is HeraldError {
  return value instanceof HeraldError;
}
