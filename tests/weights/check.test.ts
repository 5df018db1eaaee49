/**
 * checkCheckpoint against models compiled from specs, in both naming schemes. Checkpoints are
 * real safetensors bytes holding exactly the tensors the spec lists, then broken one way at a
 * time; the expected names and shapes are written out by hand from DSL.md.
 */
import { describe, expect, it } from "vitest";
import { build as buildSpec } from "../../compiler/index.ts";
import type { ModelArtifact } from "../../runtime/artifact/types.ts";
import { assertCheckpoint, bytesSource, checkCheckpoint, encodeSafetensors, openSafetensors, openSharded, WeightError, type Checkpoint, type TensorToWrite } from "../../runtime/weights/index.ts";
import { rawFile } from "./helpers.ts";

/** The model as its artifact (what checkCheckpoint checks against). */
function build(text: string): ModelArtifact {
  const r = buildSpec(text);
  expect(r.diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual([]);
  return r.artifacts[0]!;
}

// Mamba-1, "mamba" scheme, tied: E = 16, N = 4, R = 1, K = 4.
const MAMBA = build(`model m {
  vocab = 16
  d_model = 8
  ssm = mamba1(d_state = 4)
  layers = 3 * ssm
}`);

// "jamba" scheme, untied, layernorm (so norms have biases): mamba2 (E = 16, N = 4, P = 4, H = 4,
// conv 16 + 2 * 4 = 24 channels), GQA attention (2 heads of 4, 1 kv head), a gelu MLP.
const JAMBA = build(`model j {
  vocab = 16
  d_model = 8
  tied = false
  norm = layernorm(eps = 1e-5)
  ssm = mamba2(d_state = 4, headdim = 4, chunk = 8)
  attn = attention(heads = 2, kv_heads = 1, rope = none)
  ffn = mlp(gelu, hidden = 12)
  layers = [ssm + ffn, attn + ffn, ssm]
}`);

type Edit = (ts: TensorToWrite[]) => TensorToWrite[];
const zeros = (name: string, shape: readonly number[]): TensorToWrite => ({ name, dtype: "F32", shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });
const F = "ck.safetensors";

async function ckptOf(model: ModelArtifact, edit: Edit = (t) => t): Promise<Checkpoint> {
  return openSafetensors(bytesSource(encodeSafetensors(edit(model.weights.map((w) => zeros(w.name, w.shape))))), F);
}
const reshape = (name: string, shape: number[]): Edit => (ts) => ts.map((t) => (t.name === name ? zeros(name, shape) : t));
const drop = (...names: string[]): Edit => (ts) => ts.filter((t) => !names.includes(t.name));
const add = (...more: TensorToWrite[]): Edit => (ts) => [...ts, ...more];
const render = (ps: readonly { file: string; tensor?: string; message: string }[]) => ps.map((p) => (p.tensor === undefined ? `${p.file}: ${p.message}` : `${p.file}: ${p.tensor}: ${p.message}`));

describe('"mamba" scheme', () => {
  it("a complete checkpoint passes with no warnings", async () => {
    expect(checkCheckpoint(MAMBA, await ckptOf(MAMBA))).toEqual({ errors: [], warnings: [] });
  });

  it("a wrong shape names the tensor, the expected and the found shape", async () => {
    const c = await ckptOf(MAMBA, reshape("backbone.layers.1.mixer.A_log", [16, 2]));
    expect(render(checkCheckpoint(MAMBA, c).errors)).toEqual([`${F}: backbone.layers.1.mixer.A_log: expected shape [16, 4], found [16, 2]`]);
  });

  it("conv weights must be [C, 1, K] exactly", async () => {
    const c = await ckptOf(MAMBA, reshape("backbone.layers.0.mixer.conv1d.weight", [16, 4]));
    expect(render(checkCheckpoint(MAMBA, c).errors)).toEqual([`${F}: backbone.layers.0.mixer.conv1d.weight: expected shape [16, 1, 4], found [16, 4]`]);
  });

  it("missing tensors, one error each, in the spec's order", async () => {
    const c = await ckptOf(MAMBA, drop("backbone.norm_f.weight", "backbone.layers.2.mixer.D", "backbone.layers.0.mixer.dt_proj.bias"));
    expect(render(checkCheckpoint(MAMBA, c).errors)).toEqual([
      `${F}: backbone.layers.0.mixer.dt_proj.bias: missing (expected shape [16])`,
      `${F}: backbone.layers.2.mixer.D: missing (expected shape [16])`,
      `${F}: backbone.norm_f.weight: missing (expected shape [8])`,
    ]);
  });

  it("extra tensors are one warning listing the first 8 names, sorted", async () => {
    const extras = Array.from({ length: 10 }, (_, i) => zeros(`extra.${i}`, [1]));
    const { errors, warnings } = checkCheckpoint(MAMBA, await ckptOf(MAMBA, add(...extras)));
    expect(errors).toEqual([]);
    expect(render(warnings)).toEqual([`${F}: 10 tensors the spec does not use: extra.0, extra.1, extra.2, extra.3, extra.4, extra.5, extra.6, extra.7, and 2 more`]);
    const one = checkCheckpoint(MAMBA, await ckptOf(MAMBA, add(zeros("backbone.embedding.weight", [16, 8]))));
    expect(render(one.warnings)).toEqual([`${F}: 1 tensor the spec does not use: backbone.embedding.weight`]);
  });

  it("tied: an lm_head.weight in the checkpoint is ignored, with a warning", async () => {
    expect(MAMBA.tied).toBe(true);
    const { errors, warnings } = checkCheckpoint(MAMBA, await ckptOf(MAMBA, add(zeros("lm_head.weight", [16, 8]))));
    expect(errors).toEqual([]);
    expect(render(warnings)).toEqual([`${F}: lm_head.weight: ignored: the model is tied (tied = true), so the LM head is the embedding`]);
  });

  it("a tensor of an integer dtype is an error naming the dtype", async () => {
    const ts = MAMBA.weights.map((w) => zeros(w.name, w.shape));
    const base = await openSafetensors(bytesSource(encodeSafetensors(ts)), F);
    const withInt: Checkpoint = { ...base, tensors: new Map([...base.tensors, ["backbone.layers.0.mixer.D", { dtype: "I32", shape: [16] }]]) };
    expect(render(checkCheckpoint(MAMBA, withInt).errors)).toEqual([`${F}: backbone.layers.0.mixer.D: unsupported dtype I32 (weights are read from F32, F16, BF16, F64)`]);
    // The same through real bytes: a file holding the tensor as I64.
    const c = await openSafetensors(bytesSource(rawFile({ "backbone.layers.0.mixer.D": { dtype: "I64", shape: [16], data_offsets: [0, 128] } }, new Uint8Array(128))), F);
    expect(checkCheckpoint(MAMBA, c).errors.filter((e) => e.tensor === "backbone.layers.0.mixer.D").map((e) => e.message)).toEqual(["unsupported dtype I64 (weights are read from F32, F16, BF16, F64)"]);
  });

  it("a checkpoint in the other scheme is one error, not one per tensor", async () => {
    const c = await ckptOf(JAMBA);
    expect(render(checkCheckpoint(MAMBA, c).errors)).toEqual([
      `${F}: none of the 32 tensors of model m is in the checkpoint (the spec expects names like backbone.embeddings.weight under weights = "mamba"; it holds names like lm_head.weight, model.embed_tokens.weight, model.final_layernorm.bias)`,
    ]);
  });

  it("assertCheckpoint throws a WeightError rendering one problem per line, and returns warnings", async () => {
    const c = await ckptOf(MAMBA, (ts) => drop("backbone.layers.0.mixer.D")(reshape("backbone.layers.1.mixer.A_log", [16, 8])(ts)));
    const e = (() => {
      try {
        assertCheckpoint(MAMBA, c);
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(e).toBeInstanceOf(WeightError);
    expect((e as WeightError).message).toBe(
      `${F}: backbone.layers.0.mixer.D: missing (expected shape [16])\n${F}: backbone.layers.1.mixer.A_log: expected shape [16, 4], found [16, 8]`,
    );
    expect(render(assertCheckpoint(MAMBA, await ckptOf(MAMBA, add(zeros("x", [1])))))).toEqual([`${F}: 1 tensor the spec does not use: x`]);
  });
});

describe('"jamba" scheme', () => {
  it("the names and shapes the spec expects (by hand from DSL.md)", () => {
    const m = new Map(JAMBA.weights.map((w) => [w.name, [...w.shape]]));
    expect(JAMBA.weightsScheme).toBe("jamba");
    expect(m.get("model.embed_tokens.weight")).toEqual([16, 8]);
    expect(m.get("model.layers.0.input_layernorm.bias")).toEqual([8]);
    expect(m.get("model.layers.0.mamba.in_proj.weight")).toEqual([2 * 16 + 2 * 4 + 4, 8]);
    expect(m.get("model.layers.0.mamba.conv1d.weight")).toEqual([24, 1, 4]);
    expect(m.get("model.layers.0.mamba.A_log")).toEqual([4]);
    expect(m.get("model.layers.0.pre_ff_layernorm.weight")).toEqual([8]);
    expect(m.get("model.layers.0.feed_forward.up_proj.weight")).toEqual([12, 8]);
    expect(m.has("model.layers.0.feed_forward.gate_proj.weight")).toBe(false);
    expect(m.get("model.layers.1.self_attn.k_proj.weight")).toEqual([4, 8]);
    expect(m.get("model.layers.1.self_attn.o_proj.weight")).toEqual([8, 8]);
    expect(m.get("model.final_layernorm.bias")).toEqual([8]);
    expect(m.get("lm_head.weight")).toEqual([16, 8]);
  });

  it("a complete checkpoint passes; broken ones report each problem", async () => {
    expect(checkCheckpoint(JAMBA, await ckptOf(JAMBA))).toEqual({ errors: [], warnings: [] });
    const c = await ckptOf(JAMBA, (ts) => drop("lm_head.weight", "model.layers.0.pre_ff_layernorm.bias")(reshape("model.layers.1.self_attn.k_proj.weight", [8, 8])(reshape("model.layers.2.mamba.conv1d.weight", [24, 4, 1])(ts))));
    expect(render(checkCheckpoint(JAMBA, c).errors)).toEqual([
      `${F}: model.layers.0.pre_ff_layernorm.bias: missing (expected shape [8])`,
      `${F}: model.layers.1.self_attn.k_proj.weight: expected shape [4, 8], found [8, 8]`,
      `${F}: model.layers.2.mamba.conv1d.weight: expected shape [24, 1, 4], found [24, 4, 1]`,
      `${F}: lm_head.weight: missing (expected shape [16, 8])`,
    ]);
  });

  it("in a sharded checkpoint, a problem names the shard that holds the tensor", async () => {
    const ts = JAMBA.weights.map((w) => (w.name === "model.layers.2.mamba.D" ? zeros(w.name, [3]) : zeros(w.name, w.shape)));
    const files: Record<string, Uint8Array> = { "a.safetensors": encodeSafetensors(ts.slice(0, 10)), "b.safetensors": encodeSafetensors(ts.slice(10)) };
    const map = Object.fromEntries(ts.map((t, i) => [t.name, i < 10 ? "a.safetensors" : "b.safetensors"]));
    const c = await openSharded(JSON.stringify({ weight_map: map }), "index.json", async (s) => bytesSource(files[s]!));
    expect(render(checkCheckpoint(JAMBA, c).errors)).toEqual(["b.safetensors: model.layers.2.mamba.D: expected shape [4], found [3]"]);
  });
});
