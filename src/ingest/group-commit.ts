/**
 * Group commit for ingest: events submitted in the same turn of the event loop (concurrent
 * HTTP requests, concurrent library calls) are written in one transaction, and each caller is
 * answered only after that commit, as with one transaction each. The commit, not the SQL, was
 * the largest single cost of single-event ingest (21.5% of the ingest profile).
 *
 * If the shared transaction fails (one event's id conflicts, say), each event is written again
 * on its own, so one caller's bad event never fails another's.
 */
import type { IngestRequest, IngestResult, Store } from "../store/store.js";

interface Waiting {
  request: IngestRequest;
  resolve(result: IngestResult): void;
  reject(error: unknown): void;
}

/** The most events one shared transaction carries. */
const MAX_GROUP = 500;

export class GroupCommit {
  private waiting: Waiting[] = [];
  private scheduled = false;

  constructor(private readonly store: Store) {}

  submit(request: IngestRequest): Promise<IngestResult> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ request, resolve, reject });
      if (this.waiting.length >= MAX_GROUP) this.commit();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.commit());
      }
    });
  }

  private commit(): void {
    this.scheduled = false;
    const group = this.waiting;
    this.waiting = [];
    if (group.length === 0) return;
    if (group.length === 1) {
      const [only] = group as [Waiting];
      this.store.ingest(only.request).then(only.resolve, only.reject);
      return;
    }
    this.store.ingestMany(group.map((w) => w.request)).then(
      (results) => group.forEach((w, i) => w.resolve(results[i]!)),
      () => {
        for (const w of group) this.store.ingest(w.request).then(w.resolve, w.reject);
      },
    );
  }
}
