/**
 * The compiled artifact (compiler/codegen/artifact.ts; its on-disk form runtime/artifact/files.ts)
 * and the runtime built from it (GpuProgram.fromArtifact). Facts checked on every canonical spec
 * and on tiny models:
 *  - kernels come in the plan's dispatch order, with their `.hyb` locations as file:line:col;
 *  - buffer sizes (a * L + b elements) equal what the model's dimensions give, computed by hand;
 *  - scratch arenas never alias two bindings of one kernel, and a simulation of every call shows
 *    each scratch value still in its arena when it is read (lifetimes never overlap);
 *  - arenas cut prefill scratch memory (hybrid-130m at L = 64) to within the live-bytes bound;
 *  - manifests are byte-identical from run to run, and read back (validated) to the same artifact;
 *  - codegen problems are grouped diagnostics data with codes and spans;
 *  - on the adapter: a program built from the written manifest matches the float64 interpreter,
 *    and a broken kernel maps back to its spec spans and file:line:col.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { programArtifact, type ModelArtifact, type ProgramArtifact } from "../../compiler/codegen/artifact.ts";
import { DEFAULT_LIMITS, extentAt, type KernelSpec } from "../../compiler/codegen/kernel.ts";
import type { Span } from "../../compiler/diag/source.ts";
import { build, compile, lowerPrefill, planGraph, programs, type ResolvedModel } from "../../compiler/index.ts";
import { artifactFiles, readArtifactFiles } from "../../runtime/artifact/files.ts";
import { bindingBytes } from "../../runtime/artifact/launch.ts";
import { ARTIFACT_VERSION } from "../../runtime/artifact/types.ts";
import { relError } from "../../compiler/interp/index.ts";
import type { Graph } from "../../compiler/ir/graph.ts";
import { KernelCompileError } from "../../runtime/device.ts";
import { GpuModelMemory, GpuProgram } from "../../runtime/program.ts";
import { randomTokens, randomWeights, runGraph, zeroState } from "../ir/fixtures.ts";
import { Maker, OP_SPAN } from "./graphs.ts";
import { runtime } from "./harness.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SPECS = readdirSync(join(ROOT, "specs")).filter((f) => f.endsWith(".hyb")).sort();

const TINY = `model tiny {
  vocab = 50
  d_model = 16
  ssm = mamba1(d_state = 8, expand = 2, d_conv = 4, dt_rank = 2)
  layers = 2 * ssm
}`;

function compiled(text: string, path: string): { models: readonly ResolvedModel[]; locate: (s: Span) => string } {
  const r = compile(text, { path });
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  const locate = (s: Span) => {
    const { line, col } = r.source.lineCol(s.start);
    return `${path}:${line}:${col}`;
  };
  return { models: r.models, locate };
}

/** `build()` of the text (WebGPU's default limits), with each model and its optimized graphs. */
function built(text: string, path: string, fuse = true): { model: ResolvedModel; graphs: { prefill: Graph; decode: Graph }; artifact: ModelArtifact }[] {
  const r = build(text, { path, fuse });
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  return r.models.map((model, i) => ({ model, graphs: programs(model, { fuse }), artifact: r.artifacts[i]! }));
}

/** The file's only model. */
function one(text: string, path: string): ReturnType<typeof built>[number] {
  const [first] = built(text, path);
  if (!first) throw new Error(`${path} has no model`);
  return first;
}

const specText = (f: string) => readFileSync(join(ROOT, "specs", f), "utf8");
const isScratch = (key: string) => !key.includes(":");
const storageBindings = (k: KernelSpec) => k.bindings.flatMap((b) => (b.access === "uniform" ? [] : [b]));

/** Every kernel binds distinct GPU buffers once scratch keys are replaced by their arenas. */
function aliasing(p: ProgramArtifact): string[] {
  const bad: string[] = [];
  for (const k of [...p.load, ...p.call]) {
    const gpuBuffers = storageBindings(k).map((b) => p.scratch[b.buffer] ?? b.buffer);
    if (new Set(gpuBuffers).size !== gpuBuffers.length) bad.push(`${k.name}: ${gpuBuffers.join(", ")}`);
  }
  return bad;
}

/** Replays the calls: each arena holds the last scratch value written into it; every read must find its own value there. */
function clobbered(p: ProgramArtifact): string[] {
  const holds = new Map<string, string>();
  const bad: string[] = [];
  for (const k of p.call) {
    const bs = storageBindings(k).filter((b) => isScratch(b.buffer));
    for (const b of bs.filter((x) => x.access === "read")) {
      const arena = p.scratch[b.buffer]!;
      if (holds.get(arena) !== b.buffer) bad.push(`${k.name} reads ${b.buffer} from ${arena}, which holds ${holds.get(arena)}`);
    }
    for (const b of bs.filter((x) => x.access === "read_write")) holds.set(p.scratch[b.buffer]!, b.buffer);
  }
  return bad;
}

