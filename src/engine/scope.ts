/** Who a call acts for: the scope every service method takes, and how it resolves. */
import { badRequest, invalidField } from "../errors.js";
import { isUuid } from "../domain/ids.js";

export interface Scope {
  /** undefined: the default tenant; null: global (admin only); a tenant id: that tenant only. */
  tenantId?: string | null;
}

/** The tenant a scope names, the default tenant when it names none, or null for global. */
export function resolveTenant(scope: Scope | undefined, fallback: string): string | null {
  return scope?.tenantId === undefined ? fallback : scope.tenantId;
}

/** The one tenant an event belongs to; global (null) is refused. */
export function eventTenant(scope: Scope | undefined, fallback: string): string {
  const tenant = resolveTenant(scope, fallback);
  if (tenant === null) throw invalidField("tenantId", "an event belongs to one tenant; name it");
  return tenant;
}

/** A list narrowed to one tenant, or to none (`allTenants`, admin). */
export function listTenant(filter: Scope & { allTenants?: boolean }, fallback: string): { tenantId: string } | Record<string, never> {
  if (filter.allTenants) return {};
  const tenant = resolveTenant(filter, fallback);
  return tenant === null ? {} : { tenantId: tenant };
}

/**
 * A page cursor is the id of the previous page's last item, a UUID. Anything else is refused:
 * compared as text it would silently answer an empty or arbitrary page.
 */
export function pageCursor(cursor: string | undefined): { cursor: string } | Record<string, never> {
  if (cursor === undefined || cursor === "") return {};
  if (!isUuid(cursor)) {
    throw badRequest("cursor", `${JSON.stringify(cursor.slice(0, 60))} is not a cursor Herald gave out: pass the previous page's nextCursor unchanged, or leave it out for the first page`);
  }
  return { cursor: cursor.toLowerCase() };
}
