/**
 * The safetensors format: the writer's exact bytes, round trips in F32/F16/BF16 (and F64 read),
 * every malformed-header case with its exact message (trailing bytes after the last tensor
 * included: the reference reader rejects them too), and ranged reads (opening reads the
 * length and the header; a tensor read touches only that tensor's bytes).
 */
import { describe, expect, it } from "vitest";
import { bytesSource, encodeSafetensors, openSafetensors, readHeader } from "../../runtime/weights/index.ts";
import { counting, rawFile, u16s, weightError } from "./helpers.ts";

const F = "bad.safetensors";
const open = (bytes: Uint8Array) => openSafetensors(bytesSource(bytes), F);

describe("encodeSafetensors", () => {
  it("writes the length, a space-padded sorted header, then the data in name order", () => {
    const bytes = encodeSafetensors([
      { name: "b", dtype: "F32", shape: [2], data: new Float32Array([1, -2]) },
      { name: "a", dtype: "F16", shape: [1, 1], data: new Float32Array([1]) },
    ]);
    const json = '{"a":{"dtype":"F16","shape":[1,1],"data_offsets":[0,2]},"b":{"dtype":"F32","shape":[2],"data_offsets":[2,10]}}';
    const padded = Math.ceil(json.length / 8) * 8; // 112 -> 112; the test below checks a padded case too
    const view = new DataView(bytes.buffer);
    expect(Number(view.getBigUint64(0, true))).toBe(padded);
    expect(new TextDecoder().decode(bytes.subarray(8, 8 + padded))).toBe(json.padEnd(padded, " "));
    expect([...bytes.subarray(8 + padded)]).toEqual([0x00, 0x3c, 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0]);
  });

  it("pads the header with spaces to a multiple of 8 and keeps __metadata__", async () => {
    const bytes = encodeSafetensors([{ name: "x", dtype: "F32", shape: [], data: new Float32Array([3]) }], { format: "pt" });
    const json = '{"__metadata__":{"format":"pt"},"x":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}';
    expect(json.length % 8).not.toBe(0);
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n).toBe(Math.ceil(json.length / 8) * 8);
    expect(new TextDecoder().decode(bytes.subarray(8, 8 + n))).toBe(json + " ".repeat(n - json.length));
    const c = await open(bytes);
    expect(c.metadata).toEqual({ format: "pt" });
    expect([...(await c.read("x"))]).toEqual([3]);
  });

  it("rejects a tensor whose data does not fill its shape, and duplicate names", async () => {
    expect(await weightError(() => encodeSafetensors([{ name: "w", dtype: "F32", shape: [2, 3], data: new Float32Array(5) }]))).toBe(
      "<encode>: w: shape [2, 3] holds 6 values, data has 5",
    );
    const t = { name: "w", dtype: "F32", shape: [1], data: new Float32Array(1) } as const;
    expect(await weightError(() => encodeSafetensors([t, t]))).toBe("<encode>: w: two tensors have this name");
  });
});

describe("round trips", () => {
  const values = new Float32Array([1, -2, 0.5, 0, -0, 65504, 2 ** -24, 2 ** -14, Infinity, -Infinity, NaN, Math.fround(0.1), Math.fround(1 / 3)]);

  it("F32 is exact, NaN and -0 included", async () => {
    const c = await open(encodeSafetensors([{ name: "t", dtype: "F32", shape: [values.length], data: values }]));
    expect(c.tensors.get("t")).toEqual({ dtype: "F32", shape: [13] });
    const back = await c.read("t");
    expect(new Uint32Array(back.buffer)).toEqual(new Uint32Array(values.buffer));
  });

  it("F16 stores the hand-computed bit patterns and reads back their values", async () => {
    const bytes = encodeSafetensors([{ name: "t", dtype: "F16", shape: [values.length], data: values }]);
    expect(u16s(bytes.subarray(bytes.length - 26))).toEqual([0x3c00, 0xc000, 0x3800, 0x0000, 0x8000, 0x7bff, 0x0001, 0x0400, 0x7c00, 0xfc00, 0x7e00, 0x2e66, 0x3555]);
    const back = [...(await (await open(bytes)).read("t"))];
    expect(back.slice(0, 10)).toEqual([1, -2, 0.5, 0, -0, 65504, 2 ** -24, 2 ** -14, Infinity, -Infinity]);
    expect(back[10]).toBeNaN();
    expect(back[11]).toBe(0.0999755859375); // 0x2E66 = 1.599609375 * 2^-4
    expect(back[12]).toBe(0.333251953125); // 0x3555 = 1.3330078125 * 2^-2
  });

  it("BF16 stores the hand-computed bit patterns and reads back their values", async () => {
    // 65504 = 0x477FE000: the low half 0xE000 is above halfway, so it rounds up to 0x4780 = 65536.
    const bytes = encodeSafetensors([{ name: "t", dtype: "BF16", shape: [values.length], data: values }]);
    expect(u16s(bytes.subarray(bytes.length - 26))).toEqual([0x3f80, 0xc000, 0x3f00, 0x0000, 0x8000, 0x4780, 0x3380, 0x3880, 0x7f80, 0xff80, 0x7fc0, 0x3dcd, 0x3eab]);
    const back = [...(await (await open(bytes)).read("t"))];
    expect(back.slice(0, 10)).toEqual([1, -2, 0.5, 0, -0, 65536, 2 ** -24, 2 ** -14, Infinity, -Infinity]);
    expect(back[10]).toBeNaN();
    expect(back[11]).toBe(0.10009765625); // 0x3DCD = 1.6015625 * 2^-4
    expect(back[12]).toBe(0.333984375); // 0x3EAB = 1.3359375 * 2^-2
  });

  it("reads F64 (rounded to float32) and 2-D shapes row-major", async () => {
    const data = new Uint8Array(6 * 8);
    const dv = new DataView(data.buffer);
    [1, 2, 3, 0.1, -1e300, 1e-50].forEach((x, i) => dv.setFloat64(8 * i, x, true));
    const c = await open(rawFile({ t: { dtype: "F64", shape: [2, 3], data_offsets: [0, 48] } }, data));
    expect([...(await c.read("t"))]).toEqual([1, 2, 3, Math.fround(0.1), -Infinity, 0]);
  });

  it("an empty tensor and a file without tensors", async () => {
    const c = await open(encodeSafetensors([{ name: "e", dtype: "F32", shape: [0, 4], data: new Float32Array(0) }]));
    expect((await c.read("e")).length).toBe(0);
    expect((await open(encodeSafetensors([]))).tensors.size).toBe(0);
  });

  it("reads unaligned data (a header length that is not a multiple of 8)", async () => {
    const data = new Uint8Array(new Float32Array([1.5, -3]).buffer);
    const c = await open(rawFile('{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', data));
    expect([...(await c.read("t"))]).toEqual([1.5, -3]);
  });
});

