import { EventEmitter } from "node:events";
import { type BackoffPolicy, resolveBackoff, retryDelay } from "../core/backoff.js";
import { parseDuration } from "../core/duration.js";
import { invalidOption } from "../core/errors.js";
import type { JobRecord } from "../core/job.js";
import { rejectUnknown, resolveAttempts } from "../core/options.js";
import { parsePayload, serializePayload } from "../core/payload.js";
import { Queue } from "../queue/queue.js";
import type { Store } from "../stores/store.js";
import { later } from "../worker/answers.js";
import type { ErrorReporter } from "../worker/error-report.js";
import type { ActiveJob } from "../worker/leased-job.js";
import { Worker } from "../worker/worker.js";
import { validatePage } from "./sweep-page.js";
import {
  freshCheckpoint,
  type ItemPayload,
  type RunCheckpoint,
  type RunResult,
  runOf,
  sweepItemsQueueName,
  sweepQueueName,
  validateSweepName,
} from "./sweep-run.js";
import type { SweepDefinition, SweepEvents, SweepPageContext, SweepRun, SweepStatus } from "./sweep-types.js";

export interface SweepSettings {
  maxPayloadBytes: number;
  onError?: ErrorReporter | undefined;
}

const DEFINITION_NAMES = new Set([
  "page",
  "handle",
  "concurrency",
  "attempts",
  "backoff",
  "pageAttempts",
  "pageBackoff",
  "lease",
  "total",
  "worker",
  "keepRuns",
]);

/**
 * A sweep: walks the user's records a page at a time and handles each item, as resumable runs.
 * A run is a job (see sweep-run.ts): whichever process holds its lease reads the next page,
 * handles the page's items, and checkpoints by releasing the job with the new cursor. A runner
 * that dies stops extending its lease; another claims the run when the lease runs out and
 * resumes from the last checkpoint, so the items of the page in flight may be handled twice.
 */
export class Sweep<T = unknown> extends EventEmitter<SweepEvents> {
  readonly runQueue: string;
  readonly itemQueue: string;
  /** The runner (runs, one page at a time) and the item retry worker in this process; empty with `worker: false`. */
  readonly workers: Worker[];
  private readonly concurrency: number;
  private readonly pageAttempts: number;
  private readonly pageBackoff: BackoffPolicy;
  private readonly itemBackoff: BackoffPolicy;
  private readonly items: Queue<ItemPayload<T>>;
  /** Checkpoints handed to the store, reported as progress once the store has them. */
  // Keyed by the claim's job view, not the run's id: the next claim of the same run may begin
  // before this claim's release is reported, and must not take its checkpoint away.
  private readonly pending = new WeakMap<object, RunCheckpoint | RunResult>();

  constructor(
    readonly name: string,
    private readonly store: Store,
    private readonly definition: SweepDefinition<T>,
    private readonly settings: SweepSettings,
  ) {
    super();
    validateSweepName(name);
    validateDefinition(definition);
    this.runQueue = sweepQueueName(name);
    this.itemQueue = sweepItemsQueueName(name);
    this.concurrency = definition.concurrency ?? 10;
    this.pageAttempts = resolveAttempts(definition.pageAttempts ?? 10);
    this.pageBackoff = resolveBackoff(definition.pageBackoff);
    this.itemBackoff = resolveBackoff(definition.backoff);
    const attempts = resolveAttempts(definition.attempts ?? 3);
    this.items = new Queue<ItemPayload<T>>(this.itemQueue, store, {
      maxPayloadBytes: settings.maxPayloadBytes,
      defaults: { attempts, ...(definition.backoff === undefined ? {} : { backoff: definition.backoff }) },
    });
    this.workers = definition.worker === false ? [] : this.openWorkers();
  }

  /**
   * Starts a run unless one is going (then that one is returned, `created: false`). A run after
   * a failed one resumes from its cursor with its counts; `restart: true` starts from the beginning.
   */
  async start(options: { restart?: boolean } = {}): Promise<SweepRun & { created: boolean }> {
    rejectUnknown(options, new Set(["restart"]), "sweep start");
    const last = await this.store.getByKey(this.runQueue, this.name);
    if (last && (last.state === "scheduled" || last.state === "active")) {
      return { ...runOf(this.name, last, await this.store.now()), created: false };
    }
    const total = await this.readTotal();
    let checkpoint = freshCheckpoint(total);
    if (last?.state === "dead" && options.restart !== true) {
      const failed = parsePayload<RunCheckpoint>(last.payload);
      checkpoint = { ...failed, total: total ?? failed.total, base: failed.items, resumedFrom: last.id };
    }
    const [added] = await this.store.add([
      {
        queue: this.runQueue,
        key: this.name,
        payload: serializePayload(checkpoint, this.settings.maxPayloadBytes, "sweep checkpoint"),
        when: { delayMs: 0 },
        maxAttempts: this.pageAttempts,
        backoff: this.pageBackoff,
        onDuplicate: "keep",
      },
    ]);
    const { job, outcome } = added!;
    return { ...runOf(this.name, job, job.createdAt), created: outcome === "created" };
  }

