import { randomBytes } from "node:crypto";
import type { Cluster, ClusterNode, ClusterOptions, Redis } from "ioredis";
import type { BackoffPolicy } from "../../core/backoff.js";
import { invalidOption, LeaseLostError } from "../../core/errors.js";
import { isUnfinished, type JobRecord, type JobRef, type JobState } from "../../core/job.js";
import { checkGroupPriority, type GroupLimits, type GroupState } from "../../flow/groups.js";
import type { FlowSettings, RateLimit } from "../../flow/rate-limit.js";
import { checkFollowUps } from "../follow-ups.js";
import { decodeListCursor, encodeListCursor } from "../list-cursor.js";
import { createdRecord, resolveWhen } from "../new-job.js";
import type {
  AddOutcome,
  ChangeOutcome,
  ClaimOptions,
  ClaimResult,
  Completion,
  Failure,
  FinishedState,
  NewJob,
  Page,
  PageRequest,
  Release,
  Retention,
  Selection,
  Store,
  When,
} from "../store.js";
import { parseStoredBackoff } from "../stored-backoff.js";
import {
  type ClaimedReply,
  decodeClaimed,
  decodeCounts,
  decodeGroupLimits,
  decodeGroupState,
  decodeRecord,
  encodeGroupLimits,
  encodeNewJobs,
  encodeWhen,
  type GroupReply,
  type RecordReply,
  STATE_CODES,
} from "./codec.js";
import { CompletionBatch } from "./completion-batch.js";
import { DEFAULT_TIMEOUT_MS, isCluster, openRedisClient, RedisGate } from "./connection.js";
import { checkDurability, type DurabilityProblem, describeProblems } from "./durability.js";
import { RedisLayout } from "./layout.js";
import {
  busiestOf,
  cutPlan,
  decodePeek,
  earliest,
  keepLastCut,
  keyHolder,
  mergeClaims,
  mergeListPages,
  planClaim,
  sumCounts,
} from "./partition-merge.js";
import { defineScripts, runScript, type ScriptName } from "./scripts.js";
import { WakeSubscriber } from "./wake.js";

export interface RedisStoreOptions {
  /** redis://[user:pass@]host:port[/db] or rediss://… (TLS). Ignored when `client` or `cluster` is given. */
  url?: string;
  /** An ioredis client to use (Redis or Cluster). The store does not close a client it was given. */
  client?: Redis | Cluster;
  /** Connect to a Redis Cluster through these seed nodes. */
  cluster?: { nodes: ClusterNode[]; options?: ClusterOptions };
  /** Prefix of every key and channel (default "cb"). */
  prefix?: string;
  /**
   * Hash slots each queue is spread over (default 1 on a single Redis, 6 on a cluster).
   * Fixed for the life of a queue: job ids name their partition.
   */
  partitions?: number;
  /** Check appendonly / appendfsync / maxmemory-policy at start-up and warn (default true). */
  checkDurability?: boolean;
  /** Where start-up warnings go (default console.warn). */
  onWarning?: (message: string) => void;
  /**
   * Longest wait for a connection or a reply, in ms (default 5000); while Redis is known to be
   * down, calls are refused at once (see connection.ts).
   */
  timeoutMs?: number;
  /** Most dead or finished jobs one script call of redrive / purge "all" handles (default 1000). */
  adminBatchSize?: number;
}

const ALL = Number.MAX_SAFE_INTEGER;

/** take.lua's reply: the bucket's clock, the starts granted, whether there is a bucket, its next start. */
type TakeReply = [now: number, granted: number, exists: 0 | 1, nextStart: number | null];
const DEFAULT_ADMIN_BATCH = 1000;
const DEFAULT_CLUSTER_PARTITIONS = 6;

/**
 * The Redis store: every state change is one atomic Lua script (./scripts, one per operation),
 * every instant comes from the Redis server's clock (TIME inside the script), and the memory
 * layout is compact enough for millions of pending jobs (see include/due.lua, include/record.lua
 * and docs/redis.md).
 *
 * With one partition (a single Redis) every operation is one script call. With several (a
 * Redis Cluster) a queue's jobs spread over partitions in different slots; operations on one
 * job still are one script call, while claiming peeks at every partition and claims from each
 * its share of the earliest due jobs, so partitions are served fairly and in due order. A
 * group's jobs all live in one partition (include/groups.lua), and the queue's rate limit and
 * pause in a slot of their own, taken from before and given back to after a claim (take.lua).
 */
