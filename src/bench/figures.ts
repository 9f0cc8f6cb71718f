/** The shapes every scenario reports in, and the arithmetic they share (rates, ratios, percentiles). */

/** A rate, always with its ratio to the loopback ceiling measured at the same concurrency in the same run. */
export interface Rate {
  perSecond: number;
  ratioToCeiling: number;
  /** Requests in flight at which the ceiling it is compared with was measured. */
  ceilingConcurrency: number;
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
}

export interface ScenarioOutcome {
  /** Goes under the scenario's name in the --json document. */
  json: Record<string, unknown>;
  figures: Figure[];
}

/** Ceiling rates (requests/s) keyed by concurrency, filled by the ceiling scenario before any other runs. */
export class CeilingTable {
  private readonly rates = new Map<number, number>();

  set(concurrency: number, perSecond: number): void {
    this.rates.set(concurrency, perSecond);
  }

  /** The ceiling measured nearest to `concurrency` (the same one when the harness planned it). */
  nearest(concurrency: number): { concurrency: number; perSecond: number } {
    let best: { concurrency: number; perSecond: number } | null = null;
    for (const [c, perSecond] of this.rates) {
      if (best === null || Math.abs(Math.log(c / concurrency)) < Math.abs(Math.log(best.concurrency / concurrency))) {
        best = { concurrency: c, perSecond };
      }
    }
    if (best === null) throw new Error("no ceiling measured: run the ceiling scenario first");
    return best;
  }

  rate(count: number, seconds: number, concurrency: number): Rate {
    const ceiling = this.nearest(concurrency);
    const perSecond = seconds > 0 ? count / seconds : 0;
    return { perSecond: round(perSecond, 1), ratioToCeiling: round(perSecond / ceiling.perSecond, 3), ceilingConcurrency: ceiling.concurrency };
  }
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

export function rateFigure(name: string, rate: Rate, unit: string, target?: Target): Figure {
  return { name, value: rate.perSecond, unit, ratioToCeiling: rate.ratioToCeiling, ...(target ? { target } : {}) };
}

export const seconds = (startMs: number, endMs = performance.now()): number => (endMs - startMs) / 1000;

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export const megabytes = (bytes: number): number => round(bytes / (1024 * 1024), 1);
