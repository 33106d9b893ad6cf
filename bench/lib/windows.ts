/**
 * Starts per window: what a rate limit promises, read from the instants jobs started (epoch ms,
 * one clock). Counts per window are the measure here, not wall time: on a loaded machine a
 * late claim moves a start into the next window but does not change how many starts a window
 * can hold, so the bound stays readable when timings are not.
 */
export interface WindowReport {
  /** Starts inside the measured span [from, from + windows × windowMs). */
  starts: number;
  /** Starts in each whole window [from + k·windowMs, from + (k+1)·windowMs). */
  perWindow: number[];
  /** Mean of perWindow without the first window (the one a full bucket adds to), null if none. */
  steadyMean: number | null;
  /** Lowest and highest of those windows. */
  steadyMin: number | null;
  steadyMax: number | null;
  /** Most starts in any window of windowMs, wherever it begins (not only at whole seconds). */
  slidingMax: number;
  /** The same among windows that begin after the first window: once a full bucket's first burst is spent. */
  steadySlidingMax: number;
  /**
   * Most starts beyond the steady refill in any span [a, b]: max over spans of
   * starts(a..b) − rate × (b − a) / windowMs. A token bucket of size B keeps this ≤ B.
   */
  burst: number;
}

/**
 * `instants` need not be sorted; those outside the span are ignored. `rate` is the limit per
 * `windowMs` (for the burst figure).
 */
export function startsPerWindow(
  instants: readonly number[],
  { from, windows, windowMs, rate }: { from: number; windows: number; windowMs: number; rate: number },
): WindowReport {
  const end = from + windows * windowMs;
  const sorted = instants.filter((t) => t >= from && t < end).sort((a, b) => a - b);
  const perWindow = new Array<number>(windows).fill(0);
  for (const t of sorted) perWindow[Math.floor((t - from) / windowMs)]! += 1;
  const steady = perWindow.slice(1);
  return {
    starts: sorted.length,
    perWindow,
    steadyMean: steady.length === 0 ? null : steady.reduce((a, b) => a + b, 0) / steady.length,
    steadyMin: steady.length === 0 ? null : Math.min(...steady),
    steadyMax: steady.length === 0 ? null : Math.max(...steady),
    slidingMax: slidingMax(sorted, windowMs),
    steadySlidingMax: slidingMax(
      sorted.filter((t) => t >= from + windowMs),
      windowMs,
    ),
    burst: burstAboveRefill(sorted, rate / windowMs),
  };
}

/** Most instants in any half-open window of `windowMs`; the busiest one can be taken to begin at an instant. */
export function slidingMax(sorted: readonly number[], windowMs: number): number {
  let best = 0;
  let j = 0;
  for (let i = 0; i < sorted.length; i++) {
    while (j < sorted.length && sorted[j]! < sorted[i]! + windowMs) j++;
    best = Math.max(best, j - i);
  }
  return best;
}

/**
 * max over i ≤ j of (j − i + 1) − perMs × (t_j − t_i): with f(k) = k − perMs × t_k it is
 * 1 + max_j (f(j) − min_{i ≤ j} f(i)), one pass.
 */
export function burstAboveRefill(sorted: readonly number[], perMs: number): number {
  if (sorted.length === 0) return 0;
  let lowest = Number.POSITIVE_INFINITY;
  let best = Number.NEGATIVE_INFINITY;
  const origin = sorted[0]!; // small numbers: epoch ms times a rate would lose the fractions
  for (let k = 0; k < sorted.length; k++) {
    const f = k - perMs * (sorted[k]! - origin);
    if (f < lowest) lowest = f;
    if (f - lowest > best) best = f - lowest;
  }
  return 1 + best;
}

/**
 * The lateness a rate limit itself forces: each job started, in due order, at the earliest
 * instant a token bucket (`bucket` tokens, full at the first due instant, refilled at
 * `rate` per `perMs`) allows, and never before it is due. Measured lateness minus this is
 * what the engine adds beyond the quota: when demand exceeds the limit, the queue's wait is
 * arithmetic, not slowness. Returns each job's forced lateness (ms), in due order.
 */
export function quotaLateness(
  dues: readonly number[],
  { rate, perMs, bucket }: { rate: number; perMs: number; bucket: number },
): number[] {
  const sorted = [...dues].sort((a, b) => a - b);
  const perToken = perMs / rate;
  let tokens = bucket;
  let at = sorted[0] ?? 0;
  return sorted.map((due) => {
    if (due > at) {
      tokens = Math.min(bucket, tokens + (due - at) / perToken);
      at = due;
    }
    if (tokens < 1) {
      at += (1 - tokens) * perToken;
      tokens = 1;
    }
    tokens -= 1;
    return at - due;
  });
}
