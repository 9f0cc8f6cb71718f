/// <reference lib="dom" />
// page.evaluate callbacks run in the browser; the DOM types describe them.
/**
 * The tenant portal in a real browser against a real server: a link minted by the admin opens the
 * dashboard as that tenant only, its token leaves the address bar and is never sent in a URL, a
 * read-only link shows no write controls, and an expired or changed link says so instead of
 * showing the sign-in form.
 */
import { mkdirSync } from "node:fs";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, SCREENSHOTS, startHerald, startReceiver, watchErrors, type TestHerald, type TestReceiver } from "./harness.js";

const DESKTOP = { width: 1280, height: 800 };

let herald: TestHerald;
let receiver: TestReceiver;
let browser: Browser;
const tenants: Record<"acme" | "globex", { id: string; key: string; webhookId: string }> = {} as never;

async function call(method: string, path: string, headers: Record<string, string>, body?: unknown) {
  const response = await fetch(herald.url + path, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : null) as Record<string, unknown> };
}

const admin = (method: string, path: string, body?: unknown) => call(method, path, { "x-admin-api-key": herald.adminKey }, body);

async function mint(tenantId: string, body: Record<string, unknown> = {}): Promise<{ url: string; token: string; expiresAt: string }> {
  const response = await admin("POST", `/v1/tenants/${tenantId}/portal-links`, body);
  expect(response.status).toBe(201);
  return response.body as { url: string; token: string; expiresAt: string };
}

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  [herald, receiver, browser] = await Promise.all([startHerald(), startReceiver(), launchChromium()]);
  for (const [slug, name] of [["acme", "Acme"], ["globex", "Globex"]] as const) {
    const tenant = await admin("POST", "/v1/tenants", { name });
    const key = (tenant.body.apiKey as { key: string }).key;
    const headers = { authorization: `Bearer ${key}` };
    const webhook = await call("POST", "/v1/webhooks", headers, { name: `${name} hooks`, url: receiver.url, events: ["order.*"] });
    expect(webhook.status).toBe(201);
    expect((await call("POST", "/v1/events", headers, { type: "order.created", data: { by: name } })).status).toBe(202);
    tenants[slug] = { id: tenant.body.id as string, key, webhookId: webhook.body.id as string };
  }
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await herald?.close();
  await receiver?.close();
});

/** Every URL and Referer the page sends, to show the token is in none. */
function watchRequests(page: Page): string[] {
  const sent: string[] = [];
  page.on("request", (request) => sent.push(request.url(), request.headers()["referer"] ?? ""));
  return sent;
}

