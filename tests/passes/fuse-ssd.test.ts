// fuse-ssd and the SSD kernels.
//  - ssd (the chunked state-space-duality algorithm) and ssd_state_update, run by the
//    evaluator, equal a sequential recurrence written here from semantics.md, for chunk sizes
//    1, 3, 16 and L = 1, 7, 37, 64, d_state 16 / 64, 1 or 2 groups, every epilogue;
//  - the pass: interp(fuse-ssd(g)) = interp(g) on random Mamba-2 layers (headdim dividing
//    norm_group or not, ngroups 1 / 2 / 3), verify, idempotence; which epilogue is chosen.
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import type { Mamba2Config } from "../../compiler/check/model.ts";
import { compile } from "../../compiler/index.ts";
import { relError, run } from "../../compiler/interp/index.ts";
import { GraphBuilder, verify, type Graph, type SsdEpilogue } from "../../compiler/ir/index.ts";
import { lowerPrefill } from "../../compiler/lower/index.ts";
import { fuseSsd, optimize } from "../../compiler/passes/index.ts";
import { makeModel, mamba2 } from "../ir/fixtures.ts";
import { Rng } from "../ir/prng.ts";
import { checkPass, count, lower, prefixOf, record, report, TOL } from "./harness.ts";

afterAll(() => report("fuse-ssd"));

const softplus = (x: number): number => (x > 20 ? x : Math.log1p(Math.exp(x)));
const silu = (x: number): number => x / (1 + Math.exp(-x));

interface SsdCase {
  readonly S: number;
  readonly H: number;
  readonly P: number;
  readonly G: number;
  readonly N: number;
  readonly epilogue: SsdEpilogue;
  readonly normGroup: number;
}

type Data = Record<"x" | "dt" | "A_log" | "B" | "C" | "D" | "dt_bias" | "h0" | "z" | "w", Float64Array>;

function randomData(c: SsdCase, seed: number): Data {
  const r = new Rng(seed);
  const { S, H, P, G, N } = c;
  return {
    x: r.array(S * H * P, () => r.normal()),
    dt: r.array(S * H, () => r.uniform(-4, 2)), // softplus(dt + bias) spans ~0.01 .. 2.5
    A_log: r.array(H, () => Math.log(r.uniform(1, 16))),
    B: r.array(S * G * N, () => r.normal()),
    C: r.array(S * G * N, () => r.normal()),
    D: r.array(H, () => r.uniform(0.5, 1.5)),
    dt_bias: r.array(H, () => r.uniform(-1, 1)),
    h0: r.array(H * P * N, () => r.normal()), // a non-empty incoming state
    z: r.array(S * H * P, () => r.normal()),
    w: r.array(H * P, () => 1 + 0.1 * r.normal()),
  };
}

/** One ssd op over static shapes, every operand fed as a weight. */
function ssdGraph(c: SsdCase, op: "ssd" | "ssd_state_update", chunk: number): Graph {
  const { S, H, P, G, N } = c;
  const b = new GraphBuilder("ssd");
  const w = (name: string, shape: number[]) => b.weight({ name, local: name, layer: null, sublayer: null, type: { dtype: "f32", shape } });
  const ins = {
    x: w("x", [S, H, P]),
    dt: w("dt", [S, H]),
    Alog: w("A_log", [H]),
    B: w("B", [S, G, N]),
    C: w("C", [S, G, N]),
    D: w("D", [H]),
    dtBias: w("dt_bias", [H]),
    h0: w("h0", [H, P, N]),
  };
  const z = c.epilogue === "none" ? {} : { z: w("z", [S, H, P]) };
  const norm = c.epilogue === "gate_norm" || c.epilogue === "norm_gate";
  const nw = norm ? { normW: w("w", [H, P]) } : {};
  const attrs = { epilogue: c.epilogue, normGroup: norm ? c.normGroup : null, eps: norm ? 1e-5 : null };
  const [y, h] = op === "ssd" ? b.ssd(op, { ...ins, ...z, ...nw }, { chunk, ...attrs }) : b.ssd(op, { ...ins, ...z, ...nw }, attrs);
  return b.finish([
    { name: "y", value: y },
    { name: "h", value: h },
  ]);
}

