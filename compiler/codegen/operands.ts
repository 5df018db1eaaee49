/**
 * From a kernel's operands to its bindings and to the WGSL expressions that index them.
 *
 * Operands that are views of one buffer share one binding (it keeps kernels under the 8
 * storage buffers WebGPU guarantees; a layer's weights are one buffer, plan/weights.ts). A weight
 * over maxStorageBufferBindingSize is bound as several row windows of its buffer, read through
 * a helper that picks the window by element index (rows never straddle windows). A binding the
 * kernel writes holds vec4<f32> only when every use of it reads or writes whole, aligned vec4s
 * (`vec4Aligned`); otherwise f32. So no scalar is ever written into a vec4 binding, which some
 * backends would turn into a racy read-modify-write. A binding it only reads is vec4 when any use
 * is (the others read single components).
 *
 * A packed f16 weight (two halves per u32) is bound as `vec2<u32>` words for vec4 reads, or as
 * `vec4<u32>` words of 8 halves when a use reads it 8 at a time (`vec8`: the decode GEMV, whose
 * loads then carry twice the weights; lavapipe runs a kernel's loads one by one, bytes or not).
 *
 * Index arguments are WGSL u32 expressions, one per axis of the operand; offsets and strides
 * are constants baked into the expression. For `load4`/`store4` the last index counts vec4s,
 * for `load8` octets.
 */
import { DTYPES, type Lanes } from "../../runtime/artifact/dtypes.ts";
import { QUAD_ROWS, quadUnit } from "../../runtime/artifact/quads.ts";
import { invariant } from "../diag/diagnostic.ts";
import { UNPACK_HALVES4, UNPACK_QUAD8, type BindingSpec, type UniformSpec } from "./kernel.ts";
import type { OperandView } from "./request.ts";
import { u32, wgsl } from "./wgsl/template.ts";

export interface OperandUse {
  /** The operand's name in the kernel (`x`, `W`, `dt`, ...): a WGSL identifier. */
  readonly name: string;
  readonly view: OperandView;
  readonly write: boolean;
  /** Whether the kernel accesses it as vec4 along the last axis (must be vec4Aligned). */
  readonly vec4: boolean;
  /** Whether the kernel also reads it 8 elements at a time (`load8`): a packed f16 weight, octAligned, with `vec4`. */
  readonly vec8?: boolean;
}

export interface Accessor {
  readonly binding: string;
  readonly view: OperandView;
  /** u32 expression: the element index of [ix...] in the buffer. */
  index(...ix: string[]): string;
  /** f32 expression. */
  load(...ix: string[]): string;
  /** vec4<f32> expression: elements [4 * last, 4 * last + 4) of the row; `last` counts vec4s. */
  load4(...ix: string[]): string;
  /**
   * vec4<u32> expression: the packed words of elements [8 * last, 8 * last + 8) of a packed f16
   * row (`last` counts octets; unpack `.xy` and `.zw` with unpack_halves4). Only for a use marked `vec8`.
   */
  load8(...ix: string[]): string;
  /** A statement storing an f32. */
  store(value: string, ...ix: string[]): string;
  /** A statement storing a vec4<f32> at vec4 index `last`. */
  store4(value: string, ...ix: string[]): string;
}

/** Whether the view can be read as whole groups of `n`: n | offset, n | its last dim, n | every other stride. */
function alignedTo(v: OperandView, n: number): boolean {
  const last = v.shape.length - 1;
  const size = v.shape[last];
  if (typeof size !== "number" || size % n !== 0 || v.strides[last] !== 1 || v.offset % n !== 0) return false;
  return v.shape.every((d, i) => i === last || d === 1 || v.strides[i]! % n === 0);
}

/** Whether the view can be read as whole vec4s: 4 | offset, 4 | its last dim, 4 | every other stride. */
export function vec4Aligned(v: OperandView): boolean {
  return alignedTo(v, 4);
}

/** Whether the view can be read 8 elements at a time (`load8`): a packed f16 buffer, 8 | offset, last dim and other strides. */
export function octAligned(v: OperandView): boolean {
  return v.buffer.packed === true && DTYPES[v.buffer.dtype].packed !== null && alignedTo(v, 8);
}

/** vec4 components by swizzle, so generated code has no untyped integer literals. */
export const LANES = ["x", "y", "z", "w"] as const;

const isZero = (e: string): boolean => e === "0u";

/** `offset + sum ix_d * stride_d` over axes that can be nonzero, stride scaled by 1/`unit`. */
function affine(v: OperandView, ix: readonly string[], unit: Lanes): string {
  invariant(ix.length === v.shape.length, `operand of rank ${v.shape.length} indexed with ${ix.length} indices`);
  if (v.quads) return quadAffine(v, ix, unit);
  const last = ix.length - 1;
  invariant(v.offset % unit === 0, `offset ${v.offset} is not a multiple of ${unit}`);
  const terms: string[] = [];
  if (v.offset !== 0) terms.push(wgsl`${u32(v.offset / unit)}`);
  ix.forEach((e, d) => {
    if (v.shape[d] === 1 || isZero(e)) return;
    // In vec4 (octet) units the last index already counts vec4s (octets): its stride is 1.
    const stride = d === last && unit > 1 ? 1 : v.strides[d]! / unit;
    invariant(Number.isInteger(stride), `stride ${v.strides[d]} is not a multiple of ${unit}`);
    if (stride !== 0) terms.push(stride === 1 ? `(${e})` : wgsl`(${e}) * ${u32(stride)}`);
  });
  return terms.length === 0 ? "0u" : terms.join(" + ");
}

