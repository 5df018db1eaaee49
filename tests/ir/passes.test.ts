// Optimizer passes. Property tests over random small models and data: for every pass,
// interp(pass(g)) equals interp(g) (max |x - y| / max |y| <= 1e-10 per output), verify(pass(g))
// holds, and the pass is idempotent (printing pass(pass(g)) gives the text of pass(g)).
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { BlockConfig } from "../../compiler/check/model.ts";
import { compile } from "../../compiler/index.ts";
import { relError } from "../../compiler/interp/index.ts";
import { GraphBuilder, mergeSpans, printGraph, symbolicNumel, verify, type Graph, type Node } from "../../compiler/ir/index.ts";
import { lowerDecode, lowerPrefill } from "../../compiler/lower/index.ts";
import { dce, fuseSelectiveScan, optimize, PASSES, type Pass } from "../../compiler/passes/index.ts";
import { attention, makeModel, mamba1, mamba2, mlp, randomTokens, randomWeights, runGraph, zeroState } from "./fixtures.ts";

const TOL = 1e-10;
const ALL: readonly Pass[] = [...PASSES, { name: "optimize", summary: "all passes", fusion: true, run: (g) => optimize(g) }];

const D = 8;
const blockArb: fc.Arbitrary<BlockConfig[]> = fc.oneof(
  fc
    .record({ dState: fc.integer({ min: 1, max: 8 }), dConv: fc.integer({ min: 1, max: 4 }), dtRank: fc.integer({ min: 1, max: 3 }), expand: fc.integer({ min: 1, max: 2 }), innerNorms: fc.boolean(), bias: fc.boolean(), convBias: fc.boolean() })
    .map((o) => [mamba1(D, o)]),
  fc.record({ dState: fc.integer({ min: 1, max: 6 }), headdim: fc.constantFrom(4, 8), ngroups: fc.constantFrom(1, 2), normBeforeGate: fc.boolean(), gatedNorm: fc.boolean() }).map((o) => [mamba2(D, { ...o, chunk: 4 })]),
  fc.record({ kvHeads: fc.constantFrom(1, 2), window: fc.constantFrom(null, 3) }).map((o) => [attention(D, { heads: 2, ...o, rope: { theta: 100, fraction: 1 } }), mlp({ hidden: 12 })]),
);
const caseArb = fc.record({
  layers: fc.array(blockArb, { minLength: 1, maxLength: 3 }),
  L: fc.integer({ min: 1, max: 19 }),
  seed: fc.integer({ min: 1, max: 1 << 30 }),
  decode: fc.boolean(),
});

function check(pass: Pass, g: Graph, model: ReturnType<typeof makeModel>, seed: number, L: number): void {
  const out = pass.run(g);
  verify(out);
  expect(printGraph(pass.run(out)), `${pass.name} is idempotent`).toBe(printGraph(out));
  const weights = randomWeights(model, seed);
  const tokens = randomTokens(model, L, seed + 1);
  // A non-empty incoming state, so the passes are checked on continuation too.
  const state = runGraph(lowerPrefill(model), model, weights, randomTokens(model, 3, seed + 2), 0, zeroState(model)).state;
  const a = runGraph(g, model, weights, tokens, 3, state);
  const b = runGraph(out, model, weights, tokens, 3, state);
  expect(relError(b.logits, a.logits)).toBeLessThanOrEqual(TOL);
  for (const k of Object.keys(a.state)) expect(relError(b.state[k]!, a.state[k]!), k).toBeLessThanOrEqual(TOL);
}

describe.each(ALL)("$name", (pass) => {
  it("preserves results, verifies and is idempotent on random models", () => {
    fc.assert(
      fc.property(caseArb, ({ layers, L, seed, decode }) => {
        const model = makeModel({ dModel: D, vocab: 16, context: 32, layers });
        check(pass, decode ? lowerDecode(model) : lowerPrefill(model), model, seed, decode ? 1 : L);
      }),
      { numRuns: 25, seed: 4242 },
    );
  });
});

const count = (g: Graph, op: string) => g.nodes.filter((n) => n.op === op).length;

