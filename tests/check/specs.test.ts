/**
 * The canonical specs check clean and expand to the layer lists stated in their header
 * comments (written out here by hand), with hand-computed parameter counts.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compile, type ResolvedModel } from "../../compiler/index.ts";

const SPECS = join(import.meta.dirname, "../../specs");

function load(file: string): ResolvedModel {
  const r = compile(readFileSync(join(SPECS, file), "utf8"), { path: file });
  expect(r.diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual([]);
  expect(r.models).toHaveLength(1);
  return r.models[0]!;
}

/** Layers as `ssm`, `attn+ffn`. */
function names(m: ResolvedModel): string[] {
  return m.layers.map((l) => l.sublayers.map((s) => s.name).join("+"));
}

const rep = <T>(n: number, xs: readonly T[]): T[] => Array.from({ length: n }, () => xs).flat();

const EXPECTED: Record<string, { name: string; layers: string[]; scheme: "mamba" | "jamba" }> = {
  // Expands to 24 layers: 4 * [ssm, ssm, ssm, ssm, ssm, attn + ffn].
  "hybrid-130m.hyb": { name: "hybrid_130m", layers: rep(4, ["ssm", "ssm", "ssm", "ssm", "ssm", "attn+ffn"]), scheme: "jamba" },
  // Expands to 16 layers: 4 * [ssm, ssm, ssm, attn + ffn]; attention at 3, 7, 11, 15.
  "hybrid-3to1.hyb": { name: "hybrid_3to1", layers: rep(4, ["ssm", "ssm", "ssm", "attn+ffn"]), scheme: "jamba" },
  // Expands to 16 layers: 2 * [ssm+ffn x4, attn+ffn, ssm+ffn x3].
  "jamba-style.hyb": {
    name: "jamba_style",
    layers: rep(2, [...rep(4, ["ssm+ffn"]), "attn+ffn", ...rep(3, ["ssm+ffn"])]),
    scheme: "jamba",
  },
  // Expands to 24 layers: [ssm] * 24.
  "mamba-130m.hyb": { name: "mamba_130m", layers: rep(24, ["ssm"]), scheme: "mamba" },
  // Expands to 12 layers: [ssm] * 12.
  "mamba-byte.hyb": { name: "mamba_byte", layers: rep(12, ["ssm"]), scheme: "mamba" },
  // Expands to 8 layers: 4 * [ssm + ffn, attn + ffn].
  "samba-style.hyb": { name: "samba_style", layers: rep(4, ["ssm+ffn", "attn+ffn"]), scheme: "jamba" },
  // Expands to 6 layers: [ssm, ssm, attn, ssm, ssm, ssm].
  "kjv-byte.hyb": { name: "kjv_byte", layers: ["ssm", "ssm", "attn", "ssm", "ssm", "ssm"], scheme: "jamba" },
};

