/**
 * `dtype = f16` through the compiler, no GPU: the checker accepts it without a warning (HYB5004
 * is retired), lowering stores every weight in f16 and computes every value in f32, the plan
 * counts the bytes the f16 run really moves (inspect), and the artifact reads f16 packed by
 * default (no device feature) or natively (shader-f16, `enable f16;` in each module that does).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CODES } from "../../compiler/diag/codes.ts";
import { build, compile, lowerDecode } from "../../compiler/index.ts";
import { inspectModel } from "../../compiler/inspect.ts";
import { byteSize, DTYPES, elementsPerSlot, wgslElement } from "../../runtime/artifact/dtypes.ts";
import { derivedSpec } from "./half.ts";

const SPECS = join(import.meta.dirname, "../../specs");
const text = (file: string, dtype: "f32" | "f16") => readFileSync(join(SPECS, file), "utf8").replace(/d_model = (\d+)/, `d_model = $1\n  dtype = ${dtype}`);

describe("the element-format table's f16 row", () => {
  it("is a storage format computed in f32, with a packed form", () => {
    expect(DTYPES.f16.compute).toBe("f32");
    expect(DTYPES.f32.compute).toBe("f32");
    expect(byteSize("f16", 7)).toBe(14);
    expect(wgslElement("f16", 1)).toBe("f16");
    expect(wgslElement("f16", 4)).toBe("vec4<f16>");
    expect(wgslElement("f16", 1, true)).toBe("u32");
    expect(wgslElement("f16", 4, true)).toBe("vec2<u32>");
    expect([elementsPerSlot("f16", 1, true), elementsPerSlot("f16", 4, true), elementsPerSlot("f32", 4)]).toEqual([2, 4, 4]);
    expect(() => wgslElement("f32", 1, true)).toThrow(/no packed form/);
  });
});

describe("dtype = f16", () => {
  it("checks clean (HYB5004 stays in the catalogue, no longer reported)", () => {
    const r = compile(text("mamba-130m.hyb", "f16"), { path: "m.hyb" });
    expect(r.diagnostics.map((d) => d.code)).toEqual([]);
    expect(r.models[0]!.dtype).toBe("f16");
    expect(CODES.HYB5004.title).toContain("no longer reported");
  });

  it("lowers weights to f16 and every computed value, the logits and the state to f32", () => {
    const m = compile(text("hybrid-3to1.hyb", "f16"), { path: "m.hyb" }).models[0]!;
    const g = lowerDecode(m);
    const weights = g.nodes.filter((n) => n.op === "weight");
    expect(weights.length).toBe(m.weights.length);
    expect(weights.every((n) => n.results[0]!.dtype === "f16")).toBe(true);
    const computed = g.nodes.filter((n) => n.op !== "weight" && n.op !== "reshape" && n.op !== "slice" && n.op !== "broadcast_to" && n.op !== "input");
    expect(computed.flatMap((n) => n.results.map((t) => t.dtype)).every((d) => d === "f32")).toBe(true);
    for (const o of g.outputs) expect(g.nodes[o.value.node]!.results[o.value.index]!.dtype, o.name).toBe("f32");
  });

  it.each(["mamba-130m.hyb", "hybrid-130m.hyb"])("inspect: %s reads half the weight bytes per decode token; state bytes unchanged", (file) => {
    const [m32, m16] = (["f32", "f16"] as const).map((d) => compile(text(file, d), { path: file }).models[0]!);
    const [a, b] = [m32!, m16!].map((m) => inspectModel(m, { length: 1024, fuse: true }));
    // Weights halve (a constant computed from weights at load would stay f32; these have none).
    expect(b!.decode.weightBytes * 2).toBe(a!.decode.weightBytes);
    expect(b!.decode.stateBytes).toBe(a!.decode.stateBytes);
    expect(a!.decode.movedBytes - b!.decode.movedBytes).toBe(a!.decode.weightBytes - b!.decode.weightBytes);
    expect(b!.decode.dispatches).toBe(a!.decode.dispatches);
  });

  it("the artifact reads f16 packed by default (no feature), natively on request (shader-f16, enable f16;)", () => {
    const source = derivedSpec(readFileSync(join(SPECS, "samba-style.hyb"), "utf8"), "f16");
    const packed = build(source, { path: "s.hyb" }).artifacts[0]!;
    const native = build(source, { path: "s.hyb", f16: "native" }).artifacts[0]!;
    expect(packed.features).toEqual([]);
    expect(native.features).toEqual(["shader-f16"]);
    for (const a of [packed, native]) {
      expect(a.weights.every((w) => w.dtype === "f16")).toBe(true);
      expect(a.weightBuffers.every((w) => w.dtype === "f16")).toBe(true);
    }
    const kernels = (a: typeof packed) => [a.prefill, a.decode].flatMap((p) => [...p.load, ...p.call]);
    for (const k of kernels(packed)) {
      const half = k.bindings.filter((b) => b.access !== "uniform" && b.dtype === "f16");
      expect(half.every((b) => b.access !== "uniform" && b.packed === true), k.name).toBe(true);
      expect(k.wgsl.includes("enable f16;"), k.name).toBe(false);
      if (half.length > 0) expect(k.wgsl, k.name).toContain("unpack2x16float(");
    }
    for (const k of kernels(native)) {
      const half = k.bindings.some((b) => b.access !== "uniform" && b.dtype === "f16");
      expect(k.wgsl.startsWith("enable f16;\n"), k.name).toBe(half);
      expect(k.bindings.some((b) => b.access !== "uniform" && b.packed), k.name).toBe(false);
    }
    // Every f16 read is a weight: state, scratch and outputs stay f32.
    for (const k of kernels(packed)) for (const b of k.bindings) if (b.access !== "uniform" && b.role !== "weight") expect(b.dtype, `${k.name} ${b.name}`).not.toBe("f16");
  });
});
