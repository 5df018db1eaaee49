/**
 * Checkpoint tensor names and shapes, written out by hand (d_model 8, vocab 16 throughout).
 * Shapes follow the Hugging Face modules: Linear weights are [out, in].
 */
import { describe, expect, it } from "vitest";
import { compile, type ResolvedModel } from "../../compiler/index.ts";

function build(body: string, params = ""): ResolvedModel {
  const r = compile(`model m {\n  vocab = 16\n  d_model = 8\n${params}\n${body}\n}`);
  // A valid spec, `dtype = f16` included, gets no diagnostic at all.
  expect(r.diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual([]);
  return r.models[0]!;
}

type Row = [string, number[]];
const rows = (m: ResolvedModel): Row[] => m.weights.map((w) => [w.name, [...w.shape]]);
const sum = (m: ResolvedModel) => m.weights.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0);

describe("mamba1", () => {
  it('defaults, "mamba" scheme, tied', () => {
    // E = 16, N = 4, R = ceil(8 / 16) = 1, K = 4.
    const m = build("  ssm = mamba1(d_state = 4)\n  layers = ssm");
    expect(m.weightsScheme).toBe("mamba");
    expect(rows(m)).toEqual<Row[]>([
      ["backbone.embeddings.weight", [16, 8]],
      ["backbone.layers.0.norm.weight", [8]],
      ["backbone.layers.0.mixer.in_proj.weight", [32, 8]],
      ["backbone.layers.0.mixer.conv1d.weight", [16, 1, 4]],
      ["backbone.layers.0.mixer.conv1d.bias", [16]],
      ["backbone.layers.0.mixer.x_proj.weight", [9, 16]],
      ["backbone.layers.0.mixer.dt_proj.weight", [16, 1]],
      ["backbone.layers.0.mixer.dt_proj.bias", [16]],
      ["backbone.layers.0.mixer.A_log", [16, 4]],
      ["backbone.layers.0.mixer.D", [16]],
      ["backbone.layers.0.mixer.out_proj.weight", [8, 16]],
      ["backbone.norm_f.weight", [8]],
    ]);
    const perLayer = 8 + 32 * 8 + 16 * 4 + 16 + 9 * 16 + 16 * 1 + 16 + 16 * 4 + 16 + 8 * 16;
    expect(m.parameters).toBe(16 * 8 + perLayer + 8);
    expect(m.parameters).toBe(sum(m));
  });

  it('bias, no conv bias, inner norms, layernorm, untied, "jamba" scheme', () => {
    const m = build(
      "  ssm = mamba1(d_state = 4, dt_rank = 2, bias = true, conv_bias = false, inner_norms = true)\n  layers = ssm",
      '  norm = layernorm(eps = 1e-6)\n  tied = false\n  weights = "jamba"',
    );
    expect(m.norm).toEqual({ kind: "layernorm", eps: 1e-6 });
    expect(rows(m)).toEqual<Row[]>([
      ["model.embed_tokens.weight", [16, 8]],
      ["model.layers.0.input_layernorm.weight", [8]],
      ["model.layers.0.input_layernorm.bias", [8]],
      ["model.layers.0.mamba.in_proj.weight", [32, 8]],
      ["model.layers.0.mamba.in_proj.bias", [32]],
      ["model.layers.0.mamba.conv1d.weight", [16, 1, 4]],
      ["model.layers.0.mamba.x_proj.weight", [10, 16]],
      ["model.layers.0.mamba.dt_proj.weight", [16, 2]],
      ["model.layers.0.mamba.dt_proj.bias", [16]],
      ["model.layers.0.mamba.A_log", [16, 4]],
      ["model.layers.0.mamba.D", [16]],
      ["model.layers.0.mamba.out_proj.weight", [8, 16]],
      ["model.layers.0.mamba.out_proj.bias", [8]],
      ["model.layers.0.mamba.dt_layernorm.weight", [2]],
      ["model.layers.0.mamba.b_layernorm.weight", [4]],
      ["model.layers.0.mamba.c_layernorm.weight", [4]],
      ["model.final_layernorm.weight", [8]],
      ["model.final_layernorm.bias", [8]],
      ["lm_head.weight", [16, 8]],
    ]);
  });
});

