import { createHmac, randomBytes } from "node:crypto";
import { LRUCache } from "lru-cache";

/** Standard Webhooks (https://www.standardwebhooks.com) signing, as `standardwebhooks` and `svix` verify it. */
const SECRET_PREFIX = "whsec_";

export function generateSigningSecret(): string {
  return SECRET_PREFIX + randomBytes(24).toString("base64");
}

export function isSigningSecret(value: string): boolean {
  if (!value.startsWith(SECRET_PREFIX)) return false;
  const key = Buffer.from(value.slice(SECRET_PREFIX.length), "base64");
  return key.length >= 16 && key.length <= 64;
}

/** Decoded keys, one per secret in use: decoding the base64 secret was a third of each signature's cost. */
const decodedKeys = new LRUCache<string, Buffer>({ max: 10_000 });

function secretKey(secret: string): Buffer {
  let key = decodedKeys.get(secret);
  if (key === undefined) {
    key = Buffer.from(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret, "base64");
    decodedKeys.set(secret, key);
  }
  return key;
}

/** One `v1,<base64>` signature of `{id}.{timestamp}.{body}`. */
export function signStandardWebhook(secret: string, id: string, timestampSeconds: number, body: string): string {
  const mac = createHmac("sha256", secretKey(secret)).update(`${id}.${timestampSeconds}.`).update(body).digest("base64");
  return `v1,${mac}`;
}

/** The `webhook-signature` header: one signature per secret, space-separated (rotation grace period). */
export function standardSignatureHeader(secrets: readonly string[], id: string, timestampSeconds: number, body: string): string {
  return secrets.map((secret) => signStandardWebhook(secret, id, timestampSeconds, body)).join(" ");
}
