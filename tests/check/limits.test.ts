/**
 * Sizes no WebGPU device can hold (HYB2007, compiler/check/limits.ts): refused by the checker at
 * the argument that makes them too large, so every stage after it (build, inspect, run) gets the
 * diagnostic instead of a model; sizes a device could hold but the generated kernels cannot
 * (d_state or d_conv beyond the registers WGSL guarantees) are HYB5002 from `build`, quickly.
 * fixtures/limits.hyb holds one model per rule; here: a diagnostic in full, the rules' edges,
 * the stages after the checker, and a property that no message prints a number above 2^53.
 * Timeouts are the hang guards: these specs used to run `build` without bound.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_BINDING_BYTES, MAX_DEVICE_BYTES, MAX_TENSOR_ELEMENTS } from "../../compiler/check/limits.ts";
import { build, compile, type Diagnostic } from "../../compiler/index.ts";
import { inspectModel } from "../../compiler/inspect.ts";

const D_STATE_2_40 = `model big {
  vocab = 256
  d_model = 64
  ssm = mamba1(d_state = 1_099_511_627_776)
  layers = 2 * ssm
}
`;

const model = (body: string, params = "  vocab = 256\n  d_model = 64") => `model m {\n${params}\n${body}\n}\n`;
const codes = (ds: readonly Diagnostic[]) => ds.map((d) => d.code);
const at = (d: Diagnostic) => d.source.slice(d.span);

/** Every integer written in a diagnostic (digits with thousands separators), as a number. */
function numbersIn(d: Diagnostic): number[] {
  const text = [d.message, d.label ?? "", d.help ?? "", ...d.notes.map((n) => n.message)].join("\n");
  return [...text.matchAll(/\d[\d,]*/g)].map((m) => Number(m[0].replaceAll(",", "")));
}

