import type { BackoffOption } from "../core/backoff.js";
import type { Duration } from "../core/duration.js";
import type { RateLimitInput } from "../flow/rate-limit.js";
import type { WorkerOptions } from "../worker/options.js";

/**
 * When a check probes, counted from its start:
 *
 *   ["10s", "10s", "30s", "1m"]                 after each interval in turn: 4 probes
 *   { every: "15s", times: 4 }                   4 probes, 15 s apart
 *   { backoff: { delay: "5s", factor: 2, max: "2m" }, times: 10 }
 *                                                5 s, 10 s, 20 s … each interval capped at 2 min
 *
 * `times` may be left out only when the check has a deadline (it then probes until the
 * deadline). The first interval is the wait before the first probe; use "0s" to probe at once.
 */
export type CheckSchedule =
  | Duration[]
  | { every: Duration; times?: number }
  | { backoff: { delay: Duration; factor?: number; max: Duration }; times?: number };

/** What a probe answers. A thrown error is recorded and the schedule goes on (it is not an answer). */
export type ProbeAnswer<R> =
  | { status: "pending" }
  | { status: "done"; result: R }
  | { status: "failed"; reason: string };

export interface ProbeContext<I, R = unknown> {
  /** The check's name and the business key it was started with. */
  name: string;
  key: string;
  input: I;
  /** 1 for the first probe. */
  probe: number;
  /** When this probe was due and when it started, on the store's clock (lateness = startedAt − runAt). */
  runAt: number;
  startedAt: number;
  /** When the check started, and the instant it gives up at (null without a deadline). */
  checkStartedAt: number;
  deadlineAt: number | null;
  /** Earlier probes of this check, oldest first. */
  history: readonly ProbeRecord[];
  /** Aborted when the probe times out or the worker loses the check (it ended, or is shutting down). */
  signal: AbortSignal;
  pending(): ProbeAnswer<never>;
  done(result: R): ProbeAnswer<R>;
  failed(reason: string): ProbeAnswer<never>;
}

/** One probe, as kept in a check's history. */
export interface ProbeRecord {
  /** When the probe started, store clock, epoch ms. */
  at: number;
  /** "error": the probe threw, timed out or gave no valid answer; the schedule absorbed it. */
  answer: "pending" | "done" | "failed" | "error";
  /** The failure reason, for "failed". */
  reason?: string;
  /** The error message, for "error". */
  error?: string;
}

/** How a check ended (or that it has not). */
export type CheckState = "running" | "done" | "failed" | "gave_up" | "cancelled" | "dead";

/**
 * Who ended it: a probe's answer, `resolve`/`reject` from outside, the schedule running out,
 * the deadline passing, or `cancel`. "dead": the check's own job failed repeatedly (workers
 * crashing mid-probe) and waits in the dead letters to be redriven.
 */
export type EndedBy = "probe" | "resolve" | "reject" | "schedule" | "deadline" | "cancel" | "dead";

/** The outcome handed to onDone / onFailed / onGaveUp, as a durable job of its own. */
export interface CheckOutcome<I, R> {
  name: string;
  key: string;
  /** The id of the check's job (unique per run of a key). */
  checkId: string;
  input: I;
  state: "done" | "failed" | "gave_up";
  /** For "done". */
  result: R | null;
  /** For "failed" (the party's reason) and "gave_up" ("schedule exhausted" | "deadline reached"). */
  reason: string | null;
  endedBy: Exclude<EndedBy, "cancel" | "dead">;
  /** Store-clock instant the check ended. */
  endedAt: number;
  /** Probes run before it ended. */
  probes: number;
}

/** Context of one delivery attempt of an outcome. */
export interface OutcomeContext {
  /** 1 for the first delivery attempt. */
  attempt: number;
  maxAttempts: number;
  /** Aborted if the worker loses the outcome job (shutdown, lease lost). */
  signal: AbortSignal;
}

export type OutcomeHandler<I, R, O> = (outcome: CheckOutcome<I, R> & O, context: OutcomeContext) => unknown;

export interface CheckDefinition<I, R> {
  schedule: CheckSchedule;
  /** The check gives up at start + deadline; the last probe runs at the deadline at the latest. */
  deadline?: Duration;
  probe: (context: ProbeContext<I, R>) => ProbeAnswer<R> | Promise<ProbeAnswer<R>>;
  onDone?: OutcomeHandler<I, R, { state: "done"; result: R }>;
  onFailed?: OutcomeHandler<I, R, { state: "failed"; reason: string }>;
  onGaveUp?: OutcomeHandler<I, R, { state: "gave_up"; reason: string }>;
  /** A probe running longer than this is aborted and recorded as an error (default "30s"). */
  probeTimeout?: Duration;
  /** Delivery of outcomes: attempts before an outcome job goes dead (default 10), and its back-off. */
  outcomeRetry?: { attempts?: number; backoff?: BackoffOption };
  /**
   * The worker that runs probes and outcome handlers for this check (concurrency, lease,
   * retention…). `false`: this instance only starts/resolves/inspects checks; another process runs them.
   */
  worker?: WorkerOptions | false;
  /**
   * At most `rate` starts per `per` in this check's queue, across every process: the other
   * side's query quota (`{ rate: 500, per: "1s" }`). It is the queue's rate limit
   * (docs/flow-control.md), so outcome deliveries count too — unless the check has a `group`:
   * then it is the rate of that group's own limits (its concurrency in force is kept) and only
   * probes count. Absent: the limit is left as it is; null lifts it.
   */
  probeRate?: RateLimitInput | null;
  /**
   * The group every probe job of this check is added to (docs/flow-control.md): its probes then
   * wait their group's turn, and its `probeRate`, pauses (a probe's slowDown) and concurrency
   * are the group's. Set when a check starts: a check already running keeps the group it started with.
   */
  group?: string | null;
}

/** A check as `status()` reports it. */
export interface CheckStatus<I, R> {
  name: string;
  key: string;
  /** The id of the check's job (a key started again after it ended gets a new id). */
  checkId: string;
  state: CheckState;
  input: I;
  result: R | null;
  reason: string | null;
  endedBy: EndedBy | null;
  /** Probes run so far, and the last ones (up to 100), oldest first. */
  probes: number;
  history: ProbeRecord[];
  startedAt: number;
  /** The next probe's due instant while running and waiting; null while a probe runs and once ended. */
  nextProbeAt: number | null;
  deadlineAt: number | null;
  endedAt: number | null;
  /** The outcome job once the check ended done/failed/gave_up: has the handler had it yet? */
  outcome: {
    state: "scheduled" | "active" | "completed" | "dead" | "cancelled";
    attempts: number;
    errors: string[];
  } | null;
}

/** `start` returns the check's status and whether this call created it (false: it was already running). */
export type Started<I, R> = CheckStatus<I, R> & { created: boolean };
