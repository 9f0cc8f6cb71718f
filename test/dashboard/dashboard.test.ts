/// <reference lib="dom" />
// page.evaluate callbacks run in the browser; the DOM types describe them.
/**
 * The dashboard in a real browser against a real server and receiver (issue 8's "done when"):
 * sign in, create a webhook, trigger an event, watch the delivery appear without a reload,
 * open its attempts and retry the failed one. Screenshots for docs/dashboard.md are taken on the way.
 */
import { mkdirSync } from "node:fs";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, SCREENSHOTS, startHerald, startReceiver, watchErrors, type TestHerald, type TestReceiver } from "./harness.js";

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

let herald: TestHerald;
let receiver: TestReceiver;
let browser: Browser;

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  // The first request fails, so the first delivery (one attempt allowed) ends failed and can be retried.
  [herald, receiver, browser] = await Promise.all([startHerald(), startReceiver([500]), launchChromium()]);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await herald?.close();
  await receiver?.close();
});

async function shoot(page: Page, name: string) {
  // Toasts are transient; they would only hide part of the page in a still picture.
  await page.evaluate(() => document.getElementById("toast")?.setAttribute("hidden", ""));
  await page.screenshot({ path: SCREENSHOTS + name });
}

async function signIn(page: Page, key: string) {
  await page.goto(herald.url + "/");
  await page.fill("#api-key", key);
  await page.click("button[type=submit]");
  await page.waitForSelector("[data-testid=role]");
}