describe("tenant portal", () => {
  it("a minted link opens the dashboard as its tenant only, and its token leaves the address bar", async () => {
    const link = await mint(tenants.acme.id);
    const context = await browser.newContext({ viewport: DESKTOP });
    const page = await context.newPage();
    const errors = watchErrors(page);
    const sent = watchRequests(page);

    await page.goto(link.url);
    await page.waitForSelector("[data-testid=webhook-table]");
    expect(page.url()).toBe(`${herald.url}/#/webhooks`);
    expect(page.url()).not.toContain(link.token);
    expect(await page.textContent("[data-testid=role]")).toBe("portal");
    expect(await page.textContent("[data-testid=portal-tenant]")).toBe("Acme");
    expect(await page.getAttribute("[data-testid=portal-expiry]", "title")).toBe(new Date(link.expiresAt).toISOString());
    expect(await page.locator("[data-testid=sign-out]").count()).toBe(0);

    const rows = await page.locator("[data-testid=webhook-table] tbody tr").evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-webhook-id")));
    expect(rows).toEqual([tenants.acme.webhookId]);
    expect(await page.textContent("[data-testid=webhook-table]")).not.toContain("Globex");
    // The admin's tenant column is not shown.
    expect(await page.locator("[data-testid=webhook-table] th:has-text('Tenant')").count()).toBe(0);
    await page.waitForFunction(() => !document.querySelector("[data-testid=webhook-table] tbody")?.textContent?.includes("…"));
    await page.screenshot({ path: SCREENSHOTS + "portal.png" });

    await page.click("nav a[data-nav=deliveries]");
    await page.waitForSelector("[data-testid=delivery-table]");
    const deliveries = await page.locator("[data-testid=delivery-table] tbody tr").count();
    expect(deliveries).toBeGreaterThan(0);
    expect(await page.textContent("[data-testid=delivery-table]")).toContain("Acme hooks");
    expect(await page.textContent("[data-testid=delivery-table]")).not.toContain("Globex hooks");

    // Another tenant's webhook, by its id in the address: the API answers 404, the page says it could not load.
    await page.goto(`${herald.url}/#/webhooks/${tenants.globex.webhookId}`);
    await page.waitForSelector(".error-panel");
    expect(await page.textContent(".error-panel")).not.toContain("Globex hooks");

    // A reload keeps the session (sessionStorage); the address never held the token again.
    await page.goto(`${herald.url}/#/webhooks`);
    await page.reload();
    await page.waitForSelector(`tr[data-webhook-id="${tenants.acme.webhookId}"]`);
    expect(sent.filter((text) => text.includes(link.token))).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  }, 60_000);

  it("a read-only link shows no control that would write", async () => {
    const link = await mint(tenants.acme.id, { readOnly: true });
    const context = await browser.newContext({ viewport: DESKTOP });
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(link.url);
    await page.waitForSelector(`tr[data-webhook-id="${tenants.acme.webhookId}"]`);
    expect(await page.textContent("[data-testid=role]")).toBe("portal · read-only");
    expect(await page.isVisible("[data-testid=new-webhook]")).toBe(false);
    expect(await page.isVisible("[data-testid=send-test]")).toBe(false);
    await page.click(`tr[data-webhook-id="${tenants.acme.webhookId}"] a`);
    await page.waitForSelector("h1:has-text('Acme hooks')");
    expect(await page.isVisible("[data-testid=toggle-paused]")).toBe(false);
    expect(await page.isVisible("button:has-text('Delete')")).toBe(false);
    // On a phone the top bar keeps the tenant and drops the expiry line; nothing scrolls sideways.
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.isVisible("[data-testid=portal-tenant]")).toBe(true);
    expect(await page.isVisible("[data-testid=portal-expiry]")).toBe(false);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    expect(errors).toEqual([]);
    await context.close();
  }, 60_000);

  it("an open page turns into the expiry notice when its link expires, and an expired link opens straight to it", async () => {
    // Long enough to open the page on a busy machine, short enough to wait for.
    const link = await mint(tenants.acme.id, { expiresInSeconds: 6 });
    const context = await browser.newContext({ viewport: DESKTOP });
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(link.url);
    await page.waitForSelector(`tr[data-webhook-id="${tenants.acme.webhookId}"]`);
    const notice = page.locator("[data-testid=portal-ended][data-reason=expired]");
    await notice.waitFor({ timeout: 15_000 });
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(link.expiresAt));
    await page.screenshot({ path: SCREENSHOTS + "portal-expired.png" });
    expect(await notice.textContent()).toContain("This link has expired");
    expect(await notice.textContent()).toContain("Ask whoever sent it for a new one");
    expect(await page.locator("#api-key").count()).toBe(0);
    expect(await page.isVisible("#nav")).toBe(false);

    // A fresh tab with the expired link: the notice at once, the token gone from the address bar.
    const fresh = await context.newPage();
    await fresh.goto(link.url);
    await fresh.locator("[data-testid=portal-ended][data-reason=expired]").waitFor();
    expect(fresh.url()).not.toContain(link.token);
    expect(await fresh.locator("#api-key").count()).toBe(0);
    // Leaving the notice offers the ordinary sign-in.
    await fresh.click("button:has-text('Sign in with an API key instead')");
    await fresh.waitForSelector("#api-key");
    expect(errors).toEqual([]);
    await context.close();
  }, 60_000);

  it("a changed link, refused by the server, says it is not valid", async () => {
    const { token } = await mint(tenants.acme.id);
    const [claims, mac] = token.split(".") as [string, string];
    const forged = `${claims}.${mac.startsWith("A") ? "B" : "A"}${mac.slice(1)}`;
    const context = await browser.newContext({ viewport: DESKTOP });
    const page = await context.newPage();
    await page.goto(`${herald.url}/#portal=${forged}`);
    await page.locator("[data-testid=portal-ended][data-reason=invalid]").waitFor({ timeout: 10_000 });
    expect(await page.textContent("[data-testid=portal-ended]")).toContain("This link is not valid");
    expect(await page.locator("#api-key").count()).toBe(0);
    await context.close();
  }, 60_000);
});
