// Builds DOM nodes from data without ever parsing data as HTML: every string becomes a text
// node or an attribute value, so an event type or a response body cannot inject markup.

const SVG_NS = "http://www.w3.org/2000/svg";

function appendChildren(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

function applyProps(el, props) {
  for (const [name, value] of Object.entries(props ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") el.setAttribute("class", value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "value" || name === "checked" || name === "selected") el[name] = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
}

/** An HTML element: h("a", { href: "#/x" }, "text", childNode, [more]). */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  applyProps(el, props);
  appendChildren(el, children);
  return el;
}

/** An SVG element, for the charts. */
export function svg(tag, props, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  applyProps(el, props);
  appendChildren(el, children);
  return el;
}

export function replaceChildren(parent, ...children) {
  parent.replaceChildren();
  appendChildren(parent, children);
}

// ---- formatting

const toMs = (value) => (typeof value === "number" ? value : Date.parse(value));

export function formatTime(value) {
  if (value === null || value === undefined) return "—";
  const ms = toMs(value);
  if (Number.isNaN(ms)) return String(value);
  return new Date(ms).toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" });
}

export function timeAgo(value) {
  if (value === null || value === undefined) return "never";
  const ms = toMs(value);
  if (Number.isNaN(ms)) return String(value);
  const seconds = Math.round((Date.now() - ms) / 1000);
  if (seconds < 5) return "just now";
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ago`;
  return `${Math.floor(seconds / 86400)}d ago`;
}

export function formatDuration(ms) {
  if (ms === null || ms === undefined) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

export function formatPercent(ratio) {
  if (ratio === null || ratio === undefined || Number.isNaN(ratio)) return "—";
  return `${(ratio * 100).toFixed(ratio === 1 || ratio === 0 ? 0 : 1)}%`;
}

/** A body as people read it: pretty JSON when it parses, the raw text otherwise. */
export function prettyBody(body) {
  if (body === null || body === undefined || body === "") return "";
  if (typeof body !== "string") return JSON.stringify(body, null, 2);
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}

/** A state or status as a coloured badge; the class comes from a fixed list, never from data. */
const BADGE_TONES = {
  succeeded: "good", active: "good", failed: "bad", disabled: "bad", pending: "wait", in_flight: "wait",
  inactive: "muted", cancelled: "muted",
};
export function badge(value) {
  const tone = BADGE_TONES[value] ?? "muted";
  return h("span", { class: `badge badge-${tone}`, "data-state": value }, String(value ?? "—").replace("_", " "));
}

export function headersTable(headers) {
  const entries = Object.entries(headers ?? {});
  if (entries.length === 0) return h("p", { class: "muted" }, "No headers.");
  return h(
    "table",
    { class: "kv" },
    h("tbody", null, entries.map(([name, value]) => h("tr", null, h("th", { scope: "row" }, name), h("td", null, String(value))))),
  );
}

// ---- feedback

let toastTimer = null;
export function toast(message, tone = "info") {
  const region = document.getElementById("toast");
  if (!region) return;
  region.className = `toast toast-${tone === "error" ? "error" : "info"}`;
  region.textContent = message;
  region.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (region.hidden = true), tone === "error" ? 8000 : 4000);
}

/** A modal <dialog> with the given body and buttons; resolves with the value of the button pressed. */
export function openDialog({ title, body, buttons }) {
  return new Promise((resolve) => {
    const dialog = h(
      "dialog",
      { class: "dialog", "aria-label": title },
      h("h2", null, title),
      h("div", { class: "dialog-body" }, body),
      h(
        "div",
        { class: "dialog-actions" },
        buttons.map((button) =>
          h("button", { type: "button", class: button.class ?? "", onclick: () => close(button.value) }, button.label),
        ),
      ),
    );
    function close(value) {
      dialog.close();
      dialog.remove();
      resolve(value);
    }
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      close(null);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

export async function confirmAction(title, message, confirmLabel = "Confirm", danger = false) {
  const answer = await openDialog({
    title,
    body: h("p", null, message),
    buttons: [
      { label: "Cancel", value: false, class: "secondary" },
      { label: confirmLabel, value: true, class: danger ? "danger" : "primary" },
    ],
  });
  return answer === true;
}

/** Shows a secret once, with a copy button: the API never returns it again in full. */
export function showSecret(title, secret) {
  const field = h("input", { type: "text", readonly: true, value: secret, class: "mono secret-value", "aria-label": "Secret" });
  const copy = h("button", {
    type: "button",
    class: "secondary",
    onclick: async () => {
      field.select();
      try {
        await navigator.clipboard.writeText(secret);
        toast("Copied.");
      } catch {
        toast("Select the text and copy it.");
      }
    },
  }, "Copy");
  return openDialog({
    title,
    body: [h("p", null, "Store it now: it is shown only once."), h("div", { class: "row" }, field, copy)],
    buttons: [{ label: "Done", value: true, class: "primary" }],
  });
}

/** Runs an action from a button, disabling it meanwhile and reporting failure as a toast. */
export async function runAction(button, action) {
  if (button) button.disabled = true;
  try {
    return await action();
  } catch (error) {
    toast(error?.message ?? String(error), "error");
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}
