// Recent events and their fan-out: which webhooks each event went to and how each delivery went.
import { badge, formatTime, h, prettyBody, replaceChildren, timeAgo } from "../dom.js";
import { deliveryTable, loadWebhookNames } from "./delivery-table.js";
import { pager } from "./webhook-list.js";

export const eventDeliveriesPath = (eventId) => `/v1/events/${encodeURIComponent(eventId)}/deliveries`;

/** "3 deliveries: 2 succeeded, 1 failed" as badges. */
function fanOutSummary(deliveries) {
  if (deliveries.length === 0) return h("span", { class: "muted" }, "no matching webhook");
  const counts = new Map();
  for (const delivery of deliveries) counts.set(delivery.status, (counts.get(delivery.status) ?? 0) + 1);
  return h(
    "span",
    { class: "fan-out" },
    [...counts].map(([state, count]) => h("span", { class: "fan-out-item" }, String(count), " ", badge(state))),
  );
}

export async function renderEventList(ctx) {
  const type = ctx.query.get("type") ?? "";
  const cursor = ctx.query.get("cursor") ?? "";
  const page = await ctx.api.get("/v1/events", { type, cursor, limit: 25 });
  if (!ctx.alive) return;
  const events = page?.data ?? [];

  const typeInput = h("input", { name: "type", value: type, placeholder: "exact event type", class: "mono" });
  const form = h(
    "form",
    { class: "filters panel", onsubmit: (e) => (e.preventDefault(), ctx.navigate("/events", { type: typeInput.value.trim() })) },
    h("label", null, "Event type", typeInput),
    h("div", { class: "filter-actions" }, h("button", { type: "submit", class: "primary small" }, "Apply"), h("a", { class: "button secondary small", href: ctx.hrefTo("/events") }, "Clear")),
  );

  const rows = events.map((event) => {
    const fanOutCell = h("td", { "data-label": "Fan-out" }, "…");
    ctx.api
      .get(eventDeliveriesPath(event.id), { limit: 100 })
      .then((result) => replaceChildren(fanOutCell, fanOutSummary(result?.data ?? [])))
      .catch(() => replaceChildren(fanOutCell, "—"));
    return h(
      "tr",
      { "data-event-id": event.id },
      h("td", { "data-label": "Received", class: "primary-cell" }, h("a", { href: ctx.hrefTo(`/events/${encodeURIComponent(event.id)}`), title: formatTime(event.createdAt) }, timeAgo(event.createdAt))),
      h("td", { "data-label": "Type", class: "mono small-text" }, event.type),
      ctx.api.session.role === "admin" ? h("td", { "data-label": "Tenant", class: "mono small-text" }, event.tenantId ?? "") : null,
      fanOutCell,
    );
  });

  replaceChildren(
    ctx.view,
    h("div", { class: "page-head" }, h("h1", null, "Events")),
    form,
    events.length === 0
      ? h("div", { class: "panel empty" }, "No events yet.")
      : h(
          "table",
          { class: "data-table", "data-testid": "event-table" },
          h("thead", null, h("tr", null, h("th", null, "Received"), h("th", null, "Type"), ctx.api.session.role === "admin" ? h("th", null, "Tenant") : null, h("th", null, "Fan-out"))),
          h("tbody", null, rows),
        ),
    pager(ctx, "/events", cursor, page?.nextCursor, { type }),
  );
}

export async function renderEventDetail(ctx) {
  const id = ctx.params[0];
  const [event, webhookNames] = await Promise.all([ctx.api.get(`/v1/events/${encodeURIComponent(id)}`), loadWebhookNames(ctx)]);
  if (!ctx.alive) return;

  const fanOutBox = h("div");
  const showFanOut = (rows) =>
    replaceChildren(fanOutBox, rows.length === 0 ? h("p", { class: "panel empty" }, "No webhook subscribed to this event when it arrived.") : deliveryTable(ctx, rows, { columns: ["webhook"], webhookNames }));
  showFanOut(event.deliveries ?? []);

  replaceChildren(
    ctx.view,
    h("div", { class: "page-head" }, h("div", null, h("h1", null, "Event ", h("span", { class: "mono" }, event.type)), h("p", { class: "muted mono small-text" }, event.id))),
    h(
      "dl",
      { class: "kv-list panel" },
      [
        ["Received", formatTime(event.createdAt)],
        ["Tenant", event.tenantId ?? "—"],
      ].map(([term, value]) => [h("dt", null, term), h("dd", { class: "mono small-text" }, value)]),
    ),
    h("h2", null, "Fan-out"),
    fanOutBox,
    h("h2", null, "Data"),
    h("pre", { class: "code" }, prettyBody(event.data)),
    event.metadata ? [h("h2", null, "Metadata"), h("pre", { class: "code" }, prettyBody(event.metadata))] : null,
  );

  ctx.poll(async () => {
    const next = await ctx.api.get(eventDeliveriesPath(id), { limit: 100 });
    if (ctx.alive) showFanOut(next?.data ?? []);
  }, 2000);
}