/**
 * Element [n, k] of a weight in row quads (runtime/artifact/quads.ts), in units of `unit` elements
 * (`k` counts units too): with U the elements of a quad's 16-byte unit and r = U / unit units in it,
 * offset / unit + ((n / 4) * (K / U) + k / r) * 4r + (n % 4) * r + k % r. The terms of n do not
 * change along a K walk, so a loop over k hoists them: the walk is one contiguous run.
 */
function quadAffine(v: OperandView, ix: readonly string[], unit: Lanes): string {
  const [N, K] = v.shape;
  // plan/quads.ts only puts weights in quads whose every reader takes the whole tensor.
  const whole = v.shape.length === 2 && typeof N === "number" && typeof K === "number" && v.strides[0] === K && v.strides[1] === 1 && v.offset === v.baseOffset;
  invariant(whole, "a weight in quads is read as a whole [N, K] matrix");
  const U = quadUnit(v.buffer.dtype);
  const r = U / unit;
  invariant(Number.isInteger(r) && v.offset % unit === 0, `quads of ${U} elements read ${unit} at a time`);
  const [n, k] = ix as [string, string];
  const q = QUAD_ROWS;
  const unitOf = r === 1 ? `(${k})` : wgsl`(${k}) / ${u32(r)}`;
  const terms = [
    ...(v.offset === 0 ? [] : [wgsl`${u32(v.offset / unit)}`]),
    wgsl`((${n}) / ${u32(q)} * ${u32(K / U)} + ${unitOf}) * ${u32(q * r)}`,
    wgsl`(${n}) % ${u32(q)}${r === 1 ? "" : wgsl` * ${u32(r)}`}`,
    ...(r === 1 ? [] : [wgsl`(${k}) % ${u32(r)}`]),
  ];
  return terms.join(" + ");
}

/**
 * The accessor of `view` in binding `binding` (array<vec4<f32>> when `lanes` is 4). A windowed binding
 * (a weight over the binding limit) is read through its module helper `${binding}_at(i)`, which
 * picks the window holding element i (kernel.ts windowHelpers); it is never written.
 *
 * An f16 buffer (a weight stored in half precision) reads as f32 all the same: natively
 * (`f32(W[i])`, `vec4<f32>(W[j])`) or packed, two halves per u32 (`unpack2x16float(W[i / 2u])[i % 2u]`;
 * a vec4 read unpacks the two words of a `vec2<u32>`, loaded once, through kernel.ts UNPACK_HALVES4,
 * or half of a `vec4<u32>` (lanes 8) through UNPACK_QUAD8). It is never written (weights are read-only).
 */
function accessor(binding: string, lanes: Lanes, view: OperandView, windowed: boolean): Accessor {
  const vec4 = lanes > 1;
  const index = (...ix: string[]): string => affine(view, ix, 1);
  // Array element (word) `w` of the binding, in units of its declared element type.
  const word = (w: string): string => (windowed ? `${binding}_at(${w})` : `${binding}[${w}]`);
  // A storage-only format (f16) converts to the dtype it computes in (f32) as it is read.
  const format = DTYPES[view.buffer.dtype];
  const half = format.compute !== view.buffer.dtype;
  const packed = format.packed !== null && view.buffer.packed === true ? format.packed : null;
  invariant(!half || view.buffer.role === "weight", `${view.buffer.dtype} buffer ${view.buffer.key} is not a weight`);
  // Element i as an f32 expression.
  const scalar = (i: string): string => {
    if (packed) {
      const w = vec4 ? `${word(`(${i}) / ${lanes}u`)}[((${i}) / 2u) % ${lanes / 2}u]` : word(`(${i}) / 2u`);
      return `${packed.unpack}(${w})[(${i}) % 2u]`;
    }
    const e = vec4 ? `${word(`(${i}) / 4u`)}[(${i}) % 4u]` : word(i);
    return half ? `${format.compute}(${e})` : e;
  };
  // Elements [4j, 4j + 4) of a vec4 binding as a vec4<f32> expression.
  const quad = (j: string): string => {
    if (packed) return lanes === 8 ? `${UNPACK_QUAD8}(${word(`(${j}) / 2u`)}, (${j}) % 2u)` : `${UNPACK_HALVES4}(${word(j)})`;
    return half ? `vec4<${format.compute}>(${word(j)})` : word(j);
  };
  const at = (...ix: string[]): string => {
    const last = ix.length - 1;
    invariant(view.shape[last] === 1 || view.strides[last] === 1, "vec4 access along a strided axis");
    return affine(view, [...ix.slice(0, last), isZero(ix[last]!) ? "0u" : `(${ix[last]}) * 4u`], 1);
  };
  const load = (...ix: string[]): string => scalar(index(...ix));
  const plus = (i: string, k: number): string => `${i}${k === 0 ? "" : ` + ${k}u`}`;
  return {
    binding,
    view,
    index,
    load,
    load4: (...ix) => {
      if (vec4 && vec4Aligned(view)) return quad(affine(view, ix, 4));
      const i = at(...ix);
      // A scalar use sharing a read-only vec4 binding, or a half read: four element loads.
      if (vec4 || half) return `vec4<f32>(${[0, 1, 2, 3].map((k) => scalar(plus(i, k))).join(", ")})`;
      return `vec4<f32>(${word(i)}, ${word(`${i} + 1u`)}, ${word(`${i} + 2u`)}, ${word(`${i} + 3u`)})`;
    },
    load8: (...ix) => {
      invariant(lanes === 8 && octAligned(view), `operand of ${binding} is not read 8 at a time`);
      return word(affine(view, ix, 8));
    },
    store: (value, ...ix) => {
      invariant(!vec4 && !windowed && !half, `scalar store into vec4, windowed or f16 binding ${binding}`);
      return `${binding}[${index(...ix)}] = ${value};`;
    },
    store4: (value, ...ix) => {
      invariant(!windowed && !half, `store into windowed or f16 binding ${binding}`);
      if (vec4) return `${binding}[${affine(view, ix, 4)}] = ${value};`;
      const i = at(...ix);
      return LANES.map((lane, k) => `${binding}[${i}${k === 0 ? "" : ` + ${k}u`}] = (${value}).${lane};`).join("\n");
    },
  };
}