/** The recurrence one token at a time (semantics.md "ssd", ssd_naive), then the epilogue. */
function sequential(c: SsdCase, d: Data): { y: Float64Array; h: Float64Array } {
  const { S, H, P, G, N } = c;
  const h = Float64Array.from(d.h0);
  const y = new Float64Array(S * H * P);
  for (let t = 0; t < S; t++) {
    for (let hd = 0; hd < H; hd++) {
      const dt = softplus(d.dt[t * H + hd]! + d.dt_bias[hd]!);
      const A = -Math.exp(d.A_log[hd]!);
      const g = Math.floor(hd / (H / G));
      for (let p = 0; p < P; p++) {
        const x = d.x[(t * H + hd) * P + p]!;
        let acc = 0;
        for (let n = 0; n < N; n++) {
          const k = (hd * P + p) * N + n;
          h[k] = Math.exp(dt * A) * h[k]! + dt * x * d.B[(t * G + g) * N + n]!;
          acc += h[k]! * d.C[(t * G + g) * N + n]!;
        }
        y[(t * H + hd) * P + p] = acc + d.D[hd]! * x;
      }
    }
    // epilogue over the token's row of H * P channels, norm groups of normGroup channels
    const row = y.subarray(t * H * P, (t + 1) * H * P);
    const gate = (i: number) => silu(d.z[t * H * P + i]!);
    const norm = () => {
      for (let g0 = 0; g0 < row.length; g0 += c.normGroup) {
        let ss = 0;
        for (let i = g0; i < g0 + c.normGroup; i++) ss += row[i]! ** 2;
        const r = Math.sqrt(ss / c.normGroup + 1e-5);
        for (let i = g0; i < g0 + c.normGroup; i++) row[i] = (row[i]! / r) * d.w[i]!;
      }
    };
    if (c.epilogue === "gate" || c.epilogue === "gate_norm") row.forEach((v, i) => (row[i] = v * gate(i)));
    if (c.epilogue === "gate_norm" || c.epilogue === "norm_gate") norm();
    if (c.epilogue === "norm_gate") row.forEach((v, i) => (row[i] = v * gate(i)));
  }
  return { y, h };
}

function runSsd(c: SsdCase, op: "ssd" | "ssd_state_update", chunk: number, d: Data): { y: Float64Array; h: Float64Array } {
  const g = ssdGraph(c, op, chunk);
  verify(g);
  const out = run(g, { inputs: {}, weights: d });
  return { y: out["y"]!.data, h: out["h"]!.data };
}

