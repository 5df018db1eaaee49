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

/** Normwise relative difference max|a - b| / max|b| (Infinity when the lengths differ). */
export function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - b[i]!));
    den = Math.max(den, Math.abs(b[i]!));
  }
  return a.length === b.length ? num / den : Infinity;
}
