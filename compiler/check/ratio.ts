/**
 * One period of a ratio `(a : b = A : B, offset = j)`, as DSL.md defines it.
 * p = A + B; the kind with the smaller count is the minority (the second when counts are
 * equal); with m = the minority count, position k (0-based) is the minority exactly when
 * floor((k + 1) * m / p) > floor(k * m / p). `offset = j` rotates the period so that its
 * first minority layer sits at position j.
 */

export type Side = "left" | "right";

/** The period as sides; callers keep p small (the layer limit is checked before this runs). */
export function ratioPeriod(leftCount: number, rightCount: number, offset?: number): Side[] {
  const p = leftCount + rightCount;
  const minority: Side = leftCount < rightCount ? "left" : "right";
  const majority: Side = minority === "left" ? "right" : "left";
  const m = Math.min(leftCount, rightCount);
  const base: Side[] = [];
  let first = -1;
  for (let k = 0; k < p; k++) {
    const isMinority = Math.floor(((k + 1) * m) / p) > Math.floor((k * m) / p);
    if (isMinority && first < 0) first = k;
    base.push(isMinority ? minority : majority);
  }
  if (offset === undefined) return base;
  // new[i] = base[(i - offset + first) mod p], so new[offset] = base[first].
  return base.map((_, i) => base[(((i - offset + first) % p) + p) % p]!);
}
