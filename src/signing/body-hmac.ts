import { createHmac } from "node:crypto";

/** Seed 003/004's scheme: `sha256=<hex HMAC-SHA256 of the raw body>` in `X-Webhook-Signature` (or a chosen header). */
export const DEFAULT_HMAC_HEADER = "X-Webhook-Signature";

export function signBodyHmac(secret: string, body: string): string {
  return "sha256=" + createHmac("sha256", secret).update(body).digest("hex");
}