describe("dashboard", () => {
  it("signs in, creates a webhook, shows a new delivery live, opens its attempts and retries the failed one", async () => {
    const context = await browser.newContext({ viewport: DESKTOP });
    const page = await context.newPage();
    const errors = watchErrors(page);

    await signIn(page, herald.tenantKey);
    expect(await page.textContent("[data-testid=role]")).toBe("tenant");

    // Create a webhook that gives up after one attempt, so the receiver's first 500 leaves a failed delivery.
    await page.click("[data-testid=new-webhook]");
    await page.fill("input[name=name]", "Orders receiver");
    await page.fill("input[name=url]", receiver.url);
    await page.fill("input[name=events]", "order.*");
    await page.fill("input[name=maxAttempts]", "1");
    await page.click("[data-testid=save-webhook]");
    const secret = await page.inputValue("dialog .secret-value");
    expect(secret).toMatch(/^whsec_/);
    await page.click("dialog button:has-text('Done')");
    await page.waitForSelector("h1:has-text('Orders receiver')");
    const webhookId = decodeURIComponent(new URL(page.url()).hash.split("/")[2] ?? "");
    expect(webhookId).not.toBe("");

    // Open the live log, then trigger an event from outside the browser: the row must appear without a reload.
    await page.click("nav a[data-nav=deliveries]");
    await page.waitForSelector("[data-testid=no-deliveries]");
    await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
    const accepted = await herald.api("POST", "/v1/events", { type: "order.created", data: { orderId: 42, total: "19.99" } });
    expect(accepted.status).toBe(202);
    const deliveryId: string = accepted.body.deliveries[0];
    const row = page.locator(`tr[data-delivery-id="${deliveryId}"]`);
    await row.locator("[data-state=failed]").waitFor({ timeout: 15_000 });
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    expect(await row.textContent()).toContain("order.created");
    expect(await row.textContent()).toContain("HTTP 500");

    // The delivery's attempts: request with its signature headers, response with a pretty JSON body.
    await row.locator("a").first().click();
    const attempt = page.locator("[data-testid=attempt]").first();
    await attempt.waitFor();
    expect(await attempt.locator("summary").textContent()).toContain("HTTP 500");
    const attemptText = (await attempt.textContent()) ?? "";
    expect(attemptText).toContain("webhook-signature");
    expect(attemptText).toContain("x-receiver");
    expect(await attempt.locator("[data-testid=response-body]").textContent()).toBe(
      JSON.stringify({ error: "temporarily broken", hint: "<b>not markup</b>" }, null, 2),
    );
    // Response text is shown as text, never parsed as HTML.
    expect(await page.locator("[data-testid=attempts] b").count()).toBe(0);
    await shoot(page, "delivery-failed.png");

    // Retry: the receiver now answers 200 and the page updates itself.
    await page.click("[data-testid=retry-delivery]");
    await page.locator("dd[data-field=State] [data-state=succeeded]").waitFor({ timeout: 15_000 });
    await page.locator("[data-testid=attempt]").nth(1).waitFor();
    expect(await page.locator("[data-testid=attempt]").first().locator("summary").textContent()).toContain("HTTP 200");
    expect(receiver.received).toHaveLength(2);
    const state = await herald.api("GET", `/v1/deliveries/${deliveryId}`);
    expect(state.body.status).toBe("succeeded");
    expect(state.body.attempts).toHaveLength(2);
    await shoot(page, "delivery-attempts.png");

    // The webhook's page: send a test event from the UI and see the receiver's answer.
    await page.goto(`${herald.url}/#/webhooks/${encodeURIComponent(webhookId)}`);
    // The retried delivery: one failed attempt, no failed delivery, each named as what it counts.
    expect(await page.textContent("[data-testid=stat-failed-attempts]")).toBe("1Failed attempts");
    expect(await page.textContent("[data-testid=stat-failed-deliveries]")).toBe("0Failed deliveries");
    await page.click("[data-testid=send-test]");
    await page.waitForSelector("#toast:has-text('answered HTTP 200')");
    expect(receiver.received.at(-1)?.headers["x-webhook-event"]).toBe("webhook.test");
    await page.waitForSelector("[data-testid=chart-success] svg");
    await page.waitForSelector("[data-testid=chart-latency] svg");

    await page.click("nav a[data-nav=webhooks]");
    await page.waitForSelector(`tr[data-webhook-id="${webhookId}"]`);
    await page.waitForFunction((id) => !document.querySelector(`tr[data-webhook-id="${id}"]`)?.textContent?.includes("…"), webhookId);
    expect(await page.textContent(`tr[data-webhook-id="${webhookId}"]`)).toContain("100%");

    await page.click("nav a[data-nav=deliveries]");
    await page.waitForSelector("[data-testid=delivery-table]");

    await page.click("nav a[data-nav=events]");
    await page.waitForSelector("[data-testid=event-table] .fan-out");

    // The same pages on a phone.
    await page.setViewportSize(PHONE);
    await page.goto(`${herald.url}/#/deliveries`);
    await page.waitForSelector("[data-testid=delivery-table]");
    await shoot(page, "phone-deliveries.png");
    await page.goto(`${herald.url}/#/deliveries/${encodeURIComponent(deliveryId)}`);
    await page.waitForSelector("[data-testid=attempt]");
    await shoot(page, "phone-delivery.png");
    // Nothing should force sideways scrolling of the whole page on a phone.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);

    expect(errors).toEqual([]);
    await context.close();
  }, 90_000);

  it("pauses, resumes, edits, rotates the secret of and deletes a webhook, asking before it deletes", async () => {
    const created = await herald.api("POST", "/v1/webhooks", { name: "Lifecycle", url: receiver.url, events: ["lifecycle.*"] });
    const id: string = created.body.id;
    const context = await browser.newContext({ viewport: DESKTOP });
    const page = await context.newPage();
    const errors = watchErrors(page);
    await signIn(page, herald.tenantKey);
    await page.goto(`${herald.url}/#/webhooks/${encodeURIComponent(id)}`);

    await page.click("[data-testid=toggle-paused]:has-text('Pause')");
    await page.waitForSelector("h1 [data-state=inactive]");
    expect((await herald.api("GET", `/v1/webhooks/${id}`)).body.status).toBe("inactive");
    await page.click("[data-testid=toggle-paused]:has-text('Resume')");
    await page.waitForSelector("h1 [data-state=active]");

    await page.click("a:has-text('Edit')");
    await page.fill("input[name=name]", "Lifecycle renamed");
    await page.fill("input[name=events]", "lifecycle.*, audit.created");
    await page.click("[data-testid=save-webhook]");
    await page.waitForSelector("h1:has-text('Lifecycle renamed')");
    expect((await herald.api("GET", `/v1/webhooks/${id}`)).body.events).toEqual(["lifecycle.*", "audit.created"]);

    const before = (await herald.api("GET", `/v1/webhooks/${id}/secret`)).body.secret;
    await page.click("button:has-text('Rotate secret')");
    await page.click("dialog button:has-text('Rotate')");
    const rotated = await page.inputValue("dialog .secret-value");
    await page.click("dialog button:has-text('Done')");
    expect(rotated).toMatch(/^whsec_/);
    expect(rotated).not.toBe(before);
    expect((await herald.api("GET", `/v1/webhooks/${id}/secret`)).body.secret).toBe(rotated);

    // Cancelling the confirmation keeps the webhook; confirming deletes it.
    await page.click("button.danger:has-text('Delete')");
    await page.click("dialog button:has-text('Cancel')");
    expect((await herald.api("GET", `/v1/webhooks/${id}`)).status).toBe(200);
    await page.click("button.danger:has-text('Delete')");
    await page.click("dialog button.danger:has-text('Delete')");
    await page.waitForSelector("h1:has-text('Webhooks')");
    expect((await herald.api("GET", `/v1/webhooks/${id}`)).status).toBe(404);
    expect(await page.locator(`tr[data-webhook-id="${id}"]`).count()).toBe(0);

    expect(errors).toEqual([]);
    await context.close();
  }, 60_000);

  it("filters the deliveries log by state and event type", async () => {
    const context = await browser.newContext({ viewport: DESKTOP });
    const page = await context.newPage();
    await signIn(page, herald.tenantKey);
    await page.goto(`${herald.url}/#/deliveries?status=succeeded&eventType=order.created`);
    await page.waitForSelector("[data-testid=delivery-table]");
    const states = await page.locator("tbody tr").evaluateAll((rows) => rows.map((row) => row.getAttribute("data-state")));
    expect(states.length).toBeGreaterThan(0);
    expect(new Set(states)).toEqual(new Set(["succeeded"]));
    expect(await page.locator("tbody tr:has-text('webhook.test')").count()).toBe(0);
    await page.selectOption("select[name=status]", "failed");
    await page.click("[data-testid=delivery-filters] button[type=submit]");
    await page.waitForSelector("[data-testid=no-deliveries]");
    expect(page.url()).toContain("status=failed");
    await context.close();
  }, 30_000);

  it("signs in with the admin key and sees every tenant's webhooks; a wrong key is refused", async () => {
    const context = await browser.newContext({ viewport: DESKTOP });
    const page = await context.newPage();
    await page.goto(herald.url + "/");
    await page.fill("#api-key", "not-a-key");
    await page.click("button[type=submit]");
    await page.waitForSelector(".form-error:has-text('not accepted')");

    await signIn(page, herald.adminKey);
    expect(await page.textContent("[data-testid=role]")).toBe("admin");
    await page.waitForSelector("[data-testid=webhook-table]");
    expect(await page.textContent("[data-testid=webhook-table] thead")).toContain("Tenant");

    // The admin picks the owner: "global" makes a webhook that receives every tenant's events.
    await page.click("[data-testid=new-webhook]");
    await page.fill("input[name=name]", "Audit everything");
    await page.fill("input[name=url]", receiver.url);
    await page.selectOption("select[name=tenantId]", "");
    await page.click("[data-testid=save-webhook]");
    await page.click("dialog button:has-text('Done')");
    await page.waitForSelector("h1:has-text('Audit everything')");
    const globalId = decodeURIComponent(new URL(page.url()).hash.split("/")[2] ?? "");
    const asAdmin = await fetch(`${herald.url}/v1/webhooks/${globalId}`, { headers: { "x-admin-api-key": herald.adminKey } });
    expect(((await asAdmin.json()) as { tenantId: string | null }).tenantId).toBeNull();
    await fetch(`${herald.url}/v1/webhooks/${globalId}`, { method: "DELETE", headers: { "x-admin-api-key": herald.adminKey } });

    await page.click("[data-testid=sign-out]");
    await page.waitForSelector("#api-key");
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await context.close();
  }, 30_000);

  it("creates a webhook with OAuth2 client credentials from the form's oauth2 fields", async () => {
    const context = await browser.newContext({ viewport: DESKTOP });
    const page = await context.newPage();
    const errors = watchErrors(page);
    await signIn(page, herald.tenantKey);
    await page.click("[data-testid=new-webhook]");
    await page.fill("input[name=name]", "OAuth2 receiver");
    await page.fill("input[name=url]", receiver.url);
    await page.fill("input[name=events]", "oauth2.form-only"); // no event of the other tests reaches it
    await page.selectOption("select[name=authType]", "oauth2");
    await page.fill("input[name='auth.token_url']", `${receiver.url}/token`);
    await page.fill("input[name='auth.client_id']", "dashboard-client");
    await page.fill("input[name='auth.client_secret']", "dashboard-client-secret");
    await page.fill("input[name='auth.scope']", "hooks:write");
    await page.fill("input[name='auth.auth_method']", "client_secret_post");
    await page.click("[data-testid=save-webhook]");
    await page.click("dialog button:has-text('Done')");
    await page.waitForSelector("h1:has-text('OAuth2 receiver')");
    const id = decodeURIComponent(new URL(page.url()).hash.split("/")[2] ?? "");
    const { body } = await herald.api("GET", `/v1/webhooks/${id}`);
    expect(body.auth).toEqual({
      type: "oauth2",
      credentials: { token_url: `${receiver.url}/token`, client_id: "dashboard-client", client_secret: "****cret", scope: "hooks:write", auth_method: "client_secret_post" },
    });
    await herald.api("DELETE", `/v1/webhooks/${id}`);
    expect(errors).toEqual([]);
    await context.close();
  }, 30_000);
});
