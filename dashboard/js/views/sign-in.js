// Sign-in with a tenant or an admin API key. Which one it is, the server tells (see signIn).
// A portal link that has ended shows why instead: its holder has no key to sign in with.
import { ApiError, clearSession, saveSession, signIn } from "../api.js";
import { h, replaceChildren } from "../dom.js";

export function renderSignIn(ctx, onSignedIn) {
  const keyInput = h("input", {
    id: "api-key", name: "apiKey", type: "password", required: true, autocomplete: "off", spellcheck: "false",
    placeholder: "tenant or admin API key", class: "mono",
  });
  const message = h("p", { class: "form-error", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h(
    "form",
    { class: "panel sign-in", "data-testid": "sign-in", onsubmit: onSubmit },
    h("h1", null, "Sign in to Herald"),
    h("p", { class: "muted" }, "Use a tenant API key to see that tenant's webhooks and deliveries, or the admin key (HERALD_ADMIN_API_KEY) to see every tenant. The key is kept in this tab only."),
    h("label", { for: "api-key" }, "API key"),
    keyInput,
    message,
    h("div", { class: "form-actions" }, submit),
  );

  async function onSubmit(event) {
    event.preventDefault();
    const key = keyInput.value.trim();
    if (!key) return;
    submit.disabled = true;
    message.hidden = true;
    try {
      saveSession(await signIn(key));
      onSignedIn();
    } catch (error) {
      message.textContent =
        error instanceof ApiError && (error.status === 401 || error.status === 403)
          ? "That key was not accepted. Check it and try again."
          : `Could not reach Herald: ${error?.message ?? error}`;
      message.hidden = false;
    } finally {
      submit.disabled = false;
    }
  }

  replaceChildren(ctx.view, form);
  keyInput.focus();
}

/** Instead of the sign-in form, for a portal link that expired or was refused. */
export function renderPortalEnded(ctx, reason, session, onLeave) {
  const heading = reason === "expired" ? "This link has expired" : "This link is not valid";
  const why =
    reason === "expired"
      ? `The portal link for ${session.tenantName || session.tenantId} expired at ${new Date(session.expiresAt).toLocaleString()}. Ask whoever sent it for a new one.`
      : "The server did not accept this portal link: it may have been revoked or changed, or its tenant removed. Ask whoever sent it for a new one.";
  const leave = h("button", { type: "button", class: "link" }, "Sign in with an API key instead");
  leave.addEventListener("click", () => {
    clearSession();
    onLeave();
  });
  replaceChildren(
    ctx.view,
    h("div", { class: "panel sign-in", role: "alert", "data-testid": "portal-ended", "data-reason": reason }, h("h1", null, heading), h("p", null, why), h("div", { class: "form-actions" }, leave)),
  );
}
