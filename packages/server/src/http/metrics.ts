import {
  type CounterName,
  type GroupState,
  METRIC_NAMES,
  type MetricsHook,
  type Store,
  ValidationError,
} from "checkback";
import { JOB_STATES, withDelivery } from "checkback/internal";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { SampleRing } from "./dashboard/samples.js";

/** Lateness and processing buckets, seconds: from 1 ms (a timer firing) to minutes (a backlog). */
const LATENESS_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const PROCESSING_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

export type Delivery = "push" | "pull";

/**
 * The server's Prometheus metrics, on a registry of its own (several servers in one process,
 * as in tests, do not collide). Job counts by state are read from the store at scrape time,
 * so they are true for jobs added by any process sharing the store.
 *
 * The job metrics the library measures (lateness, claims, completions, retries, dead letters,
 * lease losses, check outcomes) come in through the library's metrics hook (`hook()`), under
 * the names the library defines (METRIC_NAMES): one set of names for an app and the server.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  /** The last hour of hand-outs, outcomes and lateness per queue, for the dashboard's charts. */
  readonly samples = new SampleRing();

  readonly added = new Counter({
    name: "checkback_jobs_added_total",
    help: "Jobs added through this server, by outcome (created, existing, replaced)",
    labelNames: ["queue", "outcome"] as const,
    registers: [this.registry],
  });

  readonly lateness = new Histogram({
    name: METRIC_NAMES.lateness,
    help: "How long after its due instant a job was handed out (claimed or pushed)",
    labelNames: ["queue", "delivery"] as const,
    buckets: LATENESS_BUCKETS,
    registers: [this.registry],
  });

  readonly processing = new Histogram({
    name: "checkback_job_processing_seconds",
    help: "From hand-out to the recorded outcome",
    labelNames: ["queue", "delivery", "outcome"] as const,
    buckets: PROCESSING_BUCKETS,
    registers: [this.registry],
  });

  readonly claimed = new Counter({
    name: METRIC_NAMES.claimed,
    help: "Jobs claimed for a handler (push worker, pull claim, check worker); each attempt counts",
    labelNames: ["queue", "delivery"] as const,
    registers: [this.registry],
  });

  readonly completed = new Counter({
    name: METRIC_NAMES.completed,
    help: "Jobs completed",
    labelNames: ["queue", "delivery"] as const,
    registers: [this.registry],
  });

  readonly retries = new Counter({
    name: METRIC_NAMES.retries,
    help: "Failed attempts that were scheduled to run again",
    labelNames: ["queue", "delivery"] as const,
    registers: [this.registry],
  });

  readonly deadLetters = new Counter({
    name: METRIC_NAMES.deadLetters,
    help: "Jobs that used up their attempts and went dead",
    labelNames: ["queue", "delivery"] as const,
    registers: [this.registry],
  });

  readonly leaseLosses = new Counter({
    name: METRIC_NAMES.leaseLosses,
    help: "Leases lost by the server's workers (expired and claimed elsewhere, or the job was cancelled)",
    labelNames: ["queue", "delivery"] as const,
    registers: [this.registry],
  });

  readonly pushDeliveries = new Counter({
    name: "checkback_push_deliveries_total",
    help: "Push requests by result: success (2xx), http_error (other status), timeout, network_error",
    labelNames: ["queue", "result"] as const,
    registers: [this.registry],
  });

  readonly checkOutcomes = new Counter({
    name: METRIC_NAMES.checkOutcomes,
    help: "Outcomes of delayed checks delivered (to their callback URL, for HTTP checks), by outcome (done, failed, gave_up)",
    labelNames: ["check", "outcome"] as const,
    registers: [this.registry],
  });

  readonly httpDuration = new Histogram({
    name: "checkback_http_request_duration_seconds",
    help: "HTTP request duration by route and status",
    labelNames: ["method", "route", "status"] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30],
    registers: [this.registry],
  });

  constructor(store: Store, hiddenQueue: (name: string) => boolean) {
    collectDefaultMetrics({ register: this.registry, prefix: "checkback_" });
    new Gauge({
      name: METRIC_NAMES.jobs,
      help: "Jobs by queue and state, as the store holds them at scrape time",
      labelNames: ["queue", "state"] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        const queues = (await store.queues()).filter((name) => !hiddenQueue(name));
        const counts = await Promise.all(queues.map((queue) => store.counts(queue)));
        queues.forEach((queue, i) => {
          for (const state of JOB_STATES) this.set({ queue, state }, counts[i]![state]);
        });
      },
    });
    const visibleQueues = async () => (await store.queues()).filter((name) => !hiddenQueue(name));
    new Gauge({
      name: "checkback_queue_rate_limit_per_second",
      help: "A queue's configured rate limit, in job starts per second (queues with a limit only)",
      labelNames: ["queue"] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        const queues = await visibleQueues();
        const flows = await Promise.all(queues.map((queue) => store.flowSettings(queue)));
        queues.forEach((queue, i) => {
          const limit = flows[i]!.limit;
          if (limit) this.set({ queue }, (limit.rate * 1000) / limit.perMs);
        });
      },
    });
    new Gauge({
      name: "checkback_jobs_held_back",
      help: `Due jobs a queue's pause or empty rate-limit bucket holds back at scrape time (among its first ${HELD_BACK_CAP} scheduled jobs; jobs held only by their group's limits or pause are not counted)`,
      labelNames: ["queue"] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        const queues = await visibleQueues();
        const held = await Promise.all(queues.map((queue) => heldBack(store, queue)));
        queues.forEach((queue, i) => {
          this.set({ queue }, held[i]!);
        });
      },
    });
    // Both group gauges are answered by one read of each queue's busiest groups per scrape.
    const busiest = coalesced(async () => {
      const queues = await visibleQueues();
      const found = await Promise.all(queues.map((queue) => busiestGroupsOf(store, queue)));
      return queues.map((queue, i) => ({ queue, ...found[i]! }));
    });
    new Gauge({
      name: "checkback_groups_active",
      help: "Groups of a queue with at least one active job, at scrape time",
      labelNames: ["queue"] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const { queue, activeGroups } of await busiest()) {
          if (activeGroups > 0) this.set({ queue }, activeGroups);
        }
      },
    });
    new Gauge({
      name: "checkback_group_jobs_active",
      help: `Active jobs of a queue's ${BUSIEST_GROUPS_SHOWN} busiest groups only, at scrape time (a bound on label cardinality: checkback_groups_active counts them all)`,
      labelNames: ["queue", "group"] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const { queue, groups } of await busiest()) {
          for (const group of groups) this.set({ queue, group: group.group }, group.active);
        }
      },
    });
    // Every place that counts an outcome feeds the dashboard's ring too, without knowing of it.
    onIncrement(this.completed, (queue) => this.samples.completed(queue));
    onIncrement(this.retries, (queue) => this.samples.retried(queue));
    onIncrement(this.deadLetters, (queue) => this.samples.dead(queue));
  }

  /** The library's metrics hook, writing these metrics; with `delivery`, every sample says so ("push"). */
  hook(delivery?: Delivery): MetricsHook {
    const counters: Record<CounterName, Counter<string>> = {
      [METRIC_NAMES.claimed]: this.claimed,
      [METRIC_NAMES.completed]: this.completed,
      [METRIC_NAMES.retries]: this.retries,
      [METRIC_NAMES.deadLetters]: this.deadLetters,
      [METRIC_NAMES.leaseLosses]: this.leaseLosses,
      [METRIC_NAMES.checkOutcomes]: this.checkOutcomes,
    };
    const hook: MetricsHook = {
      increment: (name, labels, by) => counters[name].inc(labels, by),
      observe: (_name, labels, seconds) => this.lateness.observe(labels, seconds),
    };
    return delivery ? withDelivery(hook, delivery) : hook;
  }

  observeLateness(queue: string, delivery: Delivery, lateMs: number): void {
    this.lateness.observe({ queue, delivery }, Math.max(0, lateMs) / 1000);
    this.samples.handedOut(queue, lateMs);
  }
}

