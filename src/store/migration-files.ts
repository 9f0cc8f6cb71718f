import { readdirSync, readFileSync } from "node:fs";

/** Numbered, append-only migrations (000001_init.sql, ...): one folder per backend, the same numbers in each. */
export function listMigrations(dir: string): Array<{ version: number; name: string; sql: string }> {
  return readdirSync(dir)
    .filter((name) => /^\d{6}_.*\.sql$/.test(name))
    .sort()
    .map((name) => ({ version: Number(name.slice(0, 6)), name, sql: readFileSync(dir + name, "utf8") }));
}
