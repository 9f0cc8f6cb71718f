/**
 * A vitest setup file: fails any test that leaks a worker, engine, timer, child process or
 * server. Its hooks are registered before the test file's own, so (hooks run as a stack)
 * beforeEach notes what is open first, after the file's beforeAll resources exist, and
 * afterEach checks last, after the file's afterEach hooks closed what the test opened.
 */
import { afterEach, beforeEach } from "vitest";
import { findLeaks, snapshotOpen, type OpenSnapshot } from "./leak-detector.js";

let before: OpenSnapshot | null = null;

beforeEach(() => {
  before = snapshotOpen();
});

afterEach(async () => {
  if (!before) return;
  const leaks = await findLeaks(before);
  before = null;
  if (leaks.length > 0) {
    throw new Error(`the test left running after its afterEach hooks:\n  - ${leaks.join("\n  - ")}\nclose it in the test or an afterEach`);
  }
});
