/**
 * Weights that fit any WebGPU adapter (compiler/plan/weights.ts, runtime/memory.ts):
 *   - tiny models uploaded with `GpuModelMemory.upload` under a 4 KiB binding limit (the
 *     embedding / LM head, 97 x 16 f32 = 6208 bytes, is bound as two row windows of one buffer;
 *     layers are packed into several buffers; a prefill program's length is capped where its
 *     logits would pass 4 KiB, and longer prompts run in chunks) and under 8 storage buffers per
 *     stage: fused prefill (L = 1, 7, 37) and decode match `interp` of the unoptimized graphs to 1e-4;
 *   - upload's progress in bytes and its errors (wrong length, missing tensor);
 *   - every kernel of every canonical spec (fused and --no-fuse, prefill and decode) generates
 *     under DEFAULT_LIMITS with at most 8 storage bindings (generation only).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, generateKernel, requestFromGraph, type KernelLimits, type KernelSpec } from "../../compiler/codegen/index.ts";
import { weightArtifacts } from "../../compiler/codegen/artifact.ts";
import { compile, lowerDecode, lowerPrefill, programs, type ResolvedModel } from "../../compiler/index.ts";
import { relError } from "../../compiler/interp/index.ts";
import { kernelsOf } from "../../compiler/plan/kernels.ts";
import { storage } from "../../compiler/plan/storage.ts";
import { layouts } from "../../compiler/plan/views.ts";
import { weightLayout } from "../../compiler/plan/weights.ts";
import { GpuModelMemory, type TensorSource } from "../../runtime/memory.ts";
import { GpuProgram, lengthLimit } from "../../runtime/program.ts";
import type { Graph } from "../../compiler/ir/graph.ts";
import type { Dim } from "../../compiler/ir/types.ts";
import type { WeightLayout } from "../../compiler/plan/weights.ts";
import { randomTokens, randomWeights, runGraph, zeroState, type State } from "../ir/fixtures.ts";
import { linearGraph, type LinearCase } from "./graphs.ts";
import { runNode, runtime } from "./harness.ts";
import { built, spec } from "../runtime/built.ts";

const TOL = 1e-4;
/** Per-test limit: lavapipe compiles pipelines on the CPU, which a busy machine slows a lot. */
const SLOW = 180_000;
const SPECS = join(import.meta.dirname, "../../specs");

function model(text: string): ResolvedModel {
  return spec(text).model;
}

const MODELS: readonly [string, string][] = [
  [
    "mamba-1, tied",
    `model split_mamba1 {
  vocab = 97
  d_model = 16
  ssm = mamba1(d_state = 8, expand = 2, d_conv = 4, dt_rank = 2)
  layers = [ssm, ssm]
}`,
  ],
  [
    "mamba-2 + attention + MLP, untied",
    `model split_hybrid {
  vocab = 97
  d_model = 16
  tied = false
  context = 64
  ssm = mamba2(d_state = 8, expand = 2, d_conv = 4, headdim = 8, chunk = 8)
  attn = attention(heads = 2, kv_heads = 1, rope = rope(theta = 10_000))
  ffn = mlp(swiglu, hidden = 24)
  layers = [ssm + ffn, attn + ffn]
}`,
  ],
];

const LIMITS: readonly [string, KernelLimits][] = [
  ["4 KiB bindings", { ...DEFAULT_LIMITS, maxStorageBufferBindingSize: 4096 }],
  ["8 storage buffers", DEFAULT_LIMITS],
];

const storageCount = (s: KernelSpec): number => s.bindings.filter((b) => b.access !== "uniform").length;

/** A checkpoint reader: float32 tensors, asynchronously, one at a time, counting reads. */
function source(f32: Record<string, Float32Array>): TensorSource & { reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    async read(name) {
      reads.push(name);
      const v = f32[name];
      if (v === undefined) throw new Error(`checkpoint has no tensor ${name}`);
      return v;
    },
  };
}