  /**
   * Cancels the running run; true if this call cancelled it. The runner holding it loses its
   * lease: it starts no more items, and nothing it does afterwards is checkpointed.
   */
  async cancel(): Promise<boolean> {
    const { changed } = await this.store.cancel(this.runQueue, { key: this.name });
    return changed;
  }

  /** The newest run (running, or the last finished one) and the item queue's counts. */
  async status(): Promise<SweepStatus> {
    const [job, counts, now] = await Promise.all([
      this.store.getByKey(this.runQueue, this.name),
      this.store.counts(this.itemQueue),
      this.store.now(),
    ]);
    const run = job ? runOf(this.name, job, now) : null;
    return {
      name: this.name,
      state: run?.state ?? "idle",
      run,
      retrying: counts.scheduled + counts.active,
      dead: counts.dead,
    };
  }

  /** The run history, newest first: the running run, then finished runs (completed, failed, cancelled) still retained. */
  async runs(limit = 20): Promise<SweepRun[]> {
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw invalidOption("runs limit must be an integer from 1 to 1000", { limit });
    }
    const now = await this.store.now();
    const states = ["scheduled", "active", "completed", "dead", "cancelled"] as const;
    const jobs: JobRecord[] = [];
    for (const state of states) jobs.push(...(await this.listAll(state, limit)));
    jobs.sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1));
    return jobs.slice(0, limit).map((job) => runOf(this.name, job, now));
  }

  /** Stops this process's runner and item worker (a run in flight is released to be resumed). */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.close()));
  }

  /** The newest `limit` jobs in one state (lists run oldest first: read to the end). */
  private async listAll(state: JobRecord["state"], limit: number): Promise<JobRecord[]> {
    const all: JobRecord[] = [];
    let cursor: string | null = null;
    do {
      const page = await this.store.list(this.runQueue, state, { limit: 500, cursor });
      all.push(...page.jobs);
      cursor = page.next;
    } while (cursor !== null);
    return all.slice(-limit);
  }

  private async readTotal(): Promise<number | null> {
    const { total } = this.definition;
    const value = typeof total === "function" ? await total() : total;
    if (value === undefined || value === null) return null;
    if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
      throw invalidOption(`sweep ${JSON.stringify(this.name)}: total must be an integer ≥ 0`, {
        field: "total",
        total: value,
      });
    }
    return value;
  }

  private openWorkers(): Worker[] {
    const { onError } = this.settings;
    const lease = this.definition.lease ?? "30s";
    const runner = new Worker<RunCheckpoint>(
      this.runQueue,
      this.store,
      (job) => this.runPage(job),
      {
        concurrency: 1,
        prefetch: 0,
        lease,
        retention: { keepLast: this.definition.keepRuns ?? 100 },
        ...(onError ? { onError } : {}),
      },
      { maxPayloadBytes: this.settings.maxPayloadBytes },
    );
    runner.on("released", (job) => this.report(job, "progress"));
    runner.on("completed", (job) => this.report(job, "completed"));
    runner.on("dead", (job) => this.emit("failed", runOf(this.name, { ...toRecord(job), state: "dead" }, Date.now())));
    const retries = new Worker<ItemPayload<T>>(
      this.itemQueue,
      this.store,
      (job) =>
        this.definition.handle(job.payload.item, {
          sweep: this.name,
          runId: job.payload.runId,
          signal: job.signal,
          attempt: job.attempts + 1,
        }),
      { concurrency: this.concurrency, lease, ...(onError ? { onError } : {}) },
      { maxPayloadBytes: this.settings.maxPayloadBytes },
    );
    return [runner as Worker, retries as Worker];
  }

  /** One claim of a run: one page read, its items handled, and the next checkpoint (or the result). */
  private async runPage(job: ActiveJob<RunCheckpoint>): Promise<unknown> {
    localStartOf(job);
    const point = job.payload;
    const context: SweepPageContext = { sweep: this.name, runId: job.id, signal: job.signal };
    let page: ReturnType<typeof validatePage<T>>;
    try {
      page = validatePage<T>(this.name, await this.definition.page(point.cursor, context));
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      if (this.listenerCount("pageFailed") > 0)
        this.emit("pageFailed", failure, runOf(this.name, toRecord(job), job.startedAt));
      throw error;
    }
    const failed = await this.handleItems(page.items, context);
    if (failed.length > 0) {
      const delay = retryDelay(this.itemBackoff, 1);
      await this.items.addBulk(failed.map((item) => ({ payload: { item, runId: job.id }, options: { delay } })));
    }
    const next: RunCheckpoint = {
      ...point,
      cursor: page.next,
      pages: point.pages + 1,
      items: point.items + page.items.length,
      failed: point.failed + failed.length,
    };
    if (page.next === null) {
      const result: RunResult = { ...next, finishedAt: job.startedAt + (Date.now() - localStartOf(job)) };
      this.pending.set(job, result);
      return result;
    }
    this.pending.set(job, next);
    return later(0, next);
  }

  /**
   * Handles a page's items, `concurrency` at once; returns those whose handler threw. Once the
   * run is lost (cancelled, lease lost, shutdown) no more items start.
   */
  private async handleItems(items: T[], context: SweepPageContext): Promise<T[]> {
    const failed: T[] = [];
    let index = 0;
    const lane = async () => {
      while (index < items.length && !context.signal.aborted) {
        const item = items[index++] as T;
        try {
          await this.definition.handle(item, { ...context, attempt: 1 });
        } catch {
          failed.push(item);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, items.length) }, lane));
    if (context.signal.aborted) throw context.signal.reason ?? new Error("sweep run lost");
    return failed;
  }

  private report(job: ActiveJob<RunCheckpoint>, event: "progress" | "completed"): void {
    const point = this.pending.get(job);
    if (!point) return;
    this.pending.delete(job);
    const now = job.startedAt + (Date.now() - localStartOf(job));
    const record =
      event === "completed"
        ? { ...toRecord(job), state: "completed" as const, result: JSON.stringify(point) }
        : toRecord(job);
    this.emit(event, runOf(this.name, record, now, point));
  }
}