describe.each(SPECS)("%s", (file) => {
  const models = built(specText(file), file);

  it("kernels are the plan's, in dispatch order, located in the spec", () => {
    for (const { graphs, artifact } of models) {
      for (const which of ["prefill", "decode"] as const) {
        const plan = planGraph(graphs[which], { L: 64 });
        const a = artifact[which];
        expect(a.call.map((k) => [k.node, k.name, k.op])).toEqual(plan.kernels.map((k) => [k.node, k.name, k.op]));
        expect(a.load.map((k) => [k.node, k.name])).toEqual(plan.constants.map((k) => [k.node, k.name]));
        for (const k of a.call) {
          expect(k.locations.length, k.name).toBeGreaterThan(0);
          for (const l of k.locations) expect(l).toMatch(new RegExp(`^${file.replace(".", "\\.")}:\\d+:\\d+$`));
          expect(k.wgsl).toContain(`// from: ${k.locations.join(", ")}`);
        }
      }
    }
  });

  it("scratch arenas never alias a kernel's bindings, and no value is overwritten before its last read", () => {
    for (const { artifact } of models) {
      for (const p of [artifact.prefill, artifact.decode]) {
        expect(aliasing(p), p.name).toEqual([]);
        expect(clobbered(p), p.name).toEqual([]);
        // Every scratch binding has an arena at least as large, at any length.
        for (const k of p.call) {
          for (const b of storageBindings(k).filter((x) => isScratch(x.buffer))) {
            const arena = p.buffers.find((x) => x.key === p.scratch[b.buffer])!;
            for (const L of [1, 37, 4096]) expect(extentAt(arena.elements, L)).toBeGreaterThanOrEqual(extentAt(b.elements, L));
          }
        }
        // No scratch key gets a buffer of its own.
        expect(p.buffers.filter((b) => isScratch(b.key))).toEqual([]);
      }
    }
  });

  it("the decode program has no length-dependent buffer", () => {
    for (const { artifact } of models) {
      for (const b of artifact.decode.buffers) expect(b.elements.perL, b.key).toBe(0);
    }
  });
});

