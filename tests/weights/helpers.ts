/**
 * Helpers for the weights tests: raw safetensors bytes built by hand (so broken files can be
 * made), a ByteSource that records every read, and catching a WeightError's message.
 */
import { expect } from "vitest";
import { WeightError, type ByteSource } from "../../runtime/weights/index.ts";

/** u64 LE header length | header | data. `header` is an object (JSON-encoded) or raw text. */
export function rawFile(header: unknown, data: Uint8Array = new Uint8Array(0), headerLength?: bigint): Uint8Array {
  const text = new TextEncoder().encode(typeof header === "string" ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

export interface Counting extends ByteSource {
  readonly reads: [number, number][];
  readonly bytesRead: () => number;
}

/** A source over `bytes` that records (offset, length) of each read. */
export function counting(bytes: Uint8Array, size = bytes.length): Counting {
  const reads: [number, number][] = [];
  return {
    size,
    reads,
    bytesRead: () => reads.reduce((n, r) => n + r[1], 0),
    read: async (offset, length) => {
      reads.push([offset, length]);
      return bytes.slice(offset, Math.min(bytes.length, offset + length));
    },
  };
}

/** The message of the WeightError `p` rejects with (fails the test on anything else). */
export async function weightError(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(WeightError);
    return (e as Error).message;
  }
  throw new Error("expected a WeightError, nothing was thrown");
}

/** Little-endian u16 values of `bytes`. */
export function u16s(bytes: Uint8Array): number[] {
  return Array.from({ length: bytes.length / 2 }, (_, i) => bytes[2 * i]! | (bytes[2 * i + 1]! << 8));
}
