/**
 * Safetensors dtypes: their byte sizes, and conversion of the float ones to and from float32
 * (little-endian, as the format stores them). F16 and BF16 encode with round-to-nearest-even,
 * overflow to infinity, subnormals kept, NaN kept quiet (sign preserved).
 */

/** Every dtype the format defines (safetensors `Dtype`), with its size in bytes. */
export const DTYPE_BYTES = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
} as const satisfies Record<string, number>;

export type Dtype = keyof typeof DTYPE_BYTES;
/** The dtypes read as float32 values. */
export const READABLE = ["F32", "F16", "BF16", "F64"] as const satisfies readonly Dtype[];
export type ReadableDtype = (typeof READABLE)[number];
/** The dtypes encodeSafetensors writes. */
export type WritableDtype = "F32" | "F16" | "BF16";

export function isDtype(s: string): s is Dtype {
  return Object.hasOwn(DTYPE_BYTES, s);
}

export function isReadable(s: string): s is ReadableDtype {
  return (READABLE as readonly string[]).includes(s);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

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

let f16Table: Float32Array<ArrayBuffer> | undefined;
function f16Values(): Float32Array<ArrayBuffer> {
  if (f16Table === undefined) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16ToNumber(h);
  }
  return f16Table;
}

/** Decode `bytes` (exactly numel * size of dtype) to float32. */
export function decodeFloats(dtype: ReadableDtype, bytes: Uint8Array): Float32Array<ArrayBuffer> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case "F32": {
      if (LITTLE_ENDIAN) return new Float32Array(bytes.slice().buffer);
      const out = new Float32Array(bytes.length / 4);
      for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
      return out;
    }
    case "F16": {
      const table = f16Values();
      const out = new Float32Array(bytes.length / 2);
      for (let i = 0; i < out.length; i++) out[i] = table[bytes[2 * i]! | (bytes[2 * i + 1]! << 8)]!;
      return out;
    }
    case "BF16": {
      const out = new Float32Array(bytes.length / 2);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < out.length; i++) bits[i] = ((bytes[2 * i]! | (bytes[2 * i + 1]! << 8)) << 16) >>> 0;
      return out;
    }
    case "F64": {
      const out = new Float32Array(bytes.length / 8);
      for (let i = 0; i < out.length; i++) out[i] = view.getFloat64(8 * i, true);
      return out;
    }
  }
}

/** Encode float32 values as `dtype`, little-endian. */
export function encodeFloats(dtype: WritableDtype, data: Float32Array): Uint8Array {
  switch (dtype) {
    case "F32": {
      const out = new Uint8Array(4 * data.length);
      if (LITTLE_ENDIAN) out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      else for (let i = 0; i < data.length; i++) new DataView(out.buffer).setFloat32(4 * i, data[i]!, true);
      return out;
    }
    case "F16":
    case "BF16": {
      const enc = dtype === "F16" ? f32ToF16 : f32ToBf16;
      const out = new Uint8Array(2 * data.length);
      for (let i = 0; i < data.length; i++) {
        const h = enc(data[i]!);
        out[2 * i] = h & 0xff;
        out[2 * i + 1] = h >>> 8;
      }
      return out;
    }
  }
}
