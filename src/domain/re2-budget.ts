/**
 * RE2 pattern tests under a time allowance, shared by event-type schemas
 * (src/ingest/event-schemas.ts) and payload filters (./payload-filter-evaluate.ts). RE2's time is
 * linear in the text, so a test's worst case is known before it runs: its NFA steps through every
 * instruction for every character (about 16 ns each here, and a floor per character whatever the
 * program). A test runs only if that worst case fits what is left; what it really took is then charged.
 */
import type { RE2JS } from "re2js";

/** Pattern time left, in nanoseconds. */
export interface PatternBudget {
  ns: number;
}

/** Thrown by a test whose worst case no longer fits its allowance; its caller decides what that means. */
export class PatternBudgetExceeded extends Error {}

const NS_PER_STEP = 20;
const STEP_OVERHEAD = 16;

/** A test of `re` charged to `budget()` (read at each test: the allowance may be per call). */
export function budgetedTest(re: RE2JS, budget: () => PatternBudget): (text: string) => boolean {
  const worstPerChar = (re.programSize() + STEP_OVERHEAD) * NS_PER_STEP;
  return (text) => {
    const left = budget();
    if (worstPerChar * (text.length + 1) > left.ns) throw new PatternBudgetExceeded();
    const start = performance.now();
    const matched = re.test(text);
    left.ns -= (performance.now() - start) * 1e6;
    return matched;
  };
}
