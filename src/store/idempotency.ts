/**
 * Idempotent ingest rules, the same for every store: an event whose id or Idempotency-Key was
 * accepted within the window is the same event; after the window a key may be used again (the
 * earlier event lets go of it), but an id never: it names one event for good.
 */
import { eventIdConflict, formatDuration } from "../errors.js";
import type { IngestRequest } from "./store.js";

export interface EarlierEvent {
  id: string;
  tenant_id: string;
  created_at: number | string;
}

/** The earlier event matched only by a key that has outlived the window: the key is free again. */
export function keyHasExpired(earlier: EarlierEvent, request: IngestRequest): boolean {
  return (
    earlier.id !== request.event.id &&
    earlier.tenant_id === request.event.tenantId &&
    Number(earlier.created_at) < request.event.createdAt - request.idempotencyWindowMs
  );
}

/** Throws when the earlier event cannot stand for this one (another tenant's, or an id reused after the window). */
export function assertSameEvent(earlier: EarlierEvent, request: IngestRequest): void {
  const { event } = request;
  if (earlier.tenant_id !== event.tenantId || Number(earlier.created_at) < event.createdAt - request.idempotencyWindowMs) {
    throw eventIdConflict(
      "id",
      `an event with id ${event.id} was already accepted more than ${formatDuration(request.idempotencyWindowMs)} ago (the idempotency window) or for another tenant; send a new id`,
    );
  }
}