describe("ssd equals the sequential recurrence", () => {
  const EPILOGUES: SsdEpilogue[] = ["none", "gate", "gate_norm", "norm_gate"];
  const cases: [number, number, number, number, SsdEpilogue][] = [];
  for (const chunk of [1, 3, 16])
    for (const S of [1, 7, 37, 64])
      for (const N of [16, 64]) cases.push([chunk, S, N, (S + N + chunk) % 2 === 0 ? 1 : 2, EPILOGUES[(S + chunk) % 4]!]);

  it.each(cases)("chunk %i, L %i, d_state %i, %i groups, epilogue %s", (chunk, S, N, G, epilogue) => {
    const c: SsdCase = { S, H: 4, P: 4, G, N, epilogue, normGroup: 2 };
    const d = randomData(c, 1000 * chunk + 10 * S + N);
    const want = sequential(c, d);
    const got = runSsd(c, "ssd", chunk, d);
    const err = Math.max(relError(got.y, want.y), relError(got.h, want.h));
    record("ssd vs sequential", err);
    expect(err).toBeLessThanOrEqual(TOL);
  });

  it("does not depend on the chunk size", () => {
    const c: SsdCase = { S: 41, H: 6, P: 2, G: 3, N: 16, epilogue: "gate_norm", normGroup: 2 };
    const d = randomData(c, 77);
    const ref = runSsd(c, "ssd", 41, d);
    for (const chunk of [1, 2, 5, 8, 40, 64]) {
      const got = runSsd(c, "ssd", chunk, d);
      expect(Math.max(relError(got.y, ref.y), relError(got.h, ref.h)), `chunk ${chunk}`).toBeLessThanOrEqual(1e-12);
    }
  });

  it.each(EPILOGUES)("ssd_state_update is one step of it (epilogue %s)", (epilogue) => {
    const c: SsdCase = { S: 1, H: 4, P: 8, G: 2, N: 16, epilogue, normGroup: 4 };
    const d = randomData(c, 5);
    const want = sequential(c, d);
    const got = runSsd(c, "ssd_state_update", 0, d);
    const err = Math.max(relError(got.y, want.y), relError(got.h, want.h));
    record("ssd_state_update vs sequential", err);
    expect(err).toBeLessThanOrEqual(TOL);
  });
});

/** Random Mamba-2 layers: ngroups 1 / 2 / 3 (dividing the heads), norm_group dividing headdim or not. */
const m2Arb = fc
  .record({
    dModel: fc.constantFrom(8, 12),
    headdim: fc.constantFrom(4, 8),
    ngroups: fc.constantFrom(1, 2, 3),
    dState: fc.constantFrom(16, 64),
    chunk: fc.constantFrom(1, 3, 16),
    normGroup: fc.constantFrom(2, 4, 6, 8, 12, 16, 24, 0), // 0: the default d_inner / ngroups
    normBeforeGate: fc.boolean(),
    gatedNorm: fc.boolean(),
    convBias: fc.boolean(),
    bias: fc.boolean(),
  })
  .filter((o) => {
    const di = 2 * o.dModel;
    const heads = di / o.headdim;
    return Number.isInteger(heads) && heads % o.ngroups === 0 && (o.normGroup === 0 || di % o.normGroup === 0);
  })
  .map(({ dModel, normGroup, ...o }): [number, Mamba2Config] => [dModel, mamba2(dModel, { ...o, ...(normGroup === 0 ? {} : { normGroup }) })]);

const caseArb = fc.record({ layer: m2Arb, L: fc.constantFrom(1, 7, 37, 64), seed: fc.integer({ min: 1, max: 1 << 30 }), decode: fc.boolean() });

