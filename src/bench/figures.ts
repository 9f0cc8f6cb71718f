/** The shapes every scenario reports in, and the arithmetic they share (rates, ratios, percentiles). */

/** A rate, always with its ratio to the loopback ceiling measured at the same concurrency in the same run. */
export interface Rate {
  perSecond: number;
  /** perSecond over the median of the ceiling's samples at ceilingConcurrency. */
  ratioToCeiling: number;
  /** Requests in flight at which the ceiling it is compared with was measured. */
  ceilingConcurrency: number;
  /** The ceiling's largest sample over its smallest in this run; above CEILING_SPREAD_LIMIT the ratio says little. */
  ceilingSpread: number;
}

export interface Target {
  goal: string;
  met: boolean;
}

/** One row of the readable table. */
export interface Figure {
  name: string;
  value: number | string;
  unit: string;
  ratioToCeiling?: number;
  target?: Target;
  /** Free text shown in the table's last column (what a peer keeps less of, why a ratio is withheld). */
  note?: string;
}

export interface ScenarioOutcome {
  /** Goes under the scenario's name in the --json document. */
  json: Record<string, unknown>;
  figures: Figure[];
}

/** A ceiling that moved more than this within one run is reported as unsteady instead of as a ratio. */
export const CEILING_SPREAD_LIMIT = 2;

/**
 * The bare client's rates (requests/s) keyed by concurrency: sampled by the ceiling scenario
 * before any other runs, and again next to each drain it divides, so a ratio compares figures
 * taken minutes (not a whole run) apart; a rate is divided by the median of the samples.
 */
export class CeilingTable {
  private readonly samples = new Map<number, number[]>();

  add(concurrency: number, perSecond: number): void {
    const list = this.samples.get(concurrency) ?? [];
    list.push(perSecond);
    this.samples.set(concurrency, list);
  }

  /** The ceiling measured nearest to `concurrency` (the same one when the harness planned it): its median and spread. */
  nearest(concurrency: number): { concurrency: number; perSecond: number; spread: number } {
    let best: number | null = null;
    for (const c of this.samples.keys()) {
      if (best === null || Math.abs(Math.log(c / concurrency)) < Math.abs(Math.log(best / concurrency))) best = c;
    }
    if (best === null) throw new Error("no ceiling measured: run the ceiling scenario first");
    const list = this.samples.get(best)!;
    return { concurrency: best, perSecond: median(list), spread: round(Math.max(...list) / Math.min(...list), 2) };
  }

  rate(count: number, seconds: number, concurrency: number): Rate {
    const ceiling = this.nearest(concurrency);
    const perSecond = seconds > 0 ? count / seconds : 0;
    return {
      perSecond: round(perSecond, 1),
      ratioToCeiling: round(perSecond / ceiling.perSecond, 3),
      ceilingConcurrency: ceiling.concurrency,
      ceilingSpread: ceiling.spread,
    };
  }
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Whether a ratio to this ceiling means anything: false when the ceiling moved more than 2x within the run. */
export function ceilingSteady(rate: Rate): boolean {
  return rate.ceilingSpread <= CEILING_SPREAD_LIMIT;
}

export function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

export interface Percentiles {
  count: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
}

/** Nearest-rank percentiles of `values` (sorted in place). */
export function percentiles(values: number[]): Percentiles {
  values.sort((a, b) => a - b);
  const rank = (p: number) => values[Math.min(values.length - 1, Math.max(0, Math.ceil((p / 100) * values.length) - 1))] ?? 0;
  const mean = values.length === 0 ? 0 : values.reduce((sum, v) => sum + v, 0) / values.length;
  return {
    count: values.length,
    p50Ms: round(rank(50), 3),
    p95Ms: round(rank(95), 3),
    p99Ms: round(rank(99), 3),
    maxMs: round(values[values.length - 1] ?? 0, 3),
    meanMs: round(mean, 3),
  };
}

/** A rate's table row; an unsteady ceiling shows as a note in place of the ratio, and fails a ratio target. */
export function rateFigure(name: string, rate: Rate, unit: string, target?: Target): Figure {
  if (!ceilingSteady(rate)) {
    return {
      name, value: rate.perSecond, unit, note: `ceiling varied ${rate.ceilingSpread}x in this run: no ratio`,
      ...(target ? { target: { goal: target.goal, met: false } } : {}),
    };
  }
  return { name, value: rate.perSecond, unit, ratioToCeiling: rate.ratioToCeiling, ...(target ? { target } : {}) };
}

export const seconds = (startMs: number, endMs = performance.now()): number => (endMs - startMs) / 1000;

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export const megabytes = (bytes: number): number => round(bytes / (1024 * 1024), 1);