describe("mamba2", () => {
  it("grouped, gated norm (defaults), both schemes", () => {
    // E = 16, headdim 4 -> H = 4, G = 2, N = 4: in_proj rows 2*16 + 2*2*4 + 4 = 52, conv over 16 + 16 = 32.
    const m = build("  ssm = mamba2(d_state = 4, headdim = 4, ngroups = 2)\n  layers = 2 * ssm");
    expect(m.weightsScheme).toBe("mamba");
    const layer1 = rows(m).filter(([n]) => n.startsWith("backbone.layers.1."));
    expect(layer1).toEqual<Row[]>([
      ["backbone.layers.1.norm.weight", [8]],
      ["backbone.layers.1.mixer.in_proj.weight", [52, 8]],
      ["backbone.layers.1.mixer.conv1d.weight", [32, 1, 4]],
      ["backbone.layers.1.mixer.conv1d.bias", [32]],
      ["backbone.layers.1.mixer.dt_bias", [4]],
      ["backbone.layers.1.mixer.A_log", [4]],
      ["backbone.layers.1.mixer.D", [4]],
      ["backbone.layers.1.mixer.norm.weight", [16]],
      ["backbone.layers.1.mixer.out_proj.weight", [8, 16]],
    ]);
    expect(m.blocks[0]!.config).toMatchObject({ dInner: 16, heads: 4, convDim: 32, normGroup: 8 });
    const jamba = build("  ssm = mamba2(d_state = 4, headdim = 4, ngroups = 2)\n  layers = ssm", '  weights = "jamba"');
    expect(rows(jamba).map(([n]) => n)).toEqual([
      "model.embed_tokens.weight",
      "model.layers.0.input_layernorm.weight",
      "model.layers.0.mamba.in_proj.weight",
      "model.layers.0.mamba.conv1d.weight",
      "model.layers.0.mamba.conv1d.bias",
      "model.layers.0.mamba.dt_bias",
      "model.layers.0.mamba.A_log",
      "model.layers.0.mamba.D",
      "model.layers.0.mamba.norm.weight",
      "model.layers.0.mamba.out_proj.weight",
      "model.final_layernorm.weight",
    ]);
  });

  it("no gated norm, bias, no conv bias", () => {
    const m = build("  ssm = mamba2(d_state = 4, headdim = 4, gated_norm = false, bias = true, conv_bias = false)\n  layers = ssm");
    // G = 1: in_proj rows 2*16 + 2*4 + 4 = 44, conv over 16 + 8 = 24.
    expect(rows(m).filter(([n]) => n.includes(".mixer."))).toEqual<Row[]>([
      ["backbone.layers.0.mixer.in_proj.weight", [44, 8]],
      ["backbone.layers.0.mixer.in_proj.bias", [44]],
      ["backbone.layers.0.mixer.conv1d.weight", [24, 1, 4]],
      ["backbone.layers.0.mixer.dt_bias", [4]],
      ["backbone.layers.0.mixer.A_log", [4]],
      ["backbone.layers.0.mixer.D", [4]],
      ["backbone.layers.0.mixer.out_proj.weight", [8, 16]],
      ["backbone.layers.0.mixer.out_proj.bias", [8]],
    ]);
  });
});

