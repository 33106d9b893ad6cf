import { MAX_DURATION_MS } from "../core/duration.js";
import { serializePayload } from "../core/payload.js";
import type { NewJob, Store } from "../stores/store.js";
import { later } from "../worker/answers.js";
import type { ActiveJob } from "../worker/leased-job.js";
import type { StoredDefinition } from "./definition.js";
import { timetableOf } from "./timetable.js";

/**
 * A schedule lives in the store as one "ticker" job in the internal queue `_schedules`, keyed
 * by the schedule's name, whose payload is the state below. The ticker runs ahead of its
 * firings: when it runs at (or after) tick T, it adds the firing job for the NEXT tick to the
 * target queue, due at that tick and keyed `<schedule>@<tick ISO>`, then gives itself back
 * (release with its new state) until that tick. So a firing waits in its queue like any job
 * and fires with the queue's own precision: no polling, no floor on lateness.
 *
 * One firing per tick across any number of processes comes from two facts, not from a lock or
 * a leader: one ticker job per schedule (its key), held by one worker at a time (its lease);
 * and firings keyed by their tick, so a ticker that runs twice for the same tick (it crashed
 * after adding the firing and before releasing itself, and ran again after its lease ran out)
 * adds nothing new while that firing is unfinished; and a past tick whose firing is still on
 * record (completed, dead) is not handed on again. The residual case: the re-run comes after that
 * firing finished and was trimmed by the target queue's retention (default: the last 1000
 * completed jobs): under the "latest" or "all" policy, that tick then fires twice.
 *
 * The order, add the firing then release, is forced: a job's atomic follow-ups (complete with
 * enqueue) must stay in its own queue, and the firing goes to another.
 */
export interface TickerState {
  definition: StoredDefinition;
  /** Every tick up to and including this instant has been handed to the target queue (or skipped). */
  after: number;
  paused: boolean;
}

/** What a firing job carries. */
export interface Firing<T = unknown> {
  schedule: string;
  /** The tick this firing stands for (ISO 8601, UTC); a trigger's is the instant it was asked for. */
  tick: string;
  /** "tick" on time (or up to MISSED_AFTER_MS late), "missed" a missed tick run by the policy, "trigger" by hand. */
  kind: "tick" | "missed" | "trigger";
  payload: T;
}

/**
 * A tick the ticker reaches more than this late counts as missed (every process was down, or
 * the ticker could not run), and the schedule's policy decides whether it fires. Ticks less
 * late fire at once: a busy worker's lateness is not an outage.
 */
export const MISSED_AFTER_MS = 1_000;
/** Where a paused ticker waits: as far out as a job may be scheduled. */
export const PAUSED_DELAY_MS = MAX_DURATION_MS - 24 * 3_600_000;
/** A ticker whose process dies is taken over after this (its lease). */
export const TICKER_LEASE = "10s";

export interface TickPlan {
  firings: { tick: number; kind: "tick" | "missed" }[];
  /** The new `after`: the last tick handed on. */
  after: number;
  /** When the ticker runs next (the tick just handed on), or null: the schedule has ended. */
  wakeAt: number | null;
}

/**
 * The ticks to fire when the ticker runs at `now` (store clock): the missed ones the policy
 * keeps, those just due, and the next one ahead. Pure, so tests drive it with any clock.
 */
export function planTicks(definition: StoredDefinition, after: number, now: number): TickPlan {
  const timetable = timetableOf(definition);
  const firings: TickPlan["firings"] = [];
  let handled = after;
  const missedUpTo = now - MISSED_AFTER_MS;
  if (missedUpTo > handled) {
    const keep = definition.missed === "all" ? definition.maxMissed : definition.missed === "latest" ? 1 : 0;
    if (keep > 0)
      for (const tick of timetable.latest(handled, missedUpTo, keep)) firings.push({ tick, kind: "missed" });
    handled = missedUpTo;
  }
  // Ticks due by now (at most a couple: they are less than MISSED_AFTER_MS old), then one ahead.
  let tick = timetable.next(handled);
  while (tick !== null && tick <= now) {
    firings.push({ tick, kind: "tick" });
    handled = tick;
    tick = timetable.next(tick);
  }
  if (tick !== null) {
    firings.push({ tick, kind: "tick" });
    handled = tick;
  }
  return { firings, after: handled, wakeAt: tick };
}

export function firingKey(schedule: string, tick: number, kind: Firing["kind"]): string {
  const iso = new Date(tick).toISOString();
  // Triggers have keys of their own: a trigger at a tick's instant must not stand in for the tick.
  return kind === "trigger" ? `${schedule}@trigger:${iso}` : `${schedule}@${iso}`;
}

export function firingJob(
  schedule: string,
  definition: StoredDefinition,
  tick: number,
  kind: Firing["kind"],
  maxPayloadBytes: number,
  payload: unknown = definition.payload,
): NewJob {
  const firing: Firing = { schedule, tick: new Date(tick).toISOString(), kind, payload };
  return {
    queue: definition.queue,
    key: firingKey(schedule, tick, kind),
    payload: serializePayload(firing, maxPayloadBytes),
    when: { runAt: tick },
    maxAttempts: definition.attempts,
    backoff: definition.backoff,
    // A re-run for the same tick (a crash, an update that keeps the tick) refreshes a firing that
    // still waits; one already running is left alone.
    onDuplicate: kind === "trigger" ? "keep" : "replace",
  };
}

/** The ticker job's handler: hand on the due ticks, then sleep until the next. */
export function tickerRunner(store: Store, maxPayloadBytes: number) {
  return async (job: ActiveJob<TickerState>) => {
    const localStart = Date.now();
    const state = job.payload;
    const schedule = job.key ?? "";
    if (state.paused) return later(PAUSED_DELAY_MS, state);
    const now = job.startedAt + (Date.now() - localStart);
    const plan = planTicks(state.definition, state.after, now);
    const firings: NewJob[] = [];
    for (const { tick, kind } of plan.firings) {
      // A past tick may have been handed on already by a ticker that died before releasing
      // itself, and its firing may even have run: a firing still on record is not added again.
      if (tick <= now && (await store.getByKey(state.definition.queue, firingKey(schedule, tick, kind)))) continue;
      firings.push(firingJob(schedule, state.definition, tick, kind, maxPayloadBytes));
    }
    if (firings.length > 0) await store.add(firings);
    // Past its end: the ticker completes, and the schedule shows as ended.
    if (plan.wakeAt === null) return { ended: true, lastTick: plan.after };
    const next: TickerState = { ...state, after: plan.after };
    return later(Math.max(0, plan.wakeAt - (job.startedAt + (Date.now() - localStart))), next);
  };
}
