/**
 * What makes the SQLite store unable to write (see ../store-faults.ts): the result codes that
 * say so, and a database file deleted or replaced under the open connection, which SQLite
 * does not notice at all (in WAL mode it keeps writing to the deleted file, and everything
 * written is gone at the next start).
 */
import { statSync } from "node:fs";
import { resolve } from "node:path";
import { type HeraldError, storeUnavailable } from "../../errors.js";
import { storeFaultMessage } from "../store-faults.js";

/** Primary result codes (each also covers its extended codes, SQLITE_IOERR_WRITE...), the cause and the fix. */
const FAULTS: ReadonlyArray<readonly [code: string, what: string, fix: string]> = [
  ["SQLITE_FULL", "the disk is full", "free space and retry"],
  ["SQLITE_IOERR", "the disk reported an I/O error", "check the disk and its file system, then retry"],
  ["SQLITE_READONLY", "the database file is read-only", "make the file, its -wal and -shm files and their folder writable by Herald's user"],
  ["SQLITE_CANTOPEN", "the database file cannot be opened", "check that its folder still exists and is writable by Herald's user"],
  ["SQLITE_CORRUPT", "the database file is corrupt", "restore it from a backup"],
  ["SQLITE_NOTADB", "the database file is not a SQLite database", "restore it from a backup"],
  // Only another process can hold the lock past busy_timeout (5 s): one Herald owns a file.
  ["SQLITE_BUSY", "another process holds the database's write lock", "stop the other process writing to the file"],
];

/** The one mapping of SQLite errors to store faults: the message, or null when `error` is no store fault. */
export function sqliteFault(error: unknown): string | null {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return null;
  const fault = FAULTS.find(([primary]) => code === primary || code.startsWith(`${primary}_`));
  return fault ? storeFaultMessage(fault[1], code, fault[2]) : null;
}

const identity = (file: string): string | null => {
  const stat = statSync(file, { throwIfNoEntry: false });
  return stat ? `${stat.dev}:${stat.ino}` : null;
};

/**
 * The database file and its WAL as opened (device and inode), to tell when either was deleted
 * or replaced: committed transactions live in the WAL until a checkpoint, so losing it loses
 * them too. (The -shm file is rebuilt at the next start and holds no data.) One stat per file
 * per check: the engine checks every second and on /ready, never per write.
 */
export class SqliteFileWatch {
  private readonly files: Array<{ path: string; id: string | null }>;

  constructor(path: string) {
    const file = resolve(path); // as opened, whatever the working folder is later
    this.files = [file, `${file}-wal`].map((name) => ({ path: name, id: identity(name) }));
  }

  /** The fault when a file is gone or is another file than the one opened; null while both are the ones opened. */
  changed(): HeraldError | null {
    for (const file of this.files) {
      const now = identity(file.path);
      file.id ??= now; // a WAL not made yet at open is adopted when it appears
      if (now !== file.id) {
        return storeUnavailable(
          `the database file ${file.path} was deleted or replaced while Herald had it open; writes are refused so nothing is ` +
            "acknowledged that would be lost; move the file back, or restore it and restart Herald",
        );
      }
    }
    return null;
  }
}
