import type { SimClock } from "./sim-clock.js";

export interface TimelineEvent {
  /** Business time since the timeline began, ms. */
  at: number;
  service: "order" | "payment" | "gateway" | "shopper";
  text: string;
}

/**
 * What the services tell the demo (and the tests) as they work. A service gets a `log`
 * function; the default one drops everything, so a copied service carries no demo baggage.
 */
export type Log = (service: TimelineEvent["service"], text: string) => void;

export const silent: Log = () => {};

/** Events in business time since the timeline began. */
export class Timeline {
  readonly events: TimelineEvent[] = [];
  private readonly origin: number;

  constructor(
    private readonly clock: SimClock,
    private readonly onEvent: (event: TimelineEvent) => void = () => {},
  ) {
    this.origin = clock.elapsed();
  }

  readonly log: Log = (service, text) => {
    const event = { at: this.clock.elapsed() - this.origin, service, text };
    this.events.push(event);
    this.onEvent(event);
  };
}

/** "+00:04:00" — business time since start. */
export function formatOffset(ms: number): string {
  const total = Math.round(ms / 1000);
  const hh = String(Math.floor(total / 3600)).padStart(2, "0");
  const mm = String(Math.floor((total % 3600) / 60)).padStart(2, "0");
  const ss = String(total % 60).padStart(2, "0");
  return `+${hh}:${mm}:${ss}`;
}
