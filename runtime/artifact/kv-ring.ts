/**
 * The KV cache is a ring of T rows: the k and v of position p live in row p mod T. A model whose
 * attention layers are all windowed therefore runs past T positions (its context) for as long as
 * it likes, while a full-causal layer's positions end at T. Shared by interp, codegen's
 * documentation and the runtime's context checks, so all three agree on one rule.
 */

/**
 * Rows a call of S tokens at `pos` needs in the ring: every key one of its queries sees (the
 * window before each query, or all of the past without a window) plus the S new rows, which
 * must not overwrite a key still seen. The call is valid iff this is <= T.
 */
export function ringRowsNeeded(pos: number, S: number, window: number | null): number {
  return (window === null ? pos : Math.min(pos, window - 1)) + S;
}

/**
 * The position cache row t holds once positions 0..last have been written (row t was last
 * written at the largest p <= last with p = t mod T); negative when row t was never written.
 */
export function ringPosition(t: number, last: number, T: number): number {
  return last - ((((last - t) % T) + T) % T);
}

/**
 * The positions a model with these attention windows and T cache rows holds: unbounded when
 * every attention layer is windowed within the ring (W <= T) or there is none, else T.
 */
export function positionLimit(windows: readonly (number | null)[], T: number): number {
  return windows.every((w) => w !== null && w <= T) ? Infinity : T;
}

/** The most tokens one call at `pos` may take: the least, over the layers, of T minus the keys it must keep. */
export function maxCallTokens(windows: readonly (number | null)[], T: number, pos: number): number {
  return Math.min(Infinity, ...windows.map((w) => T - ringRowsNeeded(pos, 0, w)));
}
