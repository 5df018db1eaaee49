// fuse-attention and the flash `attention` / `attention_decode` ops. One attention block is
// lowered to primitives (lower/attention.ts) between an embedding and the graph outputs (block
// output, k cache, v cache), then fused. Property: for random MHA/GQA/MQA shapes, RoPE none /
// full / partial, windows 1, 3 and longer than L, pos > 0 with a filled cache, and L in
// {1, 7, 37, 64} plus decode, interp(fused) equals interp(primitive) within 1e-10 relative per
// output, the fused graph verifies, and the pass is idempotent. The flash kernel is also checked
// against a direct softmax written here from semantics.md, and shown never to read cache rows
// outside the valid positions and the window.
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import type { AttentionConfig } from "../../compiler/check/model.ts";
import { evaluate, relError, run } from "../../compiler/interp/index.ts";
import { GraphBuilder, mergeSpans, printGraph, verify, type Dim, type Graph } from "../../compiler/ir/index.ts";
import { lowerAttention } from "../../compiler/lower/attention.ts";
import type { SublayerCtx } from "../../compiler/lower/context.ts";
import { fuseAttention } from "../../compiler/passes/index.ts";
import { attention, blockTensors, makeModel } from "../ir/fixtures.ts";
import { Rng } from "../ir/prng.ts";

const TOL = 1e-10;
const VOCAB = 11;
const DMODEL = 8;
const SPAN = { start: 5, end: 9 };

/** tokens -> embedding -> attention block; outputs `out`, `layers.0.k`, `layers.0.v`. */
function attentionGraph(cfg: AttentionConfig, seq: Dim, context: number): Graph {
  const b = new GraphBuilder(seq === 1 ? "attn.decode" : "attn.prefill").at([SPAN]);
  const tokens = b.input("tokens", "tokens", { dtype: "i32", shape: [seq] });
  const pos = b.input("pos", "pos", { dtype: "i32", shape: [] });
  const cache = { dtype: "f32", shape: [context, cfg.kvHeads, cfg.headDim] } as const;
  const k = b.input("layers.0.k", "state", cache);
  const v = b.input("layers.0.v", "state", cache);
  const weights = new Map(
    [["embedding.weight", [VOCAB, DMODEL]] as [string, number[]], ...blockTensors(cfg, DMODEL)].map(([local, shape]) => [
      local,
      b.weight({ name: local, local, layer: 0, sublayer: 0, type: { dtype: "f32", shape } }),
    ]),
  );
  const ctx: SublayerCtx = {
    b,
    model: makeModel({ dModel: DMODEL, layers: [] }),
    seq,
    pos,
    eps: 1e-5,
    w: (local) => weights.get(local)!,
    state: (kind) => (kind === "k" ? k : v),
  };
  const res = lowerAttention(ctx, cfg, b.embedding(weights.get("embedding.weight")!, tokens));
  return b.finish([
    { name: "out", value: res.out },
    { name: "layers.0.k", value: res.state.k! },
    { name: "layers.0.v", value: res.state.v! },
  ]);
}

interface Data {
  readonly inputs: Record<string, Float64Array>;
  readonly weights: Record<string, Float64Array>;
}

function randomData(g: Graph, S: number, pos: number, seed: number): Data {
  const rng = new Rng(seed);
  const inputs: Record<string, Float64Array> = {
    tokens: Float64Array.from({ length: S }, () => rng.int(VOCAB)),
    pos: Float64Array.of(pos),
  };
  const weights: Record<string, Float64Array> = {};
  for (const n of g.nodes) {
    const size = (s: readonly Dim[]) => s.reduce<number>((a, d) => a * (d as number), 1);
    if (n.op === "input" && n.attrs.role === "state") inputs[n.attrs.name] = rng.array(size(n.attrs.type.shape), () => rng.normal());
    if (n.op === "weight") weights[n.attrs.name] = rng.array(size(n.attrs.type.shape), () => (n.attrs.local.endsWith(".bias") ? 0.1 : 1) * rng.normal());
  }
  return { inputs, weights };
}

const count = (g: Graph, op: string) => g.nodes.filter((n) => n.op === op).length;

