// One webhook: its settings, actions, headline stats, charts over time and latest deliveries.
import { lineChartPanel } from "../charts.js";
import { badge, formatDuration, formatPercent, formatTime, h, replaceChildren, timeAgo } from "../dom.js";
import { deliveryTable } from "./delivery-table.js";
import { deleteWebhook, recoverFailed, rotateSecret, sendTestEvent, togglePaused } from "./webhook-actions.js";
import { successRate } from "./webhook-list.js";

/** Chart ranges: ~30 to 60 buckets each, enough to see a trend without a crowded axis. */
export const CHART_RANGES = {
  "1h": { label: "Last hour", spanMs: 3_600_000, bucketMs: 120_000 },
  "24h": { label: "Last 24 hours", spanMs: 86_400_000, bucketMs: 1_800_000 },
  "7d": { label: "Last 7 days", spanMs: 7 * 86_400_000, bucketMs: 4 * 3_600_000 },
};

function statCard(label, value, testId) {
  return h("div", { class: "stat", "data-testid": testId ?? null }, h("div", { class: "stat-value" }, value), h("div", { class: "stat-label" }, label));
}

function statCards(stats) {
  return [
    statCard("Success rate", formatPercent(successRate(stats)), "stat-success"),
    statCard("Deliveries", String(stats.total_deliveries ?? 0)),
    statCard("Failed deliveries", String(stats.failed_deliveries ?? 0), "stat-failed-deliveries"),
    statCard("Failed attempts", String(stats.failed_attempts ?? 0), "stat-failed-attempts"),
    statCard("Average", formatDuration(stats.average_duration)),
    statCard("p95", formatDuration(stats.p95_duration)),
    statCard("Last delivery", timeAgo(stats.last_delivery)),
  ];
}

async function loadCharts(ctx, webhookId, rangeName) {
  const range = CHART_RANGES[rangeName] ?? CHART_RANGES["24h"];
  // Buckets align to the bucket size so a refresh does not shift every point sideways.
  const until = Math.ceil(Date.now() / range.bucketMs) * range.bucketMs;
  const series = await ctx.api.get(`/v1/webhooks/${encodeURIComponent(webhookId)}/stats/series`, {
    since: new Date(until - range.spanMs).toISOString(),
    until: new Date(until).toISOString(),
    bucket: range.bucketMs,
  });
  const buckets = series?.data ?? [];
  const times = buckets.map((b) => Date.parse(b.start));
  return [
    lineChartPanel({
      title: "Success rate",
      testId: "chart-success",
      times,
      yMax: 1,
      formatY: (v) => `${Math.round(v * 100)}%`,
      series: [{ label: "2xx share of attempts", tone: "good", values: buckets.map((b) => b.successRate) }],
    }),
    lineChartPanel({
      title: "Response time",
      testId: "chart-latency",
      times,
      formatY: (v) => formatDuration(v),
      series: [
        { label: "p50", tone: "info", values: buckets.map((b) => b.p50DurationMs) },
        { label: "p95", tone: "warn", values: buckets.map((b) => b.p95DurationMs) },
      ],
    }),
  ];
}

