import type { Target } from "./targets.js";

/** What the scaling coordinator (run.ts) and its worker processes (worker.ts) say to each other. */
export interface WorkerSpec {
  target: Target;
  queue: string;
  concurrency: number;
}

export type WorkerMessage = { type: "ready" } | { type: "progress"; done: number; lastAt: number };

/** Epoch milliseconds with sub-millisecond resolution, comparable across processes. */
export const preciseNow = (): number => performance.timeOrigin + performance.now();
