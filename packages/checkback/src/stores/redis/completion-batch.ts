/**
 * Gathers the completions of one event-loop turn per partition into one script call. A worker
 * finishing 50 no-op handlers at once would otherwise pay 50 round trips and 50 script runs;
 * batched, it pays one of each. Each caller still learns its own outcome.
 */
export interface PendingCompletion {
  seq: number;
  leaseToken: string;
  result: string | null;
  settle(done: boolean): void;
  fail(error: unknown): void;
}

export class CompletionBatch {
  private readonly waiting = new Map<string, { queue: string; partition: number; items: PendingCompletion[] }>();
  private scheduled = false;

  constructor(
    private readonly flushBatch: (queue: string, partition: number, items: PendingCompletion[]) => Promise<boolean[]>,
    private readonly maxBatch = 500,
  ) {}

  complete(queue: string, partition: number, seq: number, leaseToken: string, result: string | null): Promise<boolean> {
    return new Promise((settle, fail) => {
      const name = `${queue}\n${partition}`;
      const batch = this.waiting.get(name) ?? { queue, partition, items: [] };
      this.waiting.set(name, batch);
      batch.items.push({ seq, leaseToken, result, settle, fail });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batches = [...this.waiting.values()];
    this.waiting.clear();
    for (const { queue, partition, items } of batches) {
      for (let i = 0; i < items.length; i += this.maxBatch) {
        const chunk = items.slice(i, i + this.maxBatch);
        this.flushBatch(queue, partition, chunk).then(
          (done) => {
            for (const [k, item] of chunk.entries()) item.settle(done[k] === true);
          },
          (error) => {
            for (const item of chunk) item.fail(error);
          },
        );
      }
    }
  }
}
