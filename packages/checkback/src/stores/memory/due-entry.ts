import { MinHeap } from "../../core/heap.js";

/**
 * An entry of the memory store's due heaps. A job carries a `dueVersion` that changes whenever
 * its due instant or state changes; entries with an old version are skipped when they surface
 * (lazy deletion), so moving a job is one push, never a search.
 */
export interface DueEntry {
  dueAt: number;
  /** Insertion order: FIFO among jobs due at the same instant. */
  seq: number;
  id: string;
  version: number;
}

export function dueHeap(): MinHeap<DueEntry> {
  return new MinHeap((a, b) => a.dueAt < b.dueAt || (a.dueAt === b.dueAt && a.seq < b.seq));
}
