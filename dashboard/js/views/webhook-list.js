// The webhooks list: status, success rate and last delivery at a glance, with the quick actions.
import { badge, formatPercent, h, replaceChildren, timeAgo } from "../dom.js";
import { sendTestEvent, togglePaused } from "./webhook-actions.js";

/** Success share of finished deliveries; null when none has finished yet. */
export function successRate(stats) {
  if (!stats) return null;
  const done = (stats.successful_deliveries ?? 0) + (stats.failed_deliveries ?? 0);
  return done === 0 ? null : stats.successful_deliveries / done;
}

export async function renderWebhookList(ctx) {
  const cursor = ctx.query.get("cursor") ?? "";
  const page = await ctx.api.get("/v1/webhooks", { limit: 50, cursor });
  if (!ctx.alive) return;
  const webhooks = page?.data ?? [];
  const admin = ctx.api.session.role === "admin";

  const rows = webhooks.map((webhook) => {
    const rateCell = h("td", { "data-label": "Success" }, "…");
    const lastCell = h("td", { "data-label": "Last delivery" }, "…");
    const toggle = h("button", { type: "button", class: "secondary small", "data-writes": "" }, webhook.status === "active" ? "Pause" : "Resume");
    toggle.addEventListener("click", async () => {
      if (await togglePaused(ctx, webhook, toggle)) await renderWebhookList(ctx);
    });
    const test = h("button", { type: "button", class: "secondary small", "data-testid": "send-test", "data-writes": "" }, "Send test");
    test.addEventListener("click", () => void sendTestEvent(ctx, webhook, test));
    ctx.api
      .get(`/v1/webhooks/${encodeURIComponent(webhook.id)}/stats`)
      .then((stats) => {
        rateCell.textContent = formatPercent(successRate(stats));
        lastCell.textContent = timeAgo(stats?.last_delivery ?? null);
        if (stats?.last_delivery) lastCell.title = stats.last_delivery;
      })
      .catch(() => {
        rateCell.textContent = "—";
        lastCell.textContent = "—";
      });
    return h(
      "tr",
      { "data-webhook-id": webhook.id },
      h(
        "td",
        { "data-label": "Webhook", class: "primary-cell" },
        h("a", { href: ctx.hrefTo(`/webhooks/${encodeURIComponent(webhook.id)}`) }, webhook.name || webhook.url),
        h("div", { class: "muted mono small-text ellipsis" }, webhook.url),
      ),
      admin ? h("td", { "data-label": "Tenant", class: "mono small-text" }, webhook.tenantId ?? "global") : null,
      h("td", { "data-label": "Status" }, badge(webhook.status)),
      h("td", { "data-label": "Events", class: "small-text" }, (webhook.events ?? []).join(", ") || "*"),
      rateCell,
      lastCell,
      h("td", { class: "row-actions" }, h("div", { class: "actions" }, test, toggle, h("a", { class: "button secondary small", href: ctx.hrefTo(`/webhooks/${encodeURIComponent(webhook.id)}/edit`), "data-writes": "" }, "Edit"))),
    );
  });

  replaceChildren(
    ctx.view,
    h(
      "div",
      { class: "page-head" },
      h("h1", null, "Webhooks"),
      h("a", { class: "button primary", href: ctx.hrefTo("/webhooks/new"), "data-testid": "new-webhook", "data-writes": "" }, "New webhook"),
    ),
    webhooks.length === 0
      ? h("div", { class: "panel empty" }, h("p", null, "No webhooks yet."), h("a", { class: "button primary", href: ctx.hrefTo("/webhooks/new"), "data-writes": "" }, "Create the first one"))
      : h(
          "table",
          { class: "data-table", "data-testid": "webhook-table" },
          h(
            "thead",
            null,
            h("tr", null, h("th", null, "Webhook"), admin ? h("th", null, "Tenant") : null, h("th", null, "Status"), h("th", null, "Events"), h("th", null, "Success"), h("th", null, "Last delivery"), h("th", null, h("span", { class: "visually-hidden" }, "Actions"))),
          ),
          h("tbody", null, rows),
        ),
    pager(ctx, "/webhooks", cursor, page?.nextCursor),
  );
}

/** Older/first-page links for cursor-paged lists: cursors only go forwards, so "back" restarts. */
export function pager(ctx, path, cursor, nextCursor, query = {}) {
  if (!cursor && !nextCursor) return null;
  return h(
    "nav",
    { class: "pager", "aria-label": "Pages" },
    cursor ? h("a", { class: "button secondary small", href: ctx.hrefTo(path, { ...query }) }, "First page") : null,
    nextCursor ? h("a", { class: "button secondary small", href: ctx.hrefTo(path, { ...query, cursor: nextCursor }), "data-testid": "next-page" }, "Older") : null,
  );
}
