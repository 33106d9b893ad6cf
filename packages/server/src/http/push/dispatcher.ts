import type { Store } from "checkback";
import { type ActiveJob, Worker } from "checkback";
import type { FastifyBaseLogger } from "fastify";
import type { ServerMetrics } from "../metrics.js";
import { OneAtATime } from "../one-at-a-time.js";
import { redactUrl } from "../redact.js";
import { PostFailure, postSigned } from "./post.js";

/** A queue's push target, as kept in the server settings. */
export interface PushTarget {
  url: string;
  timeoutMs: number;
  concurrency: number;
  secret: string;
}

/** What the receiver gets as the JSON body of each push request. */
export interface PushDelivery {
  id: string;
  queue: string;
  key: string | null;
  payload: unknown;
  /** 1 on the first try. */
  attempt: number;
  maxAttempts: number;
  runAt: number;
  createdAt: number;
}

/** A short lease: a crashed server's in-flight deliveries come back quickly; the worker's heartbeat keeps live ones. */
const PUSH_LEASE = "15s";

/**
 * Push delivery: one library Worker per push queue, whose handler POSTs the job to the
 * queue's URL. A 2xx answer completes the job; any other answer, a timeout or a network error
 * is a failed attempt, retried by the job's back-off and dead-lettered when attempts run out.
 * So a receiver that is down for a while loses nothing: its jobs wait in the store.
 */
export class PushDispatcher {
  private readonly workers = new Map<string, Worker>();
  /** The target each running worker delivers to, as JSON, to tell a changed target from an unchanged one. */
  private readonly targets = new Map<string, string>();
  private readonly changes = new OneAtATime();

  constructor(
    private readonly store: Store,
    private readonly metrics: ServerMetrics,
    private readonly log: FastifyBaseLogger,
  ) {}

  /** Starts delivering `queue` to `target`, replacing any earlier target of that queue. */
  start(queue: string, target: PushTarget): Promise<void> {
    return this.changes.run(() => this.startNow(queue, target));
  }

  stop(queue: string): Promise<void> {
    return this.changes.run(() => this.stopNow(queue));
  }

  /**
   * Makes the running workers match the targets kept in the store, starting, restarting or
   * stopping only what differs. Run at start and now and then, so a target set through another
   * server sharing the store is picked up here too.
   */
  sync(load: () => Promise<{ name: string; value: PushTarget }[]>): Promise<void> {
    return this.changes.run(async () => {
      // Read inside the lock, so a target put meanwhile is not undone by an older reading.
      const wanted = await load();
      const names = new Set(wanted.map((w) => w.name));
      for (const queue of [...this.workers.keys()]) if (!names.has(queue)) await this.stopNow(queue);
      for (const { name, value } of wanted) {
        if (this.targets.get(name) !== JSON.stringify(value)) await this.startNow(name, value);
      }
    });
  }

  close(): Promise<void> {
    return this.changes.run(async () => {
      await Promise.all([...this.workers.keys()].map((queue) => this.stopNow(queue)));
    });
  }

  private async startNow(queue: string, target: PushTarget): Promise<void> {
    await this.stopNow(queue);
    this.targets.set(queue, JSON.stringify(target));
    // Lateness, claims, completions, retries, dead letters and lease losses come through the library's hook.
    const worker = new Worker(queue, this.store, (job) => this.deliver(queue, target, job), {
      concurrency: target.concurrency,
      lease: PUSH_LEASE,
      metrics: this.metrics.hook("push"),
    });
    worker.on("attemptFailed", (job, error, retryAt) => {
      this.log.warn(
        { queue, jobId: job.id, attempt: job.attempts, retryAt, err: error.message },
        "push delivery failed",
      );
    });
    worker.on("dead", (job) => {
      this.log.error({ queue, jobId: job.id }, "push job dead-lettered after its last attempt");
    });
    worker.on("error", (error) => this.log.error({ queue, err: error }, "push worker store error"));
    this.workers.set(queue, worker);
    this.log.info({ queue, url: redactUrl(target.url), concurrency: target.concurrency }, "push delivery started");
  }

  private async stopNow(queue: string): Promise<void> {
    const worker = this.workers.get(queue);
    if (!worker) return;
    this.workers.delete(queue);
    this.targets.delete(queue);
    await worker.close();
  }

  get queues(): string[] {
    return [...this.workers.keys()];
  }

  private async deliver(queue: string, target: PushTarget, job: ActiveJob<unknown>): Promise<{ status: number }> {
    const delivery: PushDelivery = {
      id: job.id,
      queue,
      key: job.key,
      payload: job.payload,
      attempt: job.attempts,
      maxAttempts: job.maxAttempts,
      runAt: job.runAt,
      createdAt: job.createdAt,
    };
    const body = JSON.stringify(delivery);
    const started = performance.now();
    try {
      const { status } = await postSigned({
        url: target.url,
        secret: target.secret,
        timeoutMs: target.timeoutMs,
        body,
        headers: { "checkback-job-id": job.id, "checkback-attempt": String(job.attempts) },
        signal: job.signal,
      });
      this.metrics.pushDeliveries.inc({ queue, result: "success" });
      this.metrics.processing.observe(
        { queue, delivery: "push", outcome: "completed" },
        (performance.now() - started) / 1000,
      );
      return { status };
    } catch (error) {
      const result = error instanceof PostFailure ? error.kind : "network_error";
      this.metrics.pushDeliveries.inc({ queue, result });
      this.metrics.processing.observe(
        { queue, delivery: "push", outcome: "failed" },
        (performance.now() - started) / 1000,
      );
      throw error;
    }
  }
}
