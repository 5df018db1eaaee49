/**
 * The one element-format table. Every size, WGSL type and host array of an element that the
 * compiler and the runtime use comes from a row here: the IR's tensor types, the plan's byte
 * counts, the kernels' bindings and workgroup arrays, the artifact's buffers and the runtime's
 * uploads and readbacks. A row describes storage as `bytes` per block of `block` elements, so a
 * block format (int8 or int4 weights with one scale per block of 32) is one more row; the plain
 * scalar formats have blocks of one element.
 *
 *   dtype  WGSL  bytes/block  host array    float  computes in  packed WGSL
 *   f32    f32   4 / 1        Float32Array  yes    f32          -
 *   f16    f16   2 / 1        Uint16Array   yes    f32          u32 holds 2 (unpack2x16float)
 *   i32    i32   4 / 1        Int32Array    no     i32          -     (token ids)
 *   u32    u32   4 / 1        Uint32Array   no     u32          -     (positions, uniforms)
 *
 * f16 is a storage format: values stored in it (weights) are read as f32 and every op computes
 * in f32 (`compute`). A kernel reads f16 natively (`array<f16>`, `enable f16;`, needs the
 * shader-f16 feature) or, on any device, packed: two halves per u32 (`array<u32>`, or
 * `array<vec2<u32>>` for four at a time, `array<vec4<u32>>` for eight) unpacked by `unpack2x16float`. Either way the buffer
 * holds the same bytes, so the choice is the kernel's, recorded on its binding (`packed`).
 */

export type Dtype = "f32" | "f16" | "i32" | "u32";

/** A typed array that holds a dtype's storage (f16 as its 16-bit patterns). */
export type StorageArray = Float32Array<ArrayBuffer> | Uint16Array<ArrayBuffer> | Int32Array<ArrayBuffer> | Uint32Array<ArrayBuffer>;

export type StorageArrayConstructor = Float32ArrayConstructor | Uint16ArrayConstructor | Int32ArrayConstructor | Uint32ArrayConstructor;

export interface DtypeInfo {
  /** The WGSL scalar type of an array of it. */
  readonly wgsl: string;
  /** Storage: `bytes` bytes hold a block of `block` elements. */
  readonly block: number;
  readonly bytes: number;
  readonly float: boolean;
  /** The host array over its storage (for f16: the 16-bit patterns). */
  readonly array: StorageArrayConstructor;
  /** The device feature a kernel that uses it natively requires; null when none. */
  readonly feature: "shader-f16" | null;
  /** The dtype its values compute in once loaded (f16 is read as f32). */
  readonly compute: Dtype;
  /** How WGSL reads it without the feature: `per` elements in one `wgsl` word, unpacked by `unpack`; null when it needs none. */
  readonly packed: { readonly wgsl: "u32"; readonly per: 2; readonly unpack: "unpack2x16float" } | null;
  /** `values` as this dtype's storage (floats rounded to nearest even, integers truncated). */
  readonly encode: (values: ArrayLike<number>) => StorageArray;
  /** Storage back to numbers (exact for every format here). */
  readonly decode: (bytes: ArrayBuffer, byteOffset?: number, elements?: number) => Float32Array<ArrayBuffer> | Int32Array<ArrayBuffer> | Uint32Array<ArrayBuffer>;
}

export const DTYPES: Readonly<Record<Dtype, DtypeInfo>> = {
  f32: {
    wgsl: "f32",
    compute: "f32",
    packed: null,
    array: Float32Array,
    block: 1,
    bytes: 4,
    float: true,
    feature: null,
    encode: (v) => (v instanceof Float32Array ? (v as Float32Array<ArrayBuffer>) : Float32Array.from(v)),
    decode: (b, o = 0, n) => new Float32Array(b.slice(o, n === undefined ? undefined : o + 4 * n)),
  },
  f16: {
    wgsl: "f16",
    compute: "f32",
    packed: { wgsl: "u32", per: 2, unpack: "unpack2x16float" },
    array: Uint16Array,
    block: 1,
    bytes: 2,
    float: true,
    feature: "shader-f16",
    encode: (v) => Uint16Array.from({ length: v.length }, (_, i) => f32ToF16(v[i]!)),
    decode: (b, o = 0, n) => Float32Array.from(new Uint16Array(b, o, n ?? (b.byteLength - o) / 2), f16ToNumber),
  },
  i32: {
    wgsl: "i32",
    compute: "i32",
    packed: null,
    array: Int32Array,
    block: 1,
    bytes: 4,
    float: false,
    feature: null,
    encode: (v) => (v instanceof Int32Array ? (v as Int32Array<ArrayBuffer>) : Int32Array.from(v)),
    decode: (b, o = 0, n) => new Int32Array(b.slice(o, n === undefined ? undefined : o + 4 * n)),
  },
  u32: {
    wgsl: "u32",
    compute: "u32",
    packed: null,
    array: Uint32Array,
    block: 1,
    bytes: 4,
    float: false,
    feature: null,
    encode: (v) => (v instanceof Uint32Array ? (v as Uint32Array<ArrayBuffer>) : Uint32Array.from(v)),
    decode: (b, o = 0, n) => new Uint32Array(b.slice(o, n === undefined ? undefined : o + 4 * n)),
  },
};

