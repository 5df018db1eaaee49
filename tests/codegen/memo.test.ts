/**
 * codegen/memo.ts: a build re-addresses the kernel of a structurally identical node instead of
 * generating it again. The artifacts must be exactly those generated node by node: every spec in
 * specs/, fused and unfused, f16 weights read packed and natively, and weights bound as row
 * windows under a small binding limit (where layers' buffers differ most).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { kernelLimits } from "../../compiler/build.ts";
import { modelArtifact, type ModelArtifactOptions } from "../../compiler/codegen/artifact.ts";
import { KernelMemo } from "../../compiler/codegen/memo.ts";
import { compile, programs } from "../../compiler/index.ts";

const SPECS = join(import.meta.dirname, "../../specs");
const FILES = readdirSync(SPECS).filter((f) => f.endsWith(".hyb")).sort();

function both(file: string, text: string, options: { fuse?: boolean; f16?: "native" | "packed"; limits?: Record<string, number> } = {}) {
  const c = compile(text, { path: file });
  expect(c.ok, file).toBe(true);
  const m = c.models[0]!;
  const g = programs(m, { fuse: options.fuse ?? true });
  const base: ModelArtifactOptions = { limits: kernelLimits(options.limits ?? {}), source: file, ...(options.f16 ? { f16: options.f16 } : {}) };
  const kept = new KernelMemo();
  const memo = modelArtifact(m, g, { ...base, memo: kept });
  const fresh = modelArtifact(m, g, { ...base, memo: false });
  return { memo, fresh, hits: kept.hits, kernels: memo.ok ? memo.artifact.prefill.call.length + memo.artifact.prefill.load.length + memo.artifact.decode.call.length + memo.artifact.decode.load.length : 0 };
}

const kernels = (r: ReturnType<typeof both>["memo"]) => (r.ok ? [...r.artifact.prefill.call, ...r.artifact.decode.call] : []);

describe("kernels of identical layers are generated once and re-addressed", () => {
  it.each(FILES)("%s: the same artifact with and without the memo, fused and unfused", (file) => {
    const text = readFileSync(join(SPECS, file), "utf8");
    for (const fuse of [true, false]) {
      const { memo, fresh } = both(file, text, { fuse });
      expect(memo.ok).toBe(true);
      expect(memo).toEqual(fresh);
    }
  });

  it("f16 weights (packed and native) and weights bound as row windows", () => {
    const text = readFileSync(join(SPECS, "hybrid-3to1.hyb"), "utf8").replace("model hybrid_3to1 {", "model hybrid_3to1 {\n  dtype = f16");
    for (const f16 of ["packed", "native"] as const) {
      const { memo, fresh } = both("hybrid-3to1.hyb", text, { f16 });
      expect(memo.ok).toBe(true);
      expect(memo).toEqual(fresh);
    }
    const windowed = both("mamba-byte.hyb", readFileSync(join(SPECS, "mamba-byte.hyb"), "utf8"), { limits: { maxStorageBufferBindingSize: 1 << 20 } });
    expect(windowed.memo.ok).toBe(true);
    expect(kernels(windowed.memo).some((k) => k.bindings.some((b) => b.access !== "uniform" && b.window !== undefined))).toBe(true);
    expect(windowed.memo).toEqual(windowed.fresh);
  });

  it("re-addresses: layer 1's in_proj names layer 1's buffers in its bindings and header", () => {
    const { memo, hits, kernels: n } = both("mamba-byte.hyb", readFileSync(join(SPECS, "mamba-byte.hyb"), "utf8"));
    const k = kernels(memo).find((x) => x.name === "layers.1.mixer.in_proj+conv1d")!;
    expect(k.wgsl).toMatch(/^\/\/ kernel layers\.1\.mixer\.in_proj\+conv1d: /m);
    expect(k.bindings.some((b) => b.access !== "uniform" && b.buffer.includes("layers.1"))).toBe(true);
    expect(k.bindings.some((b) => b.access !== "uniform" && b.buffer.includes("layers.0"))).toBe(false);
    expect(k.wgsl).not.toContain("layers.0");
    // 12 identical layers, 5 kernels each in prefill, 4 in decode (the conv in in_proj's epilogue):
    // in each program all but the first layer's kernels (and the embedding and the LM head) are re-addressed.
    const [prefill, decode] = [5, 4];
    expect(n).toBe(12 * prefill + 2 + 12 * decode + 2);
    expect(hits).toBe(n - (prefill + 2) - (decode + 2));
  });
});
