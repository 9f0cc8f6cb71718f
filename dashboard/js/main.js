// The dashboard shell: sign-in gate, navigation and a small hash router. Each view is a module
// exporting render(ctx); the router gives it a fresh context per visit and stops that visit's
// timers when the user moves on, so a view left behind never polls or writes into the page.
import { clearSession, loadSession, makeApi, portalEnded, portalSessionFrom, saveSession } from "./api.js";
import { h, replaceChildren } from "./dom.js";
import { renderPortalEnded, renderSignIn } from "./views/sign-in.js";
import { renderWebhookList } from "./views/webhook-list.js";
import { renderWebhookForm } from "./views/webhook-form.js";
import { renderWebhookDetail } from "./views/webhook-detail.js";
import { renderDeliveryLog } from "./views/delivery-log.js";
import { renderDeliveryDetail } from "./views/delivery-detail.js";
import { renderEventList, renderEventDetail } from "./views/events.js";

const routes = [
  { pattern: /^\/webhooks\/new$/, nav: "webhooks", render: renderWebhookForm },
  { pattern: /^\/webhooks\/([^/]+)\/edit$/, nav: "webhooks", render: renderWebhookForm },
  { pattern: /^\/webhooks\/([^/]+)$/, nav: "webhooks", render: renderWebhookDetail },
  { pattern: /^\/webhooks$/, nav: "webhooks", render: renderWebhookList },
  { pattern: /^\/deliveries\/([^/]+)$/, nav: "deliveries", render: renderDeliveryDetail },
  { pattern: /^\/deliveries$/, nav: "deliveries", render: renderDeliveryLog },
  { pattern: /^\/events\/([^/]+)$/, nav: "events", render: renderEventDetail },
  { pattern: /^\/events$/, nav: "events", render: renderEventList },
];

const view = document.getElementById("view");
const nav = document.getElementById("nav");
const whoami = document.getElementById("whoami");
let visit = null;
let portalExpiry = null;

function parseHash() {
  const hash = location.hash.replace(/^#/, "") || "/webhooks";
  const [path, search = ""] = hash.split("?");
  return { path: path || "/webhooks", query: new URLSearchParams(search) };
}

export function hrefTo(path, query = {}) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) if (value !== undefined && value !== null && value !== "") params.set(name, value);
  const search = params.toString();
  return `#${path}${search ? `?${search}` : ""}`;
}

function navigate(path, query) {
  const target = hrefTo(path, query);
  if (location.hash === target) void route();
  else location.hash = target;
}

/** Forgets the key and shows the sign-in form; the hash stays, so signing in again returns here. */
function signOut() {
  clearSession();
  void route();
}

/** One visit to one route: its timers die with it. */
function makeVisit(api, params, query) {
  const timers = new Set();
  let alive = true;
  return {
    api,
    view,
    params,
    query,
    navigate,
    hrefTo,
    get alive() {
      return alive;
    },
    /** Runs fn every ms while the visit lasts and the tab is visible; never two runs at once. */
    poll(fn, ms) {
      let running = false;
      const timer = setInterval(async () => {
        if (!alive || running || document.hidden) return;
        running = true;
        try {
          await fn();
        } catch {
          // A failed refresh is retried on the next tick; the view keeps its last good data.
        } finally {
          running = false;
        }
      }, ms);
      timers.add(timer);
    },
    end() {
      alive = false;
      for (const timer of timers) clearInterval(timer);
    },
  };
}

/**
 * A portal link (`#portal=<token>`) becomes this tab's session, then leaves the address bar (and
 * the history entry), so it is not bookmarked, shared by copying the address, or shown on screen.
 */
function takePortalLink() {
  const session = portalSessionFrom(location.hash);
  if (!session) return;
  saveSession(session);
  history.replaceState(null, "", `${location.pathname}${location.search}#/webhooks`);
}

/** A portal session refused by the server (401) ends: expired if its time has come, else not valid. */
function portalRefused(session) {
  saveSession({ ...session, ended: Date.now() >= session.expiresAt ? "expired" : "invalid" });
  void route();
}

function showWhoami(session) {
  if (session.role !== "portal") {
    return replaceChildren(
      whoami,
      h("span", { class: "role", "data-testid": "role" }, session.role === "admin" ? "admin" : "tenant"),
      h("button", { type: "button", class: "link", onclick: signOut, "data-testid": "sign-out" }, "Sign out"),
    );
  }
  const until = new Date(session.expiresAt);
  replaceChildren(
    whoami,
    h("span", { class: "role", "data-testid": "role" }, session.readOnly ? "portal · read-only" : "portal"),
    h("span", { class: "portal-tenant", "data-testid": "portal-tenant", title: session.tenantId }, session.tenantName || session.tenantId),
    h("span", { class: "muted small-text portal-expiry", "data-testid": "portal-expiry", title: until.toISOString() }, `link valid until ${until.toLocaleString()}`),
  );
}

async function route() {
  visit?.end();
  clearTimeout(portalExpiry);
  takePortalLink();
  const session = loadSession();
  document.body.toggleAttribute("data-read-only", session?.role === "portal" && session.readOnly);
  const ended = session ? portalEnded(session) : null;
  if (ended) {
    nav.hidden = true;
    whoami.hidden = true;
    visit = makeVisit(null, [], new URLSearchParams());
    renderPortalEnded(visit, ended, session, () => void route());
    return;
  }
  // An open page turns into the expiry notice when the link's time is up, not at the next click.
  if (session?.role === "portal") portalExpiry = setTimeout(() => void route(), session.expiresAt - Date.now() + 50);
  if (!session) {
    nav.hidden = true;
    whoami.hidden = true;
    visit = makeVisit(null, [], new URLSearchParams());
    renderSignIn(visit, () => void route());
    return;
  }
  nav.hidden = false;
  whoami.hidden = false;
  showWhoami(session);
  const api = makeApi(session, { onUnauthorized: session.role === "portal" ? () => portalRefused(session) : signOut });
  const { path, query } = parseHash();
  const match = routes.map((r) => ({ r, m: r.pattern.exec(path) })).find((x) => x.m);
  if (!match) {
    navigate("/webhooks");
    return;
  }
  for (const link of nav.querySelectorAll("a")) {
    link.classList.toggle("current", link.dataset.nav === match.r.nav);
    if (link.dataset.nav === match.r.nav) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const current = makeVisit(api, match.m.slice(1).map(decodeURIComponent), query);
  visit = current;
  replaceChildren(view, h("p", { class: "muted loading" }, "Loading…"));
  try {
    await match.r.render(current);
  } catch (error) {
    if (current.alive) {
      replaceChildren(view, h("div", { class: "panel error-panel", role: "alert" }, h("h1", null, "Could not load this page"), h("p", null, error?.message ?? String(error))));
    }
  }
}

window.addEventListener("hashchange", () => void route());
void route();
