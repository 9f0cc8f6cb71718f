// The deliveries log: filter by webhook, event type, state and time range, page through older
// entries, and see new deliveries arrive. New rows come from polling the first page every 2 s:
// unlike hooks on the in-process worker, polling sees deliveries made by any process, including
// workers split out with HERALD_ROLE=worker, and costs one indexed query per open dashboard.
import { h, replaceChildren } from "../dom.js";
import { deliveryTable, loadWebhookNames } from "./delivery-table.js";
import { pager } from "./webhook-list.js";

const STATES = ["pending", "in_flight", "succeeded", "failed", "cancelled"];
const FILTERS = ["webhookId", "eventType", "status", "since", "until"];
export const LIVE_POLL_MS = 2000;

/** datetime-local values are local wall-clock times; the API takes ISO instants. */
const toIso = (local) => (local ? new Date(local).toISOString() : "");

export async function renderDeliveryLog(ctx) {
  const filters = Object.fromEntries(FILTERS.map((name) => [name, ctx.query.get(name) ?? ""]));
  const cursor = ctx.query.get("cursor") ?? "";
  const apiQuery = () => ({
    webhookId: filters.webhookId,
    eventType: filters.eventType,
    status: filters.status,
    since: toIso(filters.since),
    until: toIso(filters.until),
    limit: 25,
  });
  const [page, webhookNames] = await Promise.all([ctx.api.get("/v1/deliveries", { ...apiQuery(), cursor }), loadWebhookNames(ctx)]);
  if (!ctx.alive) return;

  const form = h(
    "form",
    { class: "filters panel", "data-testid": "delivery-filters", onsubmit: applyFilters },
    h(
      "label",
      null,
      "Webhook",
      h("select", { name: "webhookId" }, h("option", { value: "" }, "All webhooks"), [...webhookNames].map(([id, name]) => h("option", { value: id, selected: id === filters.webhookId }, name))),
    ),
    h("label", null, "Event type", h("input", { name: "eventType", value: filters.eventType, placeholder: "e.g. order.created", class: "mono" })),
    h("label", null, "State", h("select", { name: "status" }, h("option", { value: "" }, "Any"), STATES.map((s) => h("option", { value: s, selected: s === filters.status }, s.replace("_", " "))))),
    h("label", null, "From", h("input", { name: "since", type: "datetime-local", value: filters.since })),
    h("label", null, "To", h("input", { name: "until", type: "datetime-local", value: filters.until })),
    h(
      "div",
      { class: "filter-actions" },
      h("button", { type: "submit", class: "primary small" }, "Apply"),
      h("a", { class: "button secondary small", href: ctx.hrefTo("/deliveries") }, "Clear"),
    ),
  );

  function applyFilters(event) {
    event.preventDefault();
    const data = new FormData(form);
    ctx.navigate("/deliveries", Object.fromEntries(FILTERS.map((name) => [name, String(data.get(name) ?? "")])));
  }

  const live = !cursor;
  const liveBadge = h("span", { class: "live", "data-testid": "live-indicator", hidden: !live }, "Live");
  const tableBox = h("div", { class: "table-box" });
  let shownIds = new Set((page?.data ?? []).map((d) => d.id));
  function showRows(rows, freshIds = new Set()) {
    replaceChildren(
      tableBox,
      rows.length === 0 ? h("div", { class: "panel empty", "data-testid": "no-deliveries" }, "No deliveries match.") : deliveryTable(ctx, rows, { webhookNames, freshIds }),
    );
  }
  showRows(page?.data ?? []);

  replaceChildren(
    ctx.view,
    h("div", { class: "page-head" }, h("h1", null, "Deliveries ", liveBadge)),
    form,
    tableBox,
    pager(ctx, "/deliveries", cursor, page?.nextCursor, filters),
  );

  // Older pages stay still: rows shifting under the reader would make paging meaningless.
  if (live) {
    ctx.poll(async () => {
      const next = await ctx.api.get("/v1/deliveries", apiQuery());
      if (!ctx.alive) return;
      const rows = next?.data ?? [];
      const fresh = new Set(rows.filter((d) => !shownIds.has(d.id)).map((d) => d.id));
      shownIds = new Set(rows.map((d) => d.id));
      showRows(rows, fresh);
    }, LIVE_POLL_MS);
  }
}
