import { invalidOption, ScheduleNotFoundError } from "../core/errors.js";
import type { JobRecord } from "../core/job.js";
import { type Job, toJob } from "../core/job-view.js";
import { parsePayload, serializePayload } from "../core/payload.js";
import type { NewJob, Store } from "../stores/store.js";
import type { WorkerOptions } from "../worker/options.js";
import type { Handler, Worker } from "../worker/worker.js";
import {
  resolveScheduleDefinition,
  SCHEDULES_QUEUE,
  type ScheduleDefinition,
  type StoredDefinition,
  sameDefinition,
  scheduleQueueName,
  validateScheduleName,
} from "./definition.js";
import {
  type Firing,
  firingJob,
  firingKey,
  PAUSED_DELAY_MS,
  TICKER_LEASE,
  type TickerState,
  tickerRunner,
} from "./ticker.js";
import { timetableOf, upcoming } from "./timetable.js";

export interface ScheduleInfo {
  name: string;
  /** "active": firing; "paused"; "ended": past its `end`. */
  state: "active" | "paused" | "ended";
  definition: StoredDefinition;
  /** The next firings (epoch ms), soonest first; empty when paused or ended. */
  next: number[];
}

export type Defined = ScheduleInfo & { outcome: "created" | "updated" | "unchanged" };

export interface SchedulesSettings {
  maxPayloadBytes: number;
  /** Opens a worker the owner tracks (and closes with itself). */
  openWorker<T>(queue: string, handler: Handler<T>, options?: WorkerOptions): Worker<T>;
}

const DEFAULT_NEXT = 5;
const MAX_NEXT = 100;
/** A change waits for a running ticker (a few ms of work) at most this long. */
const CHANGE_WAIT_MS = 10_000;

/**
 * Schedules, durable in the store: each is a ticker job (ticker.ts) that hands firing jobs to
 * its target queue. Every process that runs tickers (`start()`, implied by define and by a
 * schedule with a handler) shares the work; whichever holds a schedule's ticker fires it.
 * Changes go through the ticker job with the store's own rules (a key, replace-if-scheduled):
 * while the ticker runs (a few milliseconds at a tick) a change waits and tries again.
 */
export class Schedules {
  private tickers: Worker<TickerState> | null = null;

  constructor(
    private readonly store: Store,
    private readonly settings: SchedulesSettings,
  ) {}

  /**
   * Runs the schedules' tickers in this process (idempotent). Any number of processes may:
   * each schedule is fired once per tick whoever runs it.
   */
  start(options?: Pick<WorkerOptions, "concurrency" | "onError">): void {
    if (this.tickers) return;
    const worker = this.settings.openWorker<TickerState>(
      SCHEDULES_QUEUE,
      tickerRunner(this.store, this.settings.maxPayloadBytes),
      { concurrency: 4, lease: TICKER_LEASE, ...options },
    );
    worker.once("closed", () => {
      if (this.tickers === worker) this.tickers = null;
    });
    this.tickers = worker;
  }

  /**
   * Creates the schedule, or updates it if the definition differs (a changed timetable takes
   * effect from its next tick: the firing waiting for the old next tick is withdrawn). Defining
   * the same schedule again, from any number of processes, changes nothing. A paused schedule
   * stays paused. Also starts this process's tickers.
   */
  async define<T>(name: string, definition: ScheduleDefinition<T>): Promise<Defined> {
    validateScheduleName(name);
    const resolved = resolveScheduleDefinition(definition, null, this.settings.maxPayloadBytes);
    return this.defineResolved(name, resolved);
  }

  /**
   * A schedule whose firings this process handles: defines it (target queue `schedule.<name>`
   * unless `queue` is given) and opens a worker on its queue running `handler` for each firing.
   */
  async run<T>(
    name: string,
    definition: ScheduleDefinition<T>,
    handler: Handler<Firing<T>>,
    options?: WorkerOptions,
  ): Promise<Worker<Firing<T>>> {
    const resolved = resolveScheduleDefinition(definition, scheduleQueueName(name), this.settings.maxPayloadBytes);
    await this.defineResolved(name, resolved);
    return this.settings.openWorker<Firing<T>>(resolved.queue, handler, options);
  }

