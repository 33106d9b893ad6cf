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
 * the queue's next due instant is read afresh (`catchUp`) and handed to its listeners. That
 * read runs after the server has the subscription, so a job added before it is seen by the
 * read and one added after it is published: none falls between. Without it, a job added
 * between a worker's first claim and its SUBSCRIBE reaching the server waited for the worker's
 * idle re-check (5 s).
 */
export class WakeSubscriber {
  private connection: Redis | Cluster | undefined;
  private readonly listeners = new Map<string, Set<(runAt: number) => void>>();
  private readonly catchUps = new Map<string, () => Promise<number | null>>();

  constructor(private readonly open: () => Redis | Cluster) {}

  /** Opens the connection ahead of the first subscribe, so that one takes a single round trip. */
  connect(): void {
    this.client();
  }

  subscribe(channel: string, wake: (runAt: number) => void, catchUp: () => Promise<number | null>): () => void {
    let set = this.listeners.get(channel);
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
      this.catchUps.set(channel, catchUp);
      void this.client()
        .subscribe(channel)
        .then(
          () => this.catchUp(channel),
          () => {},
        );
    }
    set.add(wake);
    return () => {
      const current = this.listeners.get(channel);
      if (!current?.delete(wake) || current.size > 0) return;
      this.listeners.delete(channel);
      this.catchUps.delete(channel);
      void this.connection?.unsubscribe(channel).catch(() => {});
    };
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.catchUps.clear();
    const connection = this.connection;
    this.connection = undefined;
    if (connection) await connection.quit().catch(() => connection.disconnect());
  }

  private catchUp(channel: string): void {
    const read = this.catchUps.get(channel);
    if (!read) return;
    read().then(
      (runAt) => {
        if (runAt === null) return;
        for (const wake of this.listeners.get(channel) ?? []) wake(runAt);
      },
      () => {},
    );
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
        if (connectedBefore) for (const channel of this.listeners.keys()) this.catchUp(channel);
        connectedBefore = true;
      });
      this.connection = connection;
    }
    return this.connection;
  }
}
