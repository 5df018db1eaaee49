/**
 * Weights in row quads (runtime/artifact/quads.ts): the permutation by hand; which weights a build
 * stores so (plan/quads.ts: the linear family's matrices and embedding tables, whole, 4 | N and
 * U | K; none for a GPU build); row windows that never split a quad; and on the adapter, every
 * way a kernel reads a matrix in quads (tiled and cooperative decode GEMVs, prefill tiles, scalar
 * K walks, several weights in one binding, swiglu, row windows, an embedding gather; f32, and f16
 * packed 4 and 8 halves a load or native) against the float64 interpreter on the row-major
 * weights (the harness permutes them as the runtime's upload does). Tolerances as in
 * tests/codegen/linear.test.ts: 1e-5 for a linear, 1e-7 for a gather.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS } from "../../compiler/codegen/index.ts";
import type { F16Mode } from "../../compiler/codegen/request.ts";
import { build } from "../../compiler/index.ts";
import type { Graph } from "../../compiler/ir/graph.ts";
import type { Dim } from "../../compiler/ir/types.ts";
import { rowWindows, weightLayout, type WeightLayout } from "../../compiler/plan/weights.ts";
import { quadIndex, toQuads } from "../../runtime/artifact/quads.ts";
import type { ModelArtifact } from "../../runtime/artifact/types.ts";
import { halfValues, halfWeights } from "../f16/half.ts";
import { linearGraph, Maker, OP_SPAN, type LinearCase, type TestGraph } from "./graphs.ts";
import { runNode, type NodeResult, type RunNodeOptions } from "./harness.ts";

describe("toQuads", () => {
  it("interleaves four f32 rows in units of 4 ([4, 8])", () => {
    const v = Float32Array.from({ length: 32 }, (_, i) => i);
    const row = (r: number, from: number) => [0, 1, 2, 3].map((j) => r * 8 + from + j);
    expect([...toQuads(v, 4, 4)]).toEqual([...row(0, 0), ...row(1, 0), ...row(2, 0), ...row(3, 0), ...row(0, 4), ...row(1, 4), ...row(2, 4), ...row(3, 4)]);
  });

  it("interleaves f16 rows in units of 8, quad after quad ([8, 16])", () => {
    const v = Uint16Array.from({ length: 128 }, (_, i) => i);
    const out = toQuads(v, 8, 8);
    expect(out).toBeInstanceOf(Uint16Array);
    // Quad 0: rows 0-3, k 0..7 of each, then k 8..15 of each; quad 1 (rows 4-7) from element 64.
    const unit = (r: number, k0: number) => Array.from({ length: 8 }, (_, j) => r * 16 + k0 + j);
    expect([...out.slice(0, 64)]).toEqual([0, 1, 2, 3].flatMap((r) => unit(r, 0)).concat([0, 1, 2, 3].flatMap((r) => unit(r, 8))));
    expect([...out.slice(64, 72)]).toEqual(unit(4, 0));
    expect([...out.slice(120)]).toEqual(unit(7, 8));
  });

  it("puts every element where quadIndex says, and refuses shapes that do not fit", () => {
    const [N, K, U] = [12, 24, 8];
    const v = Float64Array.from({ length: N * K }, (_, i) => i);
    const out = toQuads(v, N, U);
    for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) expect(out[quadIndex(n, k, K, U)]).toBe(n * K + k);
    expect(() => toQuads(new Float32Array(30), 3, 4)).toThrow(RangeError); // 3 rows
    expect(() => toQuads(new Float32Array(24), 4, 4)).toThrow(RangeError); // rows of 6
  });
});

describe("rowWindows of a tensor in quads", () => {
  it("windows hold a multiple of 4 rows", () => {
    // Rows of 256 bytes: 6 fit in 1536 bytes, a multiple of 4 rows only 4.
    expect(rowWindows([10, 64], "f32", 1536).map((w) => w.elements / 64)).toEqual([6, 4]);
    expect(rowWindows([10, 64], "f32", 1536, 4).map((w) => [w.offset / 64, w.elements / 64])).toEqual([
      [0, 4],
      [4, 4],
      [8, 2],
    ]);
  });
});

const TINY_MAMBA = `model q_mamba {
  vocab = 96
  d_model = 16
  ssm = mamba1(d_state = 4, expand = 2, d_conv = 4, dt_rank = 4)
  layers = [ssm, ssm]
}`;

const TINY_HYBRID = `model q_hybrid {
  vocab = 97
  d_model = 16
  tied = false
  context = 32
  ssm = mamba2(d_state = 8, expand = 2, d_conv = 4, headdim = 8, chunk = 8)
  attn = attention(heads = 2, kv_heads = 1)
  mlp = mlp(swiglu, hidden = 32)
  layers = [ssm, attn, mlp]
}`;

function artifact(text: string, target?: "gpu"): ModelArtifact {
  const r = build(text, { path: "q.hyb", ...(target ? { target } : {}) });
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  return r.artifacts[0]!;
}

const quadNames = (a: ModelArtifact): string[] => a.weightBuffers.flatMap((b) => b.tensors.filter((t) => t.quads).map((t) => t.name)).sort();

describe("which weights a build stores in quads", () => {
  it("Mamba-1: the tied embedding and in_proj, x_proj, out_proj; not dt_proj (the scan reads it), conv, A_log, D, norms", () => {
    const layer = (i: number) => [`backbone.layers.${i}.mixer.in_proj.weight`, `backbone.layers.${i}.mixer.out_proj.weight`, `backbone.layers.${i}.mixer.x_proj.weight`];
    expect(quadNames(artifact(TINY_MAMBA))).toEqual(["backbone.embeddings.weight", ...layer(0), ...layer(1)].sort());
  });

  it("Mamba-2 + attention + MLP: every projection; not an embedding or LM head of 97 rows", () => {
    const names = quadNames(artifact(TINY_HYBRID));
    expect(names.filter((n) => !n.includes(".layers."))).toEqual([]);
    expect(names.map((n) => n.replace(/^model\.layers\.\d+\./, "")).sort()).toEqual(
      ["feed_forward.down_proj", "feed_forward.gate_proj", "feed_forward.up_proj", "mamba.in_proj", "mamba.out_proj", "self_attn.k_proj", "self_attn.o_proj", "self_attn.q_proj", "self_attn.v_proj"].map((n) => `${n}.weight`),
    );
  });

  it("a build for a GPU keeps every weight row-major", () => {
    expect(quadNames(artifact(TINY_MAMBA, "gpu"))).toEqual([]);
  });
});

/** `g`'s weights in one layer buffer except `alone`, those in `quads` in quads; `dtype` storage. */
function quadLayout(g: Graph, limitBytes: number, alone: readonly string[], quads: readonly string[]): WeightLayout {
  const inLayer = (name: string): string => (alone.includes(name) ? name : `t.layers.0.${name}`);
  const entries = g.nodes.flatMap((n) => (n.op === "weight" ? [{ name: inLayer(n.attrs.name), shape: n.attrs.type.shape as number[], dtype: n.attrs.type.dtype }] : []));
  const l = weightLayout(entries, { maxStorageBufferBindingSize: limitBytes }, new Set(quads.map(inLayer)));
  return { ...l, of: (name) => l.of(inLayer(name)) };
}

