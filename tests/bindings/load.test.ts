/**
 * The typed bindings at run time: the generated module of a small model (Mamba-2, GQA attention
 * with RoPE, SwiGLU MLP), imported as a consumer would, loads a TensorMap of seeded random
 * weights with its `load`, and its prefill logits equal, bit for bit, those of the runtime's
 * loadModel with the same weights as a checkpoint (the model's correctness against the float64
 * reference is tests/runtime/model.test.ts's). And loadModel's checks of a TensorMap: a name the
 * model lacks, a wrong shape, or data of the wrong length is a WeightError naming the tensor,
 * before anything is allocated on the device.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bindingsText } from "../../compiler/bindings/emit.ts";
import { build } from "../../compiler/index.ts";
import type { ModelArtifact } from "../../runtime/artifact/types.ts";
import { loadModel, type CompiledModel, type HybridModel, type TensorMap } from "../../runtime/model.ts";
import { WeightError } from "../../runtime/weights/errors.ts";
import { randomCheckpoint } from "../../runtime/weights/random.ts";
import { getDevice } from "../gpu/device.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SPEC = `model tiny_m2_attn {
  vocab = 96
  d_model = 32
  context = 24
  ssm = mamba2(d_state = 16, expand = 2, d_conv = 4, headdim = 16, chunk = 8)
  attn = attention(heads = 4, kv_heads = 2, rope = rope(theta = 10_000))
  ffn = mlp(swiglu, hidden = 48)
  layers = [ssm, attn + ffn]
}
`;
const TOKENS = [3, 17, 95, 0, 42, 8, 61];

const dir = mkdtempSync(join(tmpdir(), "hybridc-bindings-load-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let artifact: ModelArtifact;
let tensors: TensorMap;

beforeAll(async () => {
  const r = build(SPEC, { path: "tiny.hyb" });
  expect(r.ok).toBe(true);
  artifact = r.artifacts[0]!;
  const ckpt = randomCheckpoint(artifact, 7);
  const entries = await Promise.all(artifact.weights.map(async (w) => [w.name, { shape: w.shape, data: await ckpt.read(w.name) }] as const));
  tensors = Object.fromEntries(entries);
});

describe("loadModel with a TensorMap: checked before anything is allocated", () => {
  // A stand-in device with generous limits: the checks run before any GPU call.
  const limits = { maxComputeInvocationsPerWorkgroup: 1024, maxComputeWorkgroupSizeX: 1024, maxComputeWorkgroupStorageSize: 65536, maxComputeWorkgroupsPerDimension: 65535, maxStorageBuffersPerShaderStage: 16, maxStorageBufferBindingSize: 2 ** 30, maxBufferSize: 2 ** 30 };
  const device = { limits, features: new Set<string>(), lost: new Promise(() => {}) } as unknown as GPUDevice;

  it("a name the model lacks, a wrong shape, and data of the wrong length each name the tensor", async () => {
    const w = artifact.weights[0]!;
    const bad = {
      ...tensors,
      "model.layers.0.mamba.bogus": { shape: [2], data: new Float32Array(2) },
      [w.name]: { shape: [w.shape[0]!, w.shape[1]! + 1], data: new Float32Array(w.shape[0]! * (w.shape[1]! + 1)) },
      [artifact.weights[1]!.name]: { shape: artifact.weights[1]!.shape, data: new Float32Array(3) },
    };
    const e = await loadModel(device, artifact, bad).then(
      () => null,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(WeightError);
    const lines = (e as WeightError).message.split("\n");
    expect(lines).toContain("weights: model.layers.0.mamba.bogus: model tiny_m2_attn has no such tensor");
    expect(lines).toContain(`weights: ${w.name}: expected shape [${w.shape.join(", ")}], found [${w.shape[0]}, ${w.shape[1]! + 1}]`);
    const n = artifact.weights[1]!.shape.reduce((a, b) => a * b, 1);
    expect(lines).toContain(`weights: ${artifact.weights[1]!.name}: shape [${artifact.weights[1]!.shape.join(", ")}] holds ${n} elements, the data has 3`);
  });
});

describe("the generated module on the GPU", () => {
  let viaBindings: HybridModel | undefined;
  let viaRuntime: HybridModel | undefined;
  afterAll(() => {
    viaBindings?.destroy();
    viaRuntime?.destroy();
  });

  it("load(device, tensorMap) runs the model: the same logits as loadModel with the checkpoint", async () => {
    const file = join(dir, "index.ts");
    writeFileSync(file, await bindingsText(artifact, { runtime: join(ROOT, "runtime", "index.ts") }));
    const mod = (await import(/* @vite-ignore */ pathToFileURL(file).href)) as { default: CompiledModel<TensorMap>; artifact: ModelArtifact; load: CompiledModel<TensorMap>["load"] };
    expect(mod.artifact).toEqual(artifact);
    expect(mod.default.name).toBe("tiny_m2_attn");
    const device = await getDevice();
    viaBindings = await mod.load(device, tensors, { prefillChunk: 4 });
    viaRuntime = await loadModel(device, artifact, randomCheckpoint(artifact, 7), { prefillChunk: 4 });
    const a = await viaBindings.prefill(TOKENS);
    const b = await viaRuntime.prefill(TOKENS);
    expect(a.length).toBe(TOKENS.length * 96);
    expect(a.every(Number.isFinite)).toBe(true);
    expect(Math.max(...a.map(Math.abs))).toBeGreaterThan(1e-3);
    expect([...a]).toEqual([...b]);
  }, 300_000);
});
