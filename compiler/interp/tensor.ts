/**
 * The evaluator's value: a concrete shape and row-major float64 data. Values are never mutated
 * after they are produced (reshape shares the buffer).
 */
import { numel } from "../ir/types.ts";

export interface Tensor {
  readonly shape: readonly number[];
  readonly data: Float64Array;
}

/** Thrown when the evaluator is fed wrong data (wrong length, token out of range, cache full). */
export class InterpError extends Error {
  override name = "InterpError";
}

export function tensor(shape: readonly number[], data?: Float64Array): Tensor {
  const n = numel(shape);
  if (data !== undefined && data.length !== n) throw new InterpError(`data of length ${data.length} for shape [${shape.join(",")}]`);
  return { shape, data: data ?? new Float64Array(n) };
}

/** Product of dims [from, to). */
export function prod(shape: readonly number[], from = 0, to = shape.length): number {
  let n = 1;
  for (let i = from; i < to; i++) n *= shape[i]!;
  return n;
}

/**
 * For each output element (row-major over `out`), the flat index into a tensor of shape `src`
 * broadcast to `out` (numpy rules, right-aligned).
 */
export function broadcastIndex(src: readonly number[], out: readonly number[]): Int32Array {
  const rank = out.length;
  const strides = new Array<number>(rank).fill(0);
  let s = 1;
  for (let i = src.length - 1; i >= 0; i--) {
    const o = rank - src.length + i;
    strides[o] = src[i] === 1 && out[o] !== 1 ? 0 : s;
    s *= src[i]!;
  }
  const n = numel(out);
  const idx = new Int32Array(n);
  const counter = new Array<number>(rank).fill(0);
  let flat = 0;
  for (let k = 0; k < n; k++) {
    idx[k] = flat;
    for (let d = rank - 1; d >= 0; d--) {
      counter[d]!++;
      flat += strides[d]!;
      if (counter[d]! < out[d]!) break;
      flat -= strides[d]! * counter[d]!;
      counter[d] = 0;
    }
  }
  return idx;
}

/** Elementwise f(a, b) with broadcasting to `out`. */
export function zipWith(a: Tensor, b: Tensor, out: readonly number[], f: (x: number, y: number) => number): Tensor {
  const ia = broadcastIndex(a.shape, out);
  const ib = broadcastIndex(b.shape, out);
  const y = new Float64Array(ia.length);
  for (let k = 0; k < y.length; k++) y[k] = f(a.data[ia[k]!]!, b.data[ib[k]!]!);
  return { shape: out, data: y };
}

/** Max |a - b| / max |b| (norm-wise relative error); 0 when both are all zero. */
export function relError(a: Float64Array, b: Float64Array): number {
  if (a.length !== b.length) return Infinity;
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (Number.isNaN(d)) return NaN;
    num = Math.max(num, d);
    den = Math.max(den, Math.abs(b[i]!));
  }
  return num === 0 ? 0 : num / den;
}
