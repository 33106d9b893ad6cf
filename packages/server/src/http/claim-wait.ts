import type { Store } from "checkback";
import type { ClaimOptions, ClaimResult } from "checkback/internal";

/**
 * A claim that waits (long-poll) up to `waitMs` for a due job, without polling the store on
 * an interval: it subscribes to the queue's wake-ups first (so none is missed between the
 * claim and the sleep), claims, and if nothing was due sleeps until the earliest of
 *   - the next due instant the claim reported (nextDueAt),
 *   - a wake-up for a job due earlier than that (an add, a reschedule, a release),
 *   - the end of the wait, or `signal` (client gone, server closing),
 * then claims again. Several waiting clients on one queue may all wake for one job; one gets
 * it and the others go back to sleep.
 */

/** Safety net for a wake-up lost in transit (a dropped connection to a remote store). */
const RECHECK_MS = 5_000;
const RETRY_MS = 5;

export async function claimWaiting(
  store: Store,
  queue: string,
  options: ClaimOptions,
  waitMs: number,
  signal: AbortSignal,
): Promise<ClaimResult> {
  const deadline = Date.now() + waitMs;
  let earliestWake = Number.POSITIVE_INFINITY;
  let onWake: ((runAt: number) => void) | null = null;
  const unsubscribe = store.subscribe(queue, (runAt) => {
    earliestWake = Math.min(earliestWake, runAt);
    onWake?.(runAt);
  });
  try {
    for (;;) {
      earliestWake = Number.POSITIVE_INFINITY;
      const claimed = await store.claimDue(queue, options);
      const remaining = deadline - Date.now();
      if (claimed.jobs.length > 0 || remaining <= 0 || signal.aborted) return claimed;
      // Store clock minus local clock: due instants are on the store's clock.
      const offset = claimed.now - Date.now();
      // A job that became due while the claim ran: claim again at once.
      if (earliestWake <= claimed.now) continue;
      const nextDue = Math.min(claimed.nextDueAt ?? Number.POSITIVE_INFINITY, earliestWake);
      const untilDue = nextDue - claimed.now;
      // The store reports a due instant already passed yet gave nothing (another claimant took
      // the job in between): try again shortly, never in a tight loop.
      const sleepMs = Math.min(remaining, RECHECK_MS, untilDue > 0 ? untilDue : RETRY_MS);
      await sleepUntilWoken(sleepMs, offset, signal, (handler) => {
        onWake = handler;
      });
      onWake = null;
    }
  } finally {
    unsubscribe();
  }
}

function sleepUntilWoken(
  sleepMs: number,
  offset: number,
  signal: AbortSignal,
  listen: (handler: (runAt: number) => void) => void,
): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    let wakeAtLocal = Date.now() + sleepMs;
    let timer = setTimeout(done, sleepMs);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    listen((runAt) => {
      const dueLocal = runAt - offset;
      if (dueLocal >= wakeAtLocal) return;
      clearTimeout(timer);
      wakeAtLocal = dueLocal;
      timer = setTimeout(done, Math.max(0, dueLocal - Date.now()));
    });
    signal.addEventListener("abort", done, { once: true });
  });
}
