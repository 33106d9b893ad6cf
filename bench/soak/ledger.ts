/**
 * Every job the soak had acknowledged, by its unique mark, and whether a worker started it.
 * An add that failed is not in the ledger (the producer would retry it); one that succeeded
 * must be delivered at least once by the end.
 */
export class Ledger {
  private readonly pending = new Set<string>();
  private readonly delivered = new Set<string>();
  private lateness: number[] = [];
  acknowledged = 0;
  refused = 0;
  deliveries = 0;

  acked(mark: string): void {
    this.acknowledged += 1;
    if (!this.delivered.has(mark)) this.pending.add(mark);
  }

  deliveredMark(mark: string, latenessMs: number): void {
    this.deliveries += 1;
    if (this.delivered.has(mark)) return; // a redelivery: at least once, not late again
    this.delivered.add(mark);
    this.pending.delete(mark);
    this.lateness.push(latenessMs);
  }

  /** Acknowledged, not yet delivered. Delivered before its add was acknowledged counts as delivered. */
  get missing(): number {
    return this.pending.size;
  }

  someMissing(count: number): string[] {
    return [...this.pending].slice(0, count);
  }

  /** Lateness percentiles of first deliveries since the last call, and resets them. */
  takeLateness(): { count: number; p50: number; p99: number } {
    const sorted = this.lateness.sort((a, b) => a - b);
    this.lateness = [];
    const at = (q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! : 0);
    return { count: sorted.length, p50: at(0.5), p99: at(0.99) };
  }
}