/** Groups shown by name in /metrics, per queue: millions of groups must not become millions of series. */
const BUSIEST_GROUPS_SHOWN = 20;

/**
 * A queue's busiest groups; none where the store refuses groups for the queue (a store answers
 * INVALID_OPTION for what it cannot keep, as a partitioned Redis does for queue limits), so one
 * such queue does not fail the whole scrape.
 */
async function busiestGroupsOf(store: Store, queue: string): Promise<{ groups: GroupState[]; activeGroups: number }> {
  try {
    return await store.busiestGroups(queue, BUSIEST_GROUPS_SHOWN);
  } catch (error) {
    if (error instanceof ValidationError) return { groups: [], activeGroups: 0 };
    throw error;
  }
}

/**
 * A read shared by the callers that ask while it runs (the gauges of one scrape are collected
 * together); the next call after it settles reads afresh, so nothing is ever served stale.
 */
function coalesced<T>(read: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | null = null;
  return () => {
    running ??= read().finally(() => {
      running = null;
    });
    return running;
  };
}

/**
 * Counting held-back jobs reads one page of scheduled jobs at most, so a scrape stays cheap under
 * any backlog: exact while a held queue has up to this many scheduled jobs, a lower bound beyond.
 */
const HELD_BACK_CAP = 1000;

/**
 * Jobs held back by flow control: while a queue is paused or its bucket has no whole token,
 * every due scheduled job waits for it (with a token left, due jobs are merely not claimed yet).
 * A queue without a limit or pause costs one flow read; only a held queue lists a page.
 */
async function heldBack(store: Store, queue: string): Promise<number> {
  const flow = await store.flowSettings(queue);
  if (flow.pausedUntil === null && (flow.tokens === null || flow.tokens > 0)) return 0;
  const [now, page] = await Promise.all([
    store.now(),
    store.list(queue, "scheduled", { limit: HELD_BACK_CAP, cursor: null }),
  ]);
  let due = 0;
  for (const job of page.jobs) if (job.runAt <= now) due++;
  return due;
}

function onIncrement(counter: Counter<"queue" | "delivery">, seen: (queue: string) => void): void {
  const inc = counter.inc.bind(counter);
  counter.inc = ((labels?: { queue?: string }, value?: number) => {
    if (labels && typeof labels === "object" && typeof labels.queue === "string") seen(labels.queue);
    return (inc as (l?: unknown, v?: number) => void)(labels, value);
  }) as typeof counter.inc;
}
