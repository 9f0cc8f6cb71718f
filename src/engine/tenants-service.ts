/** Tenants: isolated customer spaces (the seeds' wallets). */
import { uuidv7 } from "../domain/ids.js";
import { assertStorableText } from "../domain/json-limits.js";
import { ALL_TENANTS, type Tenant } from "../domain/types.js";
import { checkUid } from "../domain/webhook-input.js";
import { conflict, invalidField, notFound } from "../errors.js";
import type { EngineContext } from "./context.js";

export interface TenantInput {
  id?: string;
  name: string;
  /** The caller's own id for the tenant (Svix's application uid), unique across tenants. */
  uid?: string | null;
  metadata?: Record<string, string>;
}

export interface TenantService {
  create(input: TenantInput): Promise<Tenant>;
  /** Changes the fields given; the id stays. */
  update(id: string, patch: Partial<Omit<TenantInput, "id">>): Promise<Tenant>;
  /** Creates the tenant unless it exists; `created` says which (the environment bootstrap). */
  ensure(input: { id: string; name: string }): Promise<{ created: boolean }>;
  get(id: string): Promise<Tenant>;
  /** The tenant with this uid. */
  getByUid(uid: string): Promise<Tenant>;
  list(): Promise<Tenant[]>;
  /** Deletes the tenant with its webhooks, events, deliveries, keys and event types. */
  delete(id: string): Promise<void>;
}

/** A tenant's id and name are stored as given: both stores must keep them unchanged. */
function assertTenantText(input: { id?: string; name?: string }): void {
  if (input.id !== undefined) assertStorableText(input.id, "id");
  if (input.id === ALL_TENANTS) throw invalidField("id", `${ALL_TENANTS} stands for every tenant; choose another id`);
  if (input.name !== undefined) assertStorableText(input.name, "name");
}

function checkTenantMetadata(value: unknown): Record<string, string> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalidField("metadata", "must be an object of strings");
  for (const [key, text] of Object.entries(value)) {
    if (typeof text !== "string") throw invalidField(`metadata.${key}`, "must be a string");
    assertStorableText(key, "metadata");
    assertStorableText(text, `metadata.${key}`);
  }
  if (JSON.stringify(value).length > 16_384) throw invalidField("metadata", "must be at most 16 KiB as JSON");
  return value as Record<string, string>;
}

export function makeTenantService(ctx: EngineContext): TenantService {
  const { store } = ctx;

  async function assertUidFree(uid: string | null, except?: string): Promise<void> {
    if (uid === null) return;
    const holder = await store.getTenantByUid(uid);
    if (holder && holder.id !== except) throw conflict("uid", `tenant ${holder.id} already has uid ${uid}; choose another uid`);
  }

  return {
    async create(input) {
      assertTenantText(input);
      const now = Date.now();
      const uid = input.uid === undefined ? null : checkUid(input.uid);
      const tenant: Tenant = {
        id: input.id ?? uuidv7(), name: input.name, uid, metadata: input.metadata === undefined ? {} : checkTenantMetadata(input.metadata), createdAt: now, updatedAt: now,
      };
      await assertUidFree(uid);
      if (!(await store.insertTenant(tenant))) throw conflict("id", `tenant ${tenant.id} already exists`);
      return tenant;
    },
    async update(id, patch) {
      assertTenantText({ ...(patch.name !== undefined ? { name: patch.name } : {}) });
      const current = await store.getTenant(id);
      if (!current) throw notFound.tenant(id);
      const next: Tenant = { ...current, updatedAt: Date.now() };
      if (patch.name !== undefined) next.name = patch.name;
      if (patch.uid !== undefined) next.uid = checkUid(patch.uid);
      if (patch.metadata !== undefined) next.metadata = checkTenantMetadata(patch.metadata);
      await assertUidFree(next.uid ?? null, id);
      if (!(await store.updateTenant(next))) throw notFound.tenant(id);
      return next;
    },
    async getByUid(uid) {
      const tenant = await store.getTenantByUid(uid);
      if (!tenant) throw notFound.tenant(uid);
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
