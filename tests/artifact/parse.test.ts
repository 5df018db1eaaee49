/**
 * The artifact as a contract: what `build()` returns goes through the runtime's validation
 * (runtime/artifact/parse.ts); a corrupt, inconsistent or other-version artifact is an
 * ArtifactError that names the field and says what to do; the on-disk form reads back from a
 * directory (readArtifact) with every file checked; a device that lacks a limit or a feature the
 * kernels were generated for is refused before anything is allocated. No GPU needed.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { build } from "../../compiler/index.ts";
import { artifactFiles, readArtifactFiles } from "../../runtime/artifact/files.ts";
import { readArtifact } from "../../runtime/artifact/node.ts";
import { ArtifactError, parseArtifact } from "../../runtime/artifact/parse.ts";
import { ARTIFACT_VERSION, DEFAULT_LIMITS, type ModelArtifact } from "../../runtime/artifact/types.ts";
import { deviceMismatch, DeviceMismatchError, loadModel } from "../../runtime/model.ts";

const TINY = `model tiny {
  vocab = 50
  d_model = 16
  ssm = mamba1(d_state = 8, expand = 2, d_conv = 4, dt_rank = 2)
  layers = 2 * ssm
}`;

const artifact: ModelArtifact = (() => {
  const r = build(TINY, { path: "tiny.hyb" });
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  return r.artifacts[0]!;
})();

/** A deep copy, edited. */
function edited(f: (a: Record<string, any>) => void): unknown {
  const copy = JSON.parse(JSON.stringify(artifact)) as Record<string, any>;
  f(copy);
  return copy;
}

const problem = (input: unknown): string => {
  try {
    parseArtifact(input, "tiny");
  } catch (e) {
    expect(e).toBeInstanceOf(ArtifactError);
    return (e as Error).message;
  }
  throw new Error("parseArtifact accepted it");
};