/** When the handler began, by this process's clock (the store's clock is known only at the claim). */
const localStarts = new WeakMap<object, number>();
function localStartOf(job: object): number {
  let at = localStarts.get(job);
  if (at === undefined) {
    at = Date.now();
    localStarts.set(job, at);
  }
  return at;
}

/** The fields of a run job runOf needs, from the view a handler gets. */
function toRecord(job: ActiveJob<RunCheckpoint>): JobRecord {
  return {
    id: job.id,
    queue: job.queue,
    key: job.key,
    payload: JSON.stringify(job.payload),
    state: "active",
    runAt: job.runAt,
    attempts: job.attempts,
    maxAttempts: job.maxAttempts,
    backoff: { type: "fixed", delayMs: 0, jitter: 0 },
    priority: 0,
    group: job.group,
    errors: job.errors,
    result: null,
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    leaseToken: null,
    leaseExpiresAt: null,
  };
}

function validateDefinition<T>(definition: SweepDefinition<T>): void {
  if (typeof definition !== "object" || definition === null) throw invalidOption("a sweep needs a definition object");
  rejectUnknown(definition, DEFINITION_NAMES, "sweep");
  if (typeof definition.page !== "function") throw invalidOption("sweep page must be a function", { field: "page" });
  if (typeof definition.handle !== "function")
    throw invalidOption("sweep handle must be a function", { field: "handle" });
  const { concurrency, keepRuns } = definition;
  if (concurrency !== undefined && (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1000)) {
    throw invalidOption("sweep concurrency must be an integer from 1 to 1000", { field: "concurrency", concurrency });
  }
  if (keepRuns !== undefined && (!Number.isInteger(keepRuns) || keepRuns < 1)) {
    throw invalidOption("sweep keepRuns must be an integer ≥ 1", { field: "keepRuns", keepRuns });
  }
  if (definition.lease !== undefined) parseDuration(definition.lease, "lease");
  const { total } = definition;
  if (total !== undefined && typeof total !== "function" && (!Number.isInteger(total) || (total as number) < 0)) {
    throw invalidOption("sweep total must be an integer ≥ 0 or a function", { field: "total", total });
  }
  if (definition.worker !== undefined && typeof definition.worker !== "boolean") {
    throw invalidOption("sweep worker must be a boolean", { field: "worker" });
  }
}
