export function when(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "—";
  return new Date(ms).toLocaleString(undefined, { hour12: false });
}

/** "in 4m", "12s ago": how far an instant is from now. */
export function relative(ms: number | null | undefined, now = Date.now()): string {
  if (ms === null || ms === undefined) return "—";
  const diff = ms - now;
  const abs = Math.abs(diff);
  const text =
    abs < 1000
      ? `${abs} ms`
      : abs < 60_000
        ? `${Math.round(abs / 1000)} s`
        : abs < 3_600_000
          ? `${Math.round(abs / 60_000)} min`
          : abs < 86_400_000
            ? `${(abs / 3_600_000).toFixed(1)} h`
            : `${(abs / 86_400_000).toFixed(1)} d`;
  return diff >= 0 ? `in ${text}` : `${text} ago`;
}

export function json(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

/** "20 s", "15 min", "2 h": an interval, in the largest unit it is a whole number of. */
export function interval(ms: number): string {
  const units: [number, string][] = [
    [86_400_000, "d"],
    [3_600_000, "h"],
    [60_000, "min"],
    [1000, "s"],
  ];
  for (const [size, unit] of units) if (ms % size === 0) return `${ms / size} ${unit}`;
  return `${ms} ms`;
}
