import type { Duration } from "checkback";
import type { SimClock } from "../shared/sim-clock.js";

/** setTimeout in business time, all cancelled together when the sandbox stops. */
export class BusinessTimers {
  private readonly pending = new Set<NodeJS.Timeout>();

  constructor(private readonly clock: SimClock) {}

  after(delay: Duration, run: () => unknown): void {
    const timer = setTimeout(() => {
      this.pending.delete(timer);
      void run();
    }, this.clock.real(delay));
    this.pending.add(timer);
  }

  sleep(delay: Duration): Promise<void> {
    return new Promise((resolve) => this.after(delay, resolve));
  }

  clear(): void {
    for (const timer of this.pending) clearTimeout(timer);
    this.pending.clear();
  }
}