describe("a tiny Mamba-1 model, by hand", () => {
  const { artifact } = one(TINY, "tiny.hyb");
  // d_inner = 2 * 16 = 32, d_state 8, d_conv 4, vocab 50.
  const size = (p: ProgramArtifact, key: string) => p.buffers.find((b) => b.key === key)?.elements;

  it("sizes io and state buffers from the model's dimensions", () => {
    const { prefill, decode } = artifact;
    expect(size(prefill, "input:tokens")).toEqual({ perL: 1, fixed: 0 });
    expect(size(decode, "input:tokens")).toEqual({ perL: 0, fixed: 1 });
    expect(size(prefill, "output:logits")).toEqual({ perL: 50, fixed: 0 });
    expect(size(decode, "output:logits")).toEqual({ perL: 0, fixed: 50 });
    for (const p of [prefill, decode]) {
      expect(size(p, "state:layers.0.conv")).toEqual({ perL: 0, fixed: 32 * 4 });
      expect(size(p, "state:layers.1.ssm")).toEqual({ perL: 0, fixed: 32 * 8 });
      expect(p.state).toEqual([
        { name: "layers.0.conv", dtype: "f32", shape: [32, 4] },
        { name: "layers.0.ssm", dtype: "f32", shape: [32, 8] },
        { name: "layers.1.conv", dtype: "f32", shape: [32, 4] },
        { name: "layers.1.ssm", dtype: "f32", shape: [32, 8] },
      ]);
      expect(p.stateCopies).toEqual([]);
      expect(p.inputs.find((i) => i.role === "tokens")).toEqual({ name: "tokens", role: "tokens", buffer: "input:tokens", dtype: "i32" });
      // Token ids are bound as i32, everything else as f32 (in lanes of 4 where every use is aligned).
      for (const k of [...p.load, ...p.call]) {
        for (const b of storageBindings(k)) expect(b.dtype, `${k.name} ${b.name}`).toBe(b.buffer === "input:tokens" ? "i32" : "f32");
      }
    }
    expect(prefill.outputs[0]).toEqual({
      name: "logits",
      buffer: "output:logits",
      dtype: "f32",
      offset: { perL: 0, fixed: 0 },
      strides: [{ perL: 0, fixed: 50 }, { perL: 0, fixed: 1 }],
      shape: ["L", 50],
    });
  });

  it("describes the model: vocabulary, context, attention, limits, features, weights with init", () => {
    expect(artifact).toMatchObject({ format: "hybridc-artifact", version: ARTIFACT_VERSION, source: "tiny.hyb", model: "tiny", vocab: 50, attention: [], weightsScheme: "mamba", tied: true });
    expect(artifact.limits).toEqual(DEFAULT_LIMITS);
    expect(artifact.features).toEqual([]);
    const byLocal = (suffix: string) => artifact.weights.find((w) => w.name === `backbone.layers.0.mixer.${suffix}`)!;
    expect(byLocal("A_log")).toEqual({ name: "backbone.layers.0.mixer.A_log", shape: [32, 8], dtype: "f32", init: { kind: "a_log_rows" } });
    expect(byLocal("D").init).toEqual({ kind: "const", value: 1 });
    expect(byLocal("dt_proj.bias").init).toEqual({ kind: "dt_bias", dtMin: 1e-3, dtMax: 1e-1 });
    // 2 residual sublayers: out_proj is N(0, (0.02 / sqrt 2)^2).
    expect(byLocal("out_proj.weight").init).toEqual({ kind: "normal", std: 0.02 / Math.sqrt(2) });
  });

  it("weight buffers are the model's weight layout: every tensor of a layer in one buffer", () => {
    const layer0 = artifact.weightBuffers.find((b) => b.key === "weight:backbone.layers.0")!;
    // norm 16, in_proj 64x16, conv 32x1x4 + 32, x_proj (2+16)x32, dt_proj 32x2 + 32, A_log 32x8, D 32, out_proj 16x32
    const tensors = [16, 1024, 128, 32, 576, 64, 32, 256, 32, 512];
    expect(layer0.tensors.map((t) => t.shape.reduce((a, b) => a * b, 1)).sort((a, b) => a - b)).toEqual([...tensors].sort((a, b) => a - b));
    expect(layer0.elements).toBeGreaterThanOrEqual(tensors.reduce((a, b) => a + b, 0));
    for (const p of [artifact.prefill, artifact.decode]) {
      for (const b of p.buffers.filter((x) => x.kind === "weight")) {
        expect(b.elements, b.key).toEqual({ perL: 0, fixed: artifact.weightBuffers.find((w) => w.key === b.key)!.elements });
      }
    }
  });

  it("writes byte-identical manifests that read back to the same artifact", async () => {
    const a = artifactFiles(artifact);
    const { artifact: again } = one(TINY, "tiny.hyb");
    expect(artifactFiles(again)).toEqual(a);
    expect(a[0]!.path).toBe("manifest.json");
    const calls = artifact.prefill.call.length;
    expect(a.filter((f) => f.path.startsWith("prefill/") && !f.path.includes("/load-")).map((f) => f.path)).toEqual(
      artifact.prefill.call.map((k, i) => `prefill/${String(i).padStart(Math.max(2, String(calls - 1).length), "0")}-${k.name}.wgsl`),
    );
    const files = new Map(a.map((f) => [f.path, f.text]));
    const back = await readArtifactFiles(files.get("manifest.json")!, (p) => files.get(p)!);
    expect(back).toEqual(artifact);
    // ... and writes the same files again.
    expect(artifactFiles(back)).toEqual(a);
  });
});

describe("prefill scratch of hybrid-130m at L = 64", () => {
  it("arenas need far less than one buffer per scratch value, and no less than the live bytes", () => {
    const { graphs, artifact } = one(specText("hybrid-130m.hyb"), "hybrid-130m.hyb");
    const p = artifact.prefill;
    const perKey = new Map<string, number>();
    for (const k of p.call) for (const b of storageBindings(k)) if (isScratch(b.buffer)) perKey.set(b.buffer, bindingBytes(b, 64));
    const before = [...perKey.values()].reduce((a, b) => a + b, 0);
    const after = p.buffers.filter((b) => b.kind === "arena").reduce((a, b) => a + bindingBytes(b, 64), 0);
    const plan = planGraph(graphs.prefill, { L: 64 });
    expect(after).toBeGreaterThanOrEqual(plan.maxLiveBytes);
    expect(after * 10).toBeLessThan(before);
  });
});

