/**
 * A Herald engine on a fresh store for one test, closed in afterEach. `openEngine` leaves
 * nothing behind: temp folders are removed and a test that forgets to close fails loudly
 * through `closeEngines`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHerald, type Herald, type HeraldOptions } from "../../src/index.js";

const open: Array<{ herald: Herald; dir: string }> = [];

export function tempDir(prefix = "herald-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function openEngine(options: HeraldOptions = {}): Promise<Herald> {
  const dir = tempDir();
  const herald = await createHerald({
    database: `sqlite:${join(dir, "herald.db")}`,
    allowPrivateTargets: true,
    dispatch: { pollIntervalMs: 20 },
    onError: (error, context) => {
      throw new Error(`engine error while ${context}: ${String(error)}`);
    },
    ...options,
  });
  open.push({ herald, dir });
  return herald;
}

export async function closeEngines(): Promise<void> {
  for (const { herald, dir } of open.splice(0)) {
    await herald.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns a value that is not undefined/false, or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    await sleep(20);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}
