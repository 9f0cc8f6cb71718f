import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { describeHttpError, resolveConnection } from "../../src/cli/api-client.js";
import { colourEnabled, formatPercent, formatTime, renderFields, renderTable } from "../../src/cli/output.js";

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "herald-cli-"));
  dirs.push(dir);
  return dir;
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("output", () => {
  it("renderTable pads columns to the widest cell and upper-cases headers", () => {
    const table = renderTable(
      [{ id: "a", name: "first" }, { id: "bbbb", name: "x" }],
      [
        { header: "id", value: (r) => r.id },
        { header: "name", value: (r) => r.name },
      ],
    );
    expect(table).toBe(["ID    NAME", "a     first", "bbbb  x"].join("\n"));
  });

  it("renderTable prints the empty message for no rows", () => {
    expect(renderTable([], [{ header: "id", value: () => "" }], "No webhooks.")).toBe("No webhooks.");
  });

  it("renderFields aligns values after the longest key", () => {
    expect(renderFields([["ID", "1"], ["Status", "active"]])).toBe("ID:     1\nStatus: active");
  });

  it("formatTime and formatPercent turn API values into short readable text", () => {
    expect(formatTime("2024-01-01T12:00:00.123Z")).toBe("2024-01-01 12:00:00Z");
    expect(formatTime(null)).toBe("-");
    expect(formatPercent(0.25)).toBe("25.0%");
  });

  it("colour is on for a TTY only, and NO_COLOR turns it off", () => {
    expect(colourEnabled({ isTTY: true }, {})).toBe(true);
    expect(colourEnabled({ isTTY: false }, {})).toBe(false);
    expect(colourEnabled({ isTTY: true }, { NO_COLOR: "1" })).toBe(false);
  });
});

describe("resolveConnection", () => {
  it("reads the URL and both keys from the local data folder when nothing else is given", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "server.json"), JSON.stringify({ url: "http://127.0.0.1:4567", pid: 1 }));
    writeFileSync(join(dir, "default-tenant.key"), "tenant-key-from-file\n");
    writeFileSync(join(dir, "admin.key"), "admin-key-from-file\n");
    const connection = resolveConnection({}, { HERALD_DATA_DIR: dir });
    expect(connection).toMatchObject({ url: "http://127.0.0.1:4567", apiKey: "tenant-key-from-file", adminKey: "admin-key-from-file" });
  });

  it("finds the data folder next to the SQLite file of HERALD_DATABASE_URL, as the server does", () => {
    const dir = tempDir();
    mkdirSync(join(dir, "db"));
    writeFileSync(join(dir, "db", "default-tenant.key"), "next-to-db\n");
    const connection = resolveConnection({}, { HERALD_DATABASE_URL: `sqlite:${join(dir, "db", "herald.db")}` });
    expect(connection.apiKey).toBe("next-to-db");
  });

  it("prefers flags over the environment and the environment over files", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "default-tenant.key"), "from-file\n");
    const env = { HERALD_DATA_DIR: dir, HERALD_URL: "http://127.0.0.1:1111", HERALD_API_KEY: "from-env" };
    expect(resolveConnection({}, env)).toMatchObject({ url: "http://127.0.0.1:1111", apiKey: "from-env" });
    expect(resolveConnection({ url: "http://127.0.0.1:2222/", apiKey: "from-flag" }, env)).toMatchObject({
      url: "http://127.0.0.1:2222",
      apiKey: "from-flag",
    });
  });

  it("falls back to http://127.0.0.1:8080 without server.json", () => {
    expect(resolveConnection({}, { HERALD_DATA_DIR: tempDir() }).url).toBe("http://127.0.0.1:8080");
  });

  it("rejects a URL that does not parse with one line naming where it came from", () => {
    expect(() => resolveConnection({}, { HERALD_DATA_DIR: tempDir(), HERALD_URL: "not a url" })).toThrow(/^HERALD_URL: "not a url" is not a URL/);
  });
});

describe("describeHttpError", () => {
  it("turns a problem+json body into its detail, status and code", () => {
    const body = JSON.stringify({ type: "about:blank", title: "Not Found", status: 404, detail: "webhook x not found", code: "HERALD_ERR_WEBHOOK_NOT_FOUND" });
    expect(describeHttpError(404, body)).toBe("webhook x not found (404 HERALD_ERR_WEBHOOK_NOT_FOUND)");
  });

  it("keeps a non-JSON error body on one line", () => {
    expect(describeHttpError(502, "Bad\nGateway")).toBe("Bad Gateway (502)");
  });
});
