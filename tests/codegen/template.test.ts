/**
 * The `wgsl` template: every number is typed, floats always look like floats, and generated
 * kernels contain no untyped numeric literal outside attributes.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { generateKernel } from "../../compiler/codegen/index.ts";
import { requestFromGraph } from "../../compiler/codegen/request.ts";
import { f32, i32, lines, u32, wgsl } from "../../compiler/codegen/wgsl/template.ts";
import { convGraph, linearGraph, scanGraph } from "./graphs.ts";
import { ssdGraph } from "./ssd-graphs.ts";

/** A WGSL float literal as we write them: digits with a `.` or an exponent, maybe parenthesized negative. */
const FLOAT = /^(\(-)?(\d+\.\d+|\d+(\.\d+)?e[+-]?\d+)\)?$/;

describe("wgsl template", () => {
  it("writes f32 literals with a decimal point or an exponent", () => {
    expect(String(f32(1))).toBe("1.0");
    expect(String(f32(0))).toBe("0.0");
    expect(String(f32(16))).toBe("16.0");
    expect(String(f32(0.5))).toBe("0.5");
    expect(String(f32(1e-5))).toMatch(/^(0\.00001|1e-5)$/);
    expect(String(f32(1e-7))).toBe("1e-7");
    expect(String(f32(1e21))).toBe("1e+21");
    expect(String(f32(-2))).toBe("(-2.0)");
    expect(String(f32(-0))).toBe("(-0.0)");
    for (const bad of [NaN, Infinity, -Infinity]) expect(() => f32(bad)).toThrow(/not finite/);
  });

  it("round-trips every finite double through its literal", () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (x) => {
        const text = String(f32(x));
        expect(text).toMatch(FLOAT);
        expect(Object.is(Number(text.replace(/[()]/g, "")), x) || (x === 0 && Number(text.replace(/[()]/g, "")) === 0)).toBe(true);
      }),
    );
  });

  it("suffixes integers and checks their range", () => {
    expect(String(u32(0))).toBe("0u");
    expect(String(u32(4294967295))).toBe("4294967295u");
    expect(String(i32(-3))).toBe("(-3i)");
    expect(String(i32(7))).toBe("7i");
    expect(() => u32(-1)).toThrow(/not a u32/);
    expect(() => u32(1.5)).toThrow(/not a u32/);
    expect(() => u32(2 ** 32)).toThrow(/not a u32/);
    expect(() => i32(2 ** 31)).toThrow(/not an i32/);
  });

  it("refuses a bare number, joins fragments and drops false ones", () => {
    expect(() => wgsl`let a = ${3 as never};`).toThrow(/untyped value 3/);
    expect(wgsl`a${["b", u32(1), ["c"]]}d${false}${null}${undefined}e`).toBe("ab1ucde");
    expect(wgsl`x - ${f32(-1)}`).toBe("x - (-1.0)");
    expect(lines(["a", false, "b\nc", ""], 2)).toBe("  a\n  b\n  c");
  });

  it("leaves no untyped number in generated kernels (attributes aside)", () => {
    const graphs = [
      linearGraph({ S: "L", K: 16, outs: [12, 8], prologue: "rmsnorm", bias: true, residual: true }),
      linearGraph({ S: 1, K: 18, outs: [10, 10], prologue: "layernorm", activation: "swiglu" }),
      linearGraph({ S: "L", K: 20, outs: [24], activation: "gelu" }),
      convGraph({ S: "L", C: 32, W: 4, bias: true }),
      convGraph({ S: 1, C: 30, W: 4, bias: false }),
      scanGraph({ S: "L", Di: 36, N: 16, R: 3, innerNorms: true }),
      scanGraph({ S: 1, Di: 8, N: 6, R: 1 }),
      // The prefill walks' defaults: 4 channels or 2 rows per invocation, rows staged in workgroup memory.
      scanGraph({ S: "L", Di: 40, N: 16, R: 48 }),
      ssdGraph({ S: "L", H: 2, P: 64, G: 1, N: 128, epilogue: "gate" }),
    ];
    const BARE = /(?<![\w.]|[eE][+-])\d+(?![\w.])/g;
    expect("let a = b[3] * 2.0 + 1e-5 + c4 + 7u;".match(BARE)).toEqual(["3"]);
    for (const tg of graphs) {
      const code = generateKernel(requestFromGraph(tg.graph, tg.node), { ...limits16 })
        .wgsl.replace(/\/\/.*$/gm, "")
        .replace(/@\w+\([^)]*\)/g, "");
      // A digit run not inside an identifier, not after `.` or an exponent, and not followed by a suffix, `.` or `e`.
      expect(code.match(BARE), code).toBeNull();
    }
  });
});

const limits16 = {
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupStorageSize: 16384,
  maxComputeWorkgroupsPerDimension: 65535,
  maxStorageBuffersPerShaderStage: 16,
  maxStorageBufferBindingSize: 134217728,
};
