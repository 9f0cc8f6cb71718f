/** Tenants: isolated customer spaces (the seeds' wallets). */
import { uuidv7 } from "../domain/ids.js";
import { assertStorableText } from "../domain/json-limits.js";
import type { Tenant } from "../domain/types.js";
import { conflict, notFound } from "../errors.js";
import type { EngineContext } from "./context.js";

export interface TenantService {
  create(input: { id?: string; name: string }): Promise<Tenant>;
  /** Creates the tenant unless it exists; `created` says which (the environment bootstrap). */
  ensure(input: { id: string; name: string }): Promise<{ created: boolean }>;
  get(id: string): Promise<Tenant>;
  list(): Promise<Tenant[]>;
  /** Deletes the tenant with its webhooks, events, deliveries, keys and event types. */
  delete(id: string): Promise<void>;
}

/** A tenant's id and name are stored as given: both stores must keep them unchanged. */
function assertTenantText(input: { id?: string; name: string }): void {
  if (input.id !== undefined) assertStorableText(input.id, "id");
  assertStorableText(input.name, "name");
}

export function makeTenantService(ctx: EngineContext): TenantService {
  const { store } = ctx;
  return {
    async create(input) {
      assertTenantText(input);
      const tenant: Tenant = { id: input.id ?? uuidv7(), name: input.name, createdAt: Date.now() };
      if (!(await store.insertTenant(tenant))) throw conflict("id", `tenant ${tenant.id} already exists`);
      return tenant;
    },
    async ensure(input) {
      assertTenantText(input);
      return { created: await store.insertTenant({ ...input, createdAt: Date.now() }) };
    },
    async get(id) {
      const tenant = await store.getTenant(id);
      if (!tenant) throw notFound.tenant(id);
      return tenant;
    },
    list: () => store.listTenants(),
    async delete(id) {
      if (!(await store.deleteTenant(id))) throw notFound.tenant(id);
      ctx.ingest.forgetTenant(id);
      ctx.webhookCache.clear();
    },
  };
}
