/**
 * Released migrations are append-only (graphile-worker's rule): a database that applied
 * 000002 must never meet a different 000002. Every migration file is pinned here by sha256; a
 * new migration is added to the list when it is released, and a changed one fails.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { POSTGRES_MIGRATIONS_DIR } from "../../src/store/postgres/migrate.js";
import { SQLITE_MIGRATIONS_DIR } from "../../src/store/sqlite/migrate.js";

const RELEASED: Record<string, string> = {
  "sqlite/000001_init.sql": "d8f1b83cd3099dad5c957d21d62c609b247ee3d57e2c5e6f3ab2b086c275107a",
  "sqlite/000002_delivery_policy.sql": "c4b9fe14441aeb207c00fb0521309a081f3bb87aca0c29f583872f7a690898cf",
  "sqlite/000003_shared_rate_limit.sql": "6356c59044f6d1aa7beb0475c8898f5d6b5049aa1fe44ed45c8a162dd461f48a",
  "sqlite/000004_claim_window_index.sql": "98df91d9c1977471e1218437a200bad3d375f5fd47060d01287afb74ffe2b36a",
  "sqlite/000005_svix_fields.sql": "c455df6c0ae6c9ca2a51cd545daa28b792faca53ccc9b31e5f0e26accdc32e1f",
  "sqlite/000006_payload_filters.sql": "e7329e5d1898779db1f97f742ec225e5f7e926eb27cd014e4d4d5af8737b9fa5",
  "sqlite/000007_egress.sql": "9056d049c7598be9ffd2b0488f627f2f686ab39561bc1308164e219a65e0a180",
  "sqlite/000008_trace_context.sql": "341fc541dbc2e932a7493bd48b2dc7ab8ca14d89c8429ca95ec94bba5ad0b68e",
  "sqlite/000009_portal_link_revocations.sql": "e8a9d319c608ae9325a9a4e666e8fff5341902e6619758f9474ceb826c1bb59d",
  "postgres/000001_init.sql": "1c5954f5db99e0a575d382cce2ee14996dca3021b572aecf7ed65d2c61e6f324",
  "postgres/000002_delivery_policy.sql": "4467b80f85020199bef1442e36e36529d5a765191e980eadf8b077d30701c4ae",
  "postgres/000003_shared_rate_limit.sql": "f85ddbab189e1b7c7ce61a196ff25fd8c86124f41d910849343a067738786535",
  "postgres/000004_claim_window_index.sql": "c89d117a6beaed3b4fdc2e958c53a8067cf0d7f851f0d20c9b87c03962229973",
  "postgres/000005_svix_fields.sql": "c455df6c0ae6c9ca2a51cd545daa28b792faca53ccc9b31e5f0e26accdc32e1f",
  "postgres/000006_payload_filters.sql": "e7329e5d1898779db1f97f742ec225e5f7e926eb27cd014e4d4d5af8737b9fa5",
  "postgres/000007_egress.sql": "9056d049c7598be9ffd2b0488f627f2f686ab39561bc1308164e219a65e0a180",
  "postgres/000008_trace_context.sql": "341fc541dbc2e932a7493bd48b2dc7ab8ca14d89c8429ca95ec94bba5ad0b68e",
  "postgres/000009_portal_link_revocations.sql": "e8a9d319c608ae9325a9a4e666e8fff5341902e6619758f9474ceb826c1bb59d",
};

const DIRS = { sqlite: SQLITE_MIGRATIONS_DIR, postgres: POSTGRES_MIGRATIONS_DIR };

/** Every file in each backend's migrations folder, as "backend/name", with its sha256. */
function migrationsOnDisk(): Map<string, string> {
  const files = new Map<string, string>();
  for (const [backend, dir] of Object.entries(DIRS)) {
    for (const name of readdirSync(dir).sort()) {
      files.set(`${backend}/${name}`, createHash("sha256").update(readFileSync(dir + name)).digest("hex"));
    }
  }
  return files;
}

describe("migrations", () => {
  const onDisk = migrationsOnDisk();

  it("a released migration never changes", () => {
    const changed = Object.entries(RELEASED)
      .filter(([file, hash]) => onDisk.get(file) !== hash)
      .map(([file]) =>
        onDisk.has(file)
          ? `migrations/${file} changed: released migrations are append-only; revert it and add a new numbered migration instead`
          : `migrations/${file} is gone: released migrations are append-only; restore it`,
      );
    expect(changed).toEqual([]);
  });

  it("every migration file is pinned here", () => {
    const unpinned = [...onDisk]
      .filter(([file]) => !(file in RELEASED))
      .map(([file, hash]) => `migrations/${file} is new: add "${file}": "${hash}" to RELEASED in test/store/migration-hashes.test.ts`);
    expect(unpinned).toEqual([]);
  });

  it("both backends have the same numbered sequence", () => {
    const numbers = (backend: string) =>
      [...onDisk.keys()].filter((file) => file.startsWith(`${backend}/`)).map((file) => file.slice(backend.length + 1, backend.length + 7));
    expect(numbers("postgres")).toEqual(numbers("sqlite"));
  });
});
