/**
 * What makes the PostgreSQL store unable to write (see ../store-faults.ts): the SQLSTATEs that
 * say so, and the driver's own errors when the server cannot be reached or the connection drops.
 */
import { storeFaultMessage } from "../store-faults.js";

const UNREACHABLE = "PostgreSQL cannot be reached";
const CHECK_SERVER = "check that the server is up and reachable at HERALD_DATABASE_URL, then retry";

/** SQLSTATE (exact, or a class as its first two characters) → condition name, cause and fix. */
const SQLSTATES: ReadonlyArray<readonly [code: string, name: string, what: string, fix: string]> = [
  ["25006", "read_only_sql_transaction", "the database is read-only (a standby, or default_transaction_read_only is on)",
    "point HERALD_DATABASE_URL at the primary, or make the database writable"],
  ["53100", "disk_full", "the database server's disk is full", "free space on the database server and retry"],
  ["53200", "out_of_memory", "the database server is out of memory", "retry; check the database server's memory"],
  ["53300", "too_many_connections", "PostgreSQL has no connection slot free",
    "raise max_connections, or run fewer processes (each Herald process opens up to 10 connections)"],
  ["53", "insufficient_resources", "the database server ran out of a resource", "check the database server, then retry"],
  ["57P01", "admin_shutdown", "the database server ended the connection (it is shutting down, or an administrator ended it)", "retry once it is up"],
  ["57P02", "crash_shutdown", "the database server crashed", "retry once it is up"],
  ["57P03", "cannot_connect_now", "the database server is starting up or shutting down", "retry once it is up"],
  ["08", "connection_exception", "the connection to PostgreSQL failed", CHECK_SERVER],
];

/** Socket errors node-pg passes through when it cannot reach the server or loses it. */
const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN"]);

/** node-pg's own errors for a connection that dropped or never came (they carry no code). */
const LOST_CONNECTION = /^Connection terminated|^timeout exceeded when trying to connect|connection error and is not queryable/;

/** The one mapping of PostgreSQL errors to store faults: the message, or null when `error` is no store fault. */
export function postgresFault(error: unknown): string | null {
  if (!(error instanceof Error)) return null;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string") {
    if (NETWORK_CODES.has(code)) return storeFaultMessage(UNREACHABLE, code, CHECK_SERVER);
    const state = SQLSTATES.find(([prefix]) => code === prefix || (prefix.length === 2 && code.startsWith(prefix)));
    return state ? storeFaultMessage(state[2], `${code} ${state[1]}`, state[3]) : null;
  }
  return LOST_CONNECTION.test(error.message) ? storeFaultMessage("the connection to PostgreSQL was lost", error.message, CHECK_SERVER) : null;
}
