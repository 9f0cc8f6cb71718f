/**
 * HERALD_NO_PROXY: the hosts the server's proxy is not used for, with the rules curl and most
 * tools share for NO_PROXY. Comma-separated entries, case-insensitive:
 * - `*` alone: no host uses the proxy;
 * - `example.com`, `.example.com` or `*.example.com`: that domain and every name under it;
 * - an IP address (`10.1.2.3`, `[::1]` or `::1`): that address as written in the URL;
 * - a CIDR block (`10.0.0.0/8`, `fd00::/8`): IP addresses in the URL inside it (names are not resolved);
 * - any of the above with `:port`: only that port.
 */
import { isIP } from "node:net";
import ipaddr from "ipaddr.js";

interface Rule {
  /** A domain suffix (lower case, no leading dot), an exact address, or a CIDR block. */
  domain?: string;
  address?: string;
  cidr?: [ipaddr.IPv4 | ipaddr.IPv6, number];
  port: number | null;
}

export interface NoProxy {
  /** Every host bypasses the proxy (`*`). */
  readonly all: boolean;
  readonly rules: readonly Rule[];
}

const DOMAIN = /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/;

/** Parses the list; throws an Error naming the entry that is none of the forms above. */
export function parseNoProxy(text: string): NoProxy {
  const rules: Rule[] = [];
  let all = false;
  for (const raw of text.split(",")) {
    const entry = raw.trim().toLowerCase();
    if (entry === "") continue;
    if (entry === "*") {
      all = true;
      continue;
    }
    rules.push(parseEntry(entry));
  }
  return { all, rules };
}

function parseEntry(entry: string): Rule {
  let host = entry;
  let port: number | null = null;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (bracketed) {
    host = bracketed[1]!;
    port = bracketed[2] === undefined ? null : Number(bracketed[2]);
  } else if (isIP(entry) !== 6 && !entry.includes("/") && /:\d+$/.test(entry)) {
    const at = entry.lastIndexOf(":");
    host = entry.slice(0, at);
    port = Number(entry.slice(at + 1));
  }
  if (port !== null && (port < 1 || port > 65_535)) throw new Error(`${JSON.stringify(entry)}: port must be 1 to 65535`);
  if (host.includes("/")) {
    try {
      return { cidr: ipaddr.parseCIDR(host), port };
    } catch {
      throw new Error(`${JSON.stringify(entry)} is not a CIDR block such as 10.0.0.0/8`);
    }
  }
  if (isIP(host)) return { address: ipaddr.parse(host).toNormalizedString(), port };
  const domain = host.replace(/^\*?\./, "");
  if (!DOMAIN.test(domain)) throw new Error(`${JSON.stringify(entry)} is not a host name, domain, IP address or CIDR block`);
  return { domain, port };
}

/** Whether a request to `hostname:port` (as in the URL; IPv6 with or without brackets) goes direct. */
export function bypassesProxy(noProxy: NoProxy, hostname: string, port: number): boolean {
  if (noProxy.all) return true;
  if (noProxy.rules.length === 0) return false;
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase().replace(/\.$/, "");
  const ip = isIP(host) ? ipaddr.parse(host) : null;
  const address = ip?.toNormalizedString();
  for (const rule of noProxy.rules) {
    if (rule.port !== null && rule.port !== port) continue;
    if (rule.domain !== undefined && ip === null && (host === rule.domain || host.endsWith(`.${rule.domain}`))) return true;
    if (rule.address !== undefined && address === rule.address) return true;
    if (rule.cidr !== undefined && ip !== null && ip.kind() === rule.cidr[0].kind() && ip.match(rule.cidr)) return true;
  }
  return false;
}
