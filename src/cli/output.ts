/**
 * How the CLI prints: aligned tables and key/value blocks for people, `--format json` for
 * scripts (the server's JSON unchanged, so `jq` paths match the API docs), and one line on
 * stderr for any error.
 */

export type OutputFormat = "table" | "json";

/** An error the user can fix: printed as one line, exit code 1, never with a stack trace. */
export class CliError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}

export function parseFormat(value: string): OutputFormat {
  if (value === "table" || value === "json") return value;
  throw new CliError(`--format: must be table or json, not ${JSON.stringify(value)}`);
}

export function toJson(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

export interface Column<T> {
  header: string;
  value(row: T): string;
}

/** A plain-text table: header row, then one line per row, columns padded to their widest cell. */
export function renderTable<T>(rows: readonly T[], columns: readonly Column<T>[], empty = "(none)"): string {
  if (rows.length === 0) return empty;
  const cells = rows.map((row) => columns.map((column) => oneLine(column.value(row))));
  const widths = columns.map((column, i) => Math.max(column.header.length, ...cells.map((line) => line[i]!.length)));
  const render = (line: readonly string[]) =>
    line
      .map((cell, i) => (i === line.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [render(columns.map((c) => c.header.toUpperCase())), ...cells.map(render)].join("\n");
}

/** `key: value` lines with the values aligned, for one record (info, stats). */
export function renderFields(fields: ReadonlyArray<readonly [string, string]>): string {
  const width = Math.max(...fields.map(([key]) => key.length));
  return fields.map(([key, value]) => `${(key + ":").padEnd(width + 1)} ${value}`).join("\n");
}

function oneLine(value: string): string {
  return value.replace(/\s*\n\s*/g, " ");
}

/** An ISO-8601 string or epoch milliseconds as `2024-01-01 12:00:00Z`; "-" for none. */
export function formatTime(value: unknown): string {
  if (value === null || value === undefined || value === "") return "-";
  const date = typeof value === "number" ? new Date(value) : new Date(String(value));
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toISOString().replace("T", " ").replace(/\.\d{3}Z$/, "Z");
}

export function formatValue(value: unknown): string {
  if (value === null || value === undefined) return "-";
  if (typeof value === "string") return value === "" ? "-" : value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value) && value.every((v) => typeof v === "string")) return value.length === 0 ? "-" : value.join(", ");
  return JSON.stringify(value);
}

export function formatDuration(ms: unknown): string {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return "-";
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

export function formatPercent(ratio: unknown): string {
  if (typeof ratio !== "number" || !Number.isFinite(ratio)) return "-";
  // The stats endpoint gives a 0..1 ratio (seed 003's failure_rate); tolerate a 0..100 percentage too.
  const percent = ratio <= 1 ? ratio * 100 : ratio;
  return `${percent.toFixed(1)}%`;
}

/** Colour only where a person is reading: a TTY, and NO_COLOR (https://no-color.org) unset. */
export function colourEnabled(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "" && env.FORCE_COLOR !== "0") return true;
  return stream.isTTY === true;
}

/** The ANSI codes of seed 001's Python logger, or empty strings when colour is off. */
export function palette(enabled: boolean) {
  const code = (value: string) => (enabled ? value : "");
  return {
    green: code("\x1b[32;20m"),
    yellow: code("\x1b[33;20m"),
    red: code("\x1b[31;20m"),
    grey: code("\x1b[38;20m"),
    reset: code("\x1b[0m"),
  };
}

export type Palette = ReturnType<typeof palette>;
