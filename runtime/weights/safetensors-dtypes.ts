/**
 * Safetensors dtypes: their byte sizes, and conversion of the float ones to and from float32
 * (little-endian, as the format stores them). F16 and BF16 encode with round-to-nearest-even,
 * overflow to infinity, subnormals kept, NaN kept quiet (sign preserved). These are the file
 * format's dtypes (upper case, as the header spells them); what the GPU holds is described by the
 * element-format table, runtime/artifact/dtypes.ts, which also has the bit conversions.
 */
import { bf16ToNumber, f16ToNumber, f32ToBf16, f32ToF16 } from "../artifact/dtypes.ts";

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

export type SafetensorsDtype = keyof typeof DTYPE_BYTES;
/** The dtypes read as float32 values. */
export const READABLE = ["F32", "F16", "BF16", "F64"] as const satisfies readonly SafetensorsDtype[];
export type ReadableDtype = (typeof READABLE)[number];
/** The dtypes encodeSafetensors writes. */
export type WritableDtype = "F32" | "F16" | "BF16";

export function isSafetensorsDtype(s: string): s is SafetensorsDtype {
  return Object.hasOwn(DTYPE_BYTES, s);
}

export function isReadable(s: string): s is ReadableDtype {
  return (READABLE as readonly string[]).includes(s);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

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
      const out = new Float32Array(bytes.length / DTYPE_BYTES.F32);
      for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(DTYPE_BYTES.F32 * i, true);
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
      const out = new Uint8Array(DTYPE_BYTES.F32 * data.length);
      if (LITTLE_ENDIAN) out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      else for (let i = 0; i < data.length; i++) new DataView(out.buffer).setFloat32(DTYPE_BYTES.F32 * i, data[i]!, true);
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
