import keySlot from "cluster-key-slot";

const SLOTS = 16_384;

/**
 * Where a queue's jobs live in Redis, and how job ids name them.
 *
 * A queue is split into `partitions` (1 on a single Redis; several on a Redis Cluster so one
 * queue spreads over the masters). Each partition's keys share one hash tag, so every script
 * touches one slot. The tag is "{queue:p}", or "{queue:p:n}" with the smallest n that puts
 * partition p in the p-th of `partitions` equal ranges of the 16,384 slots: hashing alone
 * would leave a 3-master cluster with no partition of a 6-partition queue on some master
 * about one time in four, while a cluster assigns slots to masters in contiguous ranges. A job with a business key lives in the partition its key
 * hashes to, so add-with-key can check uniqueness atomically there; a job without one goes
 * round-robin. A grouped job lives in its group's partition, whatever its key (see add in
 * redis-store.ts). Follow-up jobs of a complete or settle stay beside their parent (one atomic step).
 *
 * Job ids carry their partition: "<seq>" when there is one partition, "<p>-<seq>" otherwise,
 * so any operation by id goes straight to the right slot. Changing a queue's partition count
 * while it holds jobs is therefore not supported.
 */
export class RedisLayout {
  private readonly bases = new Map<string, string>();

  constructor(
    readonly prefix: string,
    readonly partitions: number,
  ) {}

  /** The base key of one partition; scripts derive the partition's other keys from it. */
  base(queue: string, partition: number): string {
    const name = `${queue}\n${partition}`;
    let base = this.bases.get(name);
    if (base === undefined) {
      base = `${this.prefix}:{${this.tag(queue, partition)}}`;
      if (this.bases.size > 10_000) this.bases.clear();
      this.bases.set(name, base);
    }
    return base;
  }

  private tag(queue: string, partition: number): string {
    const plain = `${queue}:${partition}`;
    if (this.partitions === 1) return plain;
    const low = Math.floor((partition * SLOTS) / this.partitions);
    const high = Math.floor(((partition + 1) * SLOTS) / this.partitions);
    for (let n = 0; ; n++) {
      const tag = n === 0 ? plain : `${plain}:${n}`;
      const slot = keySlot(tag);
      if (slot >= low && slot < high) return tag;
    }
  }

  /** Queue-wide sequence counter of a partitioned queue (its own slot; INCRBY from the client). */
  sequence(queue: string): string {
    return `${this.prefix}:{${queue}}:seq`;
  }

  /**
   * Where the queue's rate limit and pause live (include/limit.lua): partition 0 of a
   * single-partition queue, where claim.lua charges it; the queue's own slot (beside its
   * sequence counter) on a partitioned one, where take.lua does.
   */
  flowBase(queue: string): string {
    return this.partitions === 1 ? this.base(queue, 0) : `${this.prefix}:{${queue}}`;
  }

  /** Every queue name that ever held a job, for queues(). */
  get registry(): string {
    return `${this.prefix}:queues`;
  }

  wakeChannel(queue: string): string {
    return `${this.prefix}:wake:${queue}`;
  }

  partitionOfKey(key: string): number {
    return this.partitions === 1 ? 0 : fnv1a(key) % this.partitions;
  }

  /** Every job of a group lives in one partition, so each group script is atomic in one slot. */
  partitionOfGroup(group: string): number {
    return this.partitions === 1 ? 0 : fnv1a(group) % this.partitions;
  }

  formatId(partition: number, seq: number): string {
    return this.partitions === 1 ? String(seq) : `${partition}-${seq}`;
  }

  /** The partition and sequence number an id names, or null if it names no job here. */
  parseId(id: string): { partition: number; seq: number } | null {
    const match = /^(?:(\d+)-)?(\d{1,15})$/.exec(id);
    if (!match) return null;
    const partition = match[1] === undefined ? 0 : Number(match[1]);
    if (partition >= this.partitions || this.partitions > 1 !== (match[1] !== undefined)) return null;
    const seq = Number(match[2]);
    return seq >= 1 ? { partition, seq } : null;
  }
}

/** 32-bit FNV-1a over UTF-16 code units: a stable, well-spread hash for choosing a partition. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