describe.each(MODELS)("%s", (_, text) => {
  const s = spec(text);
  const m = s.model;
  const f32: Record<string, Float32Array> = {};
  const f64: Record<string, Float64Array> = {};
  for (const [n, a] of Object.entries(randomWeights(m, 5))) {
    f32[n] = Float32Array.from(a);
    f64[n] = Float64Array.from(f32[n]!);
  }
  const ref = { prefill: lowerPrefill(m), decode: lowerDecode(m) };

  describe.each(LIMITS)("under %s", (what, limits) => {
    let memory: GpuModelMemory;
    let decode: GpuProgram;
    const prefill = new Map<number, GpuProgram>();
    const progress: [number, number][] = [];

    beforeAll(async () => {
      const a = await built(s, { limits });
      const src = source(f32);
      memory = await GpuModelMemory.upload(await runtime(), a, src, { onProgress: (x, y) => progress.push([x, y]) });
      expect(src.reads.sort()).toEqual(m.weights.map((w) => w.name).sort());
      decode = await GpuProgram.fromArtifact(memory, a.decode, 1);
      // As loadModel caps a program on a device whose bindings are this small.
      const cap = lengthLimit(a.prefill, limits.maxStorageBufferBindingSize).L;
      for (const L of [1, 7, 37]) prefill.set(L, await GpuProgram.fromArtifact(memory, a.prefill, Math.min(L, cap)));
      // lavapipe compiles a pipeline at its first dispatch: pay that here, not inside a test's time limit.
      for (const p of prefill.values()) await p.run(randomTokens(m, p.L, 1), 0);
      await decode.run([0], 0);
    }, 600_000);

    it("reports progress in bytes, ending at the model's size", () => {
      const total = 4 * m.weights.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0);
      expect(total).toBe(4 * m.parameters);
      expect(progress[0]).toEqual([0, total]);
      expect(progress.at(-1)).toEqual([total, total]);
      expect(progress).toHaveLength(m.weights.length + 1);
    });

    it("every kernel fits the limits", () => {
      for (const p of [decode, ...prefill.values()]) {
        for (const s of p.specs) {
          expect(storageCount(s), s.name).toBeLessThanOrEqual(8);
          for (const b of s.bindings) {
            if (b.access === "uniform" || b.elements.perL !== 0) continue;
            expect(b.window ? 4 * b.window.elements : 4 * b.elements.fixed, `${s.name} ${b.name}`).toBeLessThanOrEqual(limits.maxStorageBufferBindingSize);
          }
        }
      }
      const windowed = decode.specs.flatMap((s) => s.bindings.flatMap((b) => (b.access !== "uniform" && b.window ? [b.buffer] : [])));
      const big = m.weights.filter((w) => 4 * w.shape.reduce((a, b) => a * b, 1) > limits.maxStorageBufferBindingSize).map((w) => `weight:${w.name}`);
      if (what.startsWith("4 KiB")) {
        // The embedding (and the untied LM head) at least: 97 x 16 f32 = 6208 bytes.
        expect(big).toContain(`weight:${m.weights[0]!.name}`);
        expect(new Set(windowed)).toEqual(new Set(big));
      } else expect(windowed).toEqual([]);
    });

    it.each([1, 7, 37])("prefill L = %i and 2 decode steps match interp", async (L) => {
      memory.resetState();
      const tokens = randomTokens(m, L, 3 * L);
      const r = runGraph(ref.prefill, m, f64, tokens, 0, zeroState(m));
      // Chunks of the program's L: under 4 KiB the logits (97 floats a token) cap it at 10.
      const p = prefill.get(L)!;
      expect(p.L).toBe(what.startsWith("4 KiB") ? Math.min(L, Math.floor(1024 / m.vocab)) : L);
      const gpu = new Float32Array(L * m.vocab);
      for (let at = 0; at < L; at += p.L) gpu.set(await p.run(tokens.slice(at, at + p.L), at), at * m.vocab);
      expect(relError(Float64Array.from(gpu), r.logits), "prefill logits").toBeLessThanOrEqual(TOL);
      let state: State = r.state;
      for (let i = 0; i < 2; i++) {
        const t = (13 * L + 5 * i + 90) % m.vocab; // high ids read the second window
        const d = runGraph(ref.decode, m, f64, [t], L + i, state);
        state = d.state;
        expect(relError(Float64Array.from(await decode.run([t], L + i)), d.logits), `decode step ${i}`).toBeLessThanOrEqual(TOL);
      }
    }, SLOW);
  });
});

