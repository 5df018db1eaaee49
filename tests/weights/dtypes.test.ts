/**
 * F16 / BF16 conversions against hand-computed bit patterns: exact values, round-to-nearest-even
 * at the halfway points, overflow to infinity, subnormals, signed zero, infinities and NaN.
 */
import { describe, expect, it } from "vitest";
import { bf16ToNumber, f16ToNumber, f32ToBf16, f32ToF16 } from "../../runtime/artifact/dtypes.ts";

const fromBits = (b: number) => new Float32Array(new Uint32Array([b]).buffer)[0]!;

describe("F16", () => {
  it.each<[string, number, number]>([
    ["1", 1, 0x3c00],
    ["-2", -2, 0xc000],
    ["0.5", 0.5, 0x3800],
    ["+0", 0, 0x0000],
    ["-0", -0, 0x8000],
    ["max finite 65504", 65504, 0x7bff],
    ["65519 rounds down to 65504", 65519, 0x7bff],
    ["65520 (halfway to 2^16) rounds to infinity", 65520, 0x7c00],
    ["1e6 overflows", 1e6, 0x7c00],
    ["smallest normal 2^-14", 2 ** -14, 0x0400],
    ["smallest subnormal 2^-24", 2 ** -24, 0x0001],
    ["largest subnormal 1023 * 2^-24", 1023 * 2 ** -24, 0x03ff],
    ["2^-25 (halfway to 0 and 2^-24) rounds to even 0", 2 ** -25, 0x0000],
    ["1.5 * 2^-25 rounds up to 2^-24", 1.5 * 2 ** -25, 0x0001],
    ["3 * 2^-25 (halfway, odd below) rounds to 2 * 2^-24", 3 * 2 ** -25, 0x0002],
    ["2^-26 underflows to 0", 2 ** -26, 0x0000],
    ["1 + 2^-11 (halfway, even below) stays 1", 1 + 2 ** -11, 0x3c00],
    ["1 + 3 * 2^-11 (halfway, odd below) rounds up", 1 + 3 * 2 ** -11, 0x3c02],
    ["1 + 2^-11 + 2^-20 (above halfway) rounds up", 1 + 2 ** -11 + 2 ** -20, 0x3c01],
    ["0.1", Math.fround(0.1), 0x2e66],
    ["1/3", Math.fround(1 / 3), 0x3555],
    ["+inf", Infinity, 0x7c00],
    ["-inf", -Infinity, 0xfc00],
    ["largest subnormal + carry into the exponent", (1023.5 + 0.25) * 2 ** -24, 0x0400],
  ])("%s", (_, x, bits) => {
    expect(f32ToF16(x)).toBe(bits);
  });

  it("NaN stays NaN (quiet), with its sign", () => {
    expect(f32ToF16(NaN) & 0x7e00).toBe(0x7e00);
    expect(f32ToF16(fromBits(0xffc00000))).toBe(0xfe00);
    expect(f16ToNumber(f32ToF16(NaN))).toBeNaN();
  });

  it("decodes every class of value exactly", () => {
    expect(f16ToNumber(0x3c00)).toBe(1);
    expect(f16ToNumber(0x0001)).toBe(5.960464477539063e-8);
    expect(f16ToNumber(0x03ff)).toBe(6.097555160522461e-5);
    expect(f16ToNumber(0x7bff)).toBe(65504);
    expect(f16ToNumber(0x7c00)).toBe(Infinity);
    expect(f16ToNumber(0xfc00)).toBe(-Infinity);
    expect(Object.is(f16ToNumber(0x8000), -0)).toBe(true);
    expect(f16ToNumber(0x7c01)).toBeNaN();
  });

  it("every finite half survives half -> float -> half", () => {
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00) continue;
      if (f32ToF16(f16ToNumber(h)) !== h) throw new Error(`0x${h.toString(16)} does not round-trip`);
    }
  });
});

describe("BF16", () => {
  it.each<[string, number, number]>([
    ["1", 1, 0x3f80],
    ["-2", -2, 0xc000],
    ["-0", -0, 0x8000],
    ["0.1 (0x3DCCCCCD, low half above halfway)", Math.fround(0.1), 0x3dcd],
    ["1/3 (0x3EAAAAAB)", Math.fround(1 / 3), 0x3eab],
    ["0x3F808000: halfway, even below, stays", fromBits(0x3f808000), 0x3f80],
    ["0x3F818000: halfway, odd below, rounds up", fromBits(0x3f818000), 0x3f82],
    ["0x3F807FFF: below halfway", fromBits(0x3f807fff), 0x3f80],
    ["max f32 rounds to infinity", fromBits(0x7f7fffff), 0x7f80],
    ["subnormal 0x00010000", fromBits(0x00010000), 0x0001],
    ["+inf", Infinity, 0x7f80],
    ["-inf", -Infinity, 0xff80],
  ])("%s", (_, x, bits) => {
    expect(f32ToBf16(x)).toBe(bits);
  });

  it("NaN stays a quiet NaN; decoding is the upper half of a float32", () => {
    expect(f32ToBf16(NaN)).toBe(0x7fc0);
    expect(f32ToBf16(fromBits(0x7f800001))).toBe(0x7fc0);
    expect(bf16ToNumber(0x7fc0)).toBeNaN();
    expect(bf16ToNumber(0x3f80)).toBe(1);
    expect(bf16ToNumber(0x3dcd)).toBe(fromBits(0x3dcd0000));
    expect(bf16ToNumber(0x0001)).toBe(fromBits(0x00010000));
  });
});
