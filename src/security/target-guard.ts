/**
 * SSRF guard: webhook URLs may not reach loopback, private, link-local (cloud metadata),
 * CGNAT, ULA and other non-public addresses unless HERALD_ALLOW_PRIVATE_TARGETS is set, nor
 * a service port such as 22, 6379 or 5432 on any host (HERALD_DENIED_PORTS). Checked twice: when a webhook is created or its URL changed (a friendly early error), and
 * on every connection against the address actually dialled, so a hostname that later
 * re-resolves to a private address (DNS rebinding) is still refused.
 */
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { lookup as dnsLookupAsync } from "node:dns/promises";
import { isIP } from "node:net";
import ipaddr from "ipaddr.js";
import { buildConnector } from "undici";
import { HeraldError, invalidField, privateTarget } from "../errors.js";

/** How each of ipaddr.js's special ranges is named in the refusal; any range it adds later is refused under its own name. */
const IPV4_RANGE_NAMES: Record<string, string> = {
  unspecified: "unspecified (0.0.0.0/8)",
  broadcast: "broadcast (255.255.255.255)",
  multicast: "multicast (224.0.0.0/4)",
  linkLocal: "link-local / cloud metadata (169.254.0.0/16)",
  loopback: "loopback (127.0.0.0/8)",
  carrierGradeNat: "CGNAT (100.64.0.0/10)",
  private: "private (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)",
  reserved: "reserved, documentation or benchmarking (192.0.0.0/24, 192.0.2.0/24, 198.18.0.0/15, 240.0.0.0/4, ...)",
  as112: "AS112 DNS sink (192.175.48.0/24, 192.31.196.0/24)",
  amt: "AMT relay anycast (192.52.193.0/24)",
};

const IPV6_RANGE_NAMES: Record<string, string> = {
  unspecified: "unspecified (::/128)",
  loopback: "loopback (::1/128)",
  linkLocal: "link-local (fe80::/10)",
  multicast: "multicast (ff00::/8)",
  uniqueLocal: "ULA (fc00::/7)",
  deprecatedSiteLocal: "site-local (fec0::/10, deprecated)",
  discard: "discard-only (100::/64)",
  rfc6052: "NAT64 local-use (64:ff9b:1::/48)",
  teredo: "Teredo (2001::/32)",
  benchmarking: "benchmarking (2001:2::/48)",
  amt: "AMT relay anycast (2001:3::/32)",
  as112v6: "AS112 DNS sink (2001:4:112::/48, 2620:4f:8000::/48)",
  deprecatedOrchid: "ORCHID (2001:10::/28, deprecated)",
  orchid2: "ORCHIDv2 (2001:20::/28)",
  droneRemoteIdProtocolEntityTags: "drone remote ID (2001:30::/28)",
  segmentRouting: "SRv6 SIDs (5f00::/16)",
  reserved: "reserved or documentation (2001::/23, 2001:db8::/32, 3fff::/20)",
};

const IPV4_COMPATIBLE = "IPv4-compatible IPv6 (::/96, deprecated)";
const OUTSIDE_GLOBAL_UNICAST = "reserved (outside the global unicast 2000::/3)";

function ipv4From(high: number, low: number): ipaddr.IPv4 {
  return new ipaddr.IPv4([high >> 8, high & 255, low >> 8, low & 255]);
}

function ipv4Range(address: ipaddr.IPv4): string | null {
  const range = address.range();
  return range === "unicast" ? null : (IPV4_RANGE_NAMES[range] ?? range);
}

/**
 * The IPv4 address a packet to this IPv6 address is delivered to, for the forms that carry one
 * the network routes to: IPv4-mapped (::ffff:a.b.c.d, dialled as IPv4 by a dual-stack socket),
 * IPv4-translated (::ffff:0:a.b.c.d, SIIT), NAT64 (64:ff9b::a.b.c.d) and 6to4 (2002:aabb:ccdd::).
 */
function embeddedIPv4(address: ipaddr.IPv6): { via: string; inner: ipaddr.IPv4 } | null {
  const parts = address.parts;
  const at = (i: number) => parts[i] ?? 0;
  switch (address.range()) {
    case "ipv4Mapped":
      return { via: "IPv4-mapped IPv6", inner: address.toIPv4Address() };
    case "rfc6145":
      return { via: "IPv4-translated IPv6", inner: ipv4From(at(6), at(7)) };
    case "rfc6052":
      // Only the well-known /96 puts the IPv4 address in the last 32 bits; the local-use /48 is refused whole.
      return at(2) === 0 && at(3) === 0 && at(4) === 0 && at(5) === 0 ? { via: "NAT64", inner: ipv4From(at(6), at(7)) } : null;
    case "6to4":
      return { via: "6to4", inner: ipv4From(at(1), at(2)) };
    default:
      return null;
  }
}

function ipv6Range(address: ipaddr.IPv6): string | null {
  const embedded = embeddedIPv4(address);
  if (embedded) {
    const inner = ipv4Range(embedded.inner);
    return inner === null ? null : `${inner} via ${embedded.via}`;
  }
  const range = address.range();
  if (range !== "unicast") return IPV6_RANGE_NAMES[range] ?? range;
  const first = address.parts[0] ?? 0;
  // ::a.b.c.d (IPv4-compatible, deprecated by RFC 4291) is "unicast" to ipaddr.js; it is never a real host, and old stacks tunnel it to the IPv4 address inside.
  if (first === 0 && address.parts.slice(1, 6).every((part) => part === 0)) return IPV4_COMPATIBLE;
  // Everything outside 2000::/3 is unassigned by IANA (the special ranges above are named).
  return first >= 0x2000 && first <= 0x3fff ? null : OUTSIDE_GLOBAL_UNICAST;
}