describe("dce", () => {
  it("drops nodes nothing reads, keeps every graph input", () => {
    const b = new GraphBuilder("d");
    const x = b.input("x", "state", { dtype: "f32", shape: [2] });
    b.input("unused", "state", { dtype: "f32", shape: [2] });
    b.exp(b.neg(x));
    const y = b.silu(x);
    const g = dce.run(b.finish([{ name: "y", value: y }]));
    verify(g);
    expect(g.nodes.map((n) => n.op)).toEqual(["input", "input", "silu"]);
    expect(g.outputs).toEqual([{ name: "y", value: { node: 2, index: 0 } }]);
  });
});

describe("fuse-selective-scan", () => {
  const model = makeModel({ dModel: D, vocab: 16, layers: [[mamba1(D, { dState: 4 })], [mamba2(D, { dState: 4, headdim: 4 })], [mamba1(D, { innerNorms: true })]] });

  it("fuses every Mamba-1 layer and leaves Mamba-2 alone", () => {
    const p = fuseSelectiveScan.run(lowerPrefill(model));
    expect([count(p, "selective_scan"), count(p, "selective_state_update"), count(p, "linear_recurrence")]).toEqual([2, 0, 1]);
    const d = fuseSelectiveScan.run(lowerDecode(model));
    expect([count(d, "selective_scan"), count(d, "selective_state_update"), count(d, "linear_recurrence")]).toEqual([0, 2, 1]);
    const scan = p.nodes.find((n) => n.op === "selective_scan")!;
    const sub = model.layers[0]!.sublayers[0]!;
    expect(scan.spans).toEqual(mergeSpans([sub.span, sub.block.span])); // the fused node keeps the layer's spans
  });

  it("matches add and mul operands in either order", () => {
    const g = lowerPrefill(model);
    const swapped: Graph = {
      ...g,
      nodes: g.nodes.map((n) => (n.op === "add" || n.op === "mul" ? ({ ...n, inputs: [n.inputs[1]!, n.inputs[0]!] } as Node) : n)),
    };
    verify(swapped);
    expect(count(fuseSelectiveScan.run(swapped), "selective_scan")).toBe(2);
    check(fuseSelectiveScan, swapped, model, 5, 9);
  });

  it("leaves a scan alone when an intermediate is read elsewhere", () => {
    const g = lowerPrefill(model);
    const rec = g.nodes.find((n) => n.op === "linear_recurrence")!;
    const withTap: Graph = { ...g, outputs: [...g.outputs, { name: "dA", value: rec.inputs[0]! }] };
    const f = fuseSelectiveScan.run(withTap);
    verify(f);
    expect(count(f, "selective_scan")).toBe(1); // the other Mamba-1 layer still fuses
    const weights = randomWeights(model, 2);
    const tokens = randomTokens(model, 6, 3);
    expect(relError(runGraph(f, model, weights, tokens, 0, zeroState(model)).logits, runGraph(withTap, model, weights, tokens, 0, zeroState(model)).logits)).toBe(0);
  });

  it("leaves no [L, d_inner, d_state] tensor in mamba-130m prefill", () => {
    const r = compile(readFileSync(new URL("../../specs/mamba-130m.hyb", import.meta.url), "utf8"));
    const m = r.models[0]!;
    const cfg = m.blocks[0]!.config;
    if (cfg.kind !== "mamba1") throw new Error("expected mamba1");
    const before = lowerPrefill(m);
    const after = optimize(before);
    verify(after);
    const big = (g: Graph) => g.nodes.flatMap((n) => n.results).filter((t) => symbolicNumel(t.shape).power === 1 && symbolicNumel(t.shape).factor === cfg.dInner * cfg.dState).length;
    expect(big(before)).toBeGreaterThan(0);
    expect(big(after)).toBe(0);
    expect(count(after, "selective_scan")).toBe(m.layers.length);
    expect(count(optimize(lowerDecode(m)), "selective_state_update")).toBe(m.layers.length);
    expect(printGraph(optimize(before, { fuse: false }))).toBe(printGraph(dce.run(before))); // --no-fuse
  });
});
