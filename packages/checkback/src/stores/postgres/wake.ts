import type pg from "pg";
import { loadPg } from "../drivers.js";
import { quoteIdent } from "./schema.js";

/**
 * Wake-ups over LISTEN/NOTIFY. The notify trigger (schema.ts) sends "<queue> <runAt>" on the
 * schema's channel when a statement leaves jobs scheduled, delivered when its transaction
 * commits. One dedicated connection per store LISTENs and hands each message to that queue's
 * subscribers; workers then sleep on their own timers until the next due instant, so precision
 * does not depend on any polling interval.
 *
 * The connection is its own pg.Client, not a pooled one: a LISTEN belongs to a session, and a
 * pool may close or hand out its connections at will. It opens with the first subscriber and
 * closes with the store. When it drops, it is opened again after a pause (doubling up to
 * RECONNECT_MAX_MS); notifications sent meanwhile are lost, so once it is back every subscriber
 * is woken to look at its queue — the claim then finds whatever came due, and the worker sleeps
 * again until the next due instant it reports.
 */
const RECONNECT_MIN_MS = 100;
/** Names the connection in pg_stat_activity (unless the caller's settings name it already). */
export const WAKE_APPLICATION_NAME = "checkback wake-ups";
const RECONNECT_MAX_MS = 5_000;

export class WakeListener {
  private readonly listeners = new Map<string, Set<(runAt: number) => void>>();
  private client: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryMs = RECONNECT_MIN_MS;
  private closed = false;
  /** Whether a connection has been up before: a reconnect must wake everyone. */
  private connectedBefore = false;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly channel: string,
    /** Runs before LISTEN (the store's migration), so the channel's trigger exists. */
    private readonly ready: () => Promise<void>,
  ) {}

  subscribe(queue: string, wake: (runAt: number) => void): () => void {
    let set = this.listeners.get(queue);
    if (!set) {
      set = new Set();
      this.listeners.set(queue, set);
    }
    set.add(wake);
    this.ensureConnected();
    return () => {
      const current = this.listeners.get(queue);
      if (!current?.delete(wake) || current.size > 0) return;
      this.listeners.delete(queue);
    };
  }

  /** Resolves once LISTEN is in place (tests wait for it; workers need not). */
  async listening(): Promise<void> {
    this.ensureConnected();
    while (this.connecting) await this.connecting;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    clearTimeout(this.retryTimer);
    await this.connecting?.catch(() => {});
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => {});
  }

  private ensureConnected(): void {
    if (this.closed || this.client || this.connecting || this.retryTimer) return;
    this.connecting = this.connect().finally(() => {
      this.connecting = undefined;
    });
  }

  private async connect(): Promise<void> {
    const client = new (loadPg().Client)({ application_name: WAKE_APPLICATION_NAME, ...this.config });
    let up = false;
    const lost = () => {
      if (this.client === client) this.client = undefined;
      client.removeAllListeners("notification");
      void client.end().catch(() => {});
      if (up) this.retryMs = RECONNECT_MIN_MS;
      this.scheduleRetry();
    };
    client.on("error", lost);
    client.on("end", () => {
      if (!this.closed && this.client === client) lost();
    });
    client.on("notification", (message) => this.dispatch(message.payload));
    try {
      await this.ready();
      await client.connect();
      await client.query(`LISTEN ${quoteIdent(this.channel)}`);
    } catch {
      client.removeAllListeners("end");
      lost();
      return;
    }
    if (this.closed) {
      await client.end().catch(() => {});
      return;
    }
    up = true;
    this.client = client;
    this.retryMs = RECONNECT_MIN_MS;
    if (this.connectedBefore) this.wakeEveryone();
    this.connectedBefore = true;
  }

  private scheduleRetry(): void {
    if (this.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.ensureConnected();
    }, this.retryMs);
    this.retryTimer.unref();
    this.retryMs = Math.min(this.retryMs * 2, RECONNECT_MAX_MS);
  }

  private dispatch(payload: string | undefined): void {
    if (!payload) return;
    const space = payload.lastIndexOf(" ");
    const runAt = Number(payload.slice(space + 1));
    if (space <= 0 || !Number.isFinite(runAt)) return;
    for (const wake of this.listeners.get(payload.slice(0, space)) ?? []) wake(runAt);
  }

  private wakeEveryone(): void {
    for (const set of this.listeners.values()) for (const wake of set) wake(0);
  }
}
