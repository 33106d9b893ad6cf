import { describeValue } from "../core/describe.js";
import { type Duration, parseDuration } from "../core/duration.js";
import { invalidOption } from "../core/errors.js";

/** Longest list, and most `times`, a schedule may have: a check probing more often is a poller. */
export const MAX_PROBES = 10_000;

/**
 * A schedule resolved to plain milliseconds. `intervalsMs` is the explicit list (list form);
 * `every`/`backoff` compute the interval from the step. `times` null means "until the deadline".
 */
export type ResolvedSchedule =
  | { type: "list"; intervalsMs: number[] }
  | { type: "every"; intervalMs: number; times: number | null }
  | { type: "backoff"; delayMs: number; factor: number; maxMs: number; times: number | null };

export function resolveSchedule(schedule: unknown, hasDeadline: boolean): ResolvedSchedule {
  if (Array.isArray(schedule)) {
    if (schedule.length === 0) throw invalidOption("a check schedule list needs at least one interval");
    if (schedule.length > MAX_PROBES) throw invalidOption(`a check schedule has at most ${MAX_PROBES} intervals`);
    return { type: "list", intervalsMs: schedule.map((d, i) => parseDuration(d as Duration, `schedule[${i}]`)) };
  }
  if (typeof schedule !== "object" || schedule === null) {
    throw invalidOption("schedule must be a list of intervals, { every, times } or { backoff, times }", { schedule });
  }
  const names = Object.keys(schedule);
  const shape = schedule as Record<string, unknown>;
  if ("every" in shape) {
    onlyKnown(names, ["every", "times"], "schedule");
    const intervalMs = positive(parseDuration(shape.every as Duration, "schedule.every"), "schedule.every");
    return { type: "every", intervalMs, times: resolveTimes(shape.times, hasDeadline) };
  }
  if ("backoff" in shape) {
    onlyKnown(names, ["backoff", "times"], "schedule");
    const backoff = shape.backoff;
    if (typeof backoff !== "object" || backoff === null)
      throw invalidOption("schedule.backoff must be { delay, factor?, max }");
    onlyKnown(Object.keys(backoff), ["delay", "factor", "max"], "schedule.backoff");
    const { delay, factor = 2, max } = backoff as Record<string, unknown>;
    const delayMs = positive(parseDuration(delay as Duration, "schedule.backoff.delay"), "schedule.backoff.delay");
    if (max === undefined) throw invalidOption("schedule.backoff needs a cap: max");
    const maxMs = parseDuration(max as Duration, "schedule.backoff.max");
    if (maxMs < delayMs) throw invalidOption("schedule.backoff.max must not be shorter than schedule.backoff.delay");
    if (typeof factor !== "number" || !Number.isFinite(factor) || factor < 1) {
      throw invalidOption("schedule.backoff.factor must be a number ≥ 1", { factor });
    }
    return { type: "backoff", delayMs, factor, maxMs, times: resolveTimes(shape.times, hasDeadline) };
  }
  throw invalidOption("schedule must be a list of intervals, { every, times } or { backoff, times }", { schedule });
}

/**
 * The wait before probe number `step + 1` (step = probes already run), or null when the
 * schedule has no more probes.
 */
export function intervalAfter(schedule: ResolvedSchedule, step: number): number | null {
  switch (schedule.type) {
    case "list":
      return schedule.intervalsMs[step] ?? null;
    case "every":
      return schedule.times !== null && step >= schedule.times ? null : schedule.intervalMs;
    case "backoff":
      if (schedule.times !== null && step >= schedule.times) return null;
      return Math.min(schedule.maxMs, Math.round(schedule.delayMs * schedule.factor ** step));
  }
}

/**
 * The wait before the next probe, given the deadline: a probe that would fall after the
 * deadline runs at the deadline instead (the party is asked one last time), and once the
 * deadline has passed there is no next probe.
 */
export function nextDelay(
  schedule: ResolvedSchedule,
  step: number,
  now: number,
  deadlineAt: number | null,
): { delayMs: number } | { end: "schedule" | "deadline" } {
  if (deadlineAt !== null && now >= deadlineAt) return { end: "deadline" };
  const interval = intervalAfter(schedule, step);
  if (interval === null) return { end: "schedule" };
  if (deadlineAt !== null && now + interval > deadlineAt) return { delayMs: deadlineAt - now };
  return { delayMs: interval };
}

function resolveTimes(times: unknown, hasDeadline: boolean): number | null {
  if (times === undefined) {
    if (!hasDeadline) throw invalidOption("a schedule without times needs a deadline, or it would never give up");
    return null;
  }
  if (typeof times !== "number" || !Number.isInteger(times) || times < 1 || times > MAX_PROBES) {
    throw invalidOption(`schedule.times must be an integer from 1 to ${MAX_PROBES}`, { times });
  }
  return times;
}

function positive(ms: number, what: string): number {
  // A zero interval repeated would probe in a tight loop.
  if (ms === 0) throw invalidOption(`${what} must be longer than 0`);
  return ms;
}

function onlyKnown(names: string[], known: string[], where: string): void {
  for (const name of names) {
    if (!known.includes(name)) {
      throw invalidOption(`unknown ${where} option ${describeValue(name)} (known: ${known.join(", ")})`);
    }
  }
}
