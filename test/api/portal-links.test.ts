/**
 * Tenant portal links: minted by the admin (`POST /v1/tenants/{id}/portal-links`, and Svix's
 * `authentication.appPortalAccess` through the official client), they act as their tenant's key
 * until they expire: confined to that tenant's data, never admin, read-only when minted so, and
 * refused when changed, expired, from another server or of a deleted tenant. Real server on a
 * real socket, both stores.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Svix } from "svix";
import { AUTH_FAILURE_BURST } from "../../src/api/auth.js";
import { adminHeaders, closeAll, expectProblem, makeTenant, startReceiver, startTestServer, type TestServer } from "./helpers.js";
import { rejection } from "./svix-rejection.js";

afterEach(closeAll);

interface MintedLink {
  url: string;
  token: string;
  tenantId: string;
  expiresAt: string;
  readOnly: boolean;
}

/** On the server's socket, as an admin's script would: the link is built from the address it called. No body means the defaults. */
async function mint(server: TestServer, tenantId: string, body?: object): Promise<MintedLink> {
  const response = await fetch(`${server.url}/v1/tenants/${tenantId}/portal-links`, {
    method: "POST",
    headers: { ...adminHeaders(server), ...(body ? { "content-type": "application/json" } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  if (response.status !== 201) throw new Error(`minting failed: ${response.status} ${await response.text()}`);
  return (await response.json()) as MintedLink;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Two tenants, each with a webhook on a real receiver and one delivered event. */
async function twoTenants(server: TestServer) {
  const receiver = await startReceiver();
  const tenants = [];
  for (const name of ["Acme", "Globex"]) {
    const tenant = await makeTenant(server, name);
    const webhook = await server.app.inject({ method: "POST", url: "/v1/webhooks", headers: tenant.headers, payload: { url: receiver.url, events: ["*"], name: `${name} hooks` } });
    expect(webhook.statusCode).toBe(201);
    const event = await server.app.inject({ method: "POST", url: "/v1/events", headers: tenant.headers, payload: { type: "order.paid", data: { by: name } } });
    expect(event.statusCode).toBe(202);
    tenants.push({ ...tenant, webhookId: webhook.json<{ id: string }>().id, eventId: event.json<{ id: string }>().id });
  }
  await receiver.waitFor(2);
  return tenants as [(typeof tenants)[number], (typeof tenants)[number]];
}

describe("portal links on /v1", () => {
  it("the admin mints a link: the dashboard URL with the token in its fragment, valid an hour by default", async () => {
    const server = await startTestServer();
    const tenant = await makeTenant(server, "Acme");
    const before = Date.now();
    const link = await mint(server, tenant.id);
    expect(link).toMatchObject({ tenantId: tenant.id, readOnly: false });
    expect(link.token).toMatch(/^hpl_[\w-]+\.[\w-]+$/);
    expect(link.url).toBe(`${server.url}/#portal=${link.token}`);
    const expiresAt = Date.parse(link.expiresAt);
    expect(expiresAt).toBeGreaterThanOrEqual(before + 3_600_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 3_600_000);
    const long = await mint(server, tenant.id, { expiresInSeconds: 7 * 86_400, readOnly: true });
    expect(long.readOnly).toBe(true);
    expect(Date.parse(long.expiresAt)).toBeGreaterThan(Date.now() + 7 * 86_400_000 - 60_000);
  });

  it("refuses an unknown tenant (404), and an expiry out of range or not whole (422 naming expiresInSeconds)", async () => {
    const server = await startTestServer();
    const tenant = await makeTenant(server);
    const unknown = await server.app.inject({ method: "POST", url: "/v1/tenants/no-such-tenant/portal-links", headers: adminHeaders(server), payload: {} });
    expectProblem(unknown, "HERALD_ERR_TENANT_NOT_FOUND");
    for (const expiresInSeconds of [0, -5, 1.5, 7 * 86_400 + 1]) {
      const response = await server.app.inject({ method: "POST", url: `/v1/tenants/${tenant.id}/portal-links`, headers: adminHeaders(server), payload: { expiresInSeconds } });
      expectProblem(response, "HERALD_ERR_VALIDATION", String(expiresInSeconds));
      expect(response.json().field).toBe("expiresInSeconds");
    }
    const typo = await server.app.inject({ method: "POST", url: `/v1/tenants/${tenant.id}/portal-links`, headers: adminHeaders(server), payload: { expiresIn: 60 } });
    expect(typo.statusCode).toBe(400);
  });

  it("a tenant key cannot mint a link, not even for its own tenant, and neither can a portal link", async () => {
    const server = await startTestServer();
    const tenant = await makeTenant(server);
    const asTenant = await server.app.inject({ method: "POST", url: `/v1/tenants/${tenant.id}/portal-links`, headers: tenant.headers, payload: {} });
    expectProblem(asTenant, "HERALD_ERR_FORBIDDEN");
    const link = await mint(server, tenant.id);
    const asPortal = await server.app.inject({ method: "POST", url: `/v1/tenants/${tenant.id}/portal-links`, headers: bearer(link.token), payload: {} });
    expectProblem(asPortal, "HERALD_ERR_FORBIDDEN");
  });

  it("a link reads only its tenant's webhooks, events and deliveries: another tenant's ids answer 404", async () => {
    const server = await startTestServer();
    const [acme, globex] = await twoTenants(server);
    const link = await mint(server, acme.id);
    for (const headers of [bearer(link.token), { apikey: link.token }]) {
      const webhooks = await server.app.inject({ method: "GET", url: "/v1/webhooks", headers });
      expect(webhooks.statusCode).toBe(200);
      expect(webhooks.json().data.map((w: { id: string }) => w.id)).toEqual([acme.webhookId]);
    }
    const headers = bearer(link.token);
    const deliveries = (await server.app.inject({ method: "GET", url: "/v1/deliveries", headers })).json<{ data: Array<{ id: string; tenantId: string; webhookId: string }> }>().data;
    expect(deliveries.length).toBeGreaterThan(0);
    expect(new Set(deliveries.map((d) => d.tenantId))).toEqual(new Set([acme.id]));
    expect(new Set(deliveries.map((d) => d.webhookId))).toEqual(new Set([acme.webhookId]));
    const events = (await server.app.inject({ method: "GET", url: "/v1/events", headers })).json<{ data: Array<{ tenantId: string }> }>().data;
    expect(new Set(events.map((e) => e.tenantId))).toEqual(new Set([acme.id]));

    const globexDeliveries = (await server.app.inject({ method: "GET", url: "/v1/deliveries", headers: globex.headers })).json<{ data: Array<{ id: string }> }>().data;
    expectProblem(await server.app.inject({ method: "GET", url: `/v1/webhooks/${globex.webhookId}`, headers }), "HERALD_ERR_WEBHOOK_NOT_FOUND");
    expectProblem(await server.app.inject({ method: "GET", url: `/v1/webhooks/${globex.webhookId}/stats`, headers }), "HERALD_ERR_WEBHOOK_NOT_FOUND");
    expectProblem(await server.app.inject({ method: "GET", url: `/v1/deliveries/${globexDeliveries[0]!.id}`, headers }), "HERALD_ERR_DELIVERY_NOT_FOUND");
    expectProblem(await server.app.inject({ method: "GET", url: `/v1/events/${globex.eventId}`, headers }), "HERALD_ERR_EVENT_NOT_FOUND");
    expectProblem(await server.app.inject({ method: "GET", url: `/v1/webhooks?tenantId=${globex.id}`, headers }), "HERALD_ERR_TENANT_NOT_FOUND");
    expectProblem(await server.app.inject({ method: "DELETE", url: `/v1/webhooks/${globex.webhookId}`, headers }), "HERALD_ERR_WEBHOOK_NOT_FOUND");
    // Globex's webhook is still there.
    expect((await server.app.inject({ method: "GET", url: `/v1/webhooks/${globex.webhookId}`, headers: globex.headers })).statusCode).toBe(200);
  });

  it("a link cannot call admin routes", async () => {
    const server = await startTestServer();
    const tenant = await makeTenant(server);
    const headers = bearer((await mint(server, tenant.id)).token);
    for (const [method, url] of [["GET", "/v1/tenants"], ["GET", `/v1/tenants/${tenant.id}`], ["POST", `/v1/tenants/${tenant.id}/api-keys`], ["GET", `/v1/tenants/${tenant.id}/api-keys`], ["DELETE", `/v1/tenants/${tenant.id}`]] as const) {
      expectProblem(await server.app.inject({ method, url, headers, ...(method === "POST" ? { payload: {} } : {}) }), "HERALD_ERR_FORBIDDEN", `${method} ${url}`);
    }
    const asAdminHeader = await server.app.inject({ method: "GET", url: "/v1/tenants", headers: { "x-admin-api-key": (await mint(server, tenant.id)).token } });
    expectProblem(asAdminHeader, "HERALD_ERR_UNAUTHORIZED");
  });

  it("a full link writes as its tenant; a read-only link reads but every write answers 403", async () => {
    const server = await startTestServer();
    const receiver = await startReceiver();
    const tenant = await makeTenant(server);
    const full = bearer((await mint(server, tenant.id)).token);
    const created = await server.app.inject({ method: "POST", url: "/v1/webhooks", headers: full, payload: { url: receiver.url, events: ["*"] } });
    expect(created.statusCode).toBe(201);
    expect(created.json().tenantId).toBe(tenant.id);
    const webhookId = created.json<{ id: string }>().id;

    const readOnly = bearer((await mint(server, tenant.id, { readOnly: true })).token);
    expect((await server.app.inject({ method: "GET", url: `/v1/webhooks/${webhookId}`, headers: readOnly })).statusCode).toBe(200);
    const writes = [
      { method: "POST", url: "/v1/webhooks", payload: { url: receiver.url } },
      { method: "PATCH", url: `/v1/webhooks/${webhookId}`, payload: { name: "renamed" } },
      { method: "POST", url: `/v1/webhooks/${webhookId}/test`, payload: {} },
      { method: "POST", url: "/v1/events", payload: { type: "order.paid", data: {} } },
      { method: "DELETE", url: `/v1/webhooks/${webhookId}` },
    ] as const;
    for (const write of writes) {
      const response = await server.app.inject({ ...write, headers: readOnly });
      expectProblem(response, "HERALD_ERR_FORBIDDEN", `${write.method} ${write.url}`);
      expect(response.json().field).toBe("portal");
    }
    // A signing secret is more than a look: with it one can sign deliveries the receivers accept.
    const secret = await server.app.inject({ method: "GET", url: `/v1/webhooks/${webhookId}/secret`, headers: readOnly });
    expectProblem(secret, "HERALD_ERR_FORBIDDEN");
    expect(secret.json().field).toBe("portal");
    expect(secret.body).not.toContain("whsec_");
    expect((await server.app.inject({ method: "GET", url: `/v1/webhooks/${webhookId}/secret`, headers: full })).statusCode).toBe(200);
    const after = await server.app.inject({ method: "GET", url: `/v1/webhooks/${webhookId}`, headers: full });
    expect(after.json().name).not.toBe("renamed");
    expect(receiver.requests).toHaveLength(0);
  });

  it("a link stops at its expiry with a 401 saying so, and an expired link is not counted as a guessed key", async () => {
    const server = await startTestServer();
    const tenant = await makeTenant(server);
    const link = await mint(server, tenant.id, { expiresInSeconds: 1 });
    expect((await server.app.inject({ method: "GET", url: "/v1/webhooks", headers: bearer(link.token) })).statusCode).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Date.parse(link.expiresAt) - Date.now()) + 50));
    // More than the wrong-key allowance of one address: none of them is throttled.
    for (let i = 0; i < AUTH_FAILURE_BURST + 5; i++) {
      const expired = await server.app.inject({ method: "GET", url: "/v1/webhooks", headers: bearer(link.token) });
      expectProblem(expired, "HERALD_ERR_UNAUTHORIZED");
      expect(expired.json()).toMatchObject({ field: "portal", detail: expect.stringContaining("expired") });
    }
    expect((await server.app.inject({ method: "GET", url: "/v1/webhooks", headers: tenant.headers })).statusCode).toBe(200);
  });

  it("a changed, cut or foreign token answers 401 and counts as a wrong key", async () => {
    const server = await startTestServer();
    const other = await startTestServer();
    const [acme, globex] = await twoTenants(server);
    const { token } = await mint(server, acme.id, { readOnly: true });
    const [claims, mac] = token.slice("hpl_".length).split(".") as [string, string];
    const wire = JSON.parse(Buffer.from(claims, "base64url").toString("utf8")) as Record<string, unknown>;
    const forge = (change: Record<string, unknown>) => `hpl_${Buffer.from(JSON.stringify({ ...wire, ...change })).toString("base64url")}.${mac}`;
    const flipped = mac.startsWith("A") ? `B${mac.slice(1)}` : `A${mac.slice(1)}`;
    const foreignTenant = await makeTenant(other);
    const foreign = (await mint(other, foreignTenant.id)).token;
    const tampered = [
      forge({ tid: globex.id }),
      forge({ ro: false }),
      forge({ exp: Date.now() + 86_400_000 }),
      `hpl_${claims}.${flipped}`,
      `hpl_${claims}`,
      `hpl_${claims}.`,
      token.slice(0, -3),
      "hpl_",
    ];
    for (const bad of tampered) {
      const response = await server.app.inject({ method: "GET", url: "/v1/webhooks", headers: bearer(bad) });
      expectProblem(response, "HERALD_ERR_UNAUTHORIZED", bad);
    }
    // The other server's link opens that server's tenant there, nothing here.
    expect((await other.app.inject({ method: "GET", url: "/v1/webhooks", headers: bearer(foreign) })).statusCode).toBe(200);
    expectProblem(await server.app.inject({ method: "GET", url: "/v1/webhooks", headers: bearer(foreign) }), "HERALD_ERR_UNAUTHORIZED");
    // Forged tokens are guesses: the address runs out of tries like with wrong API keys.
    let throttled = 0;
    for (let i = 0; i < AUTH_FAILURE_BURST + 2; i++) {
      const response = await server.app.inject({ method: "GET", url: "/v1/webhooks", headers: bearer(tampered[0]!) });
      if (response.statusCode === 429) throttled++;
    }
    expect(throttled).toBeGreaterThan(0);
  });

  it("revoking a tenant's links ends every one made until then, at once; links made later and other tenants' links work", async () => {
    const server = await startTestServer();
    const [acme, globex] = await twoTenants(server);
    const before = [await mint(server, acme.id), await mint(server, acme.id, { readOnly: true })];
    const globexLink = await mint(server, globex.id);
    for (const { token } of before) expect((await server.app.inject({ method: "GET", url: "/v1/webhooks", headers: bearer(token) })).statusCode).toBe(200);

    expectProblem(await server.app.inject({ method: "DELETE", url: `/v1/tenants/${acme.id}/portal-links`, headers: acme.headers }), "HERALD_ERR_FORBIDDEN");
    expectProblem(await server.app.inject({ method: "DELETE", url: `/v1/tenants/${acme.id}/portal-links`, headers: bearer(before[0]!.token) }), "HERALD_ERR_FORBIDDEN");
    expectProblem(await server.app.inject({ method: "DELETE", url: "/v1/tenants/no-such-tenant/portal-links", headers: adminHeaders(server) }), "HERALD_ERR_TENANT_NOT_FOUND");
    const revoked = await server.app.inject({ method: "DELETE", url: `/v1/tenants/${acme.id}/portal-links`, headers: adminHeaders(server) });
    expect(revoked.statusCode).toBe(200);
    expect(revoked.json()).toMatchObject({ tenantId: acme.id, revokedBefore: expect.any(String) });

    for (const { token } of before) {
      const refused = await server.app.inject({ method: "GET", url: "/v1/webhooks", headers: bearer(token) });
      expectProblem(refused, "HERALD_ERR_UNAUTHORIZED");
      expect(refused.json().detail).toContain("revoked");
    }
    const after = await mint(server, acme.id);
    expect((await server.app.inject({ method: "GET", url: "/v1/webhooks", headers: bearer(after.token) })).statusCode).toBe(200);
    expect((await server.app.inject({ method: "GET", url: "/v1/webhooks", headers: bearer(globexLink.token) })).statusCode).toBe(200);
    // The tenant's API key is not a portal link: untouched.
    expect((await server.app.inject({ method: "GET", url: "/v1/webhooks", headers: acme.headers })).statusCode).toBe(200);
  });

  it("an API key that happens to begin with hpl_ is still an API key", async () => {
    const key = `hpl_${"k".repeat(40)}`;
    const server = await startTestServer({ DEFAULT_WALLET_AUTH_API_KEY: key });
    expect((await server.app.inject({ method: "GET", url: "/v1/webhooks", headers: bearer(key) })).statusCode).toBe(200);
    const wrong = await server.app.inject({ method: "GET", url: "/v1/webhooks", headers: bearer(`hpl_${"j".repeat(40)}`) });
    expectProblem(wrong, "HERALD_ERR_UNAUTHORIZED");
    expect(wrong.json().field).toBe("portal");
  });

  it("a link of a deleted tenant stops working at once", async () => {
    const server = await startTestServer();
    const tenant = await makeTenant(server);
    const { token } = await mint(server, tenant.id);
    expect((await server.app.inject({ method: "GET", url: "/v1/webhooks", headers: bearer(token) })).statusCode).toBe(200);
    expect((await server.app.inject({ method: "DELETE", url: `/v1/tenants/${tenant.id}`, headers: adminHeaders(server) })).statusCode).toBe(204);
    const after = await server.app.inject({ method: "GET", url: "/v1/webhooks", headers: bearer(token) });
    expectProblem(after, "HERALD_ERR_UNAUTHORIZED");
    expect(after.json().detail).toContain("no longer exists");

    // A tenant created again with the same id is not the one the link was made for.
    const again = await server.app.inject({ method: "POST", url: "/v1/tenants", headers: adminHeaders(server), payload: { id: tenant.id, name: "again" } });
    expect(again.statusCode).toBe(201);
    const reused = await server.app.inject({ method: "GET", url: "/v1/webhooks", headers: bearer(token) });
    expectProblem(reused, "HERALD_ERR_UNAUTHORIZED");
    expect(reused.json().detail).toContain("no longer exists");
    const fresh = await mint(server, tenant.id);
    expect((await server.app.inject({ method: "GET", url: "/v1/webhooks", headers: bearer(fresh.token) })).statusCode).toBe(200);
  });
});

describe("Svix app portal access", () => {
  it("authentication.appPortalAccess answers {url, token}: a link to the application's tenant, 7 days by default, read-only when asked", async () => {
    const server = await startTestServer({ HERALD_RATE_LIMIT_PER_SECOND: "100000" });
    const svix = new Svix(server.adminApiKey, { serverUrl: server.url });
    const app = await svix.application.create({ name: "Acme", uid: "acme" });
    const other = await svix.application.create({ name: "Globex", uid: "globex" });
    const receiver = await startReceiver();
    const otherEndpoint = await svix.endpoint.create(other.id, { url: receiver.url });

    const access = await svix.authentication.appPortalAccess("acme", {});
    expect(Object.keys(access).sort()).toEqual(["token", "url"]);
    expect(access.url).toBe(`${server.url}/#portal=${access.token}`);
    const wire = JSON.parse(Buffer.from(access.token.slice(4).split(".")[0]!, "base64url").toString("utf8")) as { tid: string; exp: number; ro: boolean };
    expect(wire).toMatchObject({ tid: app.id, ro: false });
    expect(wire.exp).toBeGreaterThan(Date.now() + 7 * 86_400_000 - 60_000);

    // The token is the application's key for the Svix API too, and no other application's.
    const portal = new Svix(access.token, { serverUrl: server.url });
    expect((await portal.application.list()).data.map((a) => a.id)).toEqual([app.id]);
    const made = await portal.endpoint.create(app.id, { url: receiver.url });
    expect(made.url).toBe(receiver.url);
    const hidden = await rejection(portal.endpoint.get(other.id, otherEndpoint.id));
    expect([hidden.code, hidden.body.code]).toEqual([404, "not_found"]);

    const readOnly = await svix.authentication.appPortalAccess(app.id, { readOnly: true, expiry: 3_600 });
    const viewer = new Svix(readOnly.token, { serverUrl: server.url });
    expect((await viewer.endpoint.list(app.id)).data).toHaveLength(1);
    const refused = await rejection(viewer.endpoint.create(app.id, { url: receiver.url }));
    expect([refused.code, refused.body.code]).toEqual([403, "insufficient_access"]);
    const secret = await rejection(viewer.endpoint.getSecret(app.id, made.id));
    expect([secret.code, secret.body.code]).toEqual([403, "insufficient_access"]);
  });

  it("only the admin key mints; an unknown application is 404 unless `application` creates it; capabilities are 501", async () => {
    const server = await startTestServer({ HERALD_RATE_LIMIT_PER_SECOND: "100000" });
    const svix = new Svix(server.adminApiKey, { serverUrl: server.url });
    const tenant = await makeTenant(server, "own");
    const own = new Svix(tenant.headers.authorization!.replace("Bearer ", ""), { serverUrl: server.url });
    const forbidden = await rejection(own.authentication.appPortalAccess(tenant.id, {}));
    expect([forbidden.code, forbidden.body.code]).toEqual([403, "insufficient_access"]);

    const unknown = await rejection(svix.authentication.appPortalAccess("nobody", {}));
    expect([unknown.code, unknown.body.code]).toEqual([404, "not_found"]);
    const created = await svix.authentication.appPortalAccess("newco", { application: { name: "NewCo" } });
    const app = await svix.application.get("newco");
    expect(app.name).toBe("NewCo");
    const headers = bearer(created.token);
    expect((await server.app.inject({ method: "GET", url: "/v1/webhooks", headers })).statusCode).toBe(200);

    const capabilities = await rejection(svix.authentication.appPortalAccess(app.id, { capabilities: ["ViewBase"] }));
    expect([capabilities.code, capabilities.body.code]).toEqual([501, "not_supported"]);
    const expiry = await rejection(svix.authentication.appPortalAccess(app.id, { expiry: 8 * 86_400 }));
    expect(expiry.code).toBe(422);
  });

  it("authentication.expireAll revokes the application's links at once; only the admin key may", async () => {
    const server = await startTestServer({ HERALD_RATE_LIMIT_PER_SECOND: "100000" });
    const svix = new Svix(server.adminApiKey, { serverUrl: server.url });
    const app = await svix.application.create({ name: "Acme", uid: "acme" });
    const { token } = await svix.authentication.appPortalAccess("acme", {});
    const portal = new Svix(token, { serverUrl: server.url });
    expect((await portal.endpoint.list(app.id)).data).toEqual([]);

    const asPortal = await rejection(portal.authentication.expireAll(app.id, {}));
    expect([asPortal.code, asPortal.body.code]).toEqual([403, "insufficient_access"]);
    const delayed = await rejection(svix.authentication.expireAll(app.id, { expiry: 60 }));
    expect([delayed.code, delayed.body.code]).toEqual([501, "not_supported"]);
    await svix.authentication.expireAll("acme", {});
    const refused = await rejection(portal.endpoint.list(app.id));
    expect([refused.code, refused.body.code]).toEqual([401, "authentication_failed"]);
    const fresh = await svix.authentication.appPortalAccess(app.id, {});
    expect((await new Svix(fresh.token, { serverUrl: server.url }).endpoint.list(app.id)).data).toEqual([]);
  });
});