describe("codegen problems", () => {
  it("a kernel over the limits is one HYB5002 per kernel kind and spans, not one per layer", () => {
    const { models, locate } = compiled(TINY, "tiny.hyb");
    const g = programs(models[0]!).prefill;
    const r = programArtifact(g, { limits: { ...DEFAULT_LIMITS, maxStorageBuffersPerShaderStage: 3 }, locate });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(new Set(r.problems.map((p) => p.code))).toEqual(new Set(["HYB5002"]));
    const scan = r.problems.find((p) => p.kernel === "layers.0.mixer.selective_scan")!;
    expect(scan.message).toMatch(/needs \d+ storage buffers; .* allows 3 per stage \(and 1 more kernel of the same lines\)$/);
    expect(scan.spans.length).toBeGreaterThan(0);
    expect(r.problems.some((p) => p.kernel.startsWith("layers.1."))).toBe(false);
  });

  it("an op without a generator is HYB5001 at the node's spans", () => {
    // A slice of rows reshaped across the gap it leaves cannot be a view: a copy kernel no family generates.
    const m = new Maker(2);
    const x = m.activation("x", 8, { offset: 0, size: 4 });
    m.b.at([OP_SPAN]);
    const flat = m.b.reshape(x, [8]);
    const tg = m.finish(flat.node, [{ name: "y", value: flat }]);
    const r = programArtifact(tg.graph, { limits: DEFAULT_LIMITS });
    expect(r).toEqual({ ok: false, problems: [{ code: "HYB5001", message: "no WGSL generator for reshape (kernel layers.0.reshape)", kernel: "layers.0.reshape", spans: [OP_SPAN] }] });
  });
});

describe("on the adapter", () => {
  it("a program built from the written manifest matches the float64 interpreter", async () => {
    const { model, artifact } = one(TINY, "tiny.hyb");
    const files = new Map(artifactFiles(artifact).map((f) => [f.path, f.text]));
    const back = await readArtifactFiles(files.get("manifest.json")!, (p) => files.get(p)!);
    const f64 = randomWeights(model, 5);
    const f32 = Object.fromEntries(Object.entries(f64).map(([n, a]) => [n, Float32Array.from(a)]));
    const rt = await runtime();
    const memory = await GpuModelMemory.upload(rt, back, f32);
    const prefill = await GpuProgram.fromArtifact(memory, back.prefill, 37);
    try {
      for (const L of [37, 1, 7]) {
        memory.resetState();
        const tokens = randomTokens(model, L, 40 + L);
        const gpu = await prefill.run(tokens, 0);
        const f64w = Object.fromEntries(Object.entries(f32).map(([n, a]) => [n, Float64Array.from(a)]));
        const ref = runGraph(lowerPrefill(model), model, f64w, tokens, 0, zeroState(model));
        expect(relError(Float64Array.from(gpu), ref.logits), `L = ${L}`).toBeLessThanOrEqual(1e-4);
      }
    } finally {
      prefill.destroy();
      memory.destroy();
    }
  });

  it("a kernel that does not compile names its spec spans and file:line:col", async () => {
    const { artifact } = one(TINY, "tiny.hyb");
    const k = artifact.prefill.call.find((x) => x.op === "selective_scan")!;
    const bad = { ...k, wgsl: k.wgsl.replace("fn main(", "fn main(oops ") };
    const e = await (await runtime()).compile([bad]).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(KernelCompileError);
    const err = e as KernelCompileError;
    expect(err.kernel).toBe("layers.0.mixer.selective_scan");
    expect(err.spans).toEqual(k.spans);
    // `ssm = mamba1(...)` is line 4, column 3 of TINY.
    expect(err.location).toBe("tiny.hyb:4:3");
    expect(err.message).toContain("(from tiny.hyb:4:3)");
    expect(err.messages[0]!.line).toBe(bad.wgsl.split("\n").findIndex((l) => l.includes("fn main(oops")) + 1);
  });

  it("bindings that disagree with the module are a pipeline error at the kernel's spans", async () => {
    const { artifact } = one(TINY, "tiny.hyb");
    const k = artifact.prefill.call.find((x) => x.op === "selective_scan")!;
    // The layout says read-only where the module writes (one more declaration keeps the module
    // apart from the good one, which the runtime may already have compiled and cached).
    const bad = {
      ...k,
      wgsl: `${k.wgsl}\nconst validation_probe: u32 = 1u;\n`,
      bindings: k.bindings.map((b) => (b.access === "read_write" ? { ...b, access: "read" as const } : b)),
    };
    const e = await (await runtime()).compile([bad]).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(KernelCompileError);
    expect((e as KernelCompileError).location).toBe("tiny.hyb:4:3");
    expect((e as Error).message).toMatch(/^kernel layers\.0\.mixer\.selective_scan: (pipeline does not validate|does not validate) \(from tiny\.hyb:4:3\)/);
  });
});
