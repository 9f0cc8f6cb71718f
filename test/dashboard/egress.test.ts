/// <reference lib="dom" />
// page.evaluate callbacks run in the browser; the DOM types describe them.
/**
 * The dashboard shows a webhook's egress settings (issue 14) in a real browser: its proxy with the
 * password masked and its client certificate's subject and expiry, never the key.
 */
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixture } from "../helpers/tls-receiver.js";
import { launchChromium, startHerald, type TestHerald } from "./harness.js";

let herald: TestHerald;
let browser: Browser;

beforeAll(async () => {
  [herald, browser] = await Promise.all([startHerald({ role: "api" }), launchChromium()]);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await herald?.close();
});

describe("dashboard egress settings", () => {
  it("the webhook page lists the masked proxy and the client certificate", async () => {
    const created = await herald.api("POST", "/v1/webhooks", {
      url: "https://example.com/hook", name: "mTLS receiver", proxyUrl: "http://egress:dash-pass-1@127.0.0.1:3128",
      tls: { clientCert: fixture("client.pem"), clientKey: fixture("client.key") },
    });
    expect(created.status).toBe(201);
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(herald.url + "/");
    await page.fill("#api-key", herald.tenantKey);
    await page.click("button[type=submit]");
    await page.waitForSelector("[data-testid=role]");
    await page.goto(`${herald.url}/#/webhooks/${encodeURIComponent(created.body.id as string)}`);
    await page.waitForSelector("details.settings");
    await page.click("details.settings summary");
    const settings = await page.$eval("details.settings", (element) => (element as HTMLElement).innerText);
    expect(settings).toContain("http://egress:****@127.0.0.1:3128");
    expect(settings).toMatch(/mTLS\s+CN=herald-test-client, valid to /);
    expect(await page.content()).not.toMatch(/dash-pass-1|BEGIN/);
    expect(errors).toEqual([]);
    await page.close();
  });
});