function rotary(kind: "none" | "full" | "partial", D: number): AttentionConfig["rope"] {
  if (kind === "none" || (kind === "partial" && D < 4)) return null;
  const rotaryDim = kind === "full" ? D : 2 * Math.floor(D / 4);
  return { theta: 10_000, fraction: rotaryDim / D, rotaryDim };
}

const worst: Record<string, number> = {};
function record(what: string, e: number): void {
  worst[what] = Math.max(worst[what] ?? 0, e);
}

const caseArb = fc
  .record({
    kv: fc.constantFrom<"MHA" | "GQA" | "MQA">("MHA", "GQA", "MQA"),
    group: fc.constantFrom(2, 3),
    kvHeads: fc.constantFrom(1, 2),
    headDim: fc.constantFrom(2, 4, 6, 8),
    rope: fc.constantFrom<"none" | "full" | "partial">("none", "full", "partial"),
    window: fc.constantFrom<"none" | 1 | 3 | "long">("none", 1, 3, "long"),
    L: fc.constantFrom(1, 7, 37, 64, "decode" as const),
    pos: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 40 })),
    spare: fc.integer({ min: 0, max: 5 }),
    seed: fc.integer({ min: 1, max: 1 << 30 }),
  })
  .map((c) => {
    const kvHeads = c.kv === "MQA" ? 1 : c.kv === "MHA" ? c.kvHeads * c.group : c.kvHeads + 1;
    const heads = c.kv === "MHA" ? kvHeads : kvHeads * c.group;
    const S = c.L === "decode" ? 1 : c.L;
    const window = c.window === "none" ? null : c.window === "long" ? S + 5 : c.window;
    const base = attention(DMODEL, { heads, kvHeads, headDim: c.headDim, window, bias: c.seed % 2 === 0 });
    const cfg: AttentionConfig = { ...base, rope: rotary(c.rope, c.headDim) };
    return { ...c, cfg, S, seq: (c.L === "decode" ? 1 : "L") as Dim, context: c.pos + S + c.spare };
  });

describe("fuse-attention", () => {
  it("equals the primitive graph, verifies and is idempotent on random attention blocks", () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const g = attentionGraph(c.cfg, c.seq, c.context);
        const f = fuseAttention.run(g);
        verify(f);
        expect(printGraph(fuseAttention.run(f)), "idempotent").toBe(printGraph(f));
        expect(count(f, c.seq === 1 ? "attention_decode" : "attention")).toBe(1);
        for (const op of ["rope", "cache_write", "attn_scores", "attn_mask", "softmax", "attn_values"]) expect(count(f, op), op).toBe(0);
        const data = randomData(g, c.S, c.pos, c.seed);
        const want = run(g, data);
        const got = run(f, data);
        for (const k of ["out", "layers.0.k", "layers.0.v"]) {
          const e = relError(got[k]!.data, want[k]!.data);
          expect(e, `${k} (${c.kv}, rope ${c.rope}, window ${String(c.cfg.window)}, S ${c.S}, pos ${c.pos})`).toBeLessThanOrEqual(TOL);
          record(`${c.L === "decode" ? "decode" : `L = ${c.L}`} ${k}`, e);
        }
      }),
      { numRuns: 150, seed: 7 },
    );
  });

  it("covers every length, head layout, RoPE kind and window", () => {
    // The property above draws from these; this pins each combination once, deterministically.
    for (const L of [1, 7, 37, 64, "decode"] as const)
      for (const [heads, kvHeads] of [[4, 4], [4, 2], [6, 1]] as const)
        for (const rope of ["none", "full", "partial"] as const)
          for (const window of [null, 1, 3, 70]) {
            const S = L === "decode" ? 1 : L;
            const cfg: AttentionConfig = { ...attention(DMODEL, { heads, kvHeads, headDim: 4, window }), rope: rotary(rope, 4) };
            const g = attentionGraph(cfg, L === "decode" ? 1 : "L", 9 + S);
            const f = fuseAttention.run(g);
            verify(f);
            const data = randomData(g, S, 9, S * 31 + heads + kvHeads);
            const want = run(g, data);
            const got = run(f, data);
            for (const k of ["out", "layers.0.k", "layers.0.v"]) {
              const e = relError(got[k]!.data, want[k]!.data);
              expect(e, `${k} L=${L} ${heads}/${kvHeads} rope ${rope} window ${String(window)}`).toBeLessThanOrEqual(TOL);
              record(`${L === "decode" ? "decode" : `L = ${L}`} ${k}`, e);
            }
          }
  });

  it("keeps the block's spans on the fused node and emits attention_decode for S = 1", () => {
    const cfg = attention(DMODEL, { heads: 2, kvHeads: 1, rope: { theta: 100, fraction: 1 }, window: 3 });
    const f = fuseAttention.run(attentionGraph(cfg, 1, 8));
    const node = f.nodes.find((n) => n.op === "attention_decode")!;
    expect(node.spans).toEqual(mergeSpans([SPAN]));
    expect(printGraph(f)).toContain("= attention_decode(%");
    expect(printGraph(f)).toMatch(/\{scale=0\.5, window=3, theta=100, rotaryDim=4\}/);
    const noRope = fuseAttention.run(attentionGraph(attention(DMODEL, { heads: 2 }), "L", 8));
    expect(printGraph(noRope)).toMatch(/= attention\(.*\{scale=0\.5, window=none, theta=none, rotaryDim=none\}/);
  });

  it("leaves the block alone when an intermediate is read elsewhere", () => {
    const g = attentionGraph(attention(DMODEL, { heads: 2, rope: { theta: 100, fraction: 1 } }), "L", 12);
    for (const op of ["softmax", "attn_scores", "rope"] as const) {
      const n = g.nodes.find((x) => x.op === op)!;
      const tapped: Graph = { ...g, outputs: [...g.outputs, { name: `tap.${op}`, value: { node: n.id, index: 0 } }] };
      const f = fuseAttention.run(tapped);
      verify(f);
      expect(count(f, "attention"), op).toBe(0);
      expect(printGraph(f)).toBe(printGraph(tapped));
    }
  });
});

