/**
 * The safetensors format, both ways.
 *   file   = u64 little-endian N | N bytes of UTF-8 JSON (the header) | data section
 *   header = { name: { dtype, shape, data_offsets: [begin, end] }, ..., "__metadata__"?: {str: str} }
 * Offsets are relative to the data section; data is little-endian, row-major.
 * Reading goes through a ByteSource: the 8-byte length, then the header, then each tensor's
 * bytes only when asked. The header is validated whole before any tensor is read; every problem
 * found is reported (one line each) in one WeightError. As in the reference reader, the tensors'
 * data must cover the data section exactly: a hole between tensors and trailing bytes are errors.
 */
import { fail, shapeText, WeightError, type WeightProblem } from "./errors.ts";
import { DTYPE_BYTES, decodeFloats, encodeFloats, isSafetensorsDtype, isReadable, READABLE, type SafetensorsDtype, type WritableDtype } from "./safetensors-dtypes.ts";
import type { ByteSource } from "./source.ts";

/** A header larger than this is not a real checkpoint (the reference reader uses the same cap). */
export const MAX_HEADER_BYTES = 100_000_000;

export interface TensorInfo {
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** Byte range in the data section, end exclusive. */
  readonly begin: number;
  readonly end: number;
}

export interface SafetensorsHeader {
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  readonly metadata: Readonly<Record<string, string>>;
  /** File offset of the data section: 8 + header length. */
  readonly dataStart: number;
}

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;
const isNatural = (x: unknown): x is number => typeof x === "number" && Number.isSafeInteger(x) && x >= 0;

/** Read `length` bytes at `offset`, or fail naming the file as truncated. */
async function readExact(src: ByteSource, file: string, offset: number, length: number): Promise<Uint8Array> {
  const bytes = await src.read(offset, length);
  if (bytes.length !== length) fail(file, `truncated: expected ${plural(length, "byte")} at offset ${offset}, the file ends after ${bytes.length}`);
  return bytes;
}

/** Read and validate the header (the first two reads of a file). */
export async function readHeader(src: ByteSource, file: string): Promise<SafetensorsHeader> {
  if (src.size < 8) fail(file, `truncated: the file is ${plural(src.size, "byte")} long, and a safetensors file starts with an 8-byte header length`);
  const lenBytes = await readExact(src, file, 0, 8);
  const n = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) fail(file, `header length ${n} is over the ${MAX_HEADER_BYTES}-byte limit: this is not a safetensors file, or it is corrupt`);
  const len = Number(n);
  if (8 + len > src.size) fail(file, `header length ${len} goes beyond the end of the file (${plural(src.size, "byte")})`);
  return parseHeader(await readExact(src, file, 8, len), src.size, file);
}

/** Validate the header bytes of a file of `fileSize` bytes (pure). */
export function parseHeader(bytes: Uint8Array, fileSize: number, file: string): SafetensorsHeader {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return fail(file, "the header is not valid UTF-8");
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return fail(file, `the header is not valid JSON (it begins ${JSON.stringify(text.slice(0, 40))})`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) fail(file, `the header is not a JSON object (found ${Array.isArray(json) ? "an array" : json === null ? "null" : typeof json})`);
  const dataStart = 8 + bytes.length;
  const dataSize = fileSize - dataStart;
  const problems: WeightProblem[] = [];
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(json as Record<string, unknown>)) {
    if (name === "__metadata__") {
      const ok = typeof entry === "object" && entry !== null && !Array.isArray(entry) && Object.values(entry).every((v) => typeof v === "string");
      if (ok) metadata = { ...(entry as Record<string, string>) };
      else problems.push({ file, message: `"__metadata__" must map strings to strings` });
      continue;
    }
    const info = checkEntry(entry, dataSize, (message) => problems.push({ file, tensor: name, message }));
    if (info !== undefined) tensors.set(name, info);
  }
  // Overlaps among the well-formed entries: sort by start, compare neighbours (the furthest end so far).
  const byStart = [...tensors].filter(([, t]) => t.end > t.begin).sort((a, b) => a[1].begin - b[1].begin || a[1].end - b[1].end);
  let last: [string, TensorInfo] | undefined;
  const gaps: string[] = [];
  for (const cur of byStart) {
    if (last !== undefined && cur[1].begin < last[1].end) {
      problems.push({ file, tensor: cur[0], message: `data_offsets [${cur[1].begin}, ${cur[1].end}] overlap those of ${last[0]} [${last[1].begin}, ${last[1].end}]` });
    }
    // The reference reader also requires the data to be indexed without holes.
    const from = last?.[1].end ?? 0;
    if (cur[1].begin > from) gaps.push(`${cur[0]} starts at ${cur[1].begin}, ${plural(cur[1].begin - from, "byte")} after ${last === undefined ? "the start of the data section" : `the end of ${last[0]}`}`);
    if (last === undefined || cur[1].end > last[1].end) last = cur;
  }
  if (problems.length === 0) for (const g of gaps) problems.push({ file, message: `a hole in the data section: ${g}` });
  // The data section ends where the last tensor's data ends (the reference reader requires the
  // offsets to cover it exactly): bytes after it are a corrupt or mis-written file, not padding.
  // Checked only when every entry is well formed, so a rejected entry cannot fake a gap.
  const end = last?.[1].end ?? 0;
  if (problems.length === 0 && end < dataSize) {
    const after = last === undefined ? "the header, which gives no tensor any data" : `the last tensor's data (the data section is ${plural(dataSize, "byte")}, the tensors end at ${end})`;
    problems.push({ file, message: `${plural(dataSize - end, "trailing byte")} after ${after}` });
  }
  if (problems.length > 0) throw new WeightError(problems);
  return { tensors, metadata, dataStart };
}

