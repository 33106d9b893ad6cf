import { type Duration, parseDuration } from "checkback";

/**
 * The example runs on "business time" sped up by a factor: at speed 600 one real second is
 * ten business minutes, so a 30-minute order timeout passes in 3 s. Every service converts the
 * business durations it is configured with (Alipay's notify schedule, the check schedule, the
 * order timeout) into real milliseconds through the same clock, so their relative order — the
 * thing the scenarios are about — is the same as in production. At speed 1 it is the real thing.
 */
export class SimClock {
  readonly startedAt = Date.now();

  constructor(readonly speed = 1) {
    if (!(speed >= 1)) throw new Error("speed must be ≥ 1");
  }

  /** Real milliseconds for a business duration. */
  real(duration: Duration): number {
    return Math.max(1, Math.round(parseDuration(duration) / this.speed));
  }

  /** Business time elapsed since the clock started, in ms. */
  elapsed(): number {
    return (Date.now() - this.startedAt) * this.speed;
  }

  /** The business "now": the start instant plus the scaled elapsed time. */
  now(): Date {
    return new Date(this.startedAt + this.elapsed());
  }
}

/** "2026-11-25 09:50:00" in Beijing time: the timestamp format of Alipay's API and notifies. */
export function alipayTimestamp(at: Date): string {
  const beijing = new Date(at.getTime() + 8 * 3_600_000);
  return beijing.toISOString().slice(0, 19).replace("T", " ");
}

export function parseAlipayTimestamp(text: string): Date | null {
  if (!/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/.test(text)) return null;
  const at = new Date(`${text.replace(" ", "T")}+08:00`);
  return Number.isNaN(at.getTime()) ? null : at;
}
