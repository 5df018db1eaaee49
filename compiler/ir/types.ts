/**
 * Tensor types of the IR: a dtype and a shape whose dims are numbers or the symbolic sequence
 * length `"L"` (bound when a prefill graph runs; decode graphs use the number 1 instead).
 *
 * Layout convention (batch is 1 and never written): activations are row-major `[time, channel]`
 * (`[L, C]`), so a linear layer is `x W^T` over the last axis and every per-token op reads one
 * contiguous row. Recurrent state keeps the layout of the reference caches: conv `[C, W]`
 * (channel, time, oldest first), Mamba-1 ssm `[d_inner, N]`, Mamba-2 ssm `[H, P, N]`,
 * KV cache `[context, kv_heads, head_dim]` (time-major like the activations).
 */

import { DTYPES, type Dtype } from "../../runtime/artifact/dtypes.ts";

// One dtype vocabulary for the IR, the kernels and the runtime: the element-format table.
export { DTYPES, byteSize, elementsIn, type Dtype } from "../../runtime/artifact/dtypes.ts";
/** One dimension: a static size or the symbolic sequence length. */
export type Dim = number | "L";
export type Shape = readonly Dim[];

export interface TensorType {
  readonly dtype: Dtype;
  readonly shape: Shape;
}

export function tensorType(dtype: Dtype, shape: Shape): TensorType {
  return { dtype, shape };
}

export function isFloat(t: TensorType): boolean {
  return DTYPES[t.dtype].float;
}

export function dimEq(a: Dim, b: Dim): boolean {
  return a === b;
}

export function shapeEq(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function typeEq(a: TensorType, b: TensorType): boolean {
  return a.dtype === b.dtype && shapeEq(a.shape, b.shape);
}

export function shapeToString(s: Shape): string {
  return `[${s.join(",")}]`;
}

/** `f32[L,64]`. */
export function typeToString(t: TensorType): string {
  return `${t.dtype}${shapeToString(t.shape)}`;
}

/**
 * Element count as `L^power * factor`; two shapes hold the same number of elements for every
 * L exactly when both parts agree.
 */
export function symbolicNumel(s: Shape): { readonly power: number; readonly factor: number } {
  let power = 0;
  let factor = 1;
  for (const d of s) {
    if (d === "L") power++;
    else factor *= d;
  }
  return { power, factor };
}

/** The concrete shape for a sequence length. */
export function concreteShape(s: Shape, L: number): number[] {
  return s.map((d) => (d === "L" ? L : d));
}

export function numel(s: readonly number[]): number {
  let n = 1;
  for (const d of s) n *= d;
  return n;
}

export function isSymbolic(s: Shape): boolean {
  return s.includes("L");
}