function checkEntry(entry: unknown, dataSize: number, report: (message: string) => void): TensorInfo | undefined {
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
    report(`the entry is not an object`);
    return undefined;
  }
  const e = entry as Record<string, unknown>;
  const missing = ["dtype", "shape", "data_offsets"].filter((k) => !(k in e));
  if (missing.length > 0) {
    report(`missing ${missing.map((k) => `"${k}"`).join(", ")}`);
    return undefined;
  }
  const { dtype, shape, data_offsets: offsets } = e;
  let ok = true;
  if (typeof dtype !== "string" || !isSafetensorsDtype(dtype)) {
    report(`unknown dtype ${JSON.stringify(dtype)} (known: ${Object.keys(DTYPE_BYTES).join(", ")})`);
    ok = false;
  }
  if (!Array.isArray(shape) || !shape.every(isNatural)) {
    report(`shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    ok = false;
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNatural) || offsets[0]! > offsets[1]!) {
    report(`data_offsets ${JSON.stringify(offsets)} is not a pair [begin, end] of integers with 0 <= begin <= end`);
    ok = false;
  }
  if (!ok) return undefined;
  const t: TensorInfo = { dtype: dtype as SafetensorsDtype, shape: shape as number[], begin: (offsets as number[])[0]!, end: (offsets as number[])[1]! };
  const need = (t.shape as number[]).reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
  if (need !== t.end - t.begin) {
    report(`data_offsets [${t.begin}, ${t.end}] hold ${plural(t.end - t.begin, "byte")}, but ${t.dtype} ${shapeText(t.shape)} needs ${need}`);
    return undefined;
  }
  if (t.end > dataSize) {
    report(`data_offsets [${t.begin}, ${t.end}] end beyond the data section (${plural(dataSize, "byte")}): the file is truncated or the header is wrong`);
    return undefined;
  }
  return t;
}

/** Read one tensor's bytes (and only those) and convert them to float32. */
export async function readTensor(src: ByteSource, header: SafetensorsHeader, name: string, file: string): Promise<Float32Array<ArrayBuffer>> {
  const t = header.tensors.get(name);
  if (t === undefined) return fail(file, "no such tensor in this file", name);
  if (!isReadable(t.dtype)) return fail(file, unsupportedDtype(t.dtype), name);
  return decodeFloats(t.dtype, await readExact(src, file, header.dataStart + t.begin, t.end - t.begin));
}

export function unsupportedDtype(dtype: string): string {
  return `unsupported dtype ${dtype} (weights are read from ${READABLE.join(", ")})`;
}

export interface TensorToWrite {
  readonly name: string;
  readonly dtype: WritableDtype;
  readonly shape: readonly number[];
  /** Row-major values; length = product of shape. */
  readonly data: Float32Array;
}

/**
 * A whole safetensors file: tensors sorted by name, stored in that order; the header padded
 * with spaces to a multiple of 8 bytes (as the reference writer does), so data stays aligned.
 */
export function encodeSafetensors(tensors: readonly TensorToWrite[], metadata?: Readonly<Record<string, string>>): Uint8Array {
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) header["__metadata__"] = { ...metadata };
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const t of sorted) {
    if (t.name === "__metadata__") fail("<encode>", `"__metadata__" is reserved and cannot name a tensor`);
    if (Object.hasOwn(header, t.name)) fail("<encode>", "two tensors have this name", t.name);
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (!t.shape.every(isNatural) || numel !== t.data.length) fail("<encode>", `shape ${shapeText(t.shape)} holds ${numel} values, data has ${t.data.length}`, t.name);
    const bytes = encodeFloats(t.dtype, t.data);
    header[t.name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes.length] };
    blobs.push(bytes);
    offset += bytes.length;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const b of blobs) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}
