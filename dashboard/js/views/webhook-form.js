// Create or edit a webhook. Only what the user can sensibly set here is on the form; the API
// accepts more (metadata, jitter...), and an edit sends only the fields shown, so those stay as they are.
import { h, replaceChildren, runAction, showSecret, toast } from "../dom.js";

const AUTH_FIELDS = {
  none: [],
  bearer: [["token", "Token", "password"]],
  basic: [["username", "Username", "text"], ["password", "Password", "password"]],
  "api-key": [["header_name", "Header name", "text"], ["api_key", "API key", "password"]],
  hmac: [
    ["secret", "HMAC secret", "password"],
    ["header_name", "Header name (default X-Webhook-Signature)", "text"],
    ["signature_format", "Signature format: prefixed (sha256=<hex>, default) or hex (bare digest, seed 004's receivers)", "text"],
  ],
  oauth2: [
    ["token_url", "Token URL", "url"],
    ["client_id", "Client ID", "text"],
    ["client_secret", "Client secret", "password"],
    ["scope", "Scope (optional)", "text"],
    ["audience", "Audience (optional)", "text"],
    ["auth_method", "Client authentication: client_secret_basic (default) or client_secret_post", "text"],
  ],
};

// Every format the API takes: a webhook whose format is missing here would be saved back as the first option.
const PAYLOAD_FORMATS = [
  ["identus", "identus (default)"],
  ["prism", "prism (PRISM Agent, seed 000)"],
  ["standard", "Standard Webhooks"],
  ["systemprompt", "systemprompt (seed 003)"],
  ["agentfactory", "agentfactory (seed 004)"],
  ["svix", "svix (the event's data, unwrapped)"],
];

function field(label, control, hint) {
  const id = control.id || `f-${control.name}`;
  control.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, label), control, hint ? h("small", { class: "muted" }, hint) : null);
}

function select(name, options, value) {
  return h("select", { name }, options.map(([optionValue, label]) => h("option", { value: optionValue, selected: optionValue === value }, label)));
}

/** "Name: value" lines to an object; blank lines are skipped. */
function parseHeaderLines(text) {
  const headers = {};
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const colon = line.indexOf(":");
    if (colon <= 0) throw new Error(`Headers: "${line.trim()}" is not "Name: value"`);
    headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return headers;
}

