/** The leak check of test/setup/leaks.ts, called directly on leaks made on purpose and then cleaned up. */
import { createServer } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { closeEngines, openEngine } from "../helpers/engine.js";
import { findLeaks, snapshotOpen, type OpenSnapshot } from "./leak-detector.js";

afterEach(closeEngines);

/**
 * A snapshot taken once the runner's own short timers (its calls to the main process) are done:
 * counts are compared net, so one of those ending during the check would hide the leak made on purpose.
 */
async function quietSnapshot(): Promise<OpenSnapshot> {
  const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === "Timeout").length;
  for (let tries = 0; tries < 300 && timers() > 0; tries++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(timers(), "timers still running before the leak is made").toBe(0);
  return snapshotOpen();
}

describe("the leak check", () => {
  it("flags an interval timer the test left running, and passes once it is cleared", async () => {
    const before = await quietSnapshot();
    const timer = setInterval(() => {}, 1_000);
    try {
      expect(await findLeaks(before, 100)).toEqual([expect.stringMatching(/^1 more Timeout than before the test/)]);
    } finally {
      clearInterval(timer);
    }
    expect(await findLeaks(before, 100)).toEqual([]);
  });

  it("waits out a timer that fires within the grace period instead of flagging it", async () => {
    const before = await quietSnapshot();
    setTimeout(() => {}, 50);
    expect(await findLeaks(before, 1_000)).toEqual([]);
  });

  it("flags a listening server until it is closed", async () => {
    const before = await quietSnapshot();
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    expect(await findLeaks(before, 100)).toEqual([expect.stringMatching(/^1 more TCPServerWrap/)]);
    await new Promise((resolve) => server.close(resolve));
    expect(await findLeaks(before, 100)).toEqual([]);
  });

  it("flags an engine that was opened and started but not closed, naming its running worker", async () => {
    const before = await quietSnapshot();
    const herald = await openEngine();
    await herald.start();
    expect(await findLeaks(before, 0)).toContain("a Herald engine from openEngine that closeEngines did not close (its worker is still running)");
    await closeEngines();
    expect(await findLeaks(before, 1_000)).toEqual([]);
  });
});
