import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/**
 * Reads a secret kept in the data folder, or makes it on first start: written with 0600
 * permissions, never overwritten. `created` tells the caller to print it once.
 */
export function readOrCreateSecretFile(path: string, generate: () => string): { value: string; created: boolean } {
  if (existsSync(path)) return { value: readFileSync(path, "utf8").trim(), created: false };
  mkdirSync(dirname(path), { recursive: true });
  const value = generate();
  try {
    writeFileSync(path, value + "\n", { mode: 0o600, flag: "wx" });
  } catch (error) {
    // Another process made it first: use theirs.
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return { value: readFileSync(path, "utf8").trim(), created: false };
    throw error;
  }
  chmodSync(path, 0o600);
  return { value, created: true };
}