describe("fuse-ssd", () => {
  it("preserves values, verifies and is idempotent on random Mamba-2 layers (alone and in the pipeline)", () => {
    fc.assert(
      fc.property(caseArb, ({ layer: [D, cfg], L, seed, decode }) => {
        const model = makeModel({ dModel: D, vocab: 16, layers: [[cfg], [cfg]] });
        const g = lower(model, decode);
        const S = decode ? 1 : L;
        const alone = checkPass(fuseSsd, g, model, seed, S, `fuse-ssd ${decode ? "decode" : "prefill"}`);
        expect(count(alone, "linear_recurrence")).toBe(0);
        expect(count(alone, decode ? "ssd_state_update" : "ssd")).toBe(2);
        checkPass(fuseSsd, prefixOf(fuseSsd, g), model, seed, S, "fuse-ssd after its prefix");
      }),
      { numRuns: 40, seed: 1717 },
    );
  });

  const D = 16; // d_inner 32
  const epilogueOf = (cfg: Mamba2Config, decode = false): { epilogue: string; chunk?: number; gated: number; norms: number } => {
    const g = fuseSsd.run(lower(makeModel({ dModel: D, vocab: 16, layers: [[cfg]] }), decode));
    verify(g);
    const n = g.nodes.find((x) => x.op === "ssd" || x.op === "ssd_state_update")!;
    const attrs = n.attrs as { epilogue: string; chunk?: number };
    return { epilogue: attrs.epilogue, ...(attrs.chunk === undefined ? {} : { chunk: attrs.chunk }), gated: count(g, "rmsnorm_gated"), norms: count(g, "rmsnorm") - 2 };
  };

  it("folds the gated norm into the epilogue when every norm group lies inside one head", () => {
    expect(epilogueOf(mamba2(D, { dState: 8, headdim: 8, normGroup: 8, chunk: 4 }))).toEqual({ epilogue: "gate_norm", chunk: 4, gated: 0, norms: 0 });
    expect(epilogueOf(mamba2(D, { dState: 8, headdim: 8, normGroup: 4, chunk: 4, normBeforeGate: true }))).toEqual({ epilogue: "norm_gate", chunk: 4, gated: 0, norms: 0 });
    expect(epilogueOf(mamba2(D, { dState: 8, headdim: 8, normGroup: 2 }), true)).toEqual({ epilogue: "gate_norm", gated: 0, norms: 0 });
  });

  it("keeps the norm outside when a group spans heads: gate + rmsnorm, or rmsnorm_gated before the gate", () => {
    // default norm_group = d_inner / ngroups = 32 spans 4 heads of 8
    expect(epilogueOf(mamba2(D, { dState: 8, headdim: 8, chunk: 4 }))).toEqual({ epilogue: "gate", chunk: 4, gated: 0, norms: 1 });
    expect(epilogueOf(mamba2(D, { dState: 8, headdim: 8, chunk: 4, normBeforeGate: true }))).toEqual({ epilogue: "none", chunk: 4, gated: 1, norms: 0 });
    // norm_group 16: inside a head of 32 (legal), across two heads of 8 (not)
    expect(epilogueOf(mamba2(D, { dState: 8, headdim: 32, normGroup: 16 })).epilogue).toBe("gate_norm");
    expect(epilogueOf(mamba2(D, { dState: 8, headdim: 8, normGroup: 16 })).epilogue).toBe("gate");
    expect(epilogueOf(mamba2(D, { dState: 8, headdim: 8, normGroup: 16, normBeforeGate: true }), true)).toEqual({ epilogue: "none", gated: 1, norms: 0 });
  });

  it("gates in the epilogue without gated_norm", () => {
    expect(epilogueOf(mamba2(D, { dState: 8, headdim: 8, gatedNorm: false, chunk: 2 }))).toEqual({ epilogue: "gate", chunk: 2, gated: 0, norms: 0 });
  });

  it("takes chunk from the spec", () => {
    const spec = readFileSync(new URL("../../specs/hybrid-130m.hyb", import.meta.url), "utf8");
    const m = compile(spec).models[0]!;
    const g = optimize(lowerPrefill(m));
    const chunks = new Set(g.nodes.flatMap((n) => (n.op === "ssd" ? [n.attrs.chunk] : [])));
    expect([...chunks]).toEqual([128]);
    expect(count(g, "ssd")).toBe(20);
  });

  it("leaves the layer alone when an intermediate is read elsewhere", () => {
    const model = makeModel({ dModel: D, vocab: 16, layers: [[mamba2(D, { dState: 8, headdim: 8, chunk: 4 })], [mamba2(D, { dState: 8, headdim: 8, chunk: 4 })]] });
    const g = lowerPrefill(model);
    const rec = g.nodes.find((n) => n.op === "linear_recurrence")!;
    const tapped: Graph = { ...g, outputs: [...g.outputs, { name: "h", value: { node: rec.id, index: 0 } }] };
    const f = fuseSsd.run(tapped);
    verify(f);
    expect(count(f, "ssd")).toBe(1);
    expect(count(f, "linear_recurrence")).toBe(1);
  });
});
