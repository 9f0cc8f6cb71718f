/**
 * `--filter <json>` on webhooks:create and webhooks:update (payload filters, issue 14), run as
 * a user runs the CLI: a subprocess against a running server and a real receiver.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startReceiver, type TestReceiver } from "../helpers/receiver.js";
import { assertCliBuilt, cliJson, cliOk, expectOneLineError, runCli, startTestServer, type TestServer } from "./cli-harness.js";

let herald: TestServer;
let receiver: TestReceiver;
let env: Record<string, string>;

beforeAll(async () => {
  assertCliBuilt();
  herald = await startTestServer();
  receiver = await startReceiver();
  env = { HERALD_DATA_DIR: herald.dataDir };
});

afterAll(async () => {
  await receiver?.close();
  await herald?.close();
});

describe("herald webhooks --filter", () => {
  it("create sets the filter, only matching events are delivered, update changes and removes it", async () => {
    const created = await cliJson<{ id: string; filter: unknown }>(
      ["webhooks:create", "--url", `${receiver.url}/filtered`, "--events", "order.*", "--filter", '{"data.amount":{"$gte":100}}'],
      env,
    );
    expect(created.filter).toEqual({ "data.amount": { $gte: 100 } });
    const trigger = (amount: number) => cliJson<{ deliveries: string[] }>(["webhooks:trigger", "--event", "order.paid", "--data", JSON.stringify({ amount })], env);
    expect((await trigger(50)).deliveries).toEqual([]);
    expect((await trigger(150)).deliveries).toHaveLength(1);
    const [request] = await receiver.waitFor(1);
    expect(JSON.parse(request!.body)).toMatchObject({ data: { amount: 150 } });

    const changed = await cliOk(["webhooks:update", created.id, "--filter", '{"data.amount":{"$lt":100}}'], env);
    expect(changed).toMatch(/^Filter:\s+\{"data\.amount":\{"\$lt":100\}\}$/m);
    expect((await trigger(50)).deliveries).toHaveLength(1);
    const removed = await cliJson<{ filter: unknown }>(["webhooks:update", created.id, "--filter", "null"], env);
    expect(removed.filter).toBeNull();
  }, 90_000);

  it("a bad filter is one line naming its place; one that is not a JSON object names the flag", async () => {
    const refused = expectOneLineError(await runCli(["webhooks:create", "--url", `${receiver.url}/x`, "--filter", '{"data.a":{"$where":"true"}}'], env));
    expect(refused).toContain("filter.data.a.$where");
    expect(refused).toContain("HERALD_ERR_VALIDATION");
    expect(expectOneLineError(await runCli(["webhooks:create", "--url", `${receiver.url}/x`, "--filter", "[1]"], env))).toMatch(/^error: --filter: must be a JSON object/);
    expect(expectOneLineError(await runCli(["webhooks:create", "--url", `${receiver.url}/x`, "--filter", "{bad"], env))).toMatch(/^error: --filter: not valid JSON/);
  }, 60_000);
});