interface Run {
  readonly limitBytes?: number;
  readonly alone?: readonly string[];
  readonly schedule?: Readonly<Record<string, number>>;
  readonly f16?: F16Mode;
}

/** Runs node `tg.node` at length L with the weights W0.. in quads; checks the kernel reads a quads view. */
async function runQuads(tg: TestGraph, L: number, seed: number, quads: readonly string[], o: Run = {}): Promise<NodeResult> {
  const g = o.f16 ? halfWeights(tg.graph) : tg.graph;
  const feed = tg.feed(L, seed);
  const limitBytes = o.limitBytes ?? 1 << 20;
  const options: RunNodeOptions = {
    weights: quadLayout(g, limitBytes, o.alone ?? ["x.table"], quads),
    limits: { ...DEFAULT_LIMITS, maxStorageBufferBindingSize: limitBytes },
    ...(o.schedule ? { schedule: o.schedule } : {}),
    ...(o.f16 ? { f16: o.f16 } : {}),
  };
  const r = await runNode(g, tg.node, o.f16 ? { ...feed, weights: halfValues(feed.weights) } : feed, options);
  expect(r.request.inputs.filter((v) => v.quads).length, "operands read in quads").toBe(quads.length);
  expect(r.spec.wgsl).toContain("rows in quads of 16-byte units");
  return r;
}

const expectAll = (r: NodeResult, tol: number): void => r.errors.forEach((e, i) => expect(e, `result ${i}`).toBeLessThanOrEqual(tol));

