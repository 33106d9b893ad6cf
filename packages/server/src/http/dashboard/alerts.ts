import type { JobState } from "checkback";
import type { SampleRing } from "./samples.js";

/**
 * The overview's alerts, from the sample ring (what this server saw) and the store's counts:
 *   - dead letters growing: jobs went dead in the last 15 minutes;
 *   - lateness: the p99 firing lateness of the last 5 minutes is above the threshold;
 *   - workers gone: jobs were handed out earlier in the hour, none in the last 2 minutes, and
 *     jobs wait (scheduled or active). A heuristic: a queue whose work is all due later looks
 *     the same; the message says what was seen, not more.
 */
export const DEAD_GROWING_SPAN_MS = 15 * 60_000;
export const LATENESS_SPAN_MS = 5 * 60_000;
export const WORKERS_GONE_MS = 2 * 60_000;

export type AlertKind = "dead-letters-growing" | "lateness" | "workers-gone";

export interface Alert {
  queue: string;
  kind: AlertKind;
  message: string;
}

export function alertsFor(
  queue: string,
  counts: Record<JobState, number>,
  samples: SampleRing,
  latenessThresholdMs: number,
  now: number,
): Alert[] {
  const alerts: Alert[] = [];
  const dying = samples.recent(queue, DEAD_GROWING_SPAN_MS);
  if (dying.dead > 0) {
    alerts.push({
      queue,
      kind: "dead-letters-growing",
      message: `${dying.dead} job${dying.dead === 1 ? "" : "s"} went dead in the last 15 minutes (${counts.dead} dead now)`,
    });
  }
  const recent = samples.recent(queue, LATENESS_SPAN_MS);
  if (recent.latenessP99 !== null && recent.latenessP99 > latenessThresholdMs) {
    alerts.push({
      queue,
      kind: "lateness",
      message: `firing lateness p99 is ${formatMs(recent.latenessP99)} over the last 5 minutes (threshold ${formatMs(latenessThresholdMs)})`,
    });
  }
  const waiting = counts.scheduled + counts.active;
  if (recent.lastHandOutAt !== null && now - recent.lastHandOutAt > WORKERS_GONE_MS && waiting > 0) {
    const minutes = Math.floor((now - recent.lastHandOutAt) / 60_000);
    alerts.push({
      queue,
      kind: "workers-gone",
      message: `no job handed out for ${minutes} minute${minutes === 1 ? "" : "s"} while ${waiting} wait`,
    });
  }
  return alerts;
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
