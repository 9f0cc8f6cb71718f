/**
 * What one tenant can learn about another through answers meant for itself: an event id
 * another tenant used answers exactly as an id of its own reused after the idempotency window
 * (a 409 that says nothing of whose it is), and an accepted event lists only the deliveries the
 * tenant can read, never those to the operator's global webhook.
 */
import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { adminHeaders, closeAll, expectProblem, makeTenant, startTestServer, tenantHeaders } from "../api/helpers.js";

afterEach(closeAll);

describe("tenant leaks", () => {
  it("another tenant's event id answers the same 409 as the tenant's own id reused after the window", async () => {
    const server = await startTestServer({ HERALD_IDEMPOTENCY_WINDOW_MS: "1000" });
    const other = await makeTenant(server);
    const taken = randomUUID();
    const own = randomUUID();
    const post = (headers: Record<string, string>, id: string) =>
      server.app.inject({ method: "POST", url: "/v1/events", headers, payload: { type: "probe.sent", data: {}, id } });
    expect((await post(other.headers, taken)).statusCode).toBe(202);
    expect((await post(tenantHeaders(server), own)).statusCode).toBe(202);
    await new Promise((resolve) => setTimeout(resolve, 1_100));

    const foreign = await post(tenantHeaders(server), taken);
    const reused = await post(tenantHeaders(server), own);
    expectProblem(foreign, "HERALD_ERR_EVENT_ID_CONFLICT");
    expectProblem(reused, "HERALD_ERR_EVENT_ID_CONFLICT");
    const shape = (body: string, id: string) => ({ ...JSON.parse(body.replaceAll(id, "<id>")), instance: null });
    expect(shape(foreign.body, taken)).toEqual(shape(reused.body, own));
    expect(foreign.body).not.toMatch(new RegExp(other.id));
  });

  it("a tenant's 202 lists its own webhooks' deliveries and not the global webhook's; the admin's lists both", async () => {
    const server = await startTestServer({ GLOBAL_WEBHOOK_URL: "http://127.0.0.1:9/global" });
    const created = await server.app.inject({ method: "POST", url: "/v1/webhooks", headers: tenantHeaders(server), payload: { url: "http://127.0.0.1:9/own" } });
    expect(created.statusCode).toBe(201);
    const ownWebhook = created.json<{ id: string }>().id;

    const accepted = await server.app.inject({ method: "POST", url: "/v1/events", headers: tenantHeaders(server), payload: { type: "probe.sent", data: {} } });
    expect(accepted.statusCode).toBe(202);
    const { id: eventId, deliveries } = accepted.json<{ id: string; deliveries: string[] }>();

    const all = await server.app.inject({ method: "GET", url: `/v1/events/${eventId}`, headers: adminHeaders(server) });
    const items = all.json<{ deliveries: Array<{ id: string; webhookId: string }> }>().deliveries;
    expect(items).toHaveLength(2); // the event did go to both webhooks
    expect(deliveries).toEqual(items.filter((d) => d.webhookId === ownWebhook).map((d) => d.id));
    for (const id of deliveries) {
      const read = await server.app.inject({ method: "GET", url: `/v1/deliveries/${id}`, headers: tenantHeaders(server) });
      expect(read.statusCode).toBe(200); // every id listed is one the tenant can read
    }

    // A replay of the same event (same id) answers the same list.
    const replay = await server.app.inject({ method: "POST", url: "/v1/events", headers: tenantHeaders(server), payload: { type: "probe.sent", data: {}, id: eventId } });
    expect(replay.json<{ deliveries: string[]; duplicate: boolean }>()).toMatchObject({ duplicate: true, deliveries });

    const byAdmin = await server.app.inject({ method: "POST", url: "/v1/events", headers: adminHeaders(server), payload: { type: "probe.sent", data: {} } });
    expect(byAdmin.json<{ deliveries: string[] }>().deliveries).toHaveLength(2);
  });
});
