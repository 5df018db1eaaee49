/**
 * Choosing the next token from a row of logits, on the CPU (pure, no GPU).
 *
 *   temperature 0      argmax; ties go to the lowest id (NaN counts as -Infinity)
 *   temperature T > 0  p_i = softmax(z_i / T), in float64 with the max subtracted, restricted to:
 *     top-k K > 0      the K highest logits (ties broken by the lower id)
 *     top-p P < 1      then the smallest set of most probable tokens whose cumulative probability
 *                      (renormalized over the top-k set) is >= P, ties broken by the lower id
 *   and one draw u in [0, 1) from the caller's generator picks the token whose cumulative
 *   probability interval, in that same order (most probable first), contains u.
 *
 * The generator is xoshiro128** (Blackman and Vigna), seeded through splitmix32 from a 32-bit
 * seed; a draw takes two outputs for 53 random bits. Same seed, same stream, on every platform.
 */

export interface SampleOptions {
  /** 0 = greedy (argmax); otherwise the softmax temperature. */
  readonly temperature: number;
  /** Keep only the K most likely tokens; 0 (default) keeps all. */
  readonly topK?: number;
  /** Nucleus: keep the most likely tokens until their probability reaches P; 1 (default) keeps all. */
  readonly topP?: number;
}

/** A source of uniform draws in [0, 1). */
export type Rng = () => number;

/** xoshiro128** seeded through splitmix32 from `seed` (an integer, taken modulo 2^32). */
export function createRng(seed: number): Rng {
  let x = seed >>> 0;
  const splitmix = (): number => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  const s: number[] = [splitmix(), splitmix(), splitmix(), splitmix()];
  if (!s.some((v) => v !== 0)) s[0] = 1; // xoshiro must not start from all zeros
  const next = (): number => {
    const [a, b, c, d] = s as [number, number, number, number];
    const t = b << 9;
    const r = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    s[2] = c ^ a;
    s[3] = d ^ b;
    s[1] = b ^ s[2];
    s[0] = a ^ s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return r;
  };
  return () => ((next() >>> 5) * 67108864 + (next() >>> 6)) / 9007199254740992;
}

function rotl(v: number, k: number): number {
  return (v << k) | (v >>> (32 - k));
}

/** Throws a RangeError naming the first option out of range. */
export function checkSampleOptions(opts: SampleOptions): void {
  const { temperature, topK = 0, topP = 1 } = opts;
  if (!Number.isFinite(temperature) || temperature < 0) throw new RangeError(`temperature must be a finite number >= 0, got ${temperature}`);
  if (!Number.isInteger(topK) || topK < 0) throw new RangeError(`top-k must be an integer >= 0 (0 keeps every token), got ${topK}`);
  if (!(topP > 0 && topP <= 1)) throw new RangeError(`top-p must be in (0, 1] (1 keeps every token), got ${topP}`);
}

/** The index of the largest value; the lowest index among equals; NaN never wins. */
export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i]!;
    if (v > max) {
      max = v;
      best = i;
    }
  }
  return best;
}

/** The tokens that survive top-k and top-p, most probable first, with their renormalized probabilities. */
export function distribution(logits: ArrayLike<number>, opts: SampleOptions): { readonly ids: number[]; readonly probs: Float64Array } {
  checkSampleOptions(opts);
  if (opts.temperature === 0) return { ids: [argmax(logits)], probs: Float64Array.of(1) };
  const { temperature, topK = 0, topP = 1 } = opts;
  const value = (i: number): number => (Number.isNaN(logits[i]!) ? -Infinity : logits[i]!);
  let ids = Array.from({ length: logits.length }, (_, i) => i);
  ids.sort((a, b) => value(b) - value(a) || a - b);
  if (topK > 0 && topK < ids.length) ids = ids.slice(0, topK);
  const max = value(ids[0]!);
  let probs: Float64Array = Float64Array.from(ids, (i) => (max === -Infinity ? 1 : Math.exp((value(i) - max) / temperature)));
  probs = normalize(probs);
  if (topP < 1) {
    let cum = 0;
    let keep = 0;
    while (keep < probs.length && cum < topP) cum += probs[keep++]!;
    ids = ids.slice(0, keep);
    probs = normalize(probs.subarray(0, keep));
  }
  return { ids, probs };
}

function normalize(p: Float64Array): Float64Array {
  let sum = 0;
  for (const v of p) sum += v;
  return Float64Array.from(p, (v) => v / sum);
}

/** One token from `logits` under `opts`, drawing from `rng` (greedy draws nothing). */
export function sample(logits: ArrayLike<number>, opts: SampleOptions, rng: Rng): number {
  if (opts.temperature === 0) {
    checkSampleOptions(opts);
    return argmax(logits);
  }
  const { ids, probs } = distribution(logits, opts);
  const u = rng();
  let cum = 0;
  for (let k = 0; k < ids.length; k++) {
    cum += probs[k]!;
    if (u < cum) return ids[k]!;
  }
  return ids[ids.length - 1]!;
}
