// One delivery: its state, the event it carries, and every attempt's request and response.
// While it can still change (pending, in flight, or just retried) the page refreshes itself.
import { badge, formatDuration, formatTime, h, headersTable, prettyBody, replaceChildren, runAction, toast } from "../dom.js";
import { lastOutcome } from "./delivery-table.js";
import { recoverFailed } from "./webhook-actions.js";

const POLL_MS = 2000;

function attemptSummary(attempt) {
  if (attempt.response) return `HTTP ${attempt.response.status}`;
  return attempt.errorClass ? `${attempt.errorClass}: ${attempt.errorMessage ?? ""}` : attempt.errorMessage ?? "no response";
}

function attemptOk(attempt) {
  return attempt.response !== null && attempt.response !== undefined && attempt.response.status >= 200 && attempt.response.status <= 299;
}

function attemptBlock(attempt, open) {
  const ok = attemptOk(attempt);
  return h(
    "details",
    { class: `attempt ${ok ? "attempt-ok" : "attempt-failed"}`, open, "data-attempt-id": attempt.id, "data-testid": "attempt" },
    h(
      "summary",
      null,
      h("span", { class: "attempt-number" }, `#${attempt.attemptNumber}`),
      badge(ok ? "succeeded" : "failed"),
      h("span", { class: "attempt-result" }, attemptSummary(attempt)),
      h("span", { class: "muted small-text" }, `${formatTime(attempt.startedAt)} · ${formatDuration(attempt.durationMs)}`),
    ),
    h(
      "div",
      { class: "attempt-body" },
      h(
        "section",
        null,
        h("h3", null, "Request"),
        h("p", { class: "mono small-text wrap" }, `${attempt.request?.method ?? ""} ${attempt.request?.url ?? ""}`),
        headersTable(attempt.request?.headers),
      ),
      h(
        "section",
        null,
        h("h3", null, "Response"),
        attempt.response
          ? [
              h("p", { class: "mono" }, `HTTP ${attempt.response.status}`),
              headersTable(attempt.response.headers),
              h("h4", null, "Body"),
              attempt.response.body ? h("pre", { class: "code", "data-testid": "response-body" }, prettyBody(attempt.response.body)) : h("p", { class: "muted" }, "Empty body."),
            ]
          : h("p", { class: "form-error" }, attempt.errorClass ? `${attempt.errorClass}: ${attempt.errorMessage ?? ""}` : attempt.errorMessage ?? "No response."),
      ),
    ),
  );
}

export async function renderDeliveryDetail(ctx) {
  const id = ctx.params[0];
  const path = `/v1/deliveries/${encodeURIComponent(id)}`;
  const delivery = await ctx.api.get(path);
  const [event, webhook] = await Promise.all([
    ctx.api.get(`/v1/events/${encodeURIComponent(delivery.eventId)}`).catch(() => null),
    ctx.api.get(`/v1/webhooks/${encodeURIComponent(delivery.webhookId)}`).catch(() => null),
  ]);
  if (!ctx.alive) return;

  // Attempts do not store the body Herald sent; it is the event in the webhook's payload format, so the event is shown once instead.
  const summaryBox = h("div");
  const attemptsBox = h("div", { class: "attempts", "data-testid": "attempts" });
  let lastKey = "";

  function show(current) {
    const key = `${current.status}:${current.attemptCount}:${(current.attempts ?? []).length}`;
    if (key === lastKey) return;
    lastKey = key;
    const openIds = new Set([...attemptsBox.querySelectorAll("details[open]")].map((el) => el.dataset.attemptId));
    const attempts = [...(current.attempts ?? [])].sort((a, b) => b.attemptNumber - a.attemptNumber);
    replaceChildren(
      summaryBox,
      h(
        "dl",
        { class: "kv-list panel" },
        [
          ["State", badge(current.status)],
          ["Event type", h("span", { class: "mono" }, current.eventType)],
          ["Webhook", h("a", { href: ctx.hrefTo(`/webhooks/${encodeURIComponent(current.webhookId)}`) }, webhook?.name || webhook?.url || current.webhookId)],
          ["Event", h("a", { href: ctx.hrefTo(`/events/${encodeURIComponent(current.eventId)}`), class: "mono small-text" }, current.eventId)],
          ["Attempts", String(current.attemptCount ?? attempts.length)],
          ["Last result", lastOutcome(current)],
          ["Created", formatTime(current.createdAt)],
          ["Next attempt", current.nextAttemptAt ? formatTime(current.nextAttemptAt) : "—"],
          ["Completed", formatTime(current.completedAt)],
        ].map(([term, value]) => [h("dt", null, term), h("dd", { "data-field": term }, value)]),
      ),
    );
    replaceChildren(
      attemptsBox,
      attempts.length === 0
        ? h("p", { class: "muted" }, "No attempt yet.")
        : attempts.map((attempt, i) => attemptBlock(attempt, openIds.has(attempt.id) || (openIds.size === 0 && i === 0))),
    );
  }

  // The retry answer has no attempts; the ones already shown stay until the next refresh brings the new one.
  let lastAttempts = delivery.attempts ?? [];
  const retryButton = h("button", { type: "button", class: "primary", "data-testid": "retry-delivery", "data-writes": "" }, "Retry now");
  retryButton.addEventListener("click", () =>
    void runAction(retryButton, async () => {
      const updated = await ctx.api.post(`${path}/retry`);
      toast("Queued for another attempt.");
      if (updated) show({ ...delivery, ...updated, attempts: lastAttempts });
    }),
  );
  const recoverButton = h("button", { type: "button", class: "secondary", "data-writes": "" }, "Recover failed since this one");
  recoverButton.addEventListener("click", () => {
    if (webhook) void recoverFailed(ctx, webhook, Date.parse(delivery.createdAt) || Number(delivery.createdAt), recoverButton);
  });

  show(delivery);
  replaceChildren(
    ctx.view,
    h("div", { class: "page-head" }, h("div", null, h("h1", null, "Delivery"), h("p", { class: "muted mono small-text" }, delivery.id))),
    h("div", { class: "actions" }, retryButton, webhook ? recoverButton : null),
    summaryBox,
    h("h2", null, "Attempts"),
    attemptsBox,
    event
      ? h(
          "details",
          { class: "panel", open: true },
          h("summary", null, "Event payload (sent as the request body in the webhook's payload format)"),
          h("pre", { class: "code", "data-testid": "event-data" }, prettyBody({ type: event.type, data: event.data, ...(event.metadata ? { metadata: event.metadata } : {}) })),
        )
      : null,
  );

  ctx.poll(async () => {
    const current = await ctx.api.get(path);
    if (!ctx.alive) return;
    lastAttempts = current.attempts ?? [];
    show(current);
  }, POLL_MS);
}
