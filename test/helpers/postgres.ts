/**
 * The PostgreSQL test leg. HERALD_TEST_POSTGRES_URL names a database the tests may connect to
 * (CI creates a fresh, empty one per run); each test file then works in its own database made
 * from it, named after it (`<base>_t<pid>_<random>`) so a crashed run's leftovers are easy to
 * find and drop. In CI the leg is mandatory: a missing URL or an unreachable server fails every
 * PostgreSQL test instead of skipping them.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";

export const POSTGRES_URL_VARIABLE = "HERALD_TEST_POSTGRES_URL";

const isCi = () => process.env.CI === "true" || process.env.CI === "1";

/** The PostgreSQL leg runs when a URL is given, and always in CI. */
export function postgresLegEnabled(): boolean {
  return Boolean(process.env[POSTGRES_URL_VARIABLE]) || isCi();
}

export function basePostgresUrl(): string {
  const url = process.env[POSTGRES_URL_VARIABLE];
  if (!url) {
    throw new Error(
      `${POSTGRES_URL_VARIABLE} is not set, and CI must run the PostgreSQL leg: export ${POSTGRES_URL_VARIABLE}=postgres://postgres@127.0.0.1:5432/<database>`,
    );
  }
  return url;
}

export interface TestDatabase {
  /** Connection string of the fresh database. */
  url: string;
  name: string;
  /** Drops the database, ending any connection still open to it. */
  drop(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = "/" + database;
  return parsed.toString();
}

async function withAdminClient<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const base = basePostgresUrl();
  const client = new pg.Client({ connectionString: base });
  try {
    await client.connect();
  } catch (cause) {
    throw new Error(`cannot reach the test PostgreSQL at ${POSTGRES_URL_VARIABLE}=${base}: ${(cause as Error).message}`, { cause });
  }
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates an empty database for one test file (or one test that runs several processes). */
export async function createTestDatabase(): Promise<TestDatabase> {
  const base = basePostgresUrl();
  const baseName = decodeURIComponent(new URL(base).pathname.slice(1)) || "postgres";
  const name = `${baseName.slice(0, 30)}_t${process.pid}_${randomBytes(4).toString("hex")}`.toLowerCase().replace(/[^a-z0-9_]/g, "_");
  await withAdminClient((client) => client.query(`CREATE DATABASE "${name}"`));
  let dropped = false;
  return {
    url: withDatabase(base, name),
    name,
    async drop() {
      if (dropped) return;
      dropped = true;
      // pool.end() resolves before its sockets have closed: wait for them briefly rather than
      // terminating them (FORCE), which would surface as errors in the stores just closed.
      await withAdminClient(async (client) => {
        for (let tries = 0; tries < 40; tries++) {
          try {
            await client.query(`DROP DATABASE IF EXISTS "${name}"`);
            return;
          } catch (error) {
            if ((error as { code?: string }).code !== "55006") throw error; // 55006: still in use
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        }
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      });
    },
  };
}