export async function renderWebhookDetail(ctx) {
  const id = ctx.params[0];
  const path = `/v1/webhooks/${encodeURIComponent(id)}`;
  const rangeName = CHART_RANGES[ctx.query.get("range")] ? ctx.query.get("range") : "24h";
  const [webhook, stats, recent, charts] = await Promise.all([
    ctx.api.get(path),
    ctx.api.get(`${path}/stats`),
    ctx.api.get("/v1/deliveries", { webhookId: id, limit: 10 }),
    // The charts are the least essential part: a failure there leaves the rest of the page usable.
    loadCharts(ctx, id, rangeName).catch((error) => [h("p", { class: "panel form-error" }, `Charts unavailable: ${error?.message ?? error}`)]),
  ]);
  if (!ctx.alive) return;

  const rerender = () => void renderWebhookDetail(ctx);
  const button = (label, onClick, extra = {}) => {
    const el = h("button", { type: "button", class: "secondary", "data-writes": "", ...extra }, label);
    el.addEventListener("click", () => void onClick(el));
    return el;
  };
  const actions = h(
    "div",
    { class: "actions" },
    button("Send test", async (el) => {
      if (await sendTestEvent(ctx, webhook, el)) setTimeout(refresh, 500);
    }, { "data-testid": "send-test" }),
    button(webhook.status === "active" ? "Pause" : "Resume", async (el) => (await togglePaused(ctx, webhook, el)) && rerender(), { "data-testid": "toggle-paused" }),
    h("a", { class: "button secondary", href: ctx.hrefTo(`/webhooks/${encodeURIComponent(id)}/edit`), "data-writes": "" }, "Edit"),
    button("Rotate secret", (el) => rotateSecret(ctx, webhook, el)),
    button("Recover failed (24 h)", async (el) => (await recoverFailed(ctx, webhook, Date.now() - 86_400_000, el)) && refresh()),
    button("Delete", async (el) => (await deleteWebhook(ctx, webhook, el)) && ctx.navigate("/webhooks"), { class: "danger" }),
  );

  const statsBox = h("div", { class: "stats" }, statCards(stats));
  const recentBox = h("div", null, deliveryTable(ctx, recent?.data ?? [], { columns: ["event"] }));
  async function refresh() {
    const [nextStats, nextRecent] = await Promise.all([ctx.api.get(`${path}/stats`), ctx.api.get("/v1/deliveries", { webhookId: id, limit: 10 })]);
    if (!ctx.alive) return;
    replaceChildren(statsBox, statCards(nextStats));
    replaceChildren(recentBox, deliveryTable(ctx, nextRecent?.data ?? [], { columns: ["event"] }));
  }

  const rangePicker = h(
    "div",
    { class: "segmented", role: "group", "aria-label": "Chart range" },
    Object.entries(CHART_RANGES).map(([name, range]) =>
      h("a", { class: name === rangeName ? "current" : null, "aria-current": name === rangeName ? "true" : null, href: ctx.hrefTo(`/webhooks/${encodeURIComponent(id)}`, { range: name }) }, range.label),
    ),
  );

  replaceChildren(
    ctx.view,
    h(
      "div",
      { class: "page-head" },
      h("div", null, h("h1", null, webhook.name || webhook.url, " ", badge(webhook.status)), h("p", { class: "muted mono ellipsis" }, `${webhook.method} ${webhook.url}`)),
    ),
    actions,
    webhook.disabledReason ? h("p", { class: "panel warn-panel" }, `Disabled: ${webhook.disabledReason}`) : null,
    statsBox,
    h("div", { class: "section-head" }, h("h2", null, "Over time"), rangePicker),
    h("div", { class: "charts" }, charts),
    h(
      "div",
      { class: "section-head" },
      h("h2", null, "Latest deliveries"),
      h("a", { href: ctx.hrefTo("/deliveries", { webhookId: id }) }, "All deliveries to this webhook →"),
    ),
    recentBox,
    h(
      "details",
      { class: "panel settings" },
      h("summary", null, "Settings"),
      h(
        "dl",
        { class: "kv-list" },
        [
          ["Id", webhook.id],
          ["Tenant", webhook.tenantId ?? "global"],
          ["Events", (webhook.events ?? []).join(", ")],
          ["Payload format", webhook.payloadFormat],
          ["Receiver auth", webhook.auth?.type ?? "none"],
          ["Timeout", formatDuration(webhook.timeoutMs)],
          ["Retry", webhook.retry ? `${webhook.retry.strategy}, ${webhook.retry.maxAttempts} attempts, from ${formatDuration(webhook.retry.initialDelayMs)}` : "—"],
          ["Max concurrency", String(webhook.maxConcurrency ?? "—")],
          ...(webhook.proxyUrl ? [["Proxy", webhook.proxyUrl]] : []),
          ...(webhook.tls ? [["mTLS", webhook.tls.clientCert ? `${webhook.tls.clientCert.subject}, valid to ${formatTime(webhook.tls.clientCert.validTo)}` : "no client certificate; trusts the given CA"]] : []),
          ["Created", formatTime(webhook.createdAt)],
          ["Updated", formatTime(webhook.updatedAt)],
        ].map(([term, value]) => [h("dt", null, term), h("dd", { class: "mono small-text" }, String(value ?? "—"))]),
      ),
    ),
  );
  ctx.poll(refresh, 3000);
}
