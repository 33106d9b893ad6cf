/**
 * What a scenario needs from a queueing system, so the same scenario code drives checkback,
 * BullMQ and pg-boss alike. Every job is the same tiny payload and a no-op handler: the benchmark measures
 * the engine, not the work.
 */
export interface BenchSystem {
  /** Column heading: "checkback (sqlite)", "BullMQ", "pg-boss". */
  readonly label: string;
  /** A fresh, empty queue. */
  openQueue(name: string): Promise<BenchQueue>;
  /** Memory held outside this process's RSS, as far as the system can tell. */
  footprint(): Promise<Footprint>;
  close(): Promise<void>;
}

export interface BenchQueue {
  /** Adds one job per delay in a single bulk call. */
  addBulk(delaysMs: number[]): Promise<void>;
  /** Adds one job, as an ordinary producer would. */
  add(delayMs: number): Promise<void>;
  /**
   * Starts consuming. `onStart` receives each job's firing lateness (handler start minus due
   * instant, ms) from inside the handler; `onDone` is called once the job is recorded completed.
   */
  startWorker(options: WorkerHooks): Promise<void>;
  /** Stops the worker and removes the queue's data. */
  close(): Promise<void>;
}

export interface WorkerHooks {
  concurrency: number;
  onStart(latenessMs: number): void;
  onDone(): void;
}

export interface Footprint {
  /** Bytes the database holds (SQLite: main file plus WAL; PostgreSQL: the system's schema, tables with indexes). */
  dbFileBytes?: number;
  /** Redis INFO used_memory, bytes: the whole server, so only deltas mean anything. */
  redisUsedMemoryBytes?: number;
  /** Redis INFO used_cpu_user + used_cpu_sys, seconds: server-wide, so only deltas mean anything. */
  redisCpuSeconds?: number;
  /** CPU seconds of the PostgreSQL backends serving this process's connections: only deltas mean anything. */
  postgresCpuSeconds?: number;
}

/**
 * Flow control a queue is given, for measuring what it costs when it does not bind:
 * none; "limits", a queue rate limit and default group limits far above what the run can
 * reach (1,000,000 starts a second, concurrency 1,000,000 per group); "groups", the same
 * limits with every job in one of GROUPS_IN_FLOW_RUN groups.
 */
export type FlowVariant = "none" | "limits" | "groups";
export const FLOW_VARIANTS: readonly FlowVariant[] = ["none", "limits", "groups"];
export const NON_BINDING_RATE = 1_000_000;
export const NON_BINDING_CONCURRENCY = 1_000_000;
export const GROUPS_IN_FLOW_RUN = 100;

/** The payload every benchmark job carries. */
export function payloadOf(n: number): { n: number } {
  return { n };
}