export interface BoundOperands {
  readonly bindings: readonly BindingSpec[];
  /** The accessor of each operand, by name. */
  readonly get: (name: string) => Accessor;
}

/** Bindings in order of first use (then the uniform `params` last, when there are fields). */
export function bindOperands(uses: readonly OperandUse[], uniforms: UniformSpec): BoundOperands {
  const groups = new Map<string, OperandUse[]>();
  for (const u of uses) {
    invariant(!u.vec4 || vec4Aligned(u.view), `operand ${u.name} used as vec4 but not aligned`);
    const g = groups.get(u.view.buffer.key);
    if (g) g.push(u);
    else groups.set(u.view.buffer.key, [u]);
  }
  const bindings: BindingSpec[] = [];
  const byName = new Map<string, Accessor>();
  for (const g of groups.values()) {
    const buffer = g[0]!.view.buffer;
    const name = [...new Set(g.map((u) => u.name))].join("_");
    const write = g.some((u) => u.write);
    // Scalar reads from a vec4 array are fine (only scalar writes are not), so a buffer the kernel
    // only reads stays vec4 when any use is: a layer's weights (a vec4 matrix next to a scalar
    // bias), or an activation holding several views (in_proj's z | xBC | dt, whose B and C lanes
    // then load as vec4s). Buffers are whole 16-byte units (runtime bufferBytes), so the last
    // partial vec4 of a buffer is in it.
    const vec4 = g.every((u) => u.vec4) || (!write && g.some((u) => u.vec4));
    // Packed words of 8 halves when a use reads octets (its vec4 uses then unpack half a word).
    const oct = g.some((u) => u.vec8 === true);
    invariant(!oct || (vec4 && !write && g.every((u) => u.vec8 !== true || octAligned(u.view))), `operand of ${buffer.key} read 8 at a time is not a packed, octet-aligned read`);
    const lanes: Lanes = oct ? 8 : vec4 ? 4 : 1;
    const base = {
      group: 0,
      name,
      access: write ? "read_write" : "read",
      dtype: buffer.dtype,
      lanes,
      ...(buffer.packed ? { packed: true as const } : {}),
      role: buffer.role,
      buffer: buffer.key,
      elements: buffer.elements,
    } as const;
    const windows = buffer.windows ?? [];
    invariant(windows.length === 0 || !write, `windowed buffer ${buffer.key} is written`);
    invariant(lanes !== 8 || windows.every((w) => w.offset % 8 === 0 && w.elements % 8 === 0), `windows of ${buffer.key} are not whole octets`);
    if (windows.length <= 1) bindings.push({ ...base, binding: bindings.length, ...(windows.length === 1 ? { window: { ...windows[0]!, of: name } } : {}) });
    else windows.forEach((w, k) => bindings.push({ ...base, binding: bindings.length, name: `${name}_w${k}`, window: { ...w, of: name } }));
    for (const u of g) {
      invariant(!byName.has(u.name) || byName.get(u.name)!.binding === name, `operand name ${u.name} used for two buffers`);
      byName.set(u.name, accessor(name, lanes, u.view, windows.length > 1));
    }
  }
  if (uniforms.fields.length > 0) bindings.push({ group: 0, binding: bindings.length, name: "params", access: "uniform", role: "uniform" });
  return {
    bindings,
    get: (name) => {
      const a = byName.get(name);
      invariant(a !== undefined, `no operand ${name}`);
      return a;
    },
  };
}