export async function renderWebhookForm(ctx) {
  const editingId = ctx.params[0];
  const webhook = editingId ? await ctx.api.get(`/v1/webhooks/${encodeURIComponent(editingId)}`) : null;
  const admin = ctx.api.session.role === "admin";
  const tenants = admin && !webhook ? ((await ctx.api.get("/v1/tenants").catch(() => null))?.data ?? []) : [];
  if (!ctx.alive) return;

  const retry = webhook?.retry ?? {};
  const inputs = {
    name: h("input", { name: "name", value: webhook?.name ?? "", maxlength: 200 }),
    url: h("input", { name: "url", type: "url", required: true, value: webhook?.url ?? "", placeholder: "https://example.com/webhooks", class: "mono" }),
    description: h("input", { name: "description", value: webhook?.description ?? "" }),
    events: h("input", { name: "events", value: (webhook?.events ?? ["*"]).join(", "), class: "mono" }),
    method: select("method", [["POST", "POST"], ["PUT", "PUT"], ["PATCH", "PATCH"]], webhook?.method ?? "POST"),
    payloadFormat: select("payloadFormat", PAYLOAD_FORMATS, webhook?.payloadFormat ?? "identus"),
    headers: h("textarea", { name: "headers", rows: 3, class: "mono", placeholder: "X-Team: payments" }),
    authType: select("authType", Object.keys(AUTH_FIELDS).map((type) => [type, type]), webhook?.auth?.type ?? "none"),
    timeoutMs: h("input", { name: "timeoutMs", type: "number", min: 1, value: webhook?.timeoutMs ?? "", placeholder: "30000" }),
    maxAttempts: h("input", { name: "maxAttempts", type: "number", min: 1, value: retry.maxAttempts ?? "", placeholder: "3" }),
    strategy: select("strategy", [["", "default"], ["exponential", "exponential"], ["linear", "linear"], ["fixed", "fixed"]], retry.strategy ?? ""),
    initialDelayMs: h("input", { name: "initialDelayMs", type: "number", min: 0, value: retry.initialDelayMs ?? "", placeholder: "1000" }),
    maxConcurrency: h("input", { name: "maxConcurrency", type: "number", min: 1, value: webhook?.maxConcurrency ?? "", placeholder: "10" }),
    tenant: admin && !webhook
      ? select("tenantId", [["", "global (every tenant's events)"], ...tenants.map((t) => [t.id, `${t.name} (${t.id})`])], tenants[0]?.id ?? "")
      : null,
  };
  // Header values come back masked (all but publicHeaders); unchanged headers are not sent, and a mask sent back keeps the stored value.
  const originalHeaders = Object.entries(webhook?.headers ?? {}).map(([name, value]) => `${name}: ${value}`).join("\n");
  inputs.headers.value = originalHeaders;

  const authBox = h("div", { class: "auth-fields" });
  let credentialInputs = {};
  function showAuthFields() {
    const type = inputs.authType.value;
    credentialInputs = Object.fromEntries(
      AUTH_FIELDS[type].map(([name, , kind]) => [name, h("input", { name: `auth.${name}`, type: kind, autocomplete: "off", class: "mono" })]),
    );
    replaceChildren(
      authBox,
      AUTH_FIELDS[type].map(([name, label]) => field(label, credentialInputs[name])),
      webhook && type !== "none" && type === webhook.auth?.type
        ? h("small", { class: "muted" }, "Stored credentials are not shown; leave these empty to keep them.")
        : null,
    );
  }
  inputs.authType.addEventListener("change", showAuthFields);
  showAuthFields();

  const errorBox = h("p", { class: "form-error", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", class: "primary", "data-testid": "save-webhook" }, webhook ? "Save changes" : "Create webhook");

  function readBody() {
    const number = (input) => (input.value === "" ? undefined : Number(input.value));
    const body = {
      url: inputs.url.value.trim(),
      description: inputs.description.value.trim(),
      events: inputs.events.value.split(",").map((e) => e.trim()).filter(Boolean),
      method: inputs.method.value,
      payloadFormat: inputs.payloadFormat.value,
    };
    if (inputs.name.value.trim()) body.name = inputs.name.value.trim();
    if (body.events.length === 0) body.events = ["*"];
    if (!webhook || inputs.headers.value !== originalHeaders) body.headers = parseHeaderLines(inputs.headers.value);
    for (const [name, input] of [["timeoutMs", inputs.timeoutMs], ["maxConcurrency", inputs.maxConcurrency]]) {
      const value = number(input);
      if (value !== undefined) body[name] = value;
    }
    const retryPatch = {};
    if (number(inputs.maxAttempts) !== undefined) retryPatch.maxAttempts = number(inputs.maxAttempts);
    if (number(inputs.initialDelayMs) !== undefined) retryPatch.initialDelayMs = number(inputs.initialDelayMs);
    if (inputs.strategy.value) retryPatch.strategy = inputs.strategy.value;
    if (Object.keys(retryPatch).length > 0) body.retry = retryPatch;

    const type = inputs.authType.value;
    const credentials = Object.fromEntries(Object.entries(credentialInputs).map(([name, input]) => [name, input.value]).filter(([, value]) => value !== ""));
    const keepStored = webhook && type === webhook.auth?.type && Object.keys(credentials).length === 0;
    if (!keepStored) body.auth = type === "none" ? { type: "none" } : { type, credentials };
    // The admin chooses the owner; "" in the select stands for a global webhook (tenantId null).
    if (inputs.tenant) body.tenantId = inputs.tenant.value || null;
    return body;
  }

  async function onSubmit(event) {
    event.preventDefault();
    errorBox.hidden = true;
    await runAction(submit, async () => {
      try {
        const body = readBody();
        if (webhook) {
          await ctx.api.patch(`/v1/webhooks/${encodeURIComponent(webhook.id)}`, body);
          toast("Saved.");
          ctx.navigate(`/webhooks/${encodeURIComponent(webhook.id)}`);
        } else {
          const created = await ctx.api.post("/v1/webhooks", body);
          const secret = created?.secret ?? created?.signingSecret;
          if (secret) await showSecret("Webhook created: signing secret", secret);
          ctx.navigate(`/webhooks/${encodeURIComponent(created.id)}`);
        }
      } catch (error) {
        errorBox.textContent = error?.message ?? String(error);
        errorBox.hidden = false;
      }
    });
  }

  replaceChildren(
    ctx.view,
    h("div", { class: "page-head" }, h("h1", null, webhook ? `Edit ${webhook.name || webhook.url}` : "New webhook")),
    h(
      "form",
      { class: "panel webhook-form", "data-testid": "webhook-form", onsubmit: onSubmit, novalidate: false },
      h(
        "fieldset",
        null,
        h("legend", null, "Endpoint"),
        field("Name", inputs.name),
        field("URL", inputs.url, "Where Herald sends each event."),
        field("Description", inputs.description),
        field("Events", inputs.events, "Comma-separated types or patterns: agent.*, custom, * for all."),
        inputs.tenant ? field("Tenant", inputs.tenant) : null,
      ),
      h(
        "fieldset",
        null,
        h("legend", null, "Request"),
        h("div", { class: "grid-2" }, field("Method", inputs.method), field("Payload format", inputs.payloadFormat)),
        field("Custom headers", inputs.headers, "One per line: Name: value"),
        field("Receiver authentication", inputs.authType),
        authBox,
      ),
      h(
        "fieldset",
        null,
        h("legend", null, "Delivery"),
        h(
          "div",
          { class: "grid-2" },
          field("Timeout (ms)", inputs.timeoutMs),
          field("Max concurrency", inputs.maxConcurrency),
          field("Retry strategy", inputs.strategy),
          field("Max attempts", inputs.maxAttempts),
          field("First retry delay (ms)", inputs.initialDelayMs),
        ),
      ),
      errorBox,
      h(
        "div",
        { class: "form-actions" },
        h("a", { class: "button secondary", href: webhook ? ctx.hrefTo(`/webhooks/${encodeURIComponent(webhook.id)}`) : ctx.hrefTo("/webhooks") }, "Cancel"),
        submit,
      ),
    ),
  );
  inputs.url.focus();
}
