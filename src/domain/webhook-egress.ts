/**
 * A webhook's egress settings (issue 14): the forward proxy its requests go through and the
 * client certificate it presents to the receiver (mTLS). Checked here, on create and update, so
 * a bad certificate is a 422 naming `tls.clientCert` rather than a failed attempt hours later.
 */
import { X509Certificate, createHash, createPrivateKey, type KeyObject } from "node:crypto";
import { createSecureContext } from "node:tls";
import { invalidField } from "../errors.js";
import { assertStorableText } from "./json-limits.js";
import type { Webhook, WebhookTls } from "./types.js";

/** `proxyUrl: "direct"`: this webhook connects to its receiver itself, whatever HERALD_PROXY_URL says. */
export const DIRECT = "direct";

const MAX_PEM_CHARS = 64 * 1024;
/** A CA bundle may be a whole trust store (Mozilla's is about 220 kB). */
const MAX_CA_CHARS = 512 * 1024;
const TLS_FIELDS = new Set(["clientCert", "clientKey", "passphrase", "ca"]);

/**
 * A proxy URL (`http://` or `https://`, credentials allowed), `"direct"`, or null (the server's
 * HERALD_PROXY_URL). The proxy may be on a private address only where targets may be: that is
 * checked by the webhooks service, like the URL itself.
 */
export function checkProxyUrl(value: unknown, field = "proxyUrl"): string | null {
  if (value === null || value === DIRECT) return value;
  if (typeof value !== "string" || value.length === 0 || value.length > 2048) {
    throw invalidField(field, `must be null (the server's HERALD_PROXY_URL), "${DIRECT}" (no proxy) or an http:// or https:// proxy URL of at most 2048 characters`);
  }
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw invalidField(field, `is not a URL; give http://host:port of a forward proxy, "${DIRECT}" or null`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw invalidField(field, `must use http or https (a forward proxy speaking HTTP CONNECT), not ${parsed.protocol.replace(":", "")}`);
  }
  if ((parsed.pathname !== "/" && parsed.pathname !== "") || parsed.search || parsed.hash) {
    throw invalidField(field, "must be only scheme, optional user:password@, host and port: a proxy URL has no path or query");
  }
  assertStorableText(value, field);
  return value;
}

/** The proxy URL with its password masked, as answers show it; unchanged without credentials. */
export function maskProxyUrl(proxyUrl: string): string {
  if (proxyUrl === DIRECT) return proxyUrl;
  const parsed = new URL(proxyUrl);
  if (!parsed.password) return proxyUrl;
  parsed.password = "****";
  return parsed.href.replace(/\/$/, "");
}

/** A proxy URL without credentials (what is stored in clear) and the `user:password` part (what is sealed). */
export function splitProxyCredentials(proxyUrl: string): { url: string; userinfo: string | null } {
  if (proxyUrl === DIRECT) return { url: proxyUrl, userinfo: null };
  const parsed = new URL(proxyUrl);
  if (!parsed.username && !parsed.password) return { url: proxyUrl, userinfo: null };
  const userinfo = `${parsed.username}:${parsed.password}`;
  parsed.username = "";
  parsed.password = "";
  return { url: parsed.href.replace(/\/$/, ""), userinfo };
}

export function joinProxyCredentials(url: string, userinfo: string | null | undefined): string {
  if (!userinfo) return url;
  const at = url.indexOf("://") + 3;
  return `${url.slice(0, at)}${userinfo}@${url.slice(at)}`;
}

function pemField(tls: Record<string, unknown>, key: string, field: string, max: number): string | undefined {
  const value = tls[key];
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value.length === 0 || value.length > max) {
    throw invalidField(`${field}.${key}`, `must be a PEM text of at most ${max / 1024} KiB`);
  }
  assertStorableText(value, `${field}.${key}`);
  return value;
}

function parseCertificate(pem: string, path: string, what: string): X509Certificate {
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) throw invalidField(path, `is not a PEM certificate (-----BEGIN CERTIFICATE-----); give the ${what} in PEM`);
  try {
    return new X509Certificate(pem);
  } catch (cause) {
    throw invalidField(path, `could not be read as a PEM certificate (${(cause as Error).message}); give the ${what} in PEM`, cause);
  }
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * `{clientCert, clientKey, passphrase?, ca?}`, or `{ca}` alone (trust a private CA for the
 * receiver without presenting a certificate); null removes it. The key must open with the
 * passphrase and match the certificate, and the certificate must be valid now.
 */