const LINEAR: readonly [string, Omit<LinearCase, "S">, string[]][] = [
  ["plain linear 36 x 16", { K: 16, outs: [36], plain: true }, ["W0"]],
  ["rmsnorm + bias + residual, 24 x 32", { K: 32, outs: [24], prologue: "rmsnorm", bias: true, residual: true }, ["W0"]],
  ["q|k|v side by side + layernorm + bias, K = 16", { K: 16, outs: [12, 8, 8], prologue: "layernorm", bias: true }, ["W0", "W1", "W2"]],
  ["swiglu gate/up 16 x 16 + rmsnorm", { K: 16, outs: [16, 16], prologue: "rmsnorm", activation: "swiglu" }, ["W0", "W1"]],
  ["x from storage (no prologue), 20 x 48", { K: 48, outs: [20], bias: true }, ["W0"]],
];

describe("kernels reading weights in quads match interp", () => {
  describe.each(LINEAR)("%s", (_, c, quads) => {
    it.each([
      ["prefill L = 67", 67, undefined],
      ["prefill L = 1", 1, undefined],
      ["decode, its default schedule", 1, {}],
      ["decode, tiled", 1, { coop: 0 }],
      ["decode, cooperative", 1, { coop: 4 }],
    ] as const)("f32, %s", async (_, L, schedule) => {
      const tg = linearGraph({ ...c, S: schedule === undefined ? ("L" as Dim) : 1 });
      expectAll(await runQuads(tg, L, 60 + L, quads, schedule ? { schedule } : {}), 1e-5);
    });

    it.each(["packed", "native"] as const)("f16 read %s: prefill L = 7, tiled and cooperative decode", async (mode) => {
      for (const [L, schedule] of [[7, undefined], [1, { coop: 0 }], [1, { coop: 4 }]] as const) {
        const tg = linearGraph({ ...c, S: schedule === undefined ? ("L" as Dim) : 1 });
        expectAll(await runQuads(tg, L, 70 + L, quads, { f16: mode, ...(schedule ? { schedule } : {}) }), 1e-5);
      }
    });
  });

  it("a decode GEMV reads 8 packed halves a load from quads (K = 32)", async () => {
    const tg = linearGraph({ K: 32, outs: [24], prologue: "rmsnorm", S: 1 });
    const r = await runQuads(tg, 1, 5, ["W0"], { f16: "packed" });
    expect(r.spec.bindings.some((b) => b.access !== "uniform" && b.packed === true && b.lanes === 8)).toBe(true);
    expectAll(r, 1e-5);
  });

  it("scalar K walk over quads (K = 8 with a norm group of 2 forces scalar loads)", async () => {
    const tg = linearGraph({ K: 8, outs: [12], prologue: "rmsnorm", group: 2, S: "L" });
    const r = await runQuads(tg, 7, 6, ["W0"]);
    expect(r.spec.schedule?.["vec"], "scalar loads").toBe(1);
    expectAll(r, 1e-5);
  });

  it.each([
    ["f32", undefined],
    ["f16 packed", "packed"],
  ] as const)("%s W0 (36 x 16) in quads bound as row windows of 4-row multiples: prefill and decode", async (_, f16) => {
    for (const [L, S] of [
      [7, "L"],
      [1, 1],
    ] as const) {
      const tg = linearGraph({ K: 16, outs: [36], prologue: "rmsnorm", bias: true, S });
      const limitBytes = f16 ? 512 : 1024;
      const r = await runQuads(tg, L, 8, ["W0"], { limitBytes, alone: ["W0", "x.table"], ...(f16 ? { f16 } : {}) });
      const windows = r.spec.bindings.flatMap((b) => (b.access !== "uniform" && b.window && b.buffer === "weight:W0" ? [b.window] : []));
      expect(windows.map((w) => w.elements / 16)).toEqual([16, 16, 4]);
      expectAll(r, 1e-5);
    }
  });

  it("an embedding gathers rows from a table in quads (12 x 16), f32 and f16", async () => {
    for (const f16 of [undefined, "packed"] as const) {
      for (const S of ["L", 1] as const) {
        const m = new Maker(S);
        m.b.at([OP_SPAN]);
        const y = m.b.embedding(m.weight("E", [12, 16]), m.tokens);
        const tg = m.finish(y.node, [{ name: "y", value: y }]);
        expectAll(await runQuads(tg, S === 1 ? 1 : 9, 3, ["E"], f16 ? { f16 } : {}), 1e-7);
      }
    }
  });
});
