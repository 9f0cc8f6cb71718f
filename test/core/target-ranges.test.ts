/** The SSRF guard's address ranges beyond security.test.ts: the IPv6 forms that carry an IPv4 address, and the rarer special ranges. */
import { afterEach, describe, expect, it } from "vitest";
import { createHerald } from "../../src/index.js";
import type { Herald } from "../../src/herald.js";
import { nonPublicRange } from "../../src/security/target-guard.js";

let herald: Herald | null = null;
afterEach(async () => {
  await herald?.close();
  herald = null;
});

async function refusal(url: string): Promise<unknown> {
  herald = await createHerald({ database: "sqlite::memory:", secretKey: "7".repeat(64), allowPrivateTargets: false });
  return herald.webhooks.create({ url }).then(
    () => null,
    (error: unknown) => error,
  );
}

describe("target ranges", () => {
  const refused: Array<[url: string, range: RegExp]> = [
    ["http://[::127.0.0.1]/hook", /IPv4-compatible/],
    ["http://[::7f00:1]/hook", /IPv4-compatible/],
    ["http://[::ffff:0:7f00:1]/hook", /loopback.*IPv4-translated/],
    ["http://[fec0::1]/hook", /site-local/],
    ["http://[100::1]/hook", /discard/],
    ["http://100.64.0.1/hook", /CGNAT/],
    ["http://100.127.255.254/hook", /CGNAT/],
    ["http://169.254.169.254/latest/meta-data", /cloud metadata/],
    ["http://[::ffff:169.254.169.254]/latest/meta-data", /cloud metadata.*IPv4-mapped/],
    ["http://[2002:a9fe:a9fe::1]/hook", /link-local.*6to4/],
    ["http://[2001::1]/hook", /Teredo/],
    ["http://255.255.255.255/hook", /broadcast/],
    ["http://0.0.0.0/hook", /unspecified/],
  ];

  it.each(refused)("creating a webhook to %s is refused naming the %s range", async (url, range) => {
    const error = await refusal(url);
    expect(error).toMatchObject({ code: "HERALD_ERR_PRIVATE_TARGET", field: "url" });
    expect((error as Error).message).toMatch(range);
    expect((error as Error).message).toContain("HERALD_ALLOW_PRIVATE_TARGETS");
  });

  it("public addresses, and IPv6 forms that route to a public IPv4 address, are allowed", () => {
    for (const address of ["93.184.216.34", "2606:4700::1111", "::ffff:93.184.216.34", "64:ff9b::5db8:d822", "2002:5db8:d822::1"]) {
      expect(nonPublicRange(address), address).toBeNull();
    }
  });

  it("IPv6 outside the global unicast 2000::/3 is refused, and a zone id does not hide a link-local address", () => {
    expect(nonPublicRange("4000::1")).toMatch(/2000::\/3/);
    expect(nonPublicRange("fe80::1%eth0")).toMatch(/link-local/);
    expect(nonPublicRange("[::1]")).toMatch(/loopback/);
  });

  it("a hostname is not an address: it is checked once resolved", () => {
    expect(nonPublicRange("localhost")).toBeNull();
    expect(nonPublicRange("0177.0.0.1")).toBeNull();
  });
});