export function checkTls(value: unknown, now: number, field = "tls"): WebhookTls | null {
  if (value === null) return null;
  if (typeof value !== "object" || Array.isArray(value)) throw invalidField(field, "must be null or an object {clientCert, clientKey, passphrase?, ca?}");
  const input = value as Record<string, unknown>;
  for (const key of Object.keys(input)) {
    if (!TLS_FIELDS.has(key)) throw invalidField(`${field}.${key}`, `is not a tls field; known fields: ${[...TLS_FIELDS].join(", ")}`);
  }
  const clientCert = pemField(input, "clientCert", field, MAX_PEM_CHARS);
  const clientKey = pemField(input, "clientKey", field, MAX_PEM_CHARS);
  const ca = pemField(input, "ca", field, MAX_CA_CHARS);
  const passphrase = input.passphrase;
  if (passphrase !== undefined && (typeof passphrase !== "string" || passphrase.length === 0 || passphrase.length > 1024)) {
    throw invalidField(`${field}.passphrase`, "must be a non-empty string of at most 1024 characters");
  }
  if (clientCert === undefined && clientKey === undefined && ca === undefined) {
    throw invalidField(field, "give clientCert and clientKey (and ca to trust the receiver's CA), or ca alone; null removes tls");
  }
  if ((clientCert === undefined) !== (clientKey === undefined)) {
    throw invalidField(`${field}.${clientCert === undefined ? "clientCert" : "clientKey"}`, "is required with the other: a client certificate and its private key go together");
  }
  if (clientCert !== undefined && clientKey !== undefined) {
    const cert = parseCertificate(clientCert, `${field}.clientCert`, "client certificate");
    if (Date.parse(cert.validTo) <= now) throw invalidField(`${field}.clientCert`, `expired on ${new Date(cert.validTo).toISOString()}; give a certificate valid now`);
    if (Date.parse(cert.validFrom) > now) throw invalidField(`${field}.clientCert`, `is not valid before ${new Date(cert.validFrom).toISOString()}`);
    let key: KeyObject;
    try {
      key = createPrivateKey(passphrase === undefined ? clientKey : { key: clientKey, passphrase: passphrase as string });
    } catch (cause) {
      const encrypted = /ENCRYPTED/.test(clientKey);
      const problem = encrypted
        ? passphrase === undefined ? "is encrypted; give its passphrase in tls.passphrase" : "could not be opened with tls.passphrase"
        : `could not be read as a PEM private key (${(cause as Error).message})`;
      throw invalidField(encrypted && passphrase !== undefined ? `${field}.passphrase` : `${field}.clientKey`, problem, cause);
    }
    if (!cert.checkPrivateKey(key)) throw invalidField(`${field}.clientKey`, "does not match tls.clientCert: give the private key of that certificate");
  }
  if (ca !== undefined) {
    const blocks = ca.match(PEM_BLOCK) ?? [];
    if (blocks.length === 0) throw invalidField(`${field}.ca`, "holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
    blocks.forEach((block) => parseCertificate(block, `${field}.ca`, "CA certificates"));
  }
  const tls: WebhookTls = {
    ...(clientCert === undefined ? {} : { clientCert, clientKey: clientKey! }),
    ...(passphrase === undefined ? {} : { passphrase: passphrase as string }),
    ...(ca === undefined ? {} : { ca }),
  };
  try {
    createSecureContext(tlsConnectOptions(tls));
  } catch (cause) {
    throw invalidField(field, `cannot be used for TLS: ${(cause as Error).message}`, cause);
  }
  return tls;
}

/** The node:tls options of a webhook's tls settings. */
export function tlsConnectOptions(tls: WebhookTls): { cert?: string; key?: string; passphrase?: string; ca?: string } {
  return {
    ...(tls.clientCert === undefined ? {} : { cert: tls.clientCert, key: tls.clientKey! }),
    ...(tls.passphrase === undefined ? {} : { passphrase: tls.passphrase }),
    ...(tls.ca === undefined ? {} : { ca: tls.ca }),
  };
}

/** One fingerprint per distinct tls setting: what the sender keys its per-certificate agents by. */
export function tlsFingerprint(tls: WebhookTls): string {
  return createHash("sha256").update(JSON.stringify([tls.clientCert ?? "", tls.clientKey ?? "", tls.passphrase ?? "", tls.ca ?? ""])).digest("hex");
}

export interface PublicTls {
  clientCert: { subject: string; issuer: string; validFrom: string; validTo: string; fingerprint256: string; serialNumber: string } | null;
  /** The subjects of the CA certificates trusted for the receiver; null: the system's trust store. */
  ca: string[] | null;
}

/** Answers are built often (lists): each certificate is described once. */
const described = new WeakMap<WebhookTls, PublicTls>();

/** The tls settings as answers show them: what the certificate is, never the key or the PEM. */
export function describeTls(tls: WebhookTls): PublicTls {
  let shown = described.get(tls);
  if (shown !== undefined) return shown;
  const cert = tls.clientCert === undefined ? null : new X509Certificate(tls.clientCert);
  shown = {
    clientCert: cert === null ? null : {
      subject: cert.subject,
      issuer: cert.issuer,
      validFrom: new Date(cert.validFrom).toISOString(),
      validTo: new Date(cert.validTo).toISOString(),
      fingerprint256: cert.fingerprint256,
      serialNumber: cert.serialNumber,
    },
    ca: tls.ca === undefined ? null : (tls.ca.match(PEM_BLOCK) ?? []).map((block) => new X509Certificate(block).subject),
  };
  described.set(tls, shown);
  return shown;
}

/** The egress fields of a webhook as answers show them. */
export function shownEgress(webhook: Pick<Webhook, "proxyUrl" | "tls">): { proxyUrl: string | null; tls: PublicTls | null } {
  return {
    proxyUrl: webhook.proxyUrl ? maskProxyUrl(webhook.proxyUrl) : null,
    tls: webhook.tls ? describeTls(webhook.tls) : null,
  };
}
