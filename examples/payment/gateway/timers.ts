import type { Duration } from "checkback";
import type { SimClock } from "../shared/sim-clock.js";

/** setTimeout in business time, all cancelled together when the sandbox stops. */
export class BusinessTimers {
  private readonly pending = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(private readonly clock: SimClock) {}

  after(delay: Duration, run: () => unknown): void {
    const timer = setTimeout(() => {
      this.pending.delete(timer);
      // Work still in flight when the sandbox stops (a notify awaiting its answer) may find the
      // database closed; that is the stop, not a fault.
      void Promise.resolve()
        .then(run)
        .catch((error: unknown) => {
          if (!this.stopped) console.error("gateway sandbox timer failed:", error);
        });
    }, this.clock.real(delay));
    this.pending.add(timer);
  }

  sleep(delay: Duration): Promise<void> {
    return new Promise((resolve) => this.after(delay, resolve));
  }

  clear(): void {
    this.stopped = true;
    for (const timer of this.pending) clearTimeout(timer);
    this.pending.clear();
  }
}
