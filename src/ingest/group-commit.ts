/**
 * Group commit for ingest: units submitted in the same turn of the event loop (concurrent
 * HTTP requests, concurrent library calls, batches) are written in one transaction, and each
 * caller is answered only after that commit, as with one transaction each. The commit, not the
 * SQL, was the largest single cost of single-event ingest (21.5% of the ingest profile).
 *
 * A unit is one caller's events, all or none (a batch is one unit). If the shared transaction
 * fails (one unit's event id conflicts, say), each unit is written again on its own, so one
 * caller's bad event never fails another's. The shared failure is reported through `onError`
 * when it was not one of Herald's own input errors, since then no single unit may explain it.
 */
import { isHeraldError } from "../errors.js";
import type { IngestRequest, IngestResult, Store } from "../store/store.js";

interface Waiting {
  requests: IngestRequest[];
  resolve(results: IngestResult[]): void;
  reject(error: unknown): void;
}

/** Events waiting that make the group commit at once rather than at the end of this turn. */
const MAX_GROUP = 500;

export class GroupCommit {
  private waiting: Waiting[] = [];
  private waitingEvents = 0;
  private scheduled = false;

  constructor(
    private readonly store: Store,
    private readonly onError: (error: unknown, context: string) => void,
  ) {}

  /** Commits the unit (with whatever else arrives in this turn); resolves after the commit. */
  submit(requests: IngestRequest[]): Promise<IngestResult[]> {
    if (requests.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.waiting.push({ requests, resolve, reject });
      this.waitingEvents += requests.length;
      if (this.waitingEvents >= MAX_GROUP) this.commit();
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
    this.waitingEvents = 0;
    const [first] = group;
    if (first === undefined) return;
    if (group.length === 1) {
      this.commitAlone(first);
      return;
    }
    this.store.ingestMany(group.flatMap((unit) => unit.requests)).then(
      (results) => {
        let offset = 0;
        for (const unit of group) {
          unit.resolve(results.slice(offset, offset + unit.requests.length));
          offset += unit.requests.length;
        }
      },
      (error: unknown) => {
        if (!isHeraldError(error)) this.onError(error, `committing ${group.length} ingests together; retrying each alone`);
        for (const unit of group) this.commitAlone(unit);
      },
    );
  }

  private commitAlone(unit: Waiting): void {
    const [only] = unit.requests;
    const done = only !== undefined && unit.requests.length === 1 ? this.store.ingest(only).then((result) => [result]) : this.store.ingestMany(unit.requests);
    done.then(unit.resolve, unit.reject);
  }
}
