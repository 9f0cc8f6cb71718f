/**
 * Webhooks as dispatch sees them, decrypted once and kept for a short time. Changes made in
 * this process invalidate an entry at once; changes made by another process over a shared
 * database are seen within `ttlMs`.
 */
import type { Webhook } from "../domain/types.js";
import type { Store } from "../store/store.js";

export class WebhookCache {
  private readonly entries = new Map<string, { webhook: Webhook | null; loadedAt: number }>();

  constructor(
    private readonly store: Store,
    private readonly ttlMs = 2_000,
  ) {}

  /** The cached webhook, fresh or not, without I/O; undefined when never loaded. */
  peek(id: string): Webhook | null | undefined {
    return this.entries.get(id)?.webhook;
  }

  async get(id: string, now = Date.now()): Promise<Webhook | null> {
    const entry = this.entries.get(id);
    if (entry && now - entry.loadedAt < this.ttlMs) return entry.webhook;
    const webhook = await this.store.getWebhook(id);
    this.entries.set(id, { webhook, loadedAt: now });
    return webhook;
  }

  /** A webhook this process just wrote: dispatch knows its limits before its first claim. */
  prime(webhook: Webhook, now = Date.now()): void {
    this.entries.set(webhook.id, { webhook, loadedAt: now });
  }

  /** Reloads one webhook now, so dispatch never works from a missing entry after a change. */
  async refresh(id: string): Promise<Webhook | null> {
    this.entries.delete(id);
    return this.get(id);
  }

  /**
   * Loads every active webhook, so the first claim after a start already knows each webhook's
   * rate limit (an unknown webhook would be filled up to its cap at once).
   */
  async preload(now = Date.now()): Promise<void> {
    let cursor: string | undefined;
    do {
      const page = await this.store.listWebhooks({ status: "active", limit: 1000, ...(cursor ? { cursor } : {}) });
      for (const webhook of page.items) this.entries.set(webhook.id, { webhook, loadedAt: now });
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
  }

  invalidate(id: string): void {
    this.entries.delete(id);
  }

  clear(): void {
    this.entries.clear();
  }
}
