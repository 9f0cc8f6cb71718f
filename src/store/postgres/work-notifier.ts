/**
 * Cross-process wake-ups through LISTEN/NOTIFY, so an event ingested by an API process starts
 * being delivered by an idle worker at once instead of on its next poll.
 *
 * Sending: NOTIFY is sent after the ingest has committed, on its own, rather than inside the
 * ingest transaction. A transaction that has notified takes a database-wide lock while it
 * commits (to order the notification queue), which would serialise every ingest commit of
 * every API process. After commit, at most one NOTIFY per process is in flight; ingests that
 * commit meanwhile are folded into one more NOTIFY once it returns. Listeners only need "look
 * now", so the payload is empty and coalescing loses nothing.
 *
 * Listening: one dedicated connection per process (LISTEN belongs to a session, so it cannot
 * come from the pool), opened when the first listener subscribes. Listeners are also called
 * when listening starts and after each reconnect, because work may have arrived while nobody
 * listened. A lost connection is retried every second; polling covers the gap.
 */
import pg from "pg";

const RECONNECT_DELAY_MS = 1_000;

export class WorkNotifier {
  private readonly listeners = new Set<() => void>();
  private client: pg.Client | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private sending: Promise<void> | null = null;
  private sendAgain = false;
  private closed = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly connection: pg.ClientConfig,
    readonly channel: string,
    private readonly onError: (error: unknown, context: string) => void,
  ) {}

  /** Tells every listening process that work may be due. Never throws: workers poll anyway. */
  notify(): void {
    if (this.closed) return;
    if (this.sending) {
      this.sendAgain = true;
      return;
    }
    this.sendAgain = false;
    this.sending = this.pool
      .query("SELECT pg_notify($1, '')", [this.channel])
      .then(
        () => undefined,
        (error: unknown) => this.onError(error, "sending a work notification"),
      )
      .finally(() => {
        this.sending = null;
        if (this.sendAgain) this.notify();
      });
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    if (this.client === null && this.retryTimer === null && !this.closed) this.listen();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) void this.disconnect();
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    await this.disconnect();
    while (this.sending) await this.sending;
  }

  private listen(): void {
    const client = new pg.Client(this.connection);
    this.client = client;
    client.on("notification", (message) => {
      if (message.channel === this.channel) this.emit();
    });
    client.on("error", (error) => this.lost(client, error));
    client.on("end", () => this.lost(client, null));
    client
      .connect()
      .then(() => client.query(`LISTEN "${this.channel}"`))
      .then(
        () => this.client === client && this.emit(),
        (error: unknown) => this.lost(client, error),
      );
  }

  private lost(client: pg.Client, error: unknown): void {
    if (this.client !== client) return; // already handled, or closed on purpose
    this.client = null;
    client.end().catch(() => undefined);
    if (error !== null) this.onError(error, "listening for work notifications");
    if (this.closed || this.listeners.size === 0) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.closed && this.listeners.size > 0 && this.client === null) this.listen();
    }, RECONNECT_DELAY_MS);
    this.retryTimer.unref();
  }

  private async disconnect(): Promise<void> {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  private emit(): void {
    for (const listener of this.listeners) {
      try {
        listener();
      } catch (error) {
        this.onError(error, "waking a worker");
      }
    }
  }
}
