/**
 * RoPE in WGSL, shared by the fused attention kernel and the unfused `rope` kernel (NeoX
 * half-split, interp/kernels.ts `rope`):
 *
 *   inv_freq[i] = theta^(-2i/r), i < r/2;  angle = t * inv_freq[i]
 *   (x[i], x[i + r/2]) -> (x[i] cos - x[i + r/2] sin, x[i + r/2] cos + x[i] sin);  dims >= r unchanged
 *
 * The angle is reduced mod 2 pi exactly: inv_freq[i] / (2 pi) is baked in as a 64-bit fixed-point
 * fraction of a turn, and t times it is taken in u32 arithmetic, whose wrap drops whole turns. So
 * sin/cos get an argument in [-pi, pi) accurate to ~2e-7 rad at any position t.
 */
import { f32, u32, wgsl } from "./template.ts";

export interface Rope {
  readonly theta: number;
  /** rotaryDim: the first `dims` dims of each head rotate. */
  readonly dims: number;
}

/** f in [0, 1) as (hi, lo) u32 with f ~ (hi + lo / 2^32) / 2^32 (both exact truncations in float64). */
export function turnFraction(f: number): [number, number] {
  const x = f * 2 ** 32;
  const hi = Math.floor(x);
  return [hi, Math.floor((x - hi) * 2 ** 32)];
}

/** Module-scope declarations: the turn tables and `rope_cs(t, i) -> vec2(cos, sin)` of t * inv_freq[i]. */
export function ropeAngleDecl(rope: Rope): string {
  const half = rope.dims / 2;
  const turns = Array.from({ length: half }, (_, i) => turnFraction(Math.pow(rope.theta, (-2 * i) / rope.dims) / (2 * Math.PI)));
  return wgsl`// inv_freq[i] / (2 pi) = theta^(-2i/rotaryDim) / (2 pi) as a 64-bit fixed-point fraction of a turn: (TURN_HI[i] + TURN_LO[i] / 2^32) / 2^32
const TURN_HI = array<u32, ${u32(half)}>(${turns.map(([h]) => u32(h).text).join(", ")});
const TURN_LO = array<u32, ${u32(half)}>(${turns.map(([, l]) => u32(l).text).join(", ")});

// (cos, sin) of t * inv_freq[i]. The angle is reduced mod 2 pi in exact integer arithmetic (u32
// products wrap, dropping whole turns), so it is accurate to ~2e-7 rad at any position t.
fn rope_cs(t: u32, i: u32) -> vec2<f32> {
  let lo = TURN_LO[i];
  let t1 = t >> 16u;
  let t0 = t & ${u32(0xffff)};
  let l1 = lo >> 16u;
  let l0 = lo & ${u32(0xffff)};
  let carry = t1 * l1 + ((t1 * l0) >> 16u) + ((t0 * l1) >> 16u);
  let turn = t * TURN_HI[i] + carry;
  let r = f32(bitcast<i32>(turn)) * ${f32((2 * Math.PI) / 2 ** 32)};
  return vec2<f32>(cos(r), sin(r));
}`;
}

/**
 * `fn NAME(PARAMS) -> f32`: element d of one head roped at position t (`d: u32, t: u32` must be
 * among PARAMS), where `load(e)` is the f32 expression for element e of that head's row. Without
 * RoPE it returns the element unchanged. Needs `ropeAngleDecl` in the module when rope is set.
 */
export function ropedFn(name: string, params: string, rope: Rope | null, load: (e: string) => string): string {
  if (rope === null) {
    return wgsl`fn ${name}(${params}) -> f32 {
  return ${load("d")};
}`;
  }
  const half = rope.dims / 2;
  return wgsl`fn ${name}(${params}) -> f32 {
  if (d >= ${u32(rope.dims)}) { return ${load("d")}; }
  let i = d % ${u32(half)};
  let cs = rope_cs(t, i);
  let u = ${load("i")};
  let w = ${load(wgsl`i + ${u32(half)}`)};
  return select(w * cs.x + u * cs.y, u * cs.x - w * cs.y, d < ${u32(half)});
}`;
}