describe("canonical specs", () => {
  it("covers every file in specs/", () => {
    expect(readdirSync(SPECS).filter((f) => f.endsWith(".hyb")).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const [file, want] of Object.entries(EXPECTED)) {
    it(`${file} checks clean and expands as its header says`, () => {
      const m = load(file);
      expect(m.name).toBe(want.name);
      expect(names(m)).toEqual(want.layers);
      expect(m.layers.map((l) => l.index)).toEqual(want.layers.map((_, i) => i));
      expect(m.weightsScheme).toBe(want.scheme);
    });
  }

  it("hybrid-3to1 puts attention at 3, 7, 11, 15", () => {
    const m = load("hybrid-3to1.hyb");
    const attn = m.layers.filter((l) => l.sublayers[0]!.block.config.kind === "attention").map((l) => l.index);
    expect(attn).toEqual([3, 7, 11, 15]);
  });
});

describe("hand-computed parameter counts", () => {
  /** Mamba-1 layer: in_proj, conv (+bias), x_proj, dt_proj (+bias), A_log, D, out_proj, pre-norm. */
  function mamba1Layer(d: number, E: number, N: number, K: number, R: number): number {
    return 2 * E * d + E * 1 * K + E + (R + 2 * N) * E + E * R + E + E * N + E + d * E + d;
  }

  it("mamba_130m", () => {
    const m = load("mamba-130m.hyb");
    // d 768, E 1536, d_state 16, d_conv 4, dt_rank ceil(768/16) = 48.
    const perLayer = 3072 * 768 + 1536 * 4 + 1536 + 80 * 1536 + 1536 * 48 + 1536 + 1536 * 16 + 1536 + 768 * 1536 + 768;
    expect(mamba1Layer(768, 1536, 16, 4, 48)).toBe(perLayer);
    expect(m.parameters).toBe(24 * perLayer + 256 * 768 + 768);
    expect(m.parameters).toBe(90_716_928);
    expect(m.blocks[0]!.config).toMatchObject({ kind: "mamba1", dtRank: 48, dInner: 1536 });
  });

  it("mamba_byte (dt_rank defaults to ceil(512 / 16) = 32)", () => {
    const m = load("mamba-byte.hyb");
    const perLayer = 2048 * 512 + 1024 * 4 + 1024 + (32 + 32) * 1024 + 1024 * 32 + 1024 + 1024 * 16 + 1024 + 512 * 1024 + 512;
    expect(m.parameters).toBe(12 * perLayer + 256 * 512 + 512);
    expect(m.blocks[0]!.config).toMatchObject({ dtRank: 32 });
  });

  it("hybrid_3to1 (mamba2 + GQA + swiglu, tied)", () => {
    const m = load("hybrid-3to1.hyb");
    // ssm: d 256, E 512, N 64, headdim 32 -> H 16, G 1, K 4; conv over 512 + 2*64 = 640 channels.
    const ssm = (2 * 512 + 2 * 64 + 16) * 256 + 640 * 4 + 640 + 16 + 16 + 16 + 512 + 256 * 512 + 256;
    // attn: 8 heads of 32, 2 kv heads.
    const attn = 256 * 256 + 64 * 256 + 64 * 256 + 256 * 256 + 256;
    const ffn = 768 * 256 * 3 + 256;
    expect(m.parameters).toBe(12 * ssm + 4 * (attn + ffn) + 256 * 256 + 256);
  });

  it("jamba_style (untied: lm_head counted)", () => {
    const m = load("jamba-style.hyb");
    const ssm = 1024 * 256 + 512 * 4 + 512 + 48 * 512 + 512 * 16 + 512 + 512 * 16 + 512 + 256 * 512 + 256;
    const attn = 4 * 256 * 256 + 256;
    const ffn = 3 * 512 * 256 + 256;
    expect(m.parameters).toBe(14 * ssm + 2 * attn + 16 * ffn + 256 * 256 + 256 + 256 * 256);
    expect(m.weights.at(-1)).toEqual({ name: "lm_head.weight", shape: [256, 256], layer: null, sublayer: null, local: "lm_head.weight" });
  });

  it("samba_style resolves rope(theta = 10_000) and the window", () => {
    const m = load("samba-style.hyb");
    const attn = m.blocks.find((b) => b.name === "attn")!.config;
    expect(attn).toEqual({ kind: "attention", heads: 4, kvHeads: 1, headDim: 64, rope: { theta: 10_000, fraction: 1, rotaryDim: 64 }, window: 512, bias: false });
    expect(m.context).toBe(8192);
    expect(m.norm).toEqual({ kind: "rmsnorm", eps: 1e-5 });
    expect(m.dtype).toBe("f32");
    expect(m.tied).toBe(true);
  });

  it("hybrid_130m resolves mamba2 derived sizes", () => {
    const m = load("hybrid-130m.hyb");
    expect(m.blocks.find((b) => b.name === "ssm")!.config).toEqual({
      kind: "mamba2",
      dState: 128,
      expand: 2,
      dConv: 4,
      headdim: 64,
      ngroups: 1,
      chunk: 128,
      convBias: true,
      bias: false,
      gatedNorm: true,
      normBeforeGate: false,
      normGroup: 1536,
      dInner: 1536,
      heads: 24,
      convDim: 1536 + 2 * 128,
    });
    expect(m.blocks.find((b) => b.name === "attn")!.config).toMatchObject({ heads: 12, kvHeads: 4, headDim: 64, rope: { theta: 10_000, fraction: 1, rotaryDim: 64 } });
    expect(m.paramSpans["context"]).toBeDefined();
    expect(m.paramSpans["norm"]).toBeUndefined();
  });
});
