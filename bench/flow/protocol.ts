import type { Target } from "../scale/targets.js";

/** What the rate-limit coordinator (rate-limit.ts) tells each worker process (rate-process.ts). */
export interface RateProcessSpec {
  system: "checkback" | "bullmq";
  /** checkback: where the queue lives. */
  target: Target | null;
  /** BullMQ: its Redis. */
  redisUrl: string;
  queue: string;
  /** Worker instances in this process, each with its own claim loop. */
  workers: number;
  concurrency: number;
  /** BullMQ's limiter is an option of each Worker; checkback's lives in the store (set once by the coordinator). */
  limit: { rate: number; perMs: number };
}

export type RateProcessMessage =
  | { type: "ready" }
  | { type: "progress"; starts: number }
  /**
   * Every start this process saw. `startedAt`: the instant the job record says it became
   * active (checkback: the claim's store-clock instant; BullMQ: processedOn). `handlerAt`: when
   * its handler began, on the same clock (a worker may hold a claimed job a moment before a slot frees).
   */
  | { type: "starts"; startedAt: number[]; handlerAt: number[] };