const dir = mkdtempSync(join(tmpdir(), "hybridc-artifact-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("parseArtifact", () => {
  it("accepts what build() returns, as an object and as JSON text, unchanged", () => {
    expect(parseArtifact(JSON.parse(JSON.stringify(artifact)))).toEqual(artifact);
    expect(parseArtifact(JSON.stringify(artifact))).toEqual(artifact);
  });

  it("refuses what is not an artifact, and another version with what to do", () => {
    expect(problem("{not json")).toMatch(/^tiny: not JSON \(/);
    expect(problem([])).toBe("tiny: not a hybridc artifact (expected a JSON object)");
    expect(problem({ format: "onnx" })).toBe('tiny: not a hybridc artifact (format "onnx", expected "hybridc-artifact")');
    expect(problem(edited((a) => (a["version"] = 1)))).toBe(
      `tiny has format version 1 (built by hybridc 0.1.0); this runtime reads version ${ARTIFACT_VERSION}: rebuild it with this hybridc (\`hybridc build FILE.hyb -o DIR\`)`,
    );
  });

  it("names the field of a corrupt artifact", () => {
    expect(problem(edited((a) => (a["prefill"].call[3].workgroupSize = "64")))).toMatch(/^tiny is corrupt:\n  prefill\.call\.3\.workgroupSize: Invalid type: Expected number but received "64"/);
    expect(problem(edited((a) => delete a["weights"]))).toMatch(/^tiny is corrupt:\n  weights: Invalid key: Expected "weights" but received undefined/);
    expect(problem(edited((a) => (a["weightBuffers"][0].dtype = "f8")))).toMatch(/weightBuffers\.0\.dtype: Invalid type: Expected \("f32" \| "f16" \| "i32" \| "u32"\) but received "f8"/);
    expect(problem(edited((a) => (a["limits"].maxStorageBuffersPerShaderStage = 0)))).toMatch(/limits\.maxStorageBuffersPerShaderStage: Invalid value: Expected >=1 but received 0/);
    expect(problem(edited((a) => (a["decode"].call[0].bindings[0].lanes = 2)))).toMatch(/decode\.call\.0\.bindings\.0\.lanes/);
  });

  it("refuses an inconsistent artifact: references that do not resolve", () => {
    expect(problem(edited((a) => (a["prefill"].call[1].bindings[0].buffer = "weight:nowhere")))).toContain(
      "tiny is inconsistent:\n  tiny.prefill: kernel layers.0.mixer.in_proj binds weight:nowhere, which the program does not list",
    );
    expect(problem(edited((a) => a["weightBuffers"].pop()))).toMatch(/weight backbone\.norm_f\.weight lies in no weight buffer/);
    expect(problem(edited((a) => (a["weights"][0].shape = [50, 15])))).toContain("holds backbone.embeddings.weight as [50, 16], the weight is [50, 15]");
    expect(problem(edited((a) => (a["decode"].outputs[0].name = "scores")))).toContain("tiny.decode: no logits output");
  });
});

describe("the on-disk form", () => {
  const modelDir = join(dir, "out", "tiny");
  for (const f of artifactFiles(artifact)) {
    mkdirSync(dirname(join(modelDir, f.path)), { recursive: true });
    writeFileSync(join(modelDir, f.path), f.text);
  }

  it("readArtifact reads the model's directory or its manifest back to the same artifact", async () => {
    expect(await readArtifact(modelDir)).toEqual(artifact);
    expect(await readArtifact(join(modelDir, "manifest.json"))).toEqual(artifact);
  });

  it("says which file is missing, and where to point it", async () => {
    await expect(readArtifact(join(dir, "out"))).rejects.toThrow(`${join(dir, "out", "manifest.json")}: no such file or directory (give the directory \`hybridc build -o DIR\` wrote for one model: DIR/<model>)`);
    await expect(readArtifact(join(dir, "nope"))).rejects.toThrow(`${join(dir, "nope")}: no such file or directory`);
    const files = new Map(artifactFiles(artifact).map((f) => [f.path, f.text]));
    const first = artifact.prefill.call[0]!.name;
    await expect(readArtifactFiles(files.get("manifest.json")!, (p) => (p.includes(first) ? Promise.reject(new Error("gone")) : files.get(p)!), "m.json")).rejects.toThrow(
      `m.json: cannot read prefill/00-${first}.wgsl: gone`,
    );
  });

  it("reads no file of another version, and no file outside the model's directory", async () => {
    const files = new Map(artifactFiles(artifact).map((f) => [f.path, f.text]));
    const read: string[] = [];
    const old = JSON.stringify({ ...JSON.parse(files.get("manifest.json")!), version: 1 });
    await expect(readArtifactFiles(old, (p) => (read.push(p), ""), "m.json")).rejects.toThrow(/m\.json has format version 1/);
    expect(read).toEqual([]);
    const escape = JSON.parse(files.get("manifest.json")!) as Record<string, any>;
    escape["decode"].call[0].file = "../../etc/passwd.wgsl";
    await expect(readArtifactFiles(JSON.stringify(escape), (p) => (read.push(p), ""), "m.json")).rejects.toThrow(/decode kernel "embeddings" has no valid "file"/);
    expect(read.filter((p) => p.includes(".."))).toEqual([]);
  });
});

describe("the device the artifact needs", () => {
  const device = (limits: Partial<GPUSupportedLimits>, features: string[] = []) =>
    ({ limits: { ...DEFAULT_LIMITS, maxBufferSize: 2 ** 30, ...limits }, features: new Set(features), lost: new Promise(() => {}) }) as unknown as GPUDevice;

  it("lists every limit below the artifact's and every missing feature", () => {
    const a = { ...artifact, limits: { ...DEFAULT_LIMITS, maxStorageBuffersPerShaderStage: 10, maxComputeWorkgroupStorageSize: 32768 }, features: ["shader-f16"] };
    expect(deviceMismatch(a, device({}))).toEqual([
      "maxComputeWorkgroupStorageSize: the kernels were generated for 32768, the device allows 16384",
      "maxStorageBuffersPerShaderStage: the kernels were generated for 10, the device allows 8",
      "feature shader-f16: the kernels use it, the device was created without it",
    ]);
    expect(deviceMismatch(a, device({ maxStorageBuffersPerShaderStage: 16, maxComputeWorkgroupStorageSize: 32768 }, ["shader-f16"]))).toEqual([]);
  });

  it("loadModel refuses such a device before it allocates anything", async () => {
    const a = { ...artifact, limits: { ...DEFAULT_LIMITS, maxStorageBuffersPerShaderStage: 10 } };
    const e = await loadModel(device({}), a, {}).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DeviceMismatchError);
    expect((e as Error).message).toBe(
      "model tiny cannot run on this device:\n  maxStorageBuffersPerShaderStage: the kernels were generated for 10, the device allows 8\n" +
        "Request the device with these limits and features (requiredLimits / requiredFeatures), or rebuild the model for this device's limits (`hybridc build --limit NAME=N`).",
    );
  });
});
