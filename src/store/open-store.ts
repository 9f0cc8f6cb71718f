import { dirname, resolve } from "node:path";
import { configError } from "../errors.js";
import type { SecretBox } from "../secrets/secret-box.js";
import { PostgresStore } from "./postgres/postgres-store.js";
import { SqliteStore } from "./sqlite/sqlite-store.js";
import type { Store } from "./store.js";

export const DEFAULT_DATABASE_URL = "sqlite:./data/herald.db";

export interface ParsedDatabaseUrl {
  backend: "sqlite" | "postgres";
  /** SQLite: the file path (or ":memory:"); PostgreSQL: the connection string. */
  target: string;
  /** Where generated keys live: the SQLite file's folder; for PostgreSQL, ./data. */
  dataDir: string | null;
}

export function parseDatabaseUrl(url: string): ParsedDatabaseUrl {
  if (url.startsWith("sqlite:")) {
    const path = url.slice("sqlite:".length).replace(/^\/\/(?=\/)/, "");
    if (path === "") throw configError("HERALD_DATABASE_URL", "sqlite: needs a file path, e.g. sqlite:./data/herald.db");
    if (path === ":memory:") return { backend: "sqlite", target: path, dataDir: null };
    const file = resolve(path);
    return { backend: "sqlite", target: file, dataDir: dirname(file) };
  }
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) {
    return { backend: "postgres", target: url, dataDir: resolve("./data") };
  }
  throw configError("HERALD_DATABASE_URL", `${JSON.stringify(url)} is not a database URL; use sqlite:<path> or postgres://user@host/db`);
}

/** `onError`: connection problems that fail no call (PostgreSQL: an idle connection dropped, a lost LISTEN). */
export async function openStore(url: ParsedDatabaseUrl, secretBox: SecretBox, onError?: (error: unknown, context: string) => void): Promise<Store> {
  if (url.backend === "sqlite") return new SqliteStore({ path: url.target, secretBox });
  return PostgresStore.open({ connectionString: url.target, secretBox, ...(onError ? { onError } : {}) });
}