describe("HYB2007", { timeout: 30_000 }, () => {
  it("d_state = 2^40: at the argument, with the size in bytes and the limit", () => {
    const r = compile(D_STATE_2_40, { path: "big.hyb" });
    expect(codes(r.diagnostics)).toEqual(["HYB2007"]);
    const d = r.diagnostics[0]!;
    expect(d.source.lineCol(d.span.start)).toEqual({ line: 4, col: 16 });
    expect(at(d)).toBe("d_state = 1_099_511_627_776");
    expect(d.message).toBe(
      "the SSM state of `ssm`, [d_inner, d_state] = [128, 1,099,511,627,776], is 562,949,953,421,312 bytes of f32, more than one storage binding holds on any WebGPU device (4,294,967,292 bytes)",
    );
    expect(d.label).toBe("`d_state` = 1,099,511,627,776 is too large for any device");
    expect(d.notes.map((n) => [n.message, n.span && d.source.slice(n.span)])).toEqual([["`d_model` = 64 set here", "d_model = 64"]]);
    expect(d.help).toBe("kernels bind a state slot whole to update it; make `d_state` smaller");
    expect(r.models).toEqual([]);
  });

  it("build() stops at the checker: the same diagnostic, no artifact", () => {
    const r = build(D_STATE_2_40, { path: "big.hyb" });
    expect(codes(r.diagnostics)).toEqual(["HYB2007"]);
    expect(r.artifacts).toEqual([]);
  });

  it("the edges of each rule: the largest size passes, one more is refused", () => {
    expect(MAX_BINDING_BYTES).toBe(2 ** 32 - 4);
    expect(MAX_TENSOR_ELEMENTS).toBe(2 ** 32);
    expect(MAX_DEVICE_BYTES).toBe(2 ** 50);
    // KV cache [context, 1, 4] f32: 16 bytes a row; 268,435,455 rows = 2^32 - 16 bytes, one more row is over.
    const kv = (context: number) => compile(model("  a = attention(heads = 1, head_dim = 4)\n  layers = a", `  vocab = 256\n  d_model = 4\n  context = ${context}`));
    expect(kv(268_435_455).ok).toBe(true);
    expect(codes(kv(268_435_456).diagnostics)).toEqual(["HYB2007"]);
    // mlp up_proj [hidden, 64]: 2^32 elements pass, 2^32 + 64 do not.
    const mlp = (hidden: number) => compile(model(`  f = mlp(relu2, hidden = ${hidden})\n  layers = f`));
    expect(mlp(2 ** 26).ok).toBe(true);
    expect(mlp(2 ** 26 + 1).diagnostics[0]!.message).toContain("`up_proj` of `f`, [hidden, d_model] = [67,108,865, 64], has 4,294,967,360 elements");
  });

  it("the whole model: weights and state over 1 PiB, at the model name", () => {
    const r = compile(model("  ffn = mlp(hidden = 65536)\n  layers = 100_000 * ffn", "  vocab = 256\n  d_model = 16384"));
    expect(codes(r.diagnostics)).toEqual(["HYB2007"]);
    const d = r.diagnostics[0]!;
    expect(at(d)).toBe("m");
    expect(d.message).toBe("model `m` keeps 1,288,496,759,242,752 bytes of weights and state on the device, more than any device holds (1,125,899,906,842,624 bytes, 1 PiB)");
    expect(d.notes.map((n) => [n.message, n.span && d.source.slice(n.span)])).toEqual([["`layers` expands to 100,000 layers", "100_000 * ffn"]]);
  });

  it("a parameter that makes several blocks too large is reported once", () => {
    const r = compile(model("  a = attention(heads = 4)\n  b = attention(heads = 2)\n  layers = [a, b]", "  vocab = 256\n  d_model = 64\n  context = 100_000_000"));
    expect(codes(r.diagnostics)).toEqual(["HYB2007"]);
    expect(at(r.diagnostics[0]!)).toBe("context = 100_000_000");
  });

  it("derived sizes beyond 2^53 are shown as powers of two, never as inexact digits", () => {
    const r = compile(model("  s = mamba2(expand = 3_000_000_001, headdim = 7)\n  layers = s", "  vocab = 256\n  d_model = 3_000_000_000"));
    expect(codes(r.diagnostics)).toEqual(["HYB2007", "HYB2007"]);
    expect(r.diagnostics[1]!.message).toBe(
      "the conv state of `s`, [conv_dim, d_conv] = [about 2^63.0, 4], is about 2^67.0 bytes of f32, more than one storage binding holds on any WebGPU device (4,294,967,292 bytes)",
    );
  });

  it("no diagnostic prints a number above 2^53, and a model that checks has exact inspect figures", () => {
    const size = fc.oneof(fc.integer({ min: 1, max: 4096 }), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), fc.constantFrom(2 ** 30, 2 ** 40, 2 ** 52, 3 * 2 ** 50));
    const spec = fc.record({ vocab: size, d: size, context: size, dState: size, expand: size, dConv: size, heads: size, headDim: size, hidden: size, window: size }).map(
      (v) =>
        `model m {\n  vocab = ${v.vocab}\n  d_model = ${v.d}\n  context = ${v.context}\n` +
        `  s = mamba1(d_state = ${v.dState}, expand = ${v.expand}, d_conv = ${v.dConv})\n` +
        `  a = attention(heads = ${v.heads}, head_dim = ${v.headDim}, window = ${v.window})\n  f = mlp(gelu, hidden = ${v.hidden})\n  layers = [s, a + f]\n}\n`,
    );
    fc.assert(
      fc.property(spec, (text) => {
        const r = compile(text);
        for (const d of r.diagnostics) {
          expect(d.code).not.toBe("HYB9999");
          for (const n of numbersIn(d)) expect(n).toBeLessThanOrEqual(Number.MAX_SAFE_INTEGER);
        }
        for (const m of r.models) {
          expect(Number.isSafeInteger(m.parameters)).toBe(true);
          const i = inspectModel(m, { length: 16, fuse: true });
          for (const v of [...Object.values(i.prefill), ...Object.values(i.decode)]) expect(Number.isSafeInteger(v)).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe("sizes a device holds but generated kernels cannot: HYB5002 from build, quickly", { timeout: 30_000 }, () => {
  const built = (body: string) => build(model(body), { path: "k.hyb" });

  it("a Mamba-1 state row over the registers WGSL guarantees (d_state = 8,000,000 ran 44 s, then crashed)", () => {
    for (const dState of [4096, 8_000_000]) {
      const r = built(`  s = mamba1(d_state = ${dState})\n  layers = s`);
      // At 8,000,000 other kernels are over the default limits too (x_proj's weight needs 64 bindings).
      expect(new Set(codes(r.diagnostics))).toEqual(new Set(["HYB5002"]));
      const scan = r.diagnostics.find((d) => d.message.startsWith("kernel layers.0.mixer.selective_scan:"))!;
      expect(scan.message).toBe(
        `kernel layers.0.mixer.selective_scan: selective_scan: the state row of d_state = ${dState} values in registers takes ${4 * dState + 64} bytes of function variables, over the 8192 bytes WGSL guarantees`,
      );
      expect(at(scan)).toBe(`s = mamba1(d_state = ${dState})`);
    }
    expect(built("  s = mamba1(d_state = 2000)\n  layers = s").ok).toBe(true);
  });

  it("a conv window over those registers (d_conv = 65,536 wrote 100 MB of WGSL)", () => {
    const r = built("  s = mamba1(d_conv = 65_536)\n  layers = s");
    expect(codes(r.diagnostics)).toEqual(["HYB5002", "HYB5002"]);
    expect(r.diagnostics[0]!.message).toContain("conv1d_silu: the window of d_conv - 1 = 65535 inputs of 1 channel in registers takes 262140 bytes of function variables");
    // Too wide for 4 channels a thread, narrow enough for one: the scalar kernel.
    expect(built("  s = mamba1(d_conv = 1000)\n  layers = s").ok).toBe(true);
  });

  it("a window beyond 32-bit positions is full causal attention, fused and not (it threw an internal error)", () => {
    for (const fuse of [true, false]) {
      const r = build(model("  a = attention(heads = 4, window = 4_000_000_000_000)\n  layers = a"), { fuse });
      expect(r.diagnostics).toEqual([]);
      expect(r.ok).toBe(true);
    }
  });
});

describe("real-valued arguments hold in f32", () => {
  it("eps, a RoPE theta and a fraction outside f32's range are HYB2002 at the value (the kernel literal would not compile, or would be 0)", () => {
    const r = compile(
      model("  norm = rmsnorm(eps = 1e-300)\n  attn = attention(heads = 2, rope = 1e39)\n  a2 = attention(heads = 2, rope = rope(theta = 10_000, fraction = 1e-46))\n  layers = [attn, a2]", "  vocab = 256\n  d_model = 16"),
      { path: "f32.hyb" },
    );
    expect(codes(r.diagnostics)).toEqual(["HYB2002", "HYB2002", "HYB2002"]);
    expect(r.diagnostics.map(at)).toEqual(["1e-300", "1e39", "1e-46"]);
    expect(r.diagnostics.map((d) => d.label)).toEqual(["too small for f32: it would be 0", "too large for f32", "too small for f32: it would be 0"]);
    expect(r.diagnostics[0]!.message).toBe("`eps` must be a 32-bit float (the kernels compute in f32: from 1.40e-45 to 3.40e+38), found `1e-300`");
    // The edges: f32's largest finite value and its smallest subnormal are fine.
    expect(compile(model("  norm = rmsnorm(eps = 1.5e-45)\n  attn = attention(heads = 2, rope = 3.4e38)\n  layers = [attn]", "  vocab = 256\n  d_model = 16")).ok).toBe(true);
  });
});
