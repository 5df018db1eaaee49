/**
 * WGSL pieces shared by the kernel families: scalar functions with the exact semantics of
 * interp/scalar.ts, and the few expressions every family needs.
 */
import type { Span } from "../../diag/source.ts";
import type { Dim } from "../../ir/types.ts";
import { CodegenError } from "../kernel.ts";
import { f32, u32, wgsl } from "./template.ts";

/**
 * Bytes of function-address-space variables WGSL guarantees in one function (its limits table:
 * a device may accept more, none has to). Kernels that keep a row of a wide dimension in `var`
 * registers (the Mamba-1 scan's state row, the conv's window) check it with `checkRegisters`, so
 * a huge d_state or d_conv is a limits diagnostic (HYB5002) instead of megabytes of unrolled WGSL.
 */
export const FUNCTION_VAR_BYTES = 8192;

/** Throws a CodegenError (HYB5002 at the node) when `bytes` of `var` registers exceed FUNCTION_VAR_BYTES. */
export function checkRegisters(op: string, what: string, bytes: number, spans: readonly Span[]): void {
  if (bytes > FUNCTION_VAR_BYTES) {
    throw new CodegenError(`${op}: ${what} takes ${bytes} bytes of function variables, over the ${FUNCTION_VAR_BYTES} bytes WGSL guarantees`, spans);
  }
}

/** silu(v) = v * sigmoid(v), for f32 or vec4<f32> (`T`). */
export function siluFn(name: string, T: "f32" | "vec4<f32>"): string {
  return wgsl`fn ${name}(v: ${T}) -> ${T} {
  return v / (${T}(${f32(1)}) + exp(-v));
}`;
}

/**
 * softplus with torch's threshold 20; log1p(e) as log(u) * e / (u - 1) with u = 1 + e
 * (Goldberg's trick), so a tiny e = exp(v) keeps its digits instead of rounding 1 + e to 1.
 */
export const SOFTPLUS = wgsl`fn softplus(v: f32) -> f32 {
  if (v > ${f32(20)}) { return v; }
  let e = exp(v);
  let u = ${f32(1)} + e;
  if (u == ${f32(1)}) { return e; }
  return log(u) * (e / (u - ${f32(1)}));
}`;

/**
 * An attention window as kernels take it. Positions are 32-bit in WGSL (signed in the unfused
 * mask), so a window of 2^31 keys or more never excludes one: it is full causal attention, and
 * is emitted as such rather than as a constant WGSL cannot write.
 */
export function kernelWindow(window: number | null): number | null {
  return window !== null && window >= 2 ** 31 ? null : window;
}

/** The sequence length as a u32 expression: the uniform in prefill, a constant in decode. */
export function lengthExpr(S: Dim): string {
  return S === "L" ? "params.L" : wgsl`${u32(S)}`;
}

/** `e + n` as a u32 expression, just `e` when n is 0. */
export function plus(e: string, n: number): string {
  return n === 0 ? e : wgsl`${e} + ${u32(n)}`;
}

/**
 * The weight row that column j of the tile at `c0` (a multiple of TN) reads, clamped into [0, width)
 * for a tile past the end (its stores are skipped). When TN divides the width no tile is partial,
 * so the whole tile clamps at once: `min(c0, width - TN) + j`, one base and constant steps, which
 * a compiler sees as neighbouring rows (in row quads, one contiguous run: lavapipe then merges the
 * tile's loads); else each column clamps alone, `min(c0 + j, width - 1)`.
 */
export function tileColumn(width: number, TN: number, j: number): string {
  return width % TN === 0 ? plus(wgsl`min(c0, ${u32(width - TN)})`, j) : wgsl`min(${plus("c0", j)}, ${u32(width - 1)})`;
}

/** The sum of a vector's lanes (identity for f32). */
export function hsum(e: string, vec: 1 | 4): string {
  return vec === 4 ? wgsl`dot(${e}, vec4<f32>(${f32(1)}))` : e;
}

/** WGSL type of `vec` lanes of f32. */
export function vecType(vec: 1 | 4): "f32" | "vec4<f32>" {
  return vec === 4 ? "vec4<f32>" : "f32";
}

/** [0, 1, ..., n - 1]: generators unroll small static loops (tiles, taps, state lanes) with it. */
export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

export function pow2AtLeast(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/**
 * Slots (column tiles) per workgroup for `tiles` tiles at most `slots` a workgroup: the same number
 * of workgroups, the tiles spread evenly over them. mamba-130m's x_proj (20 tiles of 4 columns)
 * runs as 2 workgroups of 10 tiles instead of 16 + 4, which left one of lavapipe's two cores idle
 * most of the kernel (bench/gemv.ts, two runs of 31 rounds: 0.80-1.0x the time in f32, 0.86-0.97x
 * in f16). The workgroup's tree reduction (a staged norm) takes any size.
 */
export function evenSlots(tiles: number, slots: number): number {
  return Math.max(1, Math.min(slots, Math.ceil(tiles / Math.ceil(tiles / slots))));
}

/**
 * gelu(x) = x/2 (1 + erf(x / sqrt 2)) with the exact-erf meaning (interp/scalar.ts). WGSL has no
 * erf: erfc(y), y >= 0, is Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7), and the negative
 * tail uses x/2 erfc(|y|) directly instead of 1 - erf, keeping its digits.
 */
export const GELU = wgsl`fn gelu(x: f32) -> f32 {
  let y = abs(x) * ${f32(Math.SQRT1_2)};
  let t = ${f32(1)} / (${f32(1)} + ${f32(0.3275911)} * y);
  let poly = t * (${f32(0.254829592)} + t * (${f32(-0.284496736)} + t * (${f32(1.421413741)} + t * (${f32(-1.453152027)} + t * ${f32(1.061405429)}))));
  let e = poly * exp(-y * y);
  return select(${f32(0.5)} * x * e, ${f32(0.5)} * x * (${f32(2)} - e), x >= ${f32(0)});
}`;
