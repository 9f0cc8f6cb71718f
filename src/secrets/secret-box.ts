import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { configError, internalError } from "../errors.js";

/**
 * AES-256-GCM sealing of secrets at rest (webhook signing secrets, receiver credentials,
 * custom headers). Sealed text: `v1.<iv b64>.<tag b64>.<ciphertext b64>`.
 */
export interface SecretBox {
  seal(plain: string): string;
  open(sealed: string): string;
}

export function parseMasterKey(text: string, source: string): Buffer {
  const trimmed = text.trim();
  const key = /^[0-9a-f]{64}$/i.test(trimmed) ? Buffer.from(trimmed, "hex") : Buffer.from(trimmed, "base64");
  if (key.length !== 32) {
    throw configError(source, "must be 32 bytes as 64 hex characters or base64 (generate one with: openssl rand -hex 32)");
  }
  return key;
}

export function generateMasterKey(): string {
  return randomBytes(32).toString("hex");
}

export function makeSecretBox(key: Buffer): SecretBox {
  return {
    seal(plain) {
      const iv = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", key, iv);
      const data = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
      return `v1.${iv.toString("base64")}.${cipher.getAuthTag().toString("base64")}.${data.toString("base64")}`;
    },
    open(sealed) {
      const [version, iv, tag, data] = sealed.split(".");
      if (version !== "v1" || iv === undefined || tag === undefined || data === undefined) {
        throw internalError("stored secret is not in the sealed v1 format");
      }
      try {
        const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64"));
        decipher.setAuthTag(Buffer.from(tag, "base64"));
        return Buffer.concat([decipher.update(Buffer.from(data, "base64")), decipher.final()]).toString("utf8");
      } catch (cause) {
        throw configError("HERALD_SECRET_KEY", "cannot decrypt stored secrets with this key; start with the key the data was written with", cause);
      }
    },
  };
}
