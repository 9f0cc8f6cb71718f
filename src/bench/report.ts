/** Prints the benchmark: a readable table, or with --json exactly one JSON document on stdout. */
import { availableParallelism, cpus, freemem, loadavg, totalmem } from "node:os";
import { HERALD_VERSION } from "../version.js";
import { round, type Figure, type ScenarioOutcome } from "./figures.js";
import type { BenchOptions, ScenarioName } from "./options.js";

export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  memoryGiB: number;
  freeMemoryGiB: number;
  node: string;
  platform: string;
  /** 1-minute load average when the run started: on a shared machine, other work skews every figure. */
  loadAverage1m: number;
}

export function describeMachine(): MachineInfo {
  return {
    nproc: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? "unknown",
    memoryGiB: round(totalmem() / 2 ** 30, 1),
    freeMemoryGiB: round(freemem() / 2 ** 30, 1),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    loadAverage1m: round(loadavg()[0] ?? 0, 2),
  };
}

export type ScenarioResult = ScenarioOutcome | { error: string } | { unavailable: string };

export interface BenchReport {
  herald: string;
  startedAt: string;
  argv: string[];
  machine: MachineInfo;
  options: Omit<BenchOptions, "scenarios" | "json">;
  results: Partial<Record<ScenarioName, ScenarioResult>>;
}

/** The --json document: run facts first, then each scenario's figures under its own name. */
export function toJsonDocument(report: BenchReport): Record<string, unknown> {
  const document: Record<string, unknown> = {
    herald: report.herald,
    startedAt: report.startedAt,
    command: ["npm", "run", "bench", "--", ...report.argv].join(" "),
    machine: report.machine,
    options: report.options,
  };
  const missed: string[] = [];
  for (const [name, result] of Object.entries(report.results)) {
    if ("json" in result) {
      document[name] = result.json;
      for (const figure of result.figures) if (figure.target && !figure.target.met) missed.push(`${name}: ${figure.name.trim()}`);
    } else {
      document[name] = result;
    }
  }
  document.targetsMissed = missed;
  return document;
}

function formatValue(value: number | string): string {
  if (typeof value === "string") return value;
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString("en-US");
  return String(round(value, 2));
}

/** The readable table; the same numbers as --json, fewer of them. */
export function formatTable(report: BenchReport): string {
  const rows: string[][] = [["scenario", "figure", "value", "unit", "x ceiling", "target", "", "note"]];
  for (const [name, result] of Object.entries(report.results)) {
    if ("error" in result) rows.push([name, "ERROR", result.error, "", "", "", "", ""]);
    else if ("unavailable" in result) rows.push([name, "unavailable", result.unavailable, "", "", "", "", ""]);
    else {
      result.figures.forEach((figure: Figure, i) => {
        rows.push([
          i === 0 ? name : "",
          figure.name,
          formatValue(figure.value),
          figure.unit,
          figure.ratioToCeiling === undefined ? "" : figure.ratioToCeiling.toFixed(2),
          figure.target?.goal ?? "",
          figure.target === undefined ? "" : figure.target.met ? "met" : "MISSED",
          figure.note ?? "",
        ]);
      });
    }
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? "").length)));
  const numeric = new Set([2, 4]);
  const line = (row: string[]) =>
    row.map((cell, column) => (numeric.has(column) ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!))).join("  ").trimEnd();
  const m = report.machine;
  return [
    `Herald ${report.herald} benchmark, ${report.options.store} store${report.options.quick ? " (quick)" : ""}`,
    `machine: ${m.nproc} cores (${m.cpuModel}), ${m.memoryGiB} GiB, node ${m.node}, ${m.platform}, load average ${m.loadAverage1m} at start`,
    "",
    line(rows[0]!),
    ...rows.slice(1).map(line),
  ].join("\n");
}

export function makeReport(options: BenchOptions, argv: string[]): BenchReport {
  const { scenarios: _scenarios, json: _json, ...sizes } = options;
  return {
    herald: HERALD_VERSION,
    startedAt: new Date().toISOString(),
    argv,
    machine: describeMachine(),
    options: sizes,
    results: {},
  };
}
