/// <reference lib="dom" />
// page.evaluate callbacks run in the browser; the DOM types describe them.
/**
 * The screenshots in docs/dashboard.md that need a history: a server without a worker, an hour
 * of past deliveries to three webhooks, and the pages that summarise them. It also checks that
 * the charts draw that history and the list shows each webhook's success rate.
 */
import { mkdirSync } from "node:fs";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, SCREENSHOTS, startHerald, type TestHerald } from "./harness.js";
import { seedHistory } from "./seed-history.js";


let herald: TestHerald;
let browser: Browser;
const ids: Record<string, string> = {};

async function shoot(page: Page, name: string) {
  // Toasts are transient; they would only hide part of the page in a still picture.
  await page.evaluate(() => document.getElementById("toast")?.setAttribute("hidden", ""));
  await page.screenshot({ path: SCREENSHOTS + name });
}

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  [herald, browser] = await Promise.all([startHerald({ role: "api" }), launchChromium()]);
  const webhooks = [
    { key: "orders", name: "Orders service", url: "https://orders.example.com/hooks/herald", events: ["order.*"], failureShare: 0.02, baseMs: 80 },
    { key: "billing", name: "Billing", url: "https://billing.example.net/webhooks", events: ["order.paid", "invoice.*"], failureShare: 0.12, baseMs: 240 },
    { key: "analytics", name: "Analytics export", url: "https://ingest.analytics.example.org/v2/events", events: ["*"], failureShare: 0.04, baseMs: 45 },
  ];
  for (const webhook of webhooks) {
    const created = await herald.api("POST", "/v1/webhooks", { name: webhook.name, url: webhook.url, events: webhook.events });
    expect(created.status).toBe(201);
    ids[webhook.key] = created.body.id;
  }
  const seeded = webhooks.map((w) => ({ id: ids[w.key]!, url: w.url, failureShare: w.failureShare, baseMs: w.baseMs }));
  // Every event goes to every seeded webhook here; the subscriptions above are what the pages show.
  await seedHistory(await herald.openStore(), herald.engine.defaultTenantId, seeded, ["order.created", "order.paid", "invoice.issued"]);
  expect((await herald.api("POST", `/v1/webhooks/${ids.analytics}/pause`)).status).toBe(200);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await herald?.close();
});

describe("dashboard with an hour of history", () => {
  it("lists each webhook's success rate and charts a webhook's success rate and response time", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto(herald.url + "/");
    await page.fill("#api-key", herald.tenantKey);
    await page.click("button[type=submit]");

    const ordersRow = page.locator(`tr[data-webhook-id="${ids.orders}"]`);
    await ordersRow.waitFor();
    await page.waitForFunction(() => !Array.from(document.querySelectorAll("[data-testid=webhook-table] td")).some((td) => td.textContent === "…"));
    expect(await ordersRow.textContent()).toMatch(/\d+(\.\d)?%/);
    expect(await page.textContent(`tr[data-webhook-id="${ids.analytics}"] [data-state]`)).toBe("inactive");
    await shoot(page, "webhooks.png");

    await page.goto(`${herald.url}/#/webhooks/${ids.billing}?range=1h`);
    await page.waitForSelector("[data-testid=chart-latency] svg path");
    // 60 one-minute... buckets of 2 minutes with attempts in most: the lines have many points.
    expect(await page.locator("[data-testid=chart-success] circle").count()).toBeGreaterThan(20);
    expect(await page.locator("[data-testid=chart-latency] .tone-warn circle").count()).toBeGreaterThan(20);
    await shoot(page, "webhook-detail.png");

    await page.goto(`${herald.url}/#/deliveries`);
    await page.waitForSelector("[data-testid=delivery-table]");
    expect(await page.locator("[data-testid=next-page]").count()).toBe(1);
    await shoot(page, "deliveries.png");

    await page.goto(`${herald.url}/#/events`);
    await page.waitForSelector("[data-testid=event-table] .fan-out");
    await page.waitForFunction(() => !Array.from(document.querySelectorAll("[data-testid=event-table] td")).some((td) => td.textContent === "…"));
    await shoot(page, "events.png");

    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${herald.url}/#/webhooks/${ids.billing}?range=1h`);
    await page.waitForSelector("[data-testid=chart-latency] svg path");
    await shoot(page, "phone-webhook.png");
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await context.close();
  }, 60_000);
});