describe("malformed files", () => {
  const f32 = (shape: number[], offsets: unknown) => ({ dtype: "F32", shape, data_offsets: offsets });
  const cases: [string, Uint8Array, string][] = [
    ["shorter than the length field", new Uint8Array(5), `${F}: truncated: the file is 5 bytes long, and a safetensors file starts with an 8-byte header length`],
    ["absurd header length", rawFile({}, new Uint8Array(0), 2n ** 40n), `${F}: header length 1099511627776 is over the 100000000-byte limit: this is not a safetensors file, or it is corrupt`],
    ["header length beyond the file", rawFile("{}", new Uint8Array(10), 1000n), `${F}: header length 1000 goes beyond the end of the file (20 bytes)`],
    ["malformed JSON", rawFile('{"a": {'), `${F}: the header is not valid JSON (it begins "{\\"a\\": {")`],
    ["not UTF-8", rawFile(String.fromCharCode(0x7b) + "\u0000").map((b, i) => (i === 9 ? 0xff : b)), `${F}: the header is not valid UTF-8`],
    ["an array", rawFile([1, 2]), `${F}: the header is not a JSON object (found an array)`],
    ["a number", rawFile(7), `${F}: the header is not a JSON object (found number)`],
    ["entry not an object", rawFile({ w: [1] }), `${F}: w: the entry is not an object`],
    ["missing data_offsets", rawFile({ w: { dtype: "F32", shape: [1] } }), `${F}: w: missing "data_offsets"`],
    ["missing dtype and shape", rawFile({ w: { data_offsets: [0, 0] } }), `${F}: w: missing "dtype", "shape"`],
    ["unknown dtype", rawFile({ w: { dtype: "Q4_K", shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)), `${F}: w: unknown dtype "Q4_K" (known: BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64)`],
    ["negative dim", rawFile({ w: f32([2, -1], [0, 0]) }), `${F}: w: shape [2,-1] is not a list of non-negative integers`],
    ["fractional dim", rawFile({ w: f32([1.5], [0, 0]) }), `${F}: w: shape [1.5] is not a list of non-negative integers`],
    ["shape not a list", rawFile({ w: f32("3" as never, [0, 12]) }), `${F}: w: shape "3" is not a list of non-negative integers`],
    ["offsets reversed", rawFile({ w: f32([1], [4, 0]) }, new Uint8Array(4)), `${F}: w: data_offsets [4,0] is not a pair [begin, end] of integers with 0 <= begin <= end`],
    ["three offsets", rawFile({ w: f32([1], [0, 4, 8]) }, new Uint8Array(8)), `${F}: w: data_offsets [0,4,8] is not a pair [begin, end] of integers with 0 <= begin <= end`],
    ["byte length != dtype size x numel", rawFile({ w: f32([2, 3], [0, 10]) }, new Uint8Array(10)), `${F}: w: data_offsets [0, 10] hold 10 bytes, but F32 [2, 3] needs 24`],
    ["offsets beyond the data section (truncated)", rawFile({ w: f32([4], [0, 16]) }, new Uint8Array(8)), `${F}: w: data_offsets [0, 16] end beyond the data section (8 bytes): the file is truncated or the header is wrong`],
    ["overlapping tensors", rawFile({ a: f32([4], [0, 16]), b: f32([4], [8, 24]) }, new Uint8Array(24)), `${F}: b: data_offsets [8, 24] overlap those of a [0, 16]`],
    ["a tensor inside another", rawFile({ a: f32([6], [0, 24]), b: f32([1], [8, 12]), c: f32([1], [16, 20]) }, new Uint8Array(24)), `${F}: b: data_offsets [8, 12] overlap those of a [0, 24]\n${F}: c: data_offsets [16, 20] overlap those of a [0, 24]`],
    ["bad __metadata__", rawFile({ __metadata__: { a: 1 } }), `${F}: "__metadata__" must map strings to strings`],
    ["bytes after the last tensor", rawFile({ a: f32([1], [0, 4]), b: f32([2], [4, 12]) }, new Uint8Array(15)), `${F}: 3 trailing bytes after the last tensor's data (the data section is 15 bytes, the tensors end at 12)`],
    ["one byte after a tensor that is not last in the header", rawFile({ b: f32([1], [4, 8]), a: f32([1], [0, 4]) }, new Uint8Array(9)), `${F}: 1 trailing byte after the last tensor's data (the data section is 9 bytes, the tensors end at 8)`],
    ["data but no tensor data", rawFile({ e: f32([0], [0, 0]) }, new Uint8Array(4)), `${F}: 4 trailing bytes after the header, which gives no tensor any data`],
    ["a hole between two tensors", rawFile({ a: f32([1], [0, 4]), b: f32([1], [8, 12]) }, new Uint8Array(12)), `${F}: a hole in the data section: b starts at 8, 4 bytes after the end of a`],
    ["a hole before the first tensor", rawFile({ a: f32([1], [4, 8]) }, new Uint8Array(8)), `${F}: a hole in the data section: a starts at 4, 4 bytes after the start of the data section`],
    [
      "several problems, one line each",
      rawFile({ a: { dtype: "F32" }, b: f32([2], [0, 4]), c: { dtype: "X", shape: [-1], data_offsets: [0, 0] } }, new Uint8Array(4)),
      `${F}: a: missing "shape", "data_offsets"\n${F}: b: data_offsets [0, 4] hold 4 bytes, but F32 [2] needs 8\n${F}: c: unknown dtype "X" (known: BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64)\n${F}: c: shape [-1] is not a list of non-negative integers`,
    ],
  ];
  it.each(cases)("%s", async (_, bytes, message) => {
    expect(await weightError(open(bytes))).toBe(message);
  });

  it("a tensor of an integer dtype opens but reads as an unsupported-dtype error naming it", async () => {
    const c = await open(rawFile({ ids: { dtype: "I64", shape: [2], data_offsets: [0, 16] } }, new Uint8Array(16)));
    expect(c.tensors.get("ids")).toEqual({ dtype: "I64", shape: [2] });
    expect(await weightError(c.read("ids"))).toBe(`${F}: ids: unsupported dtype I64 (weights are read from F32, F16, BF16, F64)`);
    expect(await weightError(c.read("nope"))).toBe(`${F}: nope: no such tensor in the checkpoint`);
  });

  it("a source that ends before its stated size is a truncated file", async () => {
    const full = encodeSafetensors([{ name: "w", dtype: "F32", shape: [4], data: new Float32Array(4) }]);
    const src = counting(full.subarray(0, full.length - 6), full.length);
    const c = await openSafetensors(src, F);
    expect(await weightError(c.read("w"))).toBe(`${F}: truncated: expected 16 bytes at offset ${full.length - 16}, the file ends after 10`);
  });
});

describe("ranged reads", () => {
  it("opening reads the length and the header; a read touches only its tensor's bytes", async () => {
    const big = new Float32Array(1000).map((_, i) => i);
    const bytes = encodeSafetensors([
      { name: "a", dtype: "F32", shape: [1000], data: big },
      { name: "b", dtype: "BF16", shape: [3], data: new Float32Array([1, 2, 3]) },
      { name: "c", dtype: "F16", shape: [10, 100], data: big },
    ]);
    const src = counting(bytes);
    const h = await readHeader(src, F);
    const headerBytes = h.dataStart - 8;
    expect(src.reads).toEqual([[0, 8], [8, headerBytes]]);
    const c = await openSafetensors(src, F);
    src.reads.length = 0;
    expect([...(await c.read("b"))]).toEqual([1, 2, 3]);
    expect(src.reads).toEqual([[h.dataStart + 4000, 6]]);
    expect((await c.read("c"))[999]).toBe(999);
    expect(src.reads[1]).toEqual([h.dataStart + 4006, 2000]);
    expect(src.bytesRead()).toBe(2006);
  });
});
