import { Cron } from "croner";
import type { StoredDefinition } from "./definition.js";

/**
 * A schedule's ticks as instants (epoch ms), computed from its definition alone, so every
 * process computes the same ticks. Cron ticks come from croner, in the schedule's time zone
 * and with its DST rules: a fixed time of day (e.g. `0 30 2 * * *`) that a spring-forward skips
 * fires at the first valid time after the gap, and one that a fall-back repeats fires once, at
 * its first occurrence; an expression with wildcards or steps in its time fields skips the gap
 * and fires in both passes of a repeated hour. Interval ticks fall on `start` + k × every
 * (epoch + k × every without a start), the same instants whatever the zone.
 */
export interface Timetable {
  /** The first tick strictly after `after`, within start and end; null once there is none. */
  next(after: number): number | null;
  /** Up to `count` of the latest ticks in (after, upTo], oldest first. */
  latest(after: number, upTo: number, count: number): number[];
}

export function timetableOf(definition: StoredDefinition): Timetable {
  const start = definition.start ?? Number.NEGATIVE_INFINITY;
  const end = definition.end ?? Number.POSITIVE_INFINITY;
  if (definition.everyMs !== null) return intervalTimetable(definition.everyMs, definition.start ?? 0, end);
  return cronTimetable(definition.cron!, definition.timezone ?? "UTC", start, end);
}

function cronTimetable(expression: string, timezone: string, start: number, end: number): Timetable {
  // A Cron without a function is only a calculator: it sets no timer.
  const cron = new Cron(expression, { timezone });
  return {
    next(after) {
      const from = Math.max(after, start - 1);
      const tick = cron.nextRun(new Date(from))?.getTime() ?? null;
      return tick === null || tick > end ? null : tick;
    },
    latest(after, upTo, count) {
      const last = Math.min(upTo, end);
      const lowest = Math.max(after, start - 1);
      if (last <= lowest) return [];
      // previousRuns counts back from an exclusive instant.
      return cron
        .previousRuns(count, new Date(last + 1))
        .map((date) => date.getTime())
        .filter((tick) => tick > lowest && tick <= last)
        .reverse();
    },
  };
}

function intervalTimetable(everyMs: number, anchor: number, end: number): Timetable {
  const indexAfter = (instant: number) => (instant < anchor ? 0 : Math.floor((instant - anchor) / everyMs) + 1);
  return {
    next(after) {
      const tick = anchor + indexAfter(after) * everyMs;
      return tick > end ? null : tick;
    },
    latest(after, upTo, count) {
      const last = Math.min(upTo, end);
      if (last < anchor) return [];
      const high = Math.floor((last - anchor) / everyMs);
      const low = Math.max(indexAfter(after), high - count + 1);
      const ticks: number[] = [];
      for (let index = low; index <= high; index++) ticks.push(anchor + index * everyMs);
      return ticks;
    },
  };
}

/** The next `count` ticks after `after`. */
export function upcoming(timetable: Timetable, after: number, count: number): number[] {
  const ticks: number[] = [];
  let from = after;
  while (ticks.length < count) {
    const tick = timetable.next(from);
    if (tick === null) break;
    ticks.push(tick);
    from = tick;
  }
  return ticks;
}