/** The name of the non-public range an IP address falls in, or null for a public address. */
export function nonPublicRange(address: string): string | null {
  const bare = address.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  // isIP first: ipaddr.js also reads forms like 0x7f.1 that no socket is handed as an address.
  if (isIP(bare) === 0) return null;
  const parsed = ipaddr.parse(bare);
  return parsed instanceof ipaddr.IPv4 ? ipv4Range(parsed) : ipv6Range(parsed);
}

export interface TargetPolicy {
  allowPrivateTargets: boolean;
  httpsOnly: boolean;
  /** Ports no webhook may reach, on any host (private ones included). */
  deniedPorts: readonly number[];
}

/**
 * Ports of services that speak something other than HTTP and are the classic SSRF targets
 * (mail, shells, databases, brokers, caches, container and cluster APIs): a receiver never
 * listens there, and a request smuggled to one can do harm.
 */
export const DEFAULT_DENIED_PORTS: readonly number[] = [
  21, 22, 23, 25, 110, 143, 445, 465, 587, 993, 995, 1433, 1521, 2375, 2376, 2379, 3306, 3389, 4222, 5432, 5672, 6379, 9042, 9092, 9200,
  11211, 27017,
];

function portOf(url: URL): number {
  return url.port === "" ? (url.protocol === "https:" ? 443 : 80) : Number(url.port);
}

function deniedPortError(host: string, port: number, field = "url"): HeraldError {
  return privateTarget(
    field,
    `port ${port} on ${host} is a service port webhooks may not reach (HERALD_DENIED_PORTS; library: deniedPorts); point the webhook at the receiver's HTTP port, or remove ${port} from HERALD_DENIED_PORTS`,
  );
}

export function privateTargetError(host: string, address: string, range: string, field = "url"): HeraldError {
  const shown = host === address ? address : `${host} (${address})`;
  return privateTarget(field, `${shown} is in the ${range} range, which webhooks may not reach; set HERALD_ALLOW_PRIVATE_TARGETS=true (library: allowPrivateTargets: true) to allow it`);
}

/**
 * The early check, when a URL is saved (`field` names it in the error: an oauth2 token_url is
 * checked too). A hostname that does not resolve now is accepted: it is checked again, against
 * the address really dialled, on every delivery.
 */
export async function checkTargetUrl(url: string, policy: TargetPolicy, field = "url"): Promise<void> {
  const parsed = new URL(url);
  if (policy.httpsOnly && parsed.protocol !== "https:") {
    throw invalidField(field, "must use https (HERALD_HTTPS_ONLY is set)");
  }
  const host = parsed.hostname.replace(/^\[|\]$/g, "");
  const port = portOf(parsed);
  if (policy.deniedPorts.includes(port)) throw deniedPortError(host, port, field);
  if (policy.allowPrivateTargets) return;
  if (isIP(host)) {
    const range = nonPublicRange(host);
    if (range) throw privateTargetError(host, host, range, field);
    return;
  }
  let addresses: LookupAddress[];
  try {
    addresses = await dnsLookupAsync(host, { all: true, verbatim: true });
  } catch {
    return;
  }
  for (const { address } of addresses) {
    const range = nonPublicRange(address);
    if (range) throw privateTargetError(host, address, range, field);
  }
}

/**
 * The check for a request sent through a forward proxy: the proxy, not Herald, connects to the
 * target, so the guarded lookup never sees its address. The target is resolved here just before
 * the request and refused as a direct connection would be; unlike checkTargetUrl, a name that
 * does not resolve is refused too (the proxy might resolve it to anything).
 */
export async function checkProxiedTarget(host: string, port: number, policy: TargetPolicy, field = "url"): Promise<void> {
  const bare = host.replace(/^\[|\]$/g, "");
  if (policy.deniedPorts.includes(port)) throw deniedPortError(bare, port, field);
  if (policy.allowPrivateTargets) return;
  const addresses = isIP(bare) ? [{ address: bare }] : await dnsLookupAsync(bare, { all: true, verbatim: true });
  for (const { address } of addresses) {
    const range = nonPublicRange(address);
    if (range) throw privateTargetError(bare, address, range, field);
  }
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A dns.lookup that refuses non-public answers: what the socket dials is what was checked. */
function guardedLookup(hostname: string, options: { all?: boolean }, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true, verbatim: true }, (error, addresses) => {
    if (error) return callback(error, []);
    for (const { address } of addresses) {
      const range = nonPublicRange(address);
      if (range) return callback(privateTargetError(hostname, address, range) as unknown as NodeJS.ErrnoException, []);
    }
    if (options.all) return callback(null, addresses);
    const first = addresses[0];
    if (!first) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: "ENOTFOUND" }), []);
    callback(null, first.address, first.family);
  });
}

/** undici connect option enforcing the policy on every new connection; undefined when it would let everything through. */
export function guardedConnector(policy: TargetPolicy, tls?: buildConnector.BuildOptions): buildConnector.connector | undefined {
  if (policy.allowPrivateTargets && policy.deniedPorts.length === 0) return tls === undefined ? undefined : buildConnector(tls);
  const connect = buildConnector({ ...tls, ...(policy.allowPrivateTargets ? {} : { lookup: guardedLookup as never }) });
  const denied = new Set(policy.deniedPorts);
  return (options, callback) => {
    const host = options.hostname.replace(/^\[|\]$/g, "");
    const port = Number(options.port) || (options.protocol === "https:" ? 443 : 80);
    if (denied.has(port)) {
      callback(deniedPortError(host, port), null);
      return;
    }
    const range = !policy.allowPrivateTargets && isIP(host) ? nonPublicRange(host) : null;
    if (range) {
      callback(privateTargetError(host, host, range), null);
      return;
    }
    connect(options, callback);
  };
}