describe("attention and mlp", () => {
  it('"jamba": mixer then mlp, each with its own norm; an mlp-only layer', () => {
    const m = build("  attn = attention(heads = 4, kv_heads = 2)\n  ffn = mlp(hidden = 12)\n  layers = [attn + ffn, ffn]");
    expect(m.weightsScheme).toBe("jamba");
    expect(rows(m)).toEqual<Row[]>([
      ["model.embed_tokens.weight", [16, 8]],
      ["model.layers.0.input_layernorm.weight", [8]],
      ["model.layers.0.self_attn.q_proj.weight", [8, 8]],
      ["model.layers.0.self_attn.k_proj.weight", [4, 8]],
      ["model.layers.0.self_attn.v_proj.weight", [4, 8]],
      ["model.layers.0.self_attn.o_proj.weight", [8, 8]],
      ["model.layers.0.pre_ff_layernorm.weight", [8]],
      ["model.layers.0.feed_forward.gate_proj.weight", [12, 8]],
      ["model.layers.0.feed_forward.up_proj.weight", [12, 8]],
      ["model.layers.0.feed_forward.down_proj.weight", [8, 12]],
      ["model.layers.1.pre_ff_layernorm.weight", [8]],
      ["model.layers.1.feed_forward.gate_proj.weight", [12, 8]],
      ["model.layers.1.feed_forward.up_proj.weight", [12, 8]],
      ["model.layers.1.feed_forward.down_proj.weight", [8, 12]],
      ["model.final_layernorm.weight", [8]],
    ]);
    expect(m.parameters).toBe(16 * 8 + 8 + 64 + 32 + 32 + 64 + 8 + 3 * 96 + 8 + 3 * 96 + 8);
  });

  it("attention with explicit head_dim and bias", () => {
    const m = build("  attn = attention(heads = 4, kv_heads = 2, head_dim = 3, bias = true)\n  layers = attn");
    expect(rows(m).filter(([n]) => n.includes("self_attn"))).toEqual<Row[]>([
      ["model.layers.0.self_attn.q_proj.weight", [12, 8]],
      ["model.layers.0.self_attn.q_proj.bias", [12]],
      ["model.layers.0.self_attn.k_proj.weight", [6, 8]],
      ["model.layers.0.self_attn.k_proj.bias", [6]],
      ["model.layers.0.self_attn.v_proj.weight", [6, 8]],
      ["model.layers.0.self_attn.v_proj.bias", [6]],
      ["model.layers.0.self_attn.o_proj.weight", [8, 12]],
      ["model.layers.0.self_attn.o_proj.bias", [8]],
    ]);
  });

  it("gelu and relu2 have no gate_proj; bias adds .bias", () => {
    const m = build("  g = mlp(gelu, hidden = 12, bias = true)\n  r = mlp(relu2, hidden = 4)\n  layers = [g, r]");
    expect(rows(m).filter(([n]) => n.includes("feed_forward"))).toEqual<Row[]>([
      ["model.layers.0.feed_forward.up_proj.weight", [12, 8]],
      ["model.layers.0.feed_forward.up_proj.bias", [12]],
      ["model.layers.0.feed_forward.down_proj.weight", [8, 12]],
      ["model.layers.0.feed_forward.down_proj.bias", [8]],
      ["model.layers.1.feed_forward.up_proj.weight", [4, 8]],
      ["model.layers.1.feed_forward.down_proj.weight", [8, 4]],
    ]);
    expect(m.blocks.map((b) => b.config)).toEqual([
      { kind: "mlp", activation: "gelu", hidden: 12, bias: true },
      { kind: "mlp", activation: "relu2", hidden: 4, bias: false },
    ]);
  });

  it('"mamba" scheme names any single-sublayer layer `mixer` (Nemotron-H style)', () => {
    const m = build("  ssm = mamba2(d_state = 4, headdim = 4)\n  attn = attention(heads = 2)\n  ffn = mlp(relu2, hidden = 12)\n  layers = [ssm, attn, ffn]", '  weights = "mamba"');
    expect(rows(m).filter(([n]) => /layers\.[12]\./.test(n))).toEqual<Row[]>([
      ["backbone.layers.1.norm.weight", [8]],
      ["backbone.layers.1.mixer.q_proj.weight", [8, 8]],
      ["backbone.layers.1.mixer.k_proj.weight", [8, 8]],
      ["backbone.layers.1.mixer.v_proj.weight", [8, 8]],
      ["backbone.layers.1.mixer.o_proj.weight", [8, 8]],
      ["backbone.layers.2.norm.weight", [8]],
      ["backbone.layers.2.mixer.up_proj.weight", [12, 8]],
      ["backbone.layers.2.mixer.down_proj.weight", [8, 12]],
    ]);
  });
});

