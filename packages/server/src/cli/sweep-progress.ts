import type { SweepStatus } from "@checkback/client";
import { Presets, SingleBar } from "cli-progress";

/**
 * A sweep run's progress bar on stderr, drawn from polled statuses: items against the run's
 * total (when the sweep gives one; otherwise the bar follows the items seen so far), with
 * pages, failures, rate and the server's ETA. Drawn when stderr is a terminal or when asked
 * for with --progress (then, on a pipe, as plain lines); stdout stays clean.
 */
export function startSweepProgress(name: string, wanted: boolean | undefined) {
  const enabled = wanted ?? process.stderr.isTTY === true;
  if (!enabled) return { update(_status: SweepStatus) {}, stop() {} };
  const bar = new SingleBar(
    {
      stream: process.stderr,
      format: `${name} [{bar}] {percentage}% | {value}/{total} items | {pages} pages | {failed} failed | {rate}/s | ETA {eta}`,
      noTTYOutput: true,
      notTTYSchedule: 500,
      hideCursor: true,
    },
    Presets.shades_classic,
  );
  let started = false;
  return {
    update(status: SweepStatus) {
      const run = status.run;
      const items = run?.items ?? 0;
      const total = Math.max(run?.total ?? items, items, 1);
      const tokens = {
        pages: run?.pages ?? 0,
        failed: run?.failed ?? 0,
        rate: run?.rate ?? 0,
        eta: run?.etaMs == null ? "-" : `${Math.ceil(run.etaMs / 1000)}s`,
      };
      if (!started) {
        bar.start(total, items, tokens);
        started = true;
      } else {
        bar.setTotal(total);
        bar.update(items, tokens);
      }
    },
    stop() {
      // Redraw once so a pipe sees the last state, then end the line.
      if (started) bar.render();
      bar.stop();
    },
  };
}
