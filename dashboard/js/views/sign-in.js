// Sign-in with a tenant or an admin API key. Which one it is, the server tells (see signIn).
import { ApiError, saveSession, signIn } from "../api.js";
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
