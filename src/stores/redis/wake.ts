import type { Cluster, Redis } from "ioredis";

/**
 * Wake-ups over Redis pub/sub. Scripts PUBLISH a queue's channel only when a change makes a job
 * the new head of its partition (something earlier than what any worker sleeps for), so the
 * traffic is a handful of messages, not one per job. Workers then sleep on their own timers
 * until the next due instant: precision does not depend on a blocking command's timeout or on
 * the server's `hz`.
 *
 * One subscriber connection per store serves all its queues; ioredis re-subscribes after a
 * reconnect. Messages published while a subscription is not (yet, or no longer) in place are
 * lost, so whenever one takes effect — the first SUBSCRIBE of a channel, and every reconnect —
 * its listeners are called with runAt 0 ("something may be due now"): the worker claims once
 * and learns the real next due instant. Without that, a job added between a worker's start and
 * its SUBSCRIBE reaching the server waited for the worker's idle re-check (5 s).
 */
export class WakeSubscriber {
  private connection: Redis | Cluster | undefined;
  private readonly listeners = new Map<string, Set<(runAt: number) => void>>();

  constructor(private readonly open: () => Redis | Cluster) {}

  /** Opens the connection ahead of the first subscribe, so that one takes a single round trip. */
  connect(): void {
    this.client();
  }

  subscribe(channel: string, wake: (runAt: number) => void): () => void {
    let set = this.listeners.get(channel);
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
      void this.client()
        .subscribe(channel)
        .then(
          () => this.wakeAll(channel),
          () => {},
        );
    }
    set.add(wake);
    return () => {
      const current = this.listeners.get(channel);
      if (!current?.delete(wake) || current.size > 0) return;
      this.listeners.delete(channel);
      void this.connection?.unsubscribe(channel).catch(() => {});
    };
  }

  async close(): Promise<void> {
    this.listeners.clear();
    const connection = this.connection;
    this.connection = undefined;
    if (connection) await connection.quit().catch(() => connection.disconnect());
  }

  private wakeAll(channel: string): void {
    for (const wake of this.listeners.get(channel) ?? []) wake(0);
  }

  private client(): Redis | Cluster {
    if (!this.connection) {
      const connection = this.open();
      connection.on("message", (channel: string, message: string) => {
        const runAt = Number(message);
        for (const wake of this.listeners.get(channel) ?? []) wake(runAt);
      });
      // Connection errors are retried by ioredis; after a reconnect it subscribes again.
      connection.on("error", () => {});
      let connectedBefore = false;
      connection.on("ready", () => {
        if (connectedBefore) for (const channel of this.listeners.keys()) this.wakeAll(channel);
        connectedBefore = true;
      });
      this.connection = connection;
    }
    return this.connection;
  }
}
