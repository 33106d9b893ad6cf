import { type FSWatcher, watch } from "node:fs";
import { basename, dirname } from "node:path";

/**
 * How sleeping workers learn that a job became due earlier than they planned.
 *
 * In-process: every write transaction that makes a job due (add, reschedule, release, a
 * failure with a retry, redrive, a completion's follow-ups) announces (queue, runAt) after it
 * commits, and the subscribers of that queue in this process are called at once. For a grouped
 * job the instant is its group's readyAt, announced whenever a change makes a group ready
 * earlier (ops/groups.ts): a finish that frees a place in a group held by its concurrency
 * wakes the workers that slept with nothing to take.
 *
 * Across processes (several workers on one database file): SQLite has no notification
 * channel, but in WAL mode every commit appends to the `<db>-wal` file. We watch the
 * database's directory (fs.watch: inotify on Linux, FSEvents on macOS) for writes to that
 * file; a burst of them is coalesced into one check a few milliseconds later. The check asks
 * `PRAGMA data_version`, which changes only when *another* connection committed, so this
 * process's own writes cost one pragma and nothing more. When it did change, the head of each
 * subscribed queue's due index and of its ready groups is read (two seeks) and its subscribers
 * are called with the earlier instant; a
 * worker that already waits for it ignores the call. The WAL write is seen slightly before the
 * commit is published in the shared index, so a check that finds nothing new is confirmed once
 * more a little later.
 *
 * A wake-up is an optimisation for precision, never needed for correctness: the worker also
 * re-checks at least every 5 s when idle, so a lost event (a file system without change
 * notifications, a network share) costs latency, not jobs. The watcher and its timers are
 * unref'd: they never keep a process alive, and close() stops them.
 */
/** Coalescing window: bounds checks to ~200/s under a stream of commits, each one index seek per subscribed queue. */
const COALESCE_MS = 5;
const CONFIRM_MS = 50;

export interface WakeSource {
  /** `PRAGMA data_version` of the store's connection. */
  dataVersion(): number;
  /** Earliest due instant in the queue (a due job or a ready group), or null. */
  headDueAt(queue: string): number | null;
}

export class WakeHub {
  private readonly subscribers = new Map<string, Set<(runAt: number) => void>>();
  private watcher: FSWatcher | null = null;
  private source: WakeSource | null = null;
  private lastVersion = 0;
  private checkTimer: NodeJS.Timeout | undefined;
  private confirmTimer: NodeJS.Timeout | undefined;

  /** Path of the database file, or null for an in-memory database (nothing to watch). */
  constructor(private readonly dbPath: string | null) {}

  subscribe(queue: string, wake: (runAt: number) => void): () => void {
    let set = this.subscribers.get(queue);
    if (!set) {
      set = new Set();
      this.subscribers.set(queue, set);
    }
    // Each subscription is its own entry, so subscribing one function twice needs two unsubscribes.
    const entry = (runAt: number) => wake(runAt);
    set.add(entry);
    if (this.source) this.watchOthers(this.source);
    return () => {
      set.delete(entry);
      if (set.size === 0 && this.subscribers.get(queue) === set) this.subscribers.delete(queue);
      if (this.subscribers.size === 0) this.unwatch();
    };
  }

  get hasSubscribers(): boolean {
    return this.subscribers.size > 0;
  }

  /** Calls the queue's subscribers in this process. */
  announce(queue: string, runAt: number): void {
    const set = this.subscribers.get(queue);
    if (!set) return;
    for (const wake of [...set]) {
      try {
        wake(runAt);
      } catch {
        // A subscriber's failure must not undo or interrupt the write that announced it.
      }
    }
  }

  /** Starts watching for other processes' commits (once the connection is open). */
  watchOthers(source: WakeSource): void {
    this.source = source;
    if (this.watcher || this.dbPath === null || !this.hasSubscribers) return;
    const walName = `${basename(this.dbPath)}-wal`;
    try {
      this.lastVersion = source.dataVersion();
      this.watcher = watch(dirname(this.dbPath), { persistent: false }, (_event, filename) => {
        if (filename === null || filename === walName) this.scheduleCheck();
      });
      this.watcher.on("error", () => this.unwatch());
    } catch {
      // No change notifications here: cross-process wake-ups fall back to the workers' re-check.
      this.watcher = null;
    }
  }

  close(): void {
    this.unwatch();
    this.subscribers.clear();
    this.source = null;
  }

  private unwatch(): void {
    this.watcher?.close();
    this.watcher = null;
    clearTimeout(this.checkTimer);
    clearTimeout(this.confirmTimer);
    this.checkTimer = undefined;
    this.confirmTimer = undefined;
  }

  private scheduleCheck(): void {
    if (this.checkTimer) return;
    this.checkTimer = setTimeout(() => {
      this.checkTimer = undefined;
      if (!this.check() && !this.confirmTimer) {
        this.confirmTimer = setTimeout(() => {
          this.confirmTimer = undefined;
          this.check();
        }, CONFIRM_MS).unref();
      }
    }, COALESCE_MS).unref();
  }

  /** True if another connection had committed since the last check. */
  private check(): boolean {
    const source = this.source;
    if (!source || !this.watcher) return false;
    let version: number;
    try {
      version = source.dataVersion();
      if (version === this.lastVersion) return false;
      this.lastVersion = version;
      for (const queue of [...this.subscribers.keys()]) {
        const head = source.headDueAt(queue);
        if (head !== null) this.announce(queue, head);
      }
    } catch {
      // The connection is closing or busy: the next commit or the workers' re-check catches up.
      return false;
    }
    return true;
  }
}
