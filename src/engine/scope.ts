/** Who a call acts for: the scope every service method takes, and how it resolves. */
import { invalidField } from "../errors.js";

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