export const DTYPE_NAMES = Object.keys(DTYPES) as readonly Dtype[];

export function isDtype(s: unknown): s is Dtype {
  return typeof s === "string" && Object.hasOwn(DTYPES, s);
}

/** Bytes that hold `elements` elements of `dtype` (whole blocks). */
export function byteSize(dtype: Dtype, elements: number): number {
  const d = DTYPES[dtype];
  return Math.ceil(elements / d.block) * d.bytes;
}

/** Whole elements of `dtype` that fit in `bytes` (whole blocks). */
export function elementsIn(dtype: Dtype, bytes: number): number {
  const d = DTYPES[dtype];
  return Math.floor(bytes / d.bytes) * d.block;
}

/** Elements per array element of a binding: 1 or 4 (`vec4`); 8 only packed (f16: a `vec4<u32>` of 8 halves). */
export type Lanes = 1 | 4 | 8;

/**
 * The WGSL element type of an array of `dtype` read `lanes` at a time: `f32`, `vec4<f32>`; packed
 * (a format with a packed form, read without its feature): the words holding `lanes` elements,
 * at least one word (f16: `u32` holds 2 for lanes 1, `vec2<u32>` holds 4, `vec4<u32>` holds 8).
 */
export function wgslElement(dtype: Dtype, lanes: Lanes, packed = false): string {
  const d = DTYPES[dtype];
  if (packed) {
    if (d.packed === null) throw new RangeError(`${dtype} has no packed form`);
    const words = Math.max(1, lanes / d.packed.per);
    return words === 1 ? d.packed.wgsl : `vec${words}<${d.packed.wgsl}>`;
  }
  if (lanes === 8) throw new RangeError(`${dtype} is read at most 4 at a time unpacked`);
  return lanes === 1 ? d.wgsl : `vec${lanes}<${d.wgsl}>`;
}

/** Elements of `dtype` in one element of its WGSL array read `lanes` at a time (packed: per word, at least `per`). */
export function elementsPerSlot(dtype: Dtype, lanes: Lanes, packed = false): number {
  const d = DTYPES[dtype];
  return packed && d.packed !== null ? Math.max(lanes, d.packed.per) : lanes;
}

// IEEE half and bfloat16 bit conversions (used by the f16 row and by the safetensors reader).

/** Scratch views for bit casts. */
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 -> IEEE half bits. */
export function f32ToF16(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 112; // half exponent field: exp - 127 + 15
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half: value = m * 2^-24 with m = full * 2^(exp - 126).
    const shift = 14 - e;
    if (shift > 24) return sign;
    const full = mant | 0x800000;
    const m = full >>> shift;
    const rem = full & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    return sign | (rem > half || (rem === half && (m & 1) === 1) ? m + 1 : m);
  }
  const h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa bumps the exponent, and past 30 it becomes infinity: both right.
  return sign | (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1) ? h + 1 : h);
}

/** IEEE half bits -> the number (exact). */
export function f16ToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 0x1f) return m === 0 ? sign * Infinity : NaN;
  return sign * (1024 + m) * 2 ** (e - 25);
}

/** float32 -> bfloat16 bits (the upper half, rounded to nearest even). */
export function f32ToBf16(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0) return (b >>> 16) | 0x40;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bf16ToNumber(h: number): number {
  u32[0] = h << 16;
  return f32[0]!;
}