// ---------------------------------------------------------------- the flash kernel itself

/** A direct reference from semantics.md: NeoX RoPE, full softmax over the allowed keys. */
function direct(cfg: AttentionConfig, q: Float64Array, k: Float64Array, v: Float64Array, kc: Float64Array, vc: Float64Array, S: number, pos: number): Float64Array {
  const { heads: H, kvHeads: Hkv, headDim: D } = cfg;
  const rot = (x: Float64Array, heads: number): Float64Array => {
    const y = Float64Array.from(x);
    if (!cfg.rope) return y;
    const r = cfg.rope.rotaryDim;
    for (let s = 0; s < S; s++)
      for (let h = 0; h < heads; h++)
        for (let i = 0; i < r / 2; i++) {
          const ang = (pos + s) * cfg.rope.theta ** ((-2 * i) / r);
          const b = (s * heads + h) * D;
          y[b + i] = x[b + i]! * Math.cos(ang) - x[b + i + r / 2]! * Math.sin(ang);
          y[b + i + r / 2] = x[b + i + r / 2]! * Math.cos(ang) + x[b + i]! * Math.sin(ang);
        }
    return y;
  };
  const qr = rot(q, H);
  const kr = rot(k, Hkv);
  const key = (t: number, g: number, d: number) => (t < pos ? kc[(t * Hkv + g) * D + d]! : kr[((t - pos) * Hkv + g) * D + d]!);
  const val = (t: number, g: number, d: number) => (t < pos ? vc[(t * Hkv + g) * D + d]! : v[((t - pos) * Hkv + g) * D + d]!);
  const o = new Float64Array(S * H * D);
  for (let s = 0; s < S; s++)
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / (H / Hkv));
      const p = pos + s;
      const keys: number[] = [];
      for (let t = 0; t <= p; t++) if (cfg.window === null || t > p - cfg.window) keys.push(t);
      const sc = keys.map((t) => {
        let dot = 0;
        for (let d = 0; d < D; d++) dot += qr[(s * H + h) * D + d]! * key(t, g, d);
        return dot / Math.sqrt(D);
      });
      const mx = Math.max(...sc);
      const e = sc.map((x) => Math.exp(x - mx));
      const z = e.reduce((a, b) => a + b, 0);
      for (let d = 0; d < D; d++) o[(s * H + h) * D + d] = keys.reduce((acc, t, i) => acc + (e[i]! / z) * val(t, g, d), 0);
    }
  return o;
}