export class RedisStore implements Store {
  readonly kind = "redis";
  readonly client: Redis | Cluster;
  readonly layout: RedisLayout;
  /** Resolves once the start-up durability check has run (with what it found). */
  readonly durability: Promise<DurabilityProblem[]>;
  private readonly ownsClient: boolean;
  private readonly gate: RedisGate;
  private readonly adminBatchSize: number;
  private readonly wakes: WakeSubscriber;
  private readonly completions = new CompletionBatch(async (queue, partition, items) => {
    const args = [String(items.length)];
    for (const item of items) {
      args.push(String(item.seq), item.leaseToken, item.result === null ? "0" : "1", item.result ?? "");
    }
    return ((await this.runLeased("complete", queue, partition, args)) as number[]).map((done) => done === 1);
  });
  /**
   * The connection that claims and records outcomes, opened on first use. ioredis's
   * auto-pipelining sends one pipeline at a time and holds the next until the previous one's
   * replies are all in; on the main connection that would make a worker's next claim wait for
   * its last batch of completions, so claiming and completing could never overlap. Commands
   * here are written at once, and Redis works through them while the worker runs handlers.
   */
  private leaseConnection: Redis | Cluster | undefined;
  private readonly registered = new Set<string>();
  private nextPartition = 0;
  private closed = false;

  constructor(options: RedisStoreOptions = {}) {
    const partitionsDefault =
      options.cluster || (options.client !== undefined && isCluster(options.client)) ? DEFAULT_CLUSTER_PARTITIONS : 1;
    const partitions = options.partitions ?? partitionsDefault;
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > 1024) {
      throw invalidOption("partitions must be an integer from 1 to 1024", { partitions });
    }
    const prefix = options.prefix ?? "cb";
    if (!/^[\w.:-]{1,64}$/.test(prefix))
      throw invalidOption("prefix must be 1–64 characters of letters, digits, _ . : -");
    this.layout = new RedisLayout(prefix, partitions);

    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw invalidOption("timeoutMs must be a positive integer");
    this.adminBatchSize = options.adminBatchSize ?? DEFAULT_ADMIN_BATCH;
    if (!Number.isInteger(this.adminBatchSize) || this.adminBatchSize < 1) {
      throw invalidOption("adminBatchSize must be a positive integer");
    }
    const opened = openRedisClient({ ...options, timeoutMs });
    this.client = opened.client;
    this.ownsClient = opened.ownsClient;
    this.gate = new RedisGate(opened.where, timeoutMs);
    // The gate records connection errors (ioredis reconnects by itself); without a listener
    // ioredis would also print every one of them to the console.
    this.gate.watch(this.client);
    defineScripts(this.client);
    const client = this.client as { duplicate(): Redis | Cluster };
    this.wakes = new WakeSubscriber(() => client.duplicate());
    this.wakes.connect();

