// Actions on one webhook, shared by the list and the detail page. Each resolves to the
// updated webhook (or true) on success and reports failures itself.
import { confirmAction, runAction, showSecret, toast } from "../dom.js";

const path = (webhook, action = "") => `/v1/webhooks/${encodeURIComponent(webhook.id)}${action}`;

export function sendTestEvent(ctx, webhook, button) {
  return runAction(button, async () => {
    // The API waits for the first attempt, so the receiver's answer can be reported here.
    const result = await ctx.api.post(path(webhook, "/test"));
    const attempt = result?.attempt;
    const outcome = !attempt
      ? "queued (no attempt yet)"
      : attempt.response
        ? `answered HTTP ${attempt.response.status}`
        : `failed: ${attempt.errorMessage ?? attempt.errorClass ?? "no response"}`;
    toast(`Test event to ${webhook.name || webhook.url}: ${outcome}.`, result?.success || !attempt ? "info" : "error");
    return result ?? true;
  });
}

export function togglePaused(ctx, webhook, button) {
  const action = webhook.status === "active" ? "/pause" : "/resume";
  return runAction(button, async () => {
    const updated = await ctx.api.post(path(webhook, action));
    toast(action === "/pause" ? "Paused: deliveries wait until you resume." : "Resumed.");
    return updated ?? true;
  });
}

export function rotateSecret(ctx, webhook, button) {
  return runAction(button, async () => {
    const confirmed = await confirmAction(
      "Rotate signing secret?",
      "A new secret signs from now on; the old one keeps signing alongside it for the grace period, so receivers can switch without dropping events.",
      "Rotate",
    );
    if (!confirmed) return undefined;
    const result = await ctx.api.post(path(webhook, "/rotate-secret"));
    const secret = result?.secret;
    if (secret) await showSecret("New signing secret", secret);
    else toast("Secret rotated.");
    return result ?? true;
  });
}

export function deleteWebhook(ctx, webhook, button) {
  return runAction(button, async () => {
    const confirmed = await confirmAction(
      "Delete webhook?",
      `${webhook.name || webhook.url} and its whole delivery history will be deleted. This cannot be undone.`,
      "Delete",
      true,
    );
    if (!confirmed) return undefined;
    await ctx.api.delete(path(webhook));
    toast("Webhook deleted.");
    return true;
  });
}

/** Re-sends the failed deliveries since a time (SPEC `/recover {since}`). */
export function recoverFailed(ctx, webhook, sinceMs, button) {
  return runAction(button, async () => {
    const confirmed = await confirmAction(
      "Recover failed deliveries?",
      `Every failed delivery to ${webhook.name || webhook.url} since ${new Date(sinceMs).toLocaleString()} is sent again.`,
      "Recover",
    );
    if (!confirmed) return undefined;
    const result = await ctx.api.post(path(webhook, "/recover"), { since: new Date(sinceMs).toISOString() });
    const count = result?.requeued ?? 0;
    toast(count === 0 ? "No failed deliveries to recover." : `${count} failed ${count === 1 ? "delivery" : "deliveries"} queued again.`);
    return result ?? true;
  });
}
