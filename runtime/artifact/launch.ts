/**
 * The arithmetic of launching an artifact's kernels: buffer sizes at a length, workgroup counts
 * and grids, uniform contents. Pure functions of the artifact's data; runtime/device.ts applies
 * them to a GPUDevice and the compiler uses the same ones to check what it generates.
 */
import { byteSize, DTYPES } from "./dtypes.ts";
import type { Dispatch, Extent, StorageBindingSpec, UniformField, UniformSpec } from "./types.ts";

/** WebGPU buffer sizes and copies go in whole 16-byte units here (a vec4 of 32-bit values). */
export const BUFFER_ALIGN = 16;

export function extentAt(e: Extent, L: number): number {
  return e.perL * L + e.fixed;
}

/** `bytes` rounded up to whole 16-byte units, never 0. */
export function bufferBytes(bytes: number): number {
  return Math.max(BUFFER_ALIGN, Math.ceil(bytes / BUFFER_ALIGN) * BUFFER_ALIGN);
}

/** Bytes the buffer bound as `b` needs at length L (the whole buffer, also for a window). */
export function bindingBytes(b: Pick<StorageBindingSpec, "dtype" | "elements">, L: number): number {
  return bufferBytes(byteSize(b.dtype, extentAt(b.elements, L)));
}

/** Bytes of a binding's window (the part of the buffer it binds). */
export function windowBytes(b: StorageBindingSpec & { readonly window: NonNullable<StorageBindingSpec["window"]> }): { readonly offset: number; readonly size: number } {
  return { offset: byteSize(b.dtype, b.window.offset), size: byteSize(b.dtype, b.window.elements) };
}

export function workgroupCount(d: Dispatch, L: number): number {
  return (d.lTile === null ? 1 : Math.ceil(L / d.lTile)) * d.times;
}

/** The grid for `count` workgroups: (count, 1, 1) when it fits, else (max, ceil(count / max), 1). */
export function foldGrid(count: number, maxPerDimension: number): [number, number, number] {
  if (count <= maxPerDimension) return [count, 1, 1];
  const y = Math.ceil(count / maxPerDimension);
  if (y > maxPerDimension) throw new RangeError(`${count} workgroups exceed ${maxPerDimension}^2`);
  return [maxPerDimension, y, 1];
}

/** Bytes of the uniform buffer: one u32 per field, padded to 16. */
export function uniformBytes(u: UniformSpec): number {
  return bufferBytes(byteSize("u32", u.fields.length));
}

/** The uniform buffer's contents for one call. */
export function uniformData(u: UniformSpec, values: Readonly<Record<UniformField, number>>): ArrayBuffer {
  const buf = new ArrayBuffer(uniformBytes(u));
  const view = new DTYPES.u32.array(buf);
  u.fields.forEach((f, i) => (view[i] = values[f]));
  return buf;
}
