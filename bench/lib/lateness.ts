import * as hdr from "hdr-histogram-js";

export interface LatenessSummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  /** Jobs whose handler started before their due instant: should be 0, anything else is a bug. */
  early: number;
}

/**
 * Firing lateness: handler start minus due instant, in whole milliseconds (both clocks are
 * epoch-ms integers, so finer resolution would be noise). An HDR histogram keeps percentiles
 * exact to 3 significant digits at any count without storing every sample.
 */
export class LatenessRecorder {
  private readonly histogram = hdr.build({ lowestDiscernibleValue: 1, numberOfSignificantValueDigits: 3 });
  private early = 0;

  record(latenessMs: number): void {
    if (latenessMs < 0) {
      this.early += 1;
      this.histogram.recordValue(0);
      return;
    }
    this.histogram.recordValue(Math.round(latenessMs));
  }

  get count(): number {
    return this.histogram.totalCount;
  }

  /**
   * The distribution as a CDF: the lateness at each of `steps` evenly spaced percentiles, plus
   * the tail (99.9, 99.99, max), as (ms, fraction of jobs at or below it) pairs.
   */
  cdf(steps = 200): { ms: number[]; fraction: number[] } {
    const h = this.histogram;
    const percentiles = [...Array.from({ length: steps }, (_, i) => (i * 100) / steps), 99.9, 99.99, 100];
    const ms: number[] = [];
    const fraction: number[] = [];
    for (const p of percentiles.sort((a, b) => a - b)) {
      const value = p === 100 ? h.maxValue : h.getValueAtPercentile(p);
      if (ms.length > 0 && value <= ms.at(-1)!) {
        fraction[fraction.length - 1] = p / 100;
        continue;
      }
      ms.push(value);
      fraction.push(p / 100);
    }
    return { ms, fraction };
  }

  summary(): LatenessSummary {
    const h = this.histogram;
    return {
      count: h.totalCount,
      p50: h.getValueAtPercentile(50),
      p95: h.getValueAtPercentile(95),
      p99: h.getValueAtPercentile(99),
      max: h.maxValue,
      early: this.early,
    };
  }
}
