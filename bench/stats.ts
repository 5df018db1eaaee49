/** The median of a non-empty list of timings. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Median, minimum and count of a non-empty list of timings. */
export interface Summary {
  readonly median: number;
  readonly min: number;
  readonly runs: number;
}

export function summarize(xs: readonly number[]): Summary {
  return { median: median(xs), min: Math.min(...xs), runs: xs.length };
}
