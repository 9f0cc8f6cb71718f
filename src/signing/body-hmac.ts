import { createHmac } from "node:crypto";
import type { HmacSignatureFormat } from "../domain/types.js";

/** Seed 003/004's scheme: `sha256=<hex HMAC-SHA256 of the raw body>` in `X-Webhook-Signature` (or a chosen header). */
export const DEFAULT_HMAC_HEADER = "X-Webhook-Signature";

/**
 * `prefixed` is what seed 003 and seed 004's text document; `hex` exists because seed 004's own
 * Flask and Express receivers compare the bare `hexdigest()` with the header, and so refuse
 * `sha256=<hex>` (test/seeds/agentfactory-receiver.test.ts runs that Flask code).
 */
export const HMAC_SIGNATURE_FORMATS: readonly HmacSignatureFormat[] = ["prefixed", "hex"];

export function signBodyHmac(secret: string, body: string, format: HmacSignatureFormat = "prefixed"): string {
  const hex = createHmac("sha256", secret).update(body).digest("hex");
  return format === "hex" ? hex : `sha256=${hex}`;
}