    const warn = options.onWarning ?? ((message: string) => console.warn(message));
    this.durability =
      options.checkDurability === false
        ? Promise.resolve([])
        : checkDurability(this.client).then(
            (problems) => {
              if (problems.length > 0 && !this.closed) warn(describeProblems(problems));
              return problems;
            },
            () => [],
          );
  }

  async now(): Promise<number> {
    const [seconds, micros] = (await this.gate.send(this.client, () => this.client.time())) as [
      string | number,
      string | number,
    ];
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  }

  // --- adding and reading ----------------------------------------------------------------

  async add(jobs: NewJob[]): Promise<AddOutcome[]> {
    this.gate.ensureOpen();
    if (jobs.length === 0) return [];
    for (const job of jobs) checkGroupPriority(job.group ?? null, job.priority ?? 0);
    await this.register(jobs);
    const { seqs, jobs: resolved } = await this.sequencesFor(jobs);
    const outcomes: AddOutcome[] = new Array(jobs.length);
    const homeOf = (index: number): number => {
      const job = jobs[index]!;
      if (job.group) return this.layout.partitionOfGroup(job.group);
      return job.key === null ? this.roundRobin() : this.layout.partitionOfKey(job.key);
    };
    const visits = await this.keyHoldersElsewhere(jobs);
    if (visits.size === 0) {
      await this.addPlaced(jobs.keys(), homeOf, null, resolved, seqs, outcomes);
      return outcomes;
    }
    // A job visiting its key's holder in another partition comes back "moved" if that holder
    // finished meanwhile; it is then added in its group's partition.
    const placeOf = (index: number) => visits.get(index) ?? homeOf(index);
    const moved = await this.addPlaced(jobs.keys(), placeOf, (index) => visits.has(index), resolved, seqs, outcomes);
    if (moved.length > 0) await this.addPlaced(moved, homeOf, null, resolved, seqs, outcomes);
    return outcomes;
  }

  /**
   * Writes jobs to the partitions chosen for them: one script call per (queue, partition), all
   * in flight at once. Returns the indexes of visiting jobs that came back "moved".
   */
  private async addPlaced(
    indexes: Iterable<number>,
    partitionOf: (index: number) => number,
    visiting: ((index: number) => boolean) | null,
    resolved: NewJob[],
    seqs: (number | null)[],
    outcomes: AddOutcome[],
  ): Promise<number[]> {
    const batches = new Map<string, { queue: string; partition: number; indexes: number[] }>();
    for (const index of indexes) {
      const queue = resolved[index]!.queue;
      const partition = partitionOf(index);
      const name = `${queue}\n${partition}`;
      const batch = batches.get(name) ?? { queue, partition, indexes: [] };
      batches.set(name, batch);
      batch.indexes.push(index);
    }
    const moved: number[] = [];
    await Promise.all(
      [...batches.values()].map(async ({ queue, partition, indexes }) => {
        const args = encodeNewJobs(
          indexes.map((i) => resolved[i]!),
          indexes.map((i) => seqs[i] ?? null),
          visiting ? indexes.map(visiting) : undefined,
        );
        const [now, replies] = (await this.run("add", queue, partition, args)) as [
          number,
          [AddOutcome["outcome"] | "moved", number, RecordReply?][],
        ];
        replies.forEach(([outcome, seq, record], k) => {
          const index = indexes[k]!;
          const input = resolved[index]!;
          if (outcome === "moved") {
            moved.push(index);
            return;
          }
          // A created job comes back as its seq only: its record is what was sent, at the script's clock.
          const job = record
            ? this.decode(queue, partition, record)
            : createdRecord(input, this.layout.formatId(partition, seq), resolveWhen(input.when, now), now);
          outcomes[index] = { outcome, job };
        });
      }),
    );
    return moved;
  }

  /**
   * On a partitioned queue a grouped job lives in its group's partition, not its key's. For each
   * keyed grouped job, the partition outside its group's where an unfinished job holds its key,
   * if any: the job is sent there, so the holder is kept or replaced as the add asks. Asked of
   * every partition at once, and only for adds that carry keyed grouped jobs.
   */
  private async keyHoldersElsewhere(jobs: NewJob[]): Promise<Map<number, number>> {
    const visits = new Map<number, number>();
    if (this.layout.partitions === 1) return visits;
    const byQueue = new Map<string, number[]>();
    jobs.forEach((job, index) => {
      if (job.group && job.key !== null) byQueue.set(job.queue, [...(byQueue.get(job.queue) ?? []), index]);
    });
    await Promise.all(
      [...byQueue].map(async ([queue, indexes]) => {
        const keys = indexes.map((i) => jobs[i]!.key!);
        const found = await Promise.all(
          this.partitionList().map(async (p) => (await this.run("holders", queue, p, keys)) as number[]),
        );
        indexes.forEach((index, k) => {
          const home = this.layout.partitionOfGroup(jobs[index]!.group!);
          const holder = found.findIndex((seqs, p) => p !== home && seqs[k] !== 0);
          if (holder >= 0 && found[home]![k] === 0) visits.set(index, holder);
        });
      }),
    );
    return visits;
  }

  async get(queue: string, id: string): Promise<JobRecord | null> {
    this.gate.ensureOpen();
    const where = this.layout.parseId(id);
    if (!where) return null;
    return this.readOne(queue, where.partition, ["i", String(where.seq)]);
  }

  async getByKey(queue: string, key: string): Promise<JobRecord | null> {
    const home = this.layout.partitionOfKey(key);
    const found = await this.readOne(queue, home, ["k", key]);
    if (this.layout.partitions === 1 || (found && isUnfinished(found.state))) return found;
    // Follow-up jobs live beside their parent, so a key may be held in another partition.
    const others = await Promise.all(
      this.partitionList()
        .filter((p) => p !== home)
        .map((p) => this.readOne(queue, p, ["k", key])),
    );
    return keyHolder([found, ...others]);
  }

  // --- changes by reference --------------------------------------------------------------

  cancel(queue: string, ref: JobRef): Promise<ChangeOutcome> {
    return this.changeByRef("cancel", queue, ref, []);
  }

  reschedule(queue: string, ref: JobRef, when: When): Promise<ChangeOutcome> {
    return this.changeByRef("reschedule", queue, ref, encodeWhen(when));
  }

  async settle(queue: string, ref: JobRef, completion: Completion): Promise<ChangeOutcome> {
    checkFollowUps(queue, completion);
    return this.changeByRef("settle", queue, ref, (partition) => {
      this.checkGroupedFollowUps(partition, completion);
      return this.completionArgs(completion);
    });
  }

  // --- claiming and leases ---------------------------------------------------------------

  async claimDue(queue: string, { limit, leaseMs }: ClaimOptions): Promise<ClaimResult> {
    if (this.layout.partitions === 1) return this.claimPartition(queue, 0, limit, leaseMs, null);
    // Peek at every partition, take the earliest `limit` due entries queue-wide, then claim
    // from each partition its share of them (partition-merge.ts).
    const peeks = await Promise.all(
      this.partitionList().map(async (partition) =>
        decodePeek(
          partition,
          (await this.runLeased("peek", queue, partition, [String(limit)])) as [number, number | null, number[]],
        ),
      ),
    );
    let plan = planClaim(peeks, limit);
    // The queue's rate limit and pause (in a slot of their own): take what the plan would
    // start, claim no more than was granted, give back what did not start (take.lua says why
    // that is sound). The claims run at the bucket's instant too, so their clock never reads
    // earlier than the one the tokens were counted by.
    let take: TakeReply | null = null;
    if (plan.chosen.length > 0 && peeks.some((peek) => peek.flow)) {
      take = await this.take(queue, "take", plan.chosen.length);
      plan = { ...cutPlan(plan, take[1]), now: Math.max(plan.now, take[0]) };
    }
    const at = plan.now;
    const claims = await Promise.all(
      [...plan.shares].map(([partition, count]) => this.claimPartition(queue, partition, count, leaseMs, at)),
    );
    const result = mergeClaims(plan, peeks, claims, (partition, seq) => this.layout.formatId(partition, seq));
    if (take?.[2] === 1) {
      // The jobs are claimed: a give back that fails must not lose them. Its tokens are then
      // lost instead, which only delays later starts (take.lua).
      const unstarted = take[1] - result.jobs.length;
      const nextStart =
        unstarted > 0
          ? await this.take(queue, "give", unstarted).then(
              (reply) => reply[3],
              () => take[3],
            )
          : take[3];
      if (result.nextDueAt !== null && nextStart !== null) result.nextDueAt = Math.max(result.nextDueAt, nextStart);
    }
    return result;
  }

  private async take(queue: string, op: "take" | "give", count: number): Promise<TakeReply> {
    return (await this.runOn(
      "take",
      this.layout.flowBase(queue),
      queue,
      [op, String(count)],
      this.leases(),
    )) as TakeReply;
  }

  private async claimPartition(
    queue: string,
    partition: number,
    limit: number,
    leaseMs: number,
    at: number | null,
  ): Promise<ClaimResult> {
    const tokenPart = randomBytes(9).toString("base64url");
    const [now, nextDueAt, expiresAt, replies, policies] = (await this.runLeased("claim", queue, partition, [
      String(limit),
      String(leaseMs),
      tokenPart,
      at === null ? "" : String(at),
    ])) as [number, number | null, number, ClaimedReply[], (number | string)[]];
    const backoffs = new Map<number, BackoffPolicy>();
    for (let i = 0; i < policies.length; i += 2)
      backoffs.set(Number(policies[i]), parseStoredBackoff(String(policies[i + 1])));
    const claim = {
      queue,
      id: (seq: number) => this.layout.formatId(partition, seq),
      now,
      tokenPart,
      expiresAt,
      backoffs,
    };
    return { jobs: replies.map((reply) => decodeClaimed(reply, claim)), nextDueAt, now };
  }

  async extendLease(queue: string, id: string, leaseToken: string, leaseMs: number): Promise<number> {
    const where = this.held(id);
    const expiresAt = (await this.runLeased("extend", queue, where.partition, [
      String(where.seq),
      leaseToken,
      String(leaseMs),
    ])) as number;
    if (expiresAt < 0) throw new LeaseLostError(id);
    return expiresAt;
  }

  async complete(queue: string, id: string, leaseToken: string, completion: Completion): Promise<void> {
    checkFollowUps(queue, completion);
    const where = this.held(id);
    this.checkGroupedFollowUps(where.partition, completion);
    let done: boolean;
    if (completion.enqueue && completion.enqueue.length > 0) {
      // Alone in its call: the follow-ups belong to this completion only.
      const args = await this.completionArgs(completion);
      const reply = (await this.runLeased("complete", queue, where.partition, [
        "1",
        String(where.seq),
        leaseToken,
        ...args,
      ])) as number[];
      done = reply[0] === 1;
    } else {
      done = await this.completions.complete(queue, where.partition, where.seq, leaseToken, completion.result);
    }
    if (!done) throw new LeaseLostError(id);
  }

  async fail(queue: string, id: string, leaseToken: string, failure: Failure): Promise<JobRecord> {
    const where = this.held(id);
    const reply = await this.runLeased("fail", queue, where.partition, [
      String(where.seq),
      leaseToken,
      failure.error,
      failure.retryDelayMs === null ? "" : String(failure.retryDelayMs),
    ]);
    if (!Array.isArray(reply)) throw new LeaseLostError(id);
    return this.decode(queue, where.partition, reply as RecordReply);
  }

  async release(queue: string, id: string, leaseToken: string, release: Release): Promise<void> {
    const where = this.held(id);
    const done = await this.runLeased("release", queue, where.partition, [
      String(where.seq),
      leaseToken,
      String(release.delayMs),
      release.payload === undefined ? "0" : "1",
      release.payload ?? "",
    ]);
    if (done !== 1) throw new LeaseLostError(id);
  }

  // --- listing and admin -----------------------------------------------------------------

  async list(queue: string, state: JobState, { limit, cursor }: PageRequest): Promise<Page> {
    // A cursor holds one position per partition ("" = from the start, null = exhausted).
    const positions = decodeListCursor(cursor, queue, state, (p) => this.isListPosition(p)) ?? [];
    const pages = await Promise.all(
      this.partitionList().map(async (partition) => {
        const from = positions[partition] === undefined ? "" : positions[partition];
        if (from === null) return { partition, more: false, items: [] };
        const [more, replies, cursors] = (await this.run("list", queue, partition, [
          String(STATE_CODES[state]),
          String(limit),
          from ?? "",
        ])) as [number, RecordReply[], string[]];
        const items = replies.map((reply, i) => ({ job: this.decode(queue, partition, reply), position: cursors[i]! }));
        return { partition, more: more === 1, items };
      }),
    );
    const { jobs, next } = mergeListPages(pages, positions, limit);
    return { jobs, next: next ? encodeListCursor(queue, state, next) : null };
  }

  async setRateLimit(queue: string, limit: RateLimit | null): Promise<void> {
    await this.changeFlow(queue, limit ? ["limit", String(limit.rate), String(limit.perMs)] : ["unlimit"]);
  }

  async pauseQueue(queue: string, until: When | null): Promise<void> {
    await this.changeFlow(queue, until === null ? ["resume"] : ["pause", ...encodeWhen(until)]);
  }

  /**
   * A change of the queue's bucket. On a partitioned queue the bucket lives in the queue's own
   * slot (layout.flowBase), and each partition keeps a flag saying whether there is one, so
   * that a claim of a queue without one takes no extra step (peek.lua, flowflag.lua).
   */
  private async changeFlow(queue: string, op: string[]): Promise<void> {
    const partitioned = this.layout.partitions > 1;
    const reply = (await this.runOn("flow", this.layout.flowBase(queue), queue, [partitioned ? "1" : "", ...op])) as [
      number,
      ...unknown[],
    ];
    if (!partitioned) return;
    const [version, exists] = reply.slice(5) as [number, number];
    await Promise.all(
      this.partitionList().map((p) => this.run("flowflag", queue, p, [String(version), String(exists)])),
    );
  }

  async flowSettings(queue: string): Promise<FlowSettings> {
    const [flow, groupLimits] = await Promise.all([
      this.runOn("flow", this.layout.flowBase(queue), queue, ["", "get"]) as Promise<
        [number, number | null, number | null, number | null, number | null]
      >,
      this.run("group", queue, 0, ["get-defaults"]) as Promise<[number | null, number | null, number | null] | []>,
    ]);
    const [, rate, per, paused, tokens] = flow;
    const limit = rate === null || per === null ? null : { rate, perMs: per };
    return { limit, pausedUntil: paused, tokens: limit ? tokens : null, groupLimits: decodeGroupLimits(groupLimits) };
  }

  // --- groups (include/groups.lua) --------------------------------------------------------

  async setGroupLimits(queue: string, group: string | null, limits: GroupLimits | null): Promise<void> {
    this.gate.ensureOpen();
    if (group === null) {
      // Every partition keeps a copy of the queue's default, read by its own scripts.
      const args = limits ? ["defaults", "1", ...encodeGroupLimits(limits)] : ["defaults", "0"];
      await Promise.all(this.partitionList().map((p) => this.run("group", queue, p, args)));
      return;
    }
    const args = limits ? ["limits", group, "1", ...encodeGroupLimits(limits)] : ["limits", group, "0", "", "", ""];
    await this.run("group", queue, this.layout.partitionOfGroup(group), args);
  }

  async pauseGroup(queue: string, group: string, until: When | null): Promise<void> {
    this.gate.ensureOpen();
    const args = until === null ? ["resume", group] : ["pause", group, ...encodeWhen(until)];
    await this.run("group", queue, this.layout.partitionOfGroup(group), args);
  }

  async groupState(queue: string, group: string): Promise<GroupState> {
    this.gate.ensureOpen();
    const reply = (await this.run("group", queue, this.layout.partitionOfGroup(group), ["state", group])) as GroupReply;
    return decodeGroupState(reply);
  }

  async busiestGroups(queue: string, limit: number): Promise<{ groups: GroupState[]; activeGroups: number }> {
    this.gate.ensureOpen();
    const parts = await Promise.all(
      this.partitionList().map(
        async (p) => (await this.run("group", queue, p, ["busiest", String(limit)])) as [number, GroupReply[]],
      ),
    );
    return busiestOf(
      parts.map(([activeGroups, replies]) => ({ activeGroups, groups: replies.map(decodeGroupState) })),
      limit,
    );
  }

  /**
   * On a partitioned queue a grouped follow-up job must live in its group's partition, and a
   * follow-up lives beside the job it follows (one atomic step): one in another partition is
   * refused before anything changes.
   */
  private checkGroupedFollowUps(partition: number, { enqueue = [] }: Completion): void {
    for (const job of enqueue) {
      checkGroupPriority(job.group ?? null, job.priority ?? 0);
      if (job.group && this.layout.partitionOfGroup(job.group) !== partition) {
        throw invalidOption(
          `a follow-up job's group ${JSON.stringify(job.group)} lives in another partition than the job it follows`,
          { field: "group", group: job.group },
        );
      }
    }
  }

  async counts(queue: string): Promise<Record<JobState, number>> {
    const parts = await Promise.all(
      this.partitionList().map(async (p) => decodeCounts((await this.run("counts", queue, p, [])) as string[])),
    );
    return parts.length === 1 ? parts[0]! : sumCounts(parts);
  }

  async queues(): Promise<string[]> {
    const names = (await this.gate.send(this.client, () => this.client.smembers(this.layout.registry))).sort();
    const held = await Promise.all(
      names.map(async (name) => Object.values(await this.counts(name)).some((n) => n > 0)),
    );
    return names.filter((_, i) => held[i]);
  }

  async redrive(queue: string, selection: Selection, when: When): Promise<number> {
    return this.admin("redrive", queue, selection, [...encodeWhen(when)]);
  }

  async purge(queue: string, state: FinishedState, selection: Selection): Promise<number> {
    return this.admin("purge", queue, selection, [String(STATE_CODES[state])]);
  }

  async trim(queue: string, { keepLast, maxAgeMs }: Retention): Promise<number> {
    const maxAge = maxAgeMs === undefined ? "" : String(maxAgeMs);
    if (this.layout.partitions === 1) {
      return (await this.run("trim", queue, 0, [
        keepLast === undefined ? "" : String(keepLast),
        maxAge,
        "",
        "",
      ])) as number;
    }
    let cut = ["", ""];
    if (keepLast !== undefined) {
      const counts = await this.counts(queue);
      if (counts.completed + counts.cancelled > keepLast) {
        // The queue-wide keepLast-th newest is among each partition's newest keepLast.
        const tails = await Promise.all(
          this.partitionList().map(
            async (p) => (await this.run("tail", queue, p, [String(Math.max(1, keepLast))])) as number[],
          ),
        );
        const keptLast = keepLastCut(tails, keepLast);
        if (keptLast) cut = [String(keptLast.score), String(keptLast.seq)];
      }
    }
    if (maxAge === "" && cut[0] === "") return 0;
    const deleted = await Promise.all(
      this.partitionList().map(async (p) => (await this.run("trim", queue, p, ["", maxAge, ...cut])) as number),
    );
    return deleted.reduce((a, b) => a + b, 0);
  }

  subscribe(queue: string, wake: (runAt: number) => void): () => void {
    if (this.closed) return () => {};
    return this.wakes.subscribe(this.layout.wakeChannel(queue), wake, () => this.nextDueAt(queue));
  }

  /** The earliest due instant in the queue (scheduled runAt or lease expiry), or null. */
  private async nextDueAt(queue: string): Promise<number | null> {
    const heads = await Promise.all(
      this.partitionList().map(async (p) => ((await this.run("peek", queue, p, ["1"])) as [number, number | null])[1]),
    );
    return earliest(heads);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.gate.close();
    // The start-up check is not awaited: against a server that never answers it would never end.
    await this.wakes.close();
    await this.leaseConnection?.quit().catch(() => this.leaseConnection?.disconnect());
    if (this.ownsClient) await this.client.quit().catch(() => this.client.disconnect());
  }

  // --- internals -------------------------------------------------------------------------

  private run(
    script: ScriptName,
    queue: string,
    partition: number,
    args: string[],
    connection: Redis | Cluster = this.client,
  ): Promise<unknown> {
    return this.runOn(script, this.layout.base(queue, partition), queue, args, connection);
  }

  /** Runs a script on a base key of the queue's: a partition's, or the queue's own slot (flow). */
  private runOn(
    script: ScriptName,
    base: string,
    queue: string,
    args: string[],
    connection: Redis | Cluster = this.client,
  ): Promise<unknown> {
    return this.gate.send(connection, () =>
      runScript(connection, script, base, [this.layout.wakeChannel(queue), ...args]),
    );
  }

  /** Runs a script of the claim / outcome path on the lease connection. */
  private runLeased(script: ScriptName, queue: string, partition: number, args: string[]): Promise<unknown> {
    return this.run(script, queue, partition, args, this.leases());
  }

  private leases(): Redis | Cluster {
    if (!this.leaseConnection) {
      const connection = isCluster(this.client)
        ? this.client.duplicate(undefined, { enableAutoPipelining: false })
        : this.client.duplicate({ enableAutoPipelining: false });
      this.gate.watch(connection);
      defineScripts(connection);
      this.leaseConnection = connection;
    }
    return this.leaseConnection;
  }

  private decode(queue: string, partition: number, reply: RecordReply): JobRecord {
    return decodeRecord(queue, (seq) => this.layout.formatId(partition, seq), reply);
  }

  private async readOne(queue: string, partition: number, ref: [string, string]): Promise<JobRecord | null> {
    const reply = (await this.run("get", queue, partition, ref)) as RecordReply | [];
    return reply.length === 0 ? null : this.decode(queue, partition, reply as RecordReply);
  }

  private async changeByRef(
    script: "cancel" | "reschedule" | "settle",
    queue: string,
    ref: JobRef,
    extra: string[] | ((partition: number) => Promise<string[]>),
  ): Promise<ChangeOutcome> {
    this.gate.ensureOpen();
    let target: { partition: number; ref: [string, string] } | null;
    if ("id" in ref) {
      const where = this.layout.parseId(ref.id);
      target = where && { partition: where.partition, ref: ["i", String(where.seq)] };
    } else if (this.layout.partitions === 1) {
      target = { partition: 0, ref: ["k", ref.key] };
    } else {
      // The key may be held outside its home partition (a follow-up job): find it first; the
      // change itself is then by id and checks the state atomically.
      const job = await this.getByKey(queue, ref.key);
      const where = job && this.layout.parseId(job.id);
      target = where && { partition: where.partition, ref: ["i", String(where.seq)] };
    }
    if (!target) return { job: null, changed: false };
    const args = typeof extra === "function" ? await extra(target.partition) : extra;
    const reply = (await this.run(script, queue, target.partition, [...target.ref, ...args])) as
      | []
      | [0 | 1, RecordReply];
    if (reply.length === 0) return { job: null, changed: false };
    return { job: this.decode(queue, target.partition, reply[1]), changed: reply[0] === 1 };
  }

  private async completionArgs({ result, enqueue = [] }: Completion): Promise<string[]> {
    if (enqueue.length > 0) await this.register(enqueue);
    const { seqs, jobs } = await this.sequencesFor(enqueue);
    return [result === null ? "0" : "1", result ?? "", ...encodeNewJobs(jobs, seqs)];
  }

  /**
   * redrive / purge. "all" works through the partition in batches of `adminBatchSize` jobs, one
   * script call each: a large dead-letter set never blocks Redis for long. Jobs a batch leaves
   * in place (a redrive leaves a job whose key is held) stay at the front of the set, so the
   * next batch passes over that many.
   */
  private async admin(
    script: "redrive" | "purge",
    queue: string,
    selection: Selection,
    head: string[],
  ): Promise<number> {
    this.gate.ensureOpen();
    type Reply = [count: number, examined: number];
    let total = 0;
    if ("ids" in selection) {
      const byPartition = new Map<number, string[]>();
      for (const id of selection.ids) {
        const where = this.layout.parseId(id);
        if (where) byPartition.set(where.partition, [...(byPartition.get(where.partition) ?? []), String(where.seq)]);
      }
      for (const [partition, seqs] of byPartition) {
        total += ((await this.run(script, queue, partition, [...head, "ids", "0", ...seqs])) as Reply)[0];
      }
      return total;
    }
    let left = selection.limit ?? ALL;
    for (const partition of this.partitionList()) {
      let passed = 0;
      while (left > 0) {
        const batch = Math.min(left, this.adminBatchSize);
        const [count, examined] = (await this.run(script, queue, partition, [
          ...head,
          "all",
          String(batch),
          String(passed),
        ])) as Reply;
        total += count;
        left -= examined;
        passed += examined - count;
        if (examined < batch) break;
      }
    }
    return total;
  }

  /**
   * Queue-wide sequence numbers for the jobs of a partitioned queue (FIFO across partitions),
   * drawn per queue together with one clock reading that turns every delay of the batch into
   * the same kind of instant; a single partition's script does both itself.
   */
  private async sequencesFor(jobs: NewJob[]): Promise<{ seqs: (number | null)[]; jobs: NewJob[] }> {
    const seqs: (number | null)[] = jobs.map(() => null);
    if (this.layout.partitions === 1 || jobs.length === 0) return { seqs, jobs };
    const resolved = [...jobs];
    const byQueue = new Map<string, number[]>();
    jobs.forEach((job, i) => {
      byQueue.set(job.queue, [...(byQueue.get(job.queue) ?? []), i]);
    });
    await Promise.all(
      [...byQueue].map(async ([queue, indexes]) => {
        const [last, now] = (await this.gate.send(this.client, () =>
          runScript(this.client, "sequence", this.layout.sequence(queue), ["", String(indexes.length)]),
        )) as [number, number];
        indexes.forEach((index, k) => {
          seqs[index] = last - indexes.length + 1 + k;
          const job = jobs[index]!;
          if ("delayMs" in job.when) resolved[index] = { ...job, when: { runAt: now + job.when.delayMs } };
        });
      }),
    );
    return { seqs, jobs: resolved };
  }

  private async register(jobs: NewJob[]): Promise<void> {
    const fresh = [...new Set(jobs.map((job) => job.queue))].filter((queue) => !this.registered.has(queue));
    if (fresh.length === 0) return;
    await this.gate.send(this.client, () => this.client.sadd(this.layout.registry, ...fresh));
    for (const queue of fresh) this.registered.add(queue);
  }

  private roundRobin(): number {
    this.nextPartition = (this.nextPartition + 1) % this.layout.partitions;
    return this.nextPartition;
  }

  private partitionList(): number[] {
    return Array.from({ length: this.layout.partitions }, (_, i) => i);
  }

  /** A list position: per partition, "" (from the start), null (exhausted) or "<score>:<seq>". */
  private isListPosition(position: unknown): position is (string | null)[] {
    return (
      Array.isArray(position) &&
      position.length === this.layout.partitions &&
      position.every((p) => p === null || (typeof p === "string" && /^(-?\d{1,16}:\d{1,16})?$/.test(p)))
    );
  }

  private held(id: string): { partition: number; seq: number } {
    this.gate.ensureOpen();
    const where = this.layout.parseId(id);
    if (!where) throw new LeaseLostError(id);
    return where;
  }
}
