/**
 * Real checkpoint files end to end: the test writes small safetensors checkpoints with its own
 * writer (random weights, Hugging Face names under both `weights` schemes), opens them from disk
 * (one file, and an index with two shards), loads them onto the GPU with `loadModel` together
 * with the model's build as `hybridc build -o DIR` writes it, read back from disk (readArtifact),
 * and compares the prefill logits with interp of the unoptimized lowered graph, run on the values
 * as stored (BF16 and F16 tensors are rounded by the file; interp gets the same rounded values).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { build, lowerPrefill, type ResolvedModel } from "../../compiler/index.ts";
import { relError } from "../../compiler/interp/index.ts";
import { artifactFiles } from "../../runtime/artifact/files.ts";
import { readArtifact } from "../../runtime/artifact/node.ts";
import type { ModelArtifact } from "../../runtime/artifact/types.ts";
import { loadModel } from "../../runtime/model.ts";
import { encodeSafetensors, WeightError, type TensorToWrite } from "../../runtime/weights/index.ts";
import { openCheckpoint } from "../../runtime/weights/node.ts";
import { randomTokens, randomWeights, runGraph, zeroState } from "../ir/fixtures.ts";
import { runtime } from "../codegen/harness.ts";

const dir = mkdtempSync(join(tmpdir(), "hybridc-ckpt-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The model, and its build written as `hybridc build -o DIR` writes it, then read back from disk. */
interface OnDisk {
  readonly m: ResolvedModel;
  readonly artifact: () => Promise<ModelArtifact>;
}

function resolve(text: string): OnDisk {
  const r = build(text, { path: "ckpt.hyb" });
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  const a = r.artifacts[0]!;
  const modelDir = join(dir, "build", a.model);
  for (const f of artifactFiles(a)) {
    mkdirSync(dirname(join(modelDir, f.path)), { recursive: true });
    writeFileSync(join(modelDir, f.path), f.text);
  }
  return { m: r.models[0]!, artifact: () => readArtifact(modelDir) };
}

const MAMBA_SCHEME = resolve(`model ckpt_mamba {
  vocab = 256
  d_model = 16
  ssm = mamba1(d_state = 8, expand = 2, d_conv = 4, dt_rank = 2)
  layers = 2 * ssm
}`);

const JAMBA_SCHEME = resolve(`model ckpt_jamba {
  vocab = 256
  d_model = 16
  tied = false
  context = 32
  ssm = mamba1(d_state = 8, expand = 2, d_conv = 4, dt_rank = 2)
  attn = attention(heads = 4, kv_heads = 2, rope = 10_000)
  ffn = mlp(swiglu, hidden = 24)
  layers = [ssm + ffn, attn + ffn]
}`);

/** The model's tensors with random values, stored as `dtype` (every third tensor F32, to mix dtypes). */
function tensors({ m }: OnDisk, dtype: "F32" | "BF16" | "F16"): TensorToWrite[] {
  const w = randomWeights(m, 3);
  return m.weights.map((t, i) => ({ name: t.name, dtype: i % 3 === 0 ? "F32" : dtype, shape: t.shape, data: Float32Array.from(w[t.name]!) }));
}

/** Prefill logits on the GPU from the checkpoint at `path`, and interp's on the values the file holds. */
async function compare({ m, artifact }: OnDisk, path: string): Promise<number> {
  const ckpt = await openCheckpoint(path);
  const stored: Record<string, Float64Array> = {};
  for (const name of ckpt.tensors.keys()) stored[name] = Float64Array.from(await ckpt.read(name));
  const model = await loadModel(await runtime(), await artifact(), ckpt, { prefillChunk: 8 });
  try {
    const tokens = randomTokens(m, 11, 5);
    const gpu = await model.prefill(tokens);
    const ref = runGraph(lowerPrefill(m), m, stored, tokens, 0, zeroState(m));
    return relError(Float64Array.from(gpu), ref.logits);
  } finally {
    model.destroy();
    await ckpt.close();
  }
}

describe("checkpoints from disk", () => {
  it("mamba scheme (backbone.layers.N.mixer.*), one BF16/F32 file", async () => {
    expect(MAMBA_SCHEME.m.weights.map((w) => w.name)).toContain("backbone.layers.1.mixer.A_log");
    const path = join(dir, "mamba.safetensors");
    writeFileSync(path, encodeSafetensors(tensors(MAMBA_SCHEME, "BF16")));
    expect(await compare(MAMBA_SCHEME, path)).toBeLessThanOrEqual(1e-4);
  }, 120_000);

  it("jamba scheme (model.layers.N.*), sharded with an index, F16/F32", async () => {
    expect(JAMBA_SCHEME.m.weights.map((w) => w.name)).toContain("model.layers.1.self_attn.q_proj.weight");
    const all = tensors(JAMBA_SCHEME, "F16");
    const shards = [all.filter((_, i) => i % 2 === 0), all.filter((_, i) => i % 2 === 1)];
    const names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"];
    const weightMap: Record<string, string> = {};
    shards.forEach((s, i) => {
      writeFileSync(join(dir, names[i]!), encodeSafetensors(s));
      for (const t of s) weightMap[t.name] = names[i]!;
    });
    writeFileSync(join(dir, "model.safetensors.index.json"), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    expect(await compare(JAMBA_SCHEME, dir)).toBeLessThanOrEqual(1e-4);
  }, 120_000);

  it("a checkpoint that does not fit the spec is a WeightError naming tensor and shapes", async () => {
    const bad = tensors(MAMBA_SCHEME, "F32").map((t) =>
      t.name === "backbone.layers.1.mixer.A_log" ? { ...t, shape: [32, 4], data: t.data.subarray(0, 128) } : t,
    );
    const path = join(dir, "bad.safetensors");
    writeFileSync(path, encodeSafetensors(bad.filter((t) => t.name !== "backbone.layers.0.mixer.D")));
    const ckpt = await openCheckpoint(path);
    const e = await loadModel(await runtime(), await MAMBA_SCHEME.artifact(), ckpt).catch((x: unknown) => x);
    await ckpt.close();
    expect(e).toBeInstanceOf(WeightError);
    const msg = (e as Error).message;
    expect(msg).toContain("backbone.layers.1.mixer.A_log: expected shape [32, 8], found [32, 4]");
    expect(msg).toMatch(/backbone\.layers\.0\.mixer\.D: .*missing/);
  });
});
