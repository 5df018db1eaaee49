/**
 * Deterministic random numbers and the few transcendental functions random init needs, built
 * only from IEEE-754 basic operations (+ - * / sqrt, exactly rounded) and 32-bit integer ops, so
 * a (seed, stream name) gives bit-identical values on every platform and JS engine (Math.log and
 * Math.exp are not specified to the bit; ours are, by construction).
 *   streamSeed: murmur3 finalizer over the seed's two 32-bit halves and FNV-1a over the name's
 *               UTF-8 bytes, four times with different salts -> 128 bits of state.
 *   Rng:        xoshiro128** (Blackman & Vigna), 32-bit outputs; uniform() in (0, 1);
 *               normal() by Marsaglia's polar method (pairs, the second one cached).
 */

function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** 128 bits of generator state from an integer seed and a stream name. */
export function streamSeed(seed: number, name: string): [number, number, number, number] {
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 2 ** 32) >>> 0;
  const bytes = new TextEncoder().encode(name);
  const word = (salt: number) => {
    let h = mix32(Math.imul(0x9e3779b9, salt) ^ lo);
    h = mix32(h ^ hi);
    for (const b of bytes) h = Math.imul(h ^ b, 0x01000193);
    return mix32(h);
  };
  const s: [number, number, number, number] = [word(1), word(2), word(3), word(4)];
  if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1; // xoshiro's one forbidden state
  return s;
}

const rotl = (x: number, k: number) => (x << k) | (x >>> (32 - k));

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare: number | undefined;

  constructor(state: readonly [number, number, number, number]) {
    [this.s0, this.s1, this.s2, this.s3] = state;
  }

  /** The next 32-bit output, as an unsigned integer. */
  next(): number {
    const r = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return r;
  }

  /** Uniform in (0, 1), never 0 or 1. */
  uniform(): number {
    return (this.next() + 0.5) / 4294967296;
  }

  /** Standard normal. */
  normal(): number {
    if (this.spare !== undefined) {
      const z = this.spare;
      this.spare = undefined;
      return z;
    }
    for (;;) {
      const u = 2 * this.uniform() - 1;
      const v = 2 * this.uniform() - 1;
      const s = u * u + v * v;
      if (s >= 1 || s === 0) continue;
      const f = Math.sqrt((-2 * detLog(s)) / s);
      this.spare = v * f;
      return u * f;
    }
  }
}

// ln 2 split so that k * LN2_HI is exact for |k| < 2^11 (fdlibm's constants).
const LN2_HI = 6.93147180369123816490e-1;
const LN2_LO = 1.90821492927058770002e-10;
const SQRT2 = 1.4142135623730951;
// Bit access to a double: the word holding sign and exponent is [1] on little-endian machines.
const F64 = new Float64Array(1);
const U32 = new Uint32Array(F64.buffer);
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;
const LO = 1 - HI;
/** 2 / (2i + 1) for i = 1..13: the series of 2 atanh(s) / s - 2 in z = s^2. */
const ATANH = Array.from({ length: 13 }, (_, i) => 2 / (2 * i + 3));

/** 2^k for an integer k in [-1022, 1023], exactly. */
function pow2(k: number): number {
  U32[HI] = (k + 1023) << 20;
  U32[LO] = 0;
  return F64[0]!;
}

/** Natural log of a positive finite x, within 2 ulp: x = m 2^k with m in [sqrt(1/2), sqrt(2)). */
export function detLog(x: number): number {
  if (!(x > 0) || x === Infinity) throw new RangeError(`detLog(${x}): needs a positive finite number`);
  let scale = 0;
  if (x < 2 ** -1022) {
    x *= 2 ** 54;
    scale = -54;
  }
  F64[0] = x;
  const hi = U32[HI]!;
  let k = ((hi >>> 20) & 0x7ff) - 1023 + scale;
  U32[HI] = (hi & 0x000fffff) | 0x3ff00000;
  let m = F64[0]!; // [1, 2)
  if (m > SQRT2) {
    m /= 2;
    k++;
  }
  // fdlibm's arrangement: with f = m - 1 (exact), s = f / (2 + f), ln(1 + f) = 2 atanh(s)
  // = f - (hfsq - s (hfsq + R)), hfsq = f^2 / 2, R = 2 (s^2/3 + s^4/5 + ...): the exact f leads.
  const f = m - 1;
  const s = f / (2 + f); // |s| <= 0.1716
  const z = s * s;
  let r = ATANH[12]!;
  for (let i = 11; i >= 0; i--) r = r * z + ATANH[i]!;
  r *= z;
  const hfsq = 0.5 * f * f;
  return k * LN2_HI - (hfsq - (s * (hfsq + r) + k * LN2_LO) - f);
}

/** e^x for |x| < 700: x = k ln2 + r with |r| <= ln2 / 2, Taylor series of e^r. */
export function detExp(x: number): number {
  if (!(Math.abs(x) < 700)) throw new RangeError(`detExp(${x}): needs |x| < 700`);
  const k = Math.round(x / (LN2_HI + LN2_LO));
  const r = x - k * LN2_HI - k * LN2_LO;
  let p = 1;
  for (let i = 20; i >= 1; i--) p = 1 + (r * p) / i;
  return p * pow2(k);
}

/** e^x - 1 for |x| <= 0.5, without the cancellation of detExp(x) - 1. */
export function detExpm1(x: number): number {
  if (!(Math.abs(x) <= 0.5)) throw new RangeError(`detExpm1(${x}): needs |x| <= 0.5`);
  // x (1 + x/2 (1 + x/3 (1 + ...))): Horner keeps the rounding error near 1 ulp.
  let p = 1;
  for (let i = 24; i >= 2; i--) p = 1 + (x * p) / i;
  return x * p;
}