  async get(name: string, options: { next?: number } = {}): Promise<ScheduleInfo | null> {
    const job = await this.ticker(name);
    if (!job || job.state === "cancelled" || job.state === "dead") return null;
    return this.info(job, nextCount(options.next), await this.store.now());
  }

  /** Every schedule, by name, with its next firings. */
  async list(options: { next?: number } = {}): Promise<ScheduleInfo[]> {
    const count = nextCount(options.next);
    const now = await this.store.now();
    const found: ScheduleInfo[] = [];
    for (const state of ["scheduled", "active", "completed"] as const) {
      let cursor: string | null = null;
      do {
        const page = await this.store.list(SCHEDULES_QUEUE, state, { limit: 1000, cursor });
        for (const job of page.jobs) found.push(this.info(job, count, now));
        cursor = page.next;
      } while (cursor);
    }
    // A schedule ended, redefined and ended again leaves several completed tickers: the newest counts.
    const byName = new Map<string, ScheduleInfo>();
    for (const info of found) if (!byName.has(info.name) || info.state !== "ended") byName.set(info.name, info);
    return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** No firings until resumed (the one waiting for the next tick is withdrawn). Idempotent. */
  pause(name: string): Promise<ScheduleInfo> {
    return this.change(name, (state) => (state.paused ? null : { ...state, paused: true }));
  }

  /** Fires again from the next tick; ticks that passed while paused are not missed ticks, they are skipped. */
  resume(name: string): Promise<ScheduleInfo> {
    return this.change(name, (state, now) => (state.paused ? { ...state, paused: false, after: now } : null));
  }

  /** Deletes the schedule and withdraws its waiting firing. False if there was no such schedule. */
  async remove(name: string): Promise<boolean> {
    const job = await this.ticker(name);
    if (!job || (job.state !== "scheduled" && job.state !== "active")) return false;
    const { changed } = await this.store.cancel(SCHEDULES_QUEUE, { id: job.id });
    if (changed) await this.withdraw(name, parsePayload<TickerState>(job.payload), null, await this.store.now());
    return changed;
  }

  /**
   * A firing now, besides the timetable: its tick is this instant (kind "trigger"), its payload
   * the schedule's unless one is given. Works on paused and ended schedules too.
   */
  async trigger<T>(name: string, payload?: T): Promise<Job<Firing<T>>> {
    const job = await this.ticker(name);
    if (!job || job.state === "cancelled" || job.state === "dead") throw new ScheduleNotFoundError(name);
    const { definition } = parsePayload<TickerState>(job.payload);
    const now = await this.store.now();
    const [added] = await this.store.add([
      firingJob(
        name,
        definition,
        now,
        "trigger",
        this.settings.maxPayloadBytes,
        payload === undefined ? definition.payload : payload,
      ),
    ]);
    return toJob<Firing<T>>(added!.job);
  }

  private async defineResolved(name: string, definition: StoredDefinition): Promise<Defined> {
    serializePayload(tickerState(definition, 0), this.settings.maxPayloadBytes, "schedule definition");
    this.start();
    const deadline = Date.now() + CHANGE_WAIT_MS;
    for (;;) {
      const job = await this.ticker(name);
      const now = await this.store.now();
      if (!job || (job.state !== "scheduled" && job.state !== "active")) {
        // New (or its predecessor ended or was removed): ticks from now on.
        const [added] = await this.store.add([this.tickerJob(name, tickerState(definition, now - 1), "keep")]);
        if (added!.outcome === "created") return { ...this.info(added!.job, DEFAULT_NEXT, now), outcome: "created" };
        continue;
      }
      const current = parsePayload<TickerState>(job.payload);
      if (sameDefinition(current.definition, definition)) {
        return { ...this.info(job, DEFAULT_NEXT, now), outcome: "unchanged" };
      }
      const updated: TickerState = { definition, after: now, paused: current.paused };
      const changed = await this.replace(name, job, updated, deadline);
      if (!changed) continue;
      await this.withdraw(name, current, definition, now);
      return { ...this.info(changed, DEFAULT_NEXT, now), outcome: "updated" };
    }
  }

  private async change(
    name: string,
    update: (state: TickerState, now: number) => TickerState | null,
  ): Promise<ScheduleInfo> {
    const deadline = Date.now() + CHANGE_WAIT_MS;
    for (;;) {
      const job = await this.ticker(name);
      if (!job || job.state === "cancelled" || job.state === "dead") throw new ScheduleNotFoundError(name);
      const now = await this.store.now();
      const current = parsePayload<TickerState>(job.payload);
      const next = job.state === "completed" ? null : update(current, now);
      if (next === null) return this.info(job, DEFAULT_NEXT, now);
      const changed = await this.replace(name, job, next, deadline);
      if (!changed) continue;
      if (next.paused) await this.withdraw(name, current, null, now);
      return this.info(changed, DEFAULT_NEXT, now);
    }
  }

  /**
   * Puts a new state into the ticker job if it is waiting (scheduled); null if it was running
   * (the caller reads it again and retries: the ticker holds it for milliseconds).
   */
  private async replace(name: string, job: JobRecord, state: TickerState, deadline: number): Promise<JobRecord | null> {
    if (job.state === "scheduled") {
      const [added] = await this.store.add([this.tickerJob(name, state, "replace")]);
      if (added!.outcome !== "existing") return added!.job;
    }
    if (Date.now() > deadline) throw invalidOption(`schedule ${JSON.stringify(name)} stayed busy; try again`);
    await new Promise((resolve) => setTimeout(resolve, 20));
    return null;
  }

  /**
   * Withdraws the firings the old state may have waiting (the last tick handed on and, if the
   * ticker was running meanwhile, the one after it), unless the new definition fires the same
   * tick into the same queue (then the ticker refreshes that firing in place). Only firings still
   * waiting for a future tick: one that runs is left to finish.
   */
  private async withdraw(name: string, old: TickerState, next: StoredDefinition | null, now: number): Promise<void> {
    const oldTicks = timetableOf(old.definition);
    const candidates = [old.after, oldTicks.next(old.after)].filter((t): t is number => t !== null && t > now);
    const nextTicks = next ? timetableOf(next) : null;
    for (const tick of candidates) {
      const kept = next && nextTicks && next.queue === old.definition.queue && nextTicks.next(tick - 1) === tick;
      if (kept) continue;
      const firing = await this.store.getByKey(old.definition.queue, firingKey(name, tick, "tick"));
      if (firing?.state === "scheduled" && firing.runAt > now) {
        await this.store.cancel(old.definition.queue, { id: firing.id });
      }
    }
  }

  private ticker(name: string): Promise<JobRecord | null> {
    return this.store.getByKey(SCHEDULES_QUEUE, validateScheduleName(name));
  }

  private tickerJob(name: string, state: TickerState, onDuplicate: NewJob["onDuplicate"]): NewJob {
    return {
      queue: SCHEDULES_QUEUE,
      key: name,
      payload: serializePayload(state, this.settings.maxPayloadBytes, "schedule definition"),
      when: { delayMs: state.paused ? PAUSED_DELAY_MS : 0 },
      // A ticker that goes dead stops its schedule: only a long run of crashes or store outages may.
      maxAttempts: 10_000,
      backoff: { type: "exponential", delayMs: 1_000, factor: 2, maxMs: 60_000, jitter: 0.2 },
      onDuplicate,
    };
  }

  private info(job: JobRecord, count: number, now: number): ScheduleInfo {
    const state = parsePayload<TickerState>(job.payload);
    const name = job.key ?? "";
    if (job.state === "completed") return { name, state: "ended", definition: state.definition, next: [] };
    if (state.paused) return { name, state: "paused", definition: state.definition, next: [] };
    const timetable = timetableOf(state.definition);
    // The firing waiting for `after` is the first tick after now: the timetable gives it and the rest.
    const next = upcoming(timetable, now, count);
    return { name, state: "active", definition: state.definition, next };
  }
}

function tickerState(definition: StoredDefinition, after: number): TickerState {
  return { definition, after, paused: false };
}

function nextCount(next: number | undefined): number {
  const count = next ?? DEFAULT_NEXT;
  if (!Number.isInteger(count) || count < 0 || count > MAX_NEXT)
    throw invalidOption(`next must be an integer from 0 to ${MAX_NEXT}`, { field: "next", value: next });
  return count;
}
