/**
 * Subscription patterns: an exact event type (`agent.started`), `*` for every type, or a
 * prefix wildcard (`agent.*`, matching `agent.started` and `agent.task.done` but not `agent`).
 */
import { invalidField } from "../errors.js";

const EVENT_TYPE = /^[A-Za-z0-9_\-:]+(\.[A-Za-z0-9_\-:]+)*$/;
const PREFIX_PATTERN = /^([A-Za-z0-9_\-:]+(\.[A-Za-z0-9_\-:]+)*)\.\*$/;
export const MAX_EVENT_TYPE_LENGTH = 200;

export function isValidEventType(type: string): boolean {
  return type.length > 0 && type.length <= MAX_EVENT_TYPE_LENGTH && EVENT_TYPE.test(type);
}

export function assertEventType(type: unknown, field = "type"): asserts type is string {
  if (typeof type !== "string" || !isValidEventType(type)) {
    throw invalidField(
      field,
      `must be an event type of letters, digits, '_', '-', ':' in dot-separated parts (e.g. "agent.started"), at most ${MAX_EVENT_TYPE_LENGTH} characters`,
    );
  }
}

export function isValidEventPattern(pattern: string): boolean {
  return pattern === "*" || isValidEventType(pattern) || PREFIX_PATTERN.test(pattern);
}

export function assertEventPatterns(patterns: unknown, field = "events"): asserts patterns is string[] {
  if (!Array.isArray(patterns) || patterns.length === 0) {
    throw invalidField(field, `must be a non-empty array of event types or patterns, e.g. ["agent.*", "custom"] or ["*"]`);
  }
  patterns.forEach((pattern, i) => {
    if (typeof pattern !== "string" || !isValidEventPattern(pattern)) {
      throw invalidField(
        `${field}[${i}]`,
        `${JSON.stringify(pattern)} is not an event pattern: use an exact type ("agent.started"), a prefix wildcard ("agent.*") or "*"`,
      );
    }
  });
}

/**
 * Herald's own operational events. `*` does not match them: a receiver that takes "everything"
 * from a producer (Identus's global webhook) must not start getting Herald's housekeeping.
 * Subscribe to them by name or prefix (`webhook.*`, `delivery.exhausted`).
 */
export const SYSTEM_EVENT_TYPES = [
  "webhook.created", "webhook.disabled", "delivery.exhausted", "api.key.created", "api.key.revoked",
  "api.limit.exceeded", "system.health.degraded", "system.health.restored",
] as const;
export type SystemEventType = (typeof SYSTEM_EVENT_TYPES)[number];

const SYSTEM_EVENTS: ReadonlySet<string> = new Set(SYSTEM_EVENT_TYPES);

/** Herald's own event types (system events and test sends), whose payloads Herald shapes. */
export function isHeraldEventType(type: string): boolean {
  return SYSTEM_EVENTS.has(type) || type === "webhook.test";
}

export function matchesEventType(patterns: readonly string[], type: string): boolean {
  for (const pattern of patterns) {
    if (pattern === type || (pattern === "*" && !SYSTEM_EVENTS.has(type))) return true;
    if (pattern.endsWith(".*") && type.startsWith(pattern.slice(0, -1))) return true;
  }
  return false;
}