/** Runs the fused graph; returns the attention node's operands and results. */
function fusedRun(cfg: AttentionConfig, S: number, pos: number, context: number, seed: number, poison: (t: number, p0: number) => boolean) {
  const g = fuseAttention.run(attentionGraph(cfg, S === 1 ? 1 : "L", context));
  const data = randomData(g, S, pos, seed);
  const node = g.nodes.find((n) => n.op === "attention" || n.op === "attention_decode")!;
  const row = cfg.kvHeads * cfg.headDim;
  const clean = evaluate(g, data);
  // Poison every cache row the kernel must not read: NaN would spread into any output it touched.
  const kc = Float64Array.from(data.inputs["layers.0.k"]!);
  const vc = Float64Array.from(data.inputs["layers.0.v"]!);
  for (let t = 0; t < context; t++) if (poison(t, pos)) for (let i = 0; i < row; i++) kc[t * row + i] = vc[t * row + i] = NaN;
  const dirty = evaluate(g, { inputs: { ...data.inputs, "layers.0.k": kc, "layers.0.v": vc }, weights: data.weights });
  const ins = node.inputs.map((r) => clean[r.node]![r.index]!.data);
  return { clean: clean[node.id]!, dirty: dirty[node.id]!, ins };
}

describe("attention kernel (flash, online softmax)", () => {
  const cases = [
    { name: "MHA, full RoPE, causal", cfg: attention(DMODEL, { heads: 4, kvHeads: 4, headDim: 4, rope: { theta: 10_000, fraction: 1 } }) },
    { name: "GQA 6/2, partial RoPE, window 17", cfg: attention(DMODEL, { heads: 6, kvHeads: 2, headDim: 8, window: 17, rope: { theta: 500, fraction: 0.5 } }) },
    { name: "MQA, no RoPE, window 1", cfg: attention(DMODEL, { heads: 3, kvHeads: 1, headDim: 6, window: 1 }) },
    { name: "GQA 4/2, window 16 (one block)", cfg: attention(DMODEL, { heads: 4, kvHeads: 2, headDim: 2, window: 16, rope: { theta: 10_000, fraction: 1 } }) },
  ];
  describe.each(cases)("$name", ({ cfg }) => {
    it.each([
      [1, 0],
      [7, 5],
      [37, 20],
      [64, 3],
      [1, 50],
    ])("S = %i at pos %i equals the direct softmax and reads no row outside the window", (S, pos) => {
      const context = pos + S + 7;
      const outside = (t: number, p0: number) => t >= p0 + S || (cfg.window !== null && t < p0 - cfg.window + 1);
      const { clean, dirty, ins } = fusedRun(cfg, S, pos, context, 1000 + S + pos, outside);
      const [q, k, v, kc, vc] = ins as [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array];
      const e = relError(clean[0]!.data, direct(cfg, q, k, v, kc, vc, S, pos));
      record(`kernel vs direct softmax`, e);
      expect(e).toBeLessThanOrEqual(TOL);
      expect(dirty[0]!.data.every(Number.isFinite)).toBe(true);
      expect(relError(dirty[0]!.data, clean[0]!.data)).toBe(0);
      // The caches: rows pos..pos+S-1 replaced (k after RoPE), every other row passed through.
      const row = cfg.kvHeads * cfg.headDim;
      expect(Array.from(clean[2]!.data.subarray(pos * row, (pos + S) * row))).toEqual(Array.from(v));
      expect(Array.from(clean[1]!.data.subarray(0, pos * row))).toEqual(Array.from(kc.subarray(0, pos * row)));
    });
  });
});

afterAll(() => {
  const lines = Object.entries(worst)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `  ${k.padEnd(32)} ${v.toExponential(2)}`);
  console.log(`fuse-attention: max relative error (tolerance ${TOL}):\n${lines.join("\n")}`);
});
