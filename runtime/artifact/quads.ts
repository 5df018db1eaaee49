/**
 * Row quads: the layout of a linear weight W [N, K] that the decode GEMVs of a CPU adapter read
 * fastest. Rows 4q .. 4q + 3 are interleaved in 16-byte units (U elements: 4 f32, 8 f16): unit u
 * of the four rows is stored as one run of 4U elements, row after row, so an invocation that owns
 * the four output columns of a quad walks K through ONE contiguous run of memory instead of four
 * runs K elements apart. Element [n, k] is at
 *
 *   ((n / 4) * (K / U) + k / U) * 4U + (n % 4) * U + k % U        (integer division)
 *
 * It needs 4 | N and U | K. The compiler chooses it per tensor (plan/quads.ts quadWeights) and
 * records it in the artifact (`quads` on the tensor); the runtime permutes the tensor into it once,
 * on upload (memory.ts). Why: lavapipe runs a load whose address differs across a SIMD group's
 * lanes as one scalar load per lane, so each lane's four loads of a step are its own; over quads
 * they are 64 neighbouring bytes (one cache line) instead of four lines K elements apart. A bare
 * 4-column GEMV ran at 0.82-1.00x the streaming-read kernel over quads against 0.79-0.90x
 * row-major (bench-local, 3 December, 226 MB of W rotated past the L3), whole decodes 0.94-1.15x
 * the row-major ones (README, Benchmark).
 * A GPU wants the rows whole (a warp's lanes read adjacent words of one row), so a build for one
 * keeps them row-major.
 */
import { byteSize, type Dtype } from "./dtypes.ts";

/** Rows in a quad. */
export const QUAD_ROWS = 4;
/** Bytes of one row's run in a quad's unit. */
export const QUAD_UNIT_BYTES = 16;

/** U: the elements of `dtype` in one 16-byte unit (4 f32, 8 f16). */
export function quadUnit(dtype: Dtype): number {
  return QUAD_UNIT_BYTES / byteSize(dtype, 1);
}

/** Whether a [N, K] tensor of `dtype` can be stored in quads: 4 | N and U | K. */
export function quadsFit(shape: readonly number[], dtype: Dtype): boolean {
  return shape.length === 2 && shape[0]! % QUAD_ROWS === 0 && shape[1]! % quadUnit(dtype) === 0;
}

/** The position in quads of element [n, k] of a [N, K] tensor with unit U. */
export function quadIndex(n: number, k: number, K: number, U: number): number {
  return (Math.floor(n / QUAD_ROWS) * (K / U) + Math.floor(k / U)) * QUAD_ROWS * U + (n % QUAD_ROWS) * U + (k % U);
}

/** A typed array (its constructor makes the result). */
type Elements = { readonly length: number; [i: number]: number };

/** A row-major [N, K] tensor (K = values.length / N) laid out in quads of unit U: a new array of the same kind. */
export function toQuads<T extends Elements>(values: T, N: number, U: number): T {
  const K = values.length / N;
  if (!Number.isInteger(K) || N % QUAD_ROWS !== 0 || K % U !== 0) throw new RangeError(`a [${N}, ${K}] tensor cannot be stored in quads of ${U} elements`);
  const out = new (values.constructor as new (n: number) => T)(values.length);
  for (let q = 0; q < N; q += QUAD_ROWS) {
    const quad = q * K;
    for (let r = 0; r < QUAD_ROWS; r++) {
      const row = (q + r) * K;
      for (let u = 0; u < K; u += U) {
        const to = quad + u * QUAD_ROWS + r * U;
        for (let j = 0; j < U; j++) out[to + j] = values[row + u + j]!;
      }
    }
  }
  return out;
}
