/**
 * The HTTP API of a running test server over a real socket (fetch, not app.inject), as a seed's
 * user would call it, and a wait for a delivery to finish.
 */
import { eventually } from "../helpers/engine.js";
import { tenantHeaders, type TestServer } from "../api/helpers.js";

export interface ApiAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** One call with the default tenant's key; the body is parsed when there is one. */
export async function callApi(server: TestServer, method: string, path: string, body?: unknown): Promise<ApiAnswer> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { ...tenantHeaders(server), ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text === "" ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

/** Creates a webhook, failing the test with the server's answer if it is not 201. */
export async function createWebhook(server: TestServer, input: Record<string, unknown>): Promise<Record<string, unknown>> {
  const answer = await callApi(server, "POST", "/v1/webhooks", input);
  if (answer.status !== 201) throw new Error(`POST /v1/webhooks answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return answer.body;
}

/** Posts one event and returns the id of its only delivery. */
export async function postEvent(server: TestServer, type: string, data: unknown): Promise<string> {
  const answer = await callApi(server, "POST", "/v1/events", { type, data });
  const deliveries = answer.body.deliveries as string[] | undefined;
  if (answer.status !== 202 || deliveries?.length !== 1) throw new Error(`POST /v1/events answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return deliveries[0]!;
}

/** The delivery once it has succeeded or given up. */
export async function finishedDelivery(server: TestServer, id: string): Promise<Record<string, unknown>> {
  return eventually(async () => {
    const { body } = await callApi(server, "GET", `/v1/deliveries/${id}`);
    return body.status === "succeeded" || body.status === "failed" ? body : undefined;
  }, 15_000, `delivery ${id} to finish`);
}
