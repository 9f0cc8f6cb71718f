// The deliveries table used by the log, a webhook's page and an event's fan-out.
import { badge, formatTime, h, timeAgo } from "../dom.js";

/** The last outcome in a few words: an HTTP status, or the error class/message. */
export function lastOutcome(delivery) {
  if (delivery.lastStatus !== null && delivery.lastStatus !== undefined) return `HTTP ${delivery.lastStatus}`;
  if (delivery.lastError) return delivery.lastError;
  return delivery.attemptCount ? "—" : "not sent yet";
}

/** columns: which optional columns to show ("webhook", "event"). freshIds: rows to highlight as just arrived. */
export function deliveryTable(ctx, deliveries, { columns = ["webhook", "event"], webhookNames = new Map(), freshIds = new Set() } = {}) {
  const showWebhook = columns.includes("webhook");
  const showEvent = columns.includes("event");
  return h(
    "table",
    { class: "data-table deliveries", "data-testid": "delivery-table" },
    h(
      "thead",
      null,
      h(
        "tr",
        null,
        h("th", null, "Created"),
        showEvent ? h("th", null, "Event type") : null,
        showWebhook ? h("th", null, "Webhook") : null,
        h("th", null, "State"),
        h("th", null, "Attempts"),
        h("th", null, "Last result"),
      ),
    ),
    h(
      "tbody",
      null,
      deliveries.map((delivery) =>
        h(
          "tr",
          { class: freshIds.has(delivery.id) ? "fresh" : null, "data-delivery-id": delivery.id, "data-state": delivery.status },
          h(
            "td",
            { "data-label": "Created", class: "primary-cell" },
            h("a", { href: ctx.hrefTo(`/deliveries/${encodeURIComponent(delivery.id)}`), title: formatTime(delivery.createdAt) }, timeAgo(delivery.createdAt)),
          ),
          showEvent ? h("td", { "data-label": "Event type", class: "mono small-text" }, delivery.eventType) : null,
          showWebhook
            ? h(
                "td",
                { "data-label": "Webhook", class: "small-text" },
                h("a", { href: ctx.hrefTo(`/webhooks/${encodeURIComponent(delivery.webhookId)}`) }, webhookNames.get(delivery.webhookId) ?? delivery.webhookId),
              )
            : null,
          h("td", { "data-label": "State" }, badge(delivery.status)),
          h("td", { "data-label": "Attempts" }, String(delivery.attemptCount ?? 0)),
          h("td", { "data-label": "Last result", class: "small-text ellipsis" }, lastOutcome(delivery)),
        ),
      ),
    ),
  );
}

/** Names for the webhook column, from one list call rather than one call per row. */
export async function loadWebhookNames(ctx) {
  const names = new Map();
  try {
    const page = await ctx.api.get("/v1/webhooks", { limit: 200 });
    for (const webhook of page?.data ?? []) names.set(webhook.id, webhook.name || webhook.url);
  } catch {
    // Ids stand in for names.
  }
  return names;
}