/**
 * A layout of `g`'s weights as if they were one layer's (packed at 64-element offsets), except
 * the tensors in `alone`, which get buffers of their own (windowed when over the limit).
 */
function packedLayout(g: Graph, limitBytes: number, alone: readonly string[]): WeightLayout {
  const inLayer = (name: string): string => (alone.includes(name) ? name : `t.layers.0.${name}`);
  const entries = g.nodes.flatMap((n) => (n.op === "weight" ? [{ name: inLayer(n.attrs.name), shape: n.attrs.type.shape as number[], dtype: n.attrs.type.dtype }] : []));
  const l = weightLayout(entries, { maxStorageBufferBindingSize: limitBytes });
  return { ...l, of: (name) => l.of(inLayer(name)) };
}

describe("node kernels on packed and windowed weights match interp", () => {
  const CASES: readonly [string, Omit<LinearCase, "S">, number, string[], number][] = [
    // [label, case, binding limit, tensors alone, windows of W0]
    ["vec4 W0 (33 x 16) in 3 windows + rmsnorm, bias, residual", { K: 16, outs: [33], prologue: "rmsnorm", bias: true, residual: true }, 1024, ["W0", "x.table", "res.table"], 3],
    ["scalar W0 (70 x 18) in 3 windows of 32 rows + bias", { K: 18, outs: [70], bias: true }, 2400, ["W0", "x.table"], 3],
    ["q|k|v weights and biases in one vec4 binding", { K: 16, outs: [12, 8, 8], prologue: "rmsnorm", bias: true }, 1 << 20, ["x.table"], 0],
  ];
  describe.each(CASES)("%s", (_, c, limitBytes, alone, windows) => {
    it.each([1, 7, 67])("linear at L = %i (1: decode)", async (L) => {
      const S: Dim = L === 1 ? 1 : "L";
      const tg = linearGraph({ ...c, S });
      const r = await runNode(tg.graph, tg.node, tg.feed(L, 40 + L), {
        weights: packedLayout(tg.graph, limitBytes, alone),
        limits: { ...DEFAULT_LIMITS, maxStorageBufferBindingSize: limitBytes },
      });
      const storageBindings = r.spec.bindings.filter((b) => b.access !== "uniform");
      expect(storageBindings.filter((b) => b.window !== undefined)).toHaveLength(windows);
      expect(storageBindings.filter((b) => b.buffer === "weight:t.layers.0")).toHaveLength(1);
      expect(r.errors[0]).toBeLessThanOrEqual(1e-5);
    }, SLOW);
  });

  it.each([1, 7, 67])("embedding gather from a table in 3 windows (11 rows of 16 under 256 bytes), L = %i", async (L) => {
    const tg = linearGraph({ S: L === 1 ? 1 : "L", K: 16, outs: [4], plain: true });
    const emb = tg.graph.nodes.find((n) => n.op === "embedding")!;
    const r = await runNode(tg.graph, emb.id, tg.feed(L, 9), {
      weights: packedLayout(tg.graph, 256, ["x.table", "W0"]),
      limits: { ...DEFAULT_LIMITS, maxStorageBufferBindingSize: 256 },
    });
    expect(r.spec.bindings.flatMap((b) => (b.access !== "uniform" && b.window ? [[b.window.offset, b.window.elements]] : []))).toEqual([
      [0, 64],
      [64, 64],
      [128, 48],
    ]);
    // A copy: exact up to the float32 rounding of interp's float64 table.
    expect(r.errors[0]).toBeLessThanOrEqual(1e-7);
  }, SLOW);
});

