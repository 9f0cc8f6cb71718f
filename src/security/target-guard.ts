/**
 * SSRF guard: webhook URLs may not reach loopback, private, link-local (cloud metadata),
 * CGNAT, ULA and other non-public addresses unless HERALD_ALLOW_PRIVATE_TARGETS is set.
 * Checked twice: when a webhook is created or its URL changed (a friendly early error), and
 * on every connection against the address actually dialled, so a hostname that later
 * re-resolves to a private address (DNS rebinding) is still refused.
 */
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { lookup as dnsLookupAsync } from "node:dns/promises";
import { BlockList, isIP, isIPv4 } from "node:net";
import { buildConnector } from "undici";
import { HeraldError } from "../errors.js";

const RANGES: Array<[name: string, cidr: string]> = [
  ["unspecified (0.0.0.0/8)", "0.0.0.0/8"],
  ["private (10.0.0.0/8)", "10.0.0.0/8"],
  ["CGNAT (100.64.0.0/10)", "100.64.0.0/10"],
  ["loopback (127.0.0.0/8)", "127.0.0.0/8"],
  ["link-local / cloud metadata (169.254.0.0/16)", "169.254.0.0/16"],
  ["private (172.16.0.0/12)", "172.16.0.0/12"],
  ["IETF protocol assignments (192.0.0.0/24)", "192.0.0.0/24"],
  ["documentation (192.0.2.0/24)", "192.0.2.0/24"],
  ["private (192.168.0.0/16)", "192.168.0.0/16"],
  ["benchmarking (198.18.0.0/15)", "198.18.0.0/15"],
  ["documentation (198.51.100.0/24)", "198.51.100.0/24"],
  ["documentation (203.0.113.0/24)", "203.0.113.0/24"],
  ["multicast (224.0.0.0/4)", "224.0.0.0/4"],
  ["reserved (240.0.0.0/4)", "240.0.0.0/4"],
  ["unspecified (::/128)", "::/128"],
  ["loopback (::1/128)", "::1/128"],
  ["ULA (fc00::/7)", "fc00::/7"],
  ["link-local (fe80::/10)", "fe80::/10"],
  ["multicast (ff00::/8)", "ff00::/8"],
  ["documentation (2001:db8::/32)", "2001:db8::/32"],
];

const blockLists = RANGES.map(([name, cidr]) => {
  const [network, prefix] = cidr.split("/") as [string, string];
  const list = new BlockList();
  list.addSubnet(network, Number(prefix), isIPv4(network) ? "ipv4" : "ipv6");
  return { name, list, family: isIPv4(network) ? ("ipv4" as const) : ("ipv6" as const) };
});

/** IPv4 embedded in IPv6 forms that route to that IPv4 address: mapped (::ffff:a.b.c.d), NAT64, 6to4. */
function embeddedIPv4(address: string): string | null {
  const lower = address.toLowerCase();
  const mapped = /^(?:::ffff:|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (mapped) return mapped[1]!;
  const hexMapped = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (hexMapped) {
    const high = parseInt(hexMapped[1]!, 16);
    const low = parseInt(hexMapped[2]!, 16);
    return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
  }
  const sixToFour = /^2002:([0-9a-f]{1,4}):([0-9a-f]{1,4}):/.exec(lower);
  if (sixToFour) {
    const high = parseInt(sixToFour[1]!, 16);
    const low = parseInt(sixToFour[2]!, 16);
    return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
  }
  return null;
}

/** The name of the non-public range an IP address falls in, or null for a public address. */
export function nonPublicRange(address: string): string | null {
  const bare = address.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  const family = isIP(bare);
  if (family === 0) return null;
  if (family === 6) {
    const v4 = embeddedIPv4(bare);
    if (v4 !== null) {
      const inner = nonPublicRange(v4);
      return inner === null ? null : `${inner} via IPv4-mapped IPv6`;
    }
  }
  for (const { name, list, family: rangeFamily } of blockLists) {
    if ((family === 4) === (rangeFamily === "ipv4") && list.check(bare, rangeFamily)) return name;
  }
  return null;
}

export interface TargetPolicy {
  allowPrivateTargets: boolean;
  httpsOnly: boolean;
}

export function privateTargetError(host: string, address: string, range: string): HeraldError {
  const shown = host === address ? address : `${host} (${address})`;
  return new HeraldError(
    "HERALD_ERR_PRIVATE_TARGET",
    `url: ${shown} is in the ${range} range, which webhooks may not reach; set HERALD_ALLOW_PRIVATE_TARGETS=true (library: allowPrivateTargets: true) to allow it`,
    { field: "url" },
  );
}

/**
 * The early check, when a URL is saved. A hostname that does not resolve now is accepted:
 * it is checked again, against the address really dialled, on every delivery.
 */
export async function checkTargetUrl(url: string, policy: TargetPolicy): Promise<void> {
  const parsed = new URL(url);
  if (policy.httpsOnly && parsed.protocol !== "https:") {
    throw new HeraldError("HERALD_ERR_VALIDATION", "url: must use https (HERALD_HTTPS_ONLY is set)", { field: "url" });
  }
  if (policy.allowPrivateTargets) return;
  const host = parsed.hostname.replace(/^\[|\]$/g, "");
  if (isIP(host)) {
    const range = nonPublicRange(host);
    if (range) throw privateTargetError(host, host, range);
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
    if (range) throw privateTargetError(host, address, range);
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

/** undici connect option enforcing the policy on every new connection; undefined when private targets are allowed. */
export function guardedConnector(policy: TargetPolicy): buildConnector.connector | undefined {
  if (policy.allowPrivateTargets) return undefined;
  const connect = buildConnector({ lookup: guardedLookup as never });
  return (options, callback) => {
    const host = options.hostname.replace(/^\[|\]$/g, "");
    const range = isIP(host) ? nonPublicRange(host) : null;
    if (range) {
      callback(privateTargetError(host, host, range), null);
      return;
    }
    connect(options, callback);
  };
}
