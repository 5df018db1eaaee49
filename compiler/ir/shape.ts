/**
 * Checks used by the op table's type inference. They throw `InferError`, which the builder and
 * the verifier turn into an internal compiler error naming the node; a bad type is always a
 * compiler bug, never a user error (the checker has already validated the model).
 */
import { DTYPES, shapeToString, typeToString, type Dim, type Dtype, type Shape, type TensorType } from "./types.ts";

export class InferError extends Error {
  override name = "InferError";
}

export function fail(message: string): never {
  throw new InferError(message);
}

export function expectFloat(t: TensorType, what: string): void {
  if (!DTYPES[t.dtype].float) fail(`${what} must be a float tensor, got ${typeToString(t)}`);
}

export function expectDtype(t: TensorType, dtype: Dtype, what: string): void {
  if (t.dtype !== dtype) fail(`${what} must be ${dtype}, got ${typeToString(t)}`);
}

/** Both compute in one dtype: equal dtypes, or a storage-only format (an f16 weight) beside the dtype it is read as (f32). */
export function expectSameDtype(a: TensorType, b: TensorType, what: string): void {
  if (DTYPES[a.dtype].compute !== DTYPES[b.dtype].compute) fail(`${what}: dtypes differ (${typeToString(a)} vs ${typeToString(b)})`);
}

/** The type of a value computed from `t`: its dtype's compute dtype (f16 weights compute in f32), the same shape. */
export function computed(t: TensorType, shape: Shape = t.shape): TensorType {
  return { dtype: DTYPES[t.dtype].compute, shape };
}

export function expectRank(t: TensorType, rank: number, what: string): void {
  if (t.shape.length !== rank) fail(`${what} must have rank ${rank}, got ${typeToString(t)}`);
}

export function expectMinRank(t: TensorType, rank: number, what: string): void {
  if (t.shape.length < rank) fail(`${what} must have rank >= ${rank}, got ${typeToString(t)}`);
}

export function expectDim(actual: Dim | undefined, expected: Dim, what: string): void {
  if (actual !== expected) fail(`${what}: expected ${expected}, got ${actual ?? "nothing"}`);
}

export function expectShape(t: TensorType, shape: Shape, what: string): void {
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    fail(`${what} must have shape ${shapeToString(shape)}, got ${typeToString(t)}`);
  }
}

export function expectInt(n: unknown, min: number, what: string): number {
  if (typeof n !== "number" || !Number.isInteger(n) || n < min) fail(`${what} must be an integer >= ${min}, got ${String(n)}`);
  return n;
}

export function expectPositive(n: unknown, what: string): number {
  if (typeof n !== "number" || !Number.isFinite(n) || !(n > 0)) fail(`${what} must be a finite number > 0, got ${String(n)}`);
  return n;
}

export function expectStaticDim(d: Dim | undefined, what: string): number {
  if (typeof d !== "number") fail(`${what} must be a static dim, got ${d ?? "nothing"}`);
  return d;
}

export function expectValidShape(s: unknown, what: string): Shape {
  if (!Array.isArray(s) || s.some((d) => d !== "L" && (typeof d !== "number" || !Number.isInteger(d) || d < 0))) {
    fail(`${what} must be a list of sizes or "L", got ${JSON.stringify(s)}`);
  }
  return s as Shape;
}

/** numpy broadcasting, right-aligned; `L` only meets `L` or `1`. */
export function broadcastShapes(a: Shape, b: Shape): Shape {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da === db || db === 1) out.push(da);
    else if (da === 1) out.push(db);
    else fail(`shapes ${shapeToString(a)} and ${shapeToString(b)} do not broadcast`);
  }
  return out;
}

/** Axes in attrs are canonical: `0 <= axis < rank` (the builder normalises negative ones). */
export function expectAxis(axis: unknown, rank: number, what: string): number {
  if (typeof axis !== "number" || !Number.isInteger(axis) || axis < 0 || axis >= rank) {
    fail(`${what}: axis ${String(axis)} out of range for rank ${rank}`);
  }
  return axis;
}