describe("GpuModelMemory.upload errors", () => {
  const s = spec(MODELS[0]![1]);
  const m = s.model;
  const f32 = Object.fromEntries(Object.entries(randomWeights(m, 1)).map(([n, a]) => [n, Float32Array.from(a)]));

  it("names the tensor, the expected and the actual element counts", async () => {
    const name = "backbone.layers.1.mixer.A_log";
    const bad = { ...f32, [name]: new Float32Array(255) };
    await expect(GpuModelMemory.upload(await runtime(), await built(s), bad)).rejects.toThrow(`weight ${name}: expected 256 elements (shape [32, 8]), got 255`);
  });

  it("passes a reader's error through", async () => {
    const { [m.weights[3]!.name]: _, ...rest } = f32;
    await expect(GpuModelMemory.upload(await runtime(), await built(s), source(rest))).rejects.toThrow(`checkpoint has no tensor ${m.weights[3]!.name}`);
  });

  it("stops between tensors when aborted, with the signal's reason", async () => {
    const ac = new AbortController();
    let reads = 0;
    const counting: TensorSource = {
      read: (name) => {
        if (++reads === 3) ac.abort(new Error("stop loading"));
        return f32[name]!;
      },
    };
    await expect(GpuModelMemory.upload(await runtime(), await built(s), counting, { signal: ac.signal })).rejects.toThrow("stop loading");
    expect(reads).toBe(3);
  });
});

describe("canonical specs under DEFAULT_LIMITS", () => {
  const files = readdirSync(SPECS).filter((f) => f.endsWith(".hyb")).sort();
  it.each(files)("%s: every kernel, fused and unfused, has at most 8 storage bindings", (file) => {
    const r = compile(readFileSync(join(SPECS, file), "utf8"), { path: file });
    const m = r.models[0]!;
    const layout = weightLayout(weightArtifacts(m), DEFAULT_LIMITS);
    let kernels = 0;
    for (const fuse of [true, false]) {
      const p = programs(m, { fuse });
      for (const g of [p.prefill, p.decode]) {
        const lay = layouts(g, 5);
        const { constant } = storage(g, lay);
        for (const k of [...kernelsOf(g, lay, constant, "load"), ...kernelsOf(g, lay, constant, "call")]) {
          const spec = generateKernel(requestFromGraph(g, k.node, { name: k.name, weights: layout }), DEFAULT_LIMITS);
          expect(storageCount(spec), `${g.name} ${k.name}`).toBeLessThanOrEqual(8);
          kernels++;
        }
      }
    }
    expect(kernels).toBeGreaterThan(100);
  });

  it("a 50280 x 768 embedding and LM head (154 MB each, as in mamba-130m) are bound as two windows of their buffers", () => {
    const m = model(`model big_vocab {
  vocab = 50280
  d_model = 768
  tied = false
  ssm = mamba1(d_state = 16, expand = 2, d_conv = 4)
  layers = [ssm]
}`);
    const layout = weightLayout(weightArtifacts(m), DEFAULT_LIMITS);
    // 3072 bytes a row: floor(128 MiB / 3072) = 43690 rows, then 6590.
    const expected = [
      [0, 43690 * 768],
      [43690 * 768, 6590 * 768],
    ];
    const graphs = [
      [programs(m).decode, "fused_linear"],
      [programs(m, { fuse: false }).prefill, "linear"],
    ] as const;
    for (const [g, head] of graphs) {
      const lay = layouts(g, 5);
      const { constant } = storage(g, lay);
      const readers = kernelsOf(g, lay, constant, "call").filter((k) =>
        g.nodes[k.node]!.inputs.some((r) => {
          const n = g.nodes[lay[r.node]![r.index]!.base.node]!;
          return n.op === "weight" && (n.attrs.name === "backbone.embeddings.weight" || n.attrs.name === "lm_head.weight");
        }),
      );
      expect(readers.map((k) => g.nodes[k.node]!.op)).toEqual(["embedding", head]);
      for (const k of readers) {
        const spec = generateKernel(requestFromGraph(g, k.node, { name: k.name, weights: layout }), DEFAULT_LIMITS);
        const windows = spec.bindings.flatMap((b) => (b.access !== "uniform" && b.window ? [[b.window.offset, b.window.elements]] : []));
        expect(windows, k.name).toEqual(expected);
      }
    }
  });
});
