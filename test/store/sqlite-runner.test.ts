/**
 * The SQLite side of the shared SQL layer: `$n` placeholders, the statement cache, and
 * transactions that hold the one connection while they await.
 */
import Database from "better-sqlite3";
import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it, vi } from "vitest";
import { makeSecretBox } from "../../src/secrets/secret-box.js";
import { sqliteConnection } from "../../src/store/sqlite/connection.js";
import { SqliteRunner } from "../../src/store/sqlite/sqlite-runner.js";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.js";
import { DAY_MS, failedAttempt, ingestRequest, makeClaimer, makeEvent, makeWebhook } from "../helpers/store-fixtures.js";

const NOW = 1_700_000_000_000;
const open: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const handle of open.splice(0)) await handle.close();
});

function runnerOnTable() {
  const db = new Database(":memory:");
  open.push(db);
  db.exec("CREATE TABLE t (v TEXT)");
  return { db, runner: new SqliteRunner(sqliteConnection(db)) };
}

describe("the SQLite runner", () => {
  it("binds a repeated $n placeholder to the same value", async () => {
    const { runner } = runnerOnTable();
    expect(await runner.get("SELECT $1 AS a, $2 AS b, $1 AS c", ["x", "y"])).toEqual({ a: "x", b: "y", c: "x" });
    expect(await runner.get("SELECT $2 AS b, $1 AS a", ["x", "y"])).toEqual({ b: "y", a: "x" });
  });

  it("a statement issued while a transaction awaits runs after it, and survives its rollback", async () => {
    const { runner } = runnerOnTable();
    const failing = runner.transaction(async (tx) => {
      await tx.run("INSERT INTO t (v) VALUES ($1)", ["inside"]);
      await new Promise((resolve) => setTimeout(resolve, 10));
      throw new Error("rolled back");
    });
    const outside = runner.run("INSERT INTO t (v) VALUES ($1)", ["outside"]);
    await expect(failing).rejects.toThrow("rolled back");
    expect(await outside).toEqual({ changes: 1 });
    expect(await runner.all("SELECT v FROM t")).toEqual([{ v: "outside" }]);
  });

  it("transactions issued together run one after the other, each committed whole", async () => {
    const { runner } = runnerOnTable();
    const write = (v: string) =>
      runner.transaction(async (tx) => {
        await tx.run("INSERT INTO t (v) VALUES ($1)", [`${v}1`]);
        await new Promise((resolve) => setTimeout(resolve, 5));
        await tx.run("INSERT INTO t (v) VALUES ($1)", [`${v}2`]);
      });
    await Promise.all([write("a"), write("b")]);
    expect((await runner.all<{ v: string }>("SELECT v FROM t ORDER BY rowid")).map((r) => r.v)).toEqual(["a1", "a2", "b1", "b2"]);
  });
});

describe("the SQLite store", () => {
  it("prepares each statement once, however often it runs", async () => {
    const store = new SqliteStore({ path: ":memory:", secretBox: makeSecretBox(randomBytes(32)) });
    open.push(store);
    await store.insertTenant({ id: "t", name: "T", createdAt: NOW });
    const webhook = makeWebhook({ createdAt: NOW });
    await store.insertWebhook(webhook);
    const round = async (i: number) => {
      await store.getTenant("t");
      await store.getWebhook(webhook.id);
      await store.listSubscribers("t");
      await store.ingest(ingestRequest(makeEvent("t", { createdAt: NOW + i }), [webhook.id]));
      const [claimed] = await makeClaimer(store, "w").claim({ now: NOW + DAY_MS });
      if (claimed) await store.recordAttempts([failedAttempt(claimed, "pending", NOW + 2 * DAY_MS)], "w");
      await store.listDeliveries({ tenantId: "t" });
      await store.releaseLeases({ expiredBefore: NOW, owners: ["gone"] }, NOW);
      await store.nextDueAt(NOW);
      await store.webhookStats(webhook.id);
      await store.advanceRecoveryJob("none", 10, NOW);
      await store.deleteFinishedBefore(NOW, 10);
    };
    await round(0);
    const prepare = vi.spyOn(store.db, "prepare");
    await round(1);
    await round(2);
    expect(prepare).not.toHaveBeenCalled();
  });
});
