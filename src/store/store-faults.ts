/**
 * Store faults: the errors that mean the store cannot write now (its disk is full, it is
 * read-only, its connection is lost, its file was deleted), as opposed to a bad statement or
 * bad input. Each backend has one function that recognises them by the driver's error code
 * (sqlite/faults.ts, postgres/faults.ts); its runner passes every failed call through `failed`,
 * so callers get HERALD_ERR_STORE_UNAVAILABLE (503 with Retry-After) naming the cause and the
 * fix, never a 500.
 *
 * The last fault is remembered until a probe write succeeds (`Store.checkWritable`, asked every
 * second by the engine and by /ready), so readiness reports it even when no traffic arrives to
 * find out. Remembering costs nothing on the success path: only a failed call touches it.
 */
import { type HeraldError, isHeraldError, storeUnavailable } from "../errors.js";

/** Recognises a store fault in a driver error: the message to answer with, or null for any other error. */
export type FaultClassifier = (error: unknown) => string | null;

/** `the store cannot write: <what> (<code>); nothing was accepted; <fix>`: every fault's message. */
export function storeFaultMessage(what: string, code: string, fix: string): string {
  return `the store cannot write: ${what} (${code}); nothing was accepted; ${fix}`;
}

export class StoreFaults {
  private fault: HeraldError | null = null;
  private held = false;

  constructor(private readonly classify: FaultClassifier) {}

  /** The fault last met, or null when none was met since the last successful probe. */
  get current(): HeraldError | null {
    return this.fault;
  }

  /** Whether the current fault was `hold`'s: no probe clears it, only `release`. */
  get holding(): boolean {
    return this.held;
  }

  /** What a failed call throws: a store fault as HERALD_ERR_STORE_UNAVAILABLE (remembered), anything else unchanged. */
  failed(error: unknown): unknown {
    if (isHeraldError(error)) return error;
    const message = this.classify(error);
    if (message === null) return error;
    // While a fault is held (the SQLite file was replaced), the writes it refuses say why.
    if (this.held) return storeUnavailable(this.fault!.message, error);
    return (this.fault = storeUnavailable(message, error));
  }

  /** A fault found without a failed call (the SQLite file deleted): held until `release`. */
  hold(fault: HeraldError): void {
    if (this.held) return;
    this.fault = fault;
    this.held = true;
  }

  release(): void {
    this.held = false;
    this.fault = null;
  }

  /** A probe write succeeded: the store can write again. */
  clear(): void {
    if (!this.held) this.fault = null;
  }
}