describe("tensor roles", () => {
  it("local names, layer and sublayer indices are scheme-independent", () => {
    const m = build('  ssm = mamba1(d_state = 4)\n  ffn = mlp(hidden = 12)\n  layers = [ssm, ssm + ffn]', "  norm = layernorm()\n  tied = false");
    const pick = (name: string) => m.weights.find((w) => w.name === name);
    expect(pick("model.embed_tokens.weight")).toEqual({ name: "model.embed_tokens.weight", shape: [16, 8], layer: null, sublayer: null, local: "embedding.weight" });
    expect(pick("model.layers.1.pre_ff_layernorm.bias")).toEqual({ name: "model.layers.1.pre_ff_layernorm.bias", shape: [8], layer: 1, sublayer: 1, local: "input_norm.bias" });
    expect(pick("model.layers.1.feed_forward.down_proj.weight")).toMatchObject({ layer: 1, sublayer: 1, local: "down_proj.weight" });
    expect(pick("model.layers.1.mamba.A_log")).toMatchObject({ layer: 1, sublayer: 0, local: "A_log" });
    expect(pick("model.final_layernorm.bias")).toMatchObject({ layer: null, local: "final_norm.bias" });
    expect(pick("lm_head.weight")).toMatchObject({ local: "lm_head.weight", shape: [16, 8] });
    expect(new Set(m.weights.map((w) => w.name)).size).toBe(m.weights.length);
  });

  it("the default scheme is \"jamba\" as soon as one layer is not a lone SSM", () => {
    expect(build("  ssm = mamba1()\n  layers = 3 * ssm").weightsScheme).toBe("mamba");
    expect(build("  ssm = mamba1()\n  attn = attention(heads = 2)\n  layers = [ssm, attn]").weightsScheme).toBe("jamba");
  });

  it("model parameters resolve with their defaults", () => {
    const m = build("  ssm = mamba1()\n  layers = ssm");
    expect({ norm: m.norm, tied: m.tied, dtype: m.dtype, context: m.context }).toEqual({ norm: { kind: "rmsnorm", eps: 1e-5 }, tied: true, dtype: "f32", context: 2048 });
    const f16 = build("  ssm = mamba1()\n  layers = ssm", '  dtype = "f16"\n  norm = rmsnorm');
    expect(f16.dtype).toBe("f16");
    expect(f16.norm).toEqual({ kind: "rmsnorm", eps: 1e-5 });
    expect(build("  ssm = mamba1()\n  layers = ssm", "  dtype = f16\n  context = 4096").context).toBe(4096);
  });
});

describe("HYB4001 on a long layer", () => {
  // A 10^4-term layer used to be quoted whole: 170 KB of message and help.
  const terms = (n: number, name = "ffn") => Array.from({ length: n }, () => name).join(" + ");
  const check = (layers: string, params = "") =>
    compile(`model m {\n  vocab = 16\n  d_model = 8\n  ssm = mamba1()\n  ffn = mlp(hidden = 8)\n${params}  layers = ${layers}\n}\n`).diagnostics.filter((d) => d.code !== "HYB1010");

  it("quotes the first six sublayers and counts the rest, in the message and the help", () => {
    const [d, ...rest] = check(terms(10_000));
    expect(rest).toEqual([]);
    expect(d!.code).toBe("HYB4001");
    expect(d!.message).toBe('layer 0 (`ffn + ffn + ffn + ffn + ffn + ffn + ... (9,994 more)`) does not fit the "jamba" weights naming scheme: it has two mlps, and "jamba" allows one mlp per layer');
    expect(d!.help).toBe('a "jamba" layer is at most one mixer (mamba1, mamba2, attention) then at most one mlp; give each sublayer its own layer: `[ffn, ffn, ffn, ffn, ffn, ffn, ... (9,994 more)]`');
  });

  it("stays short under every scheme and reason, and for 100,000 such layers", () => {
    for (const [layers, params] of [
      [terms(10_000), '  weights = "mamba"\n'],
      [`ffn + ${terms(9_999, "ssm")}`, ""],
      [`100_000 * (${terms(10_000)})`, ""],
    ] as const) {
      const ds = check(layers, params);
      expect(ds.map((d) => d.code)).toEqual(["HYB4001"]);
      const text = [ds[0]!.message, ds[0]!.help ?? "", ...ds[0]!.notes.map((n) => n.message)].join("\n");
      expect(text.length).toBeLessThan(500);
    }
    expect(check(`ffn + ${terms(9_999, "ssm")}`)[0]!.help).toBe("put the mixer first: `ssm + ssm + ssm + ssm + ssm + ssm + ... (9,994 more)`");
  });

  it("a layer of up to six sublayers is quoted whole", () => {
    expect(check(terms(6))[0]!.message).toContain("layer 0 (`ffn + ffn + ffn + ffn + ffn + ffn`)");
  });
});
