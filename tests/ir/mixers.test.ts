// Every block kind and variant, lowered as a one-layer model and run by the evaluator, against the
// hand-written step-by-step reference (reference.ts). Compared: logits at every position and the
// final state (conv, ssm, KV cache). Tolerance: max |ir - ref| / max |ref| <= 1e-10 per tensor.
import { afterAll, describe, expect, it } from "vitest";
import type { BlockConfig, NormConfig } from "../../compiler/check/model.ts";
import { relError } from "../../compiler/interp/index.ts";
import { verify } from "../../compiler/ir/index.ts";
import { lowerPrefill } from "../../compiler/lower/index.ts";
import { attention, makeModel, mamba1, mamba2, mlp, randomTokens, randomWeights, runGraph, zeroState } from "./fixtures.ts";
import { Reference } from "./reference.ts";

const TOL = 1e-10;
const LENGTHS = [1, 7, 64, 37]; // 37: prime, longer than the chunk of 16 used below
const D = 32;

interface Case {
  readonly name: string;
  readonly layer: readonly BlockConfig[];
  readonly norm?: NormConfig;
  readonly tied?: boolean;
}

const CASES: readonly Case[] = [
  { name: "mamba1 d_state 16", layer: [mamba1(D)] },
  { name: "mamba1 d_state 64, layernorm, untied", layer: [mamba1(D, { dState: 64 })], norm: { kind: "layernorm", eps: 1e-5 }, tied: false },
  { name: "mamba1 inner_norms + bias", layer: [mamba1(D, { innerNorms: true, bias: true })] },
  { name: "mamba1 no conv bias, d_conv 2, dt_rank 4", layer: [mamba1(D, { convBias: false, dConv: 2, dtRank: 4, expand: 1 })] },
  { name: "mamba2 ngroups 1, d_state 16", layer: [mamba2(D, { dState: 16, headdim: 16, chunk: 16 })] },
  { name: "mamba2 ngroups 2, d_state 64", layer: [mamba2(D, { dState: 64, headdim: 8, ngroups: 2, chunk: 16 })] },
  { name: "mamba2 norm_before_gate, norm_group 8", layer: [mamba2(D, { dState: 16, headdim: 8, ngroups: 2, normBeforeGate: true, normGroup: 8, chunk: 16 })] },
  { name: "mamba2 gated_norm off, bias, no conv bias", layer: [mamba2(D, { dState: 16, headdim: 16, gatedNorm: false, bias: true, convBias: false, chunk: 16 })] },
  { name: "attention MHA, full RoPE + swiglu", layer: [attention(D, { heads: 4, rope: { theta: 10000, fraction: 1 } }), mlp({ hidden: 48 })] },
  { name: "attention GQA 8/2, partial RoPE", layer: [attention(D, { heads: 8, kvHeads: 2, rope: { theta: 10000, fraction: 0.5 } })] },
  { name: "attention MQA, no RoPE, window 5", layer: [attention(D, { heads: 4, kvHeads: 1, window: 5 })] },
  { name: "attention GQA, head_dim 8, window 16, bias", layer: [attention(D, { heads: 6, kvHeads: 3, headDim: 8, window: 16, bias: true, rope: { theta: 500, fraction: 0.25 } })] },
  { name: "mlp swiglu", layer: [mlp({ hidden: 48 })] },
  { name: "mlp gelu + bias", layer: [mlp({ activation: "gelu", hidden: 40, bias: true })] },
  { name: "mlp relu2", layer: [mlp({ activation: "relu2", hidden: 40 })] },
];

const worst: Record<string, number> = {};

describe.each(CASES)("$name", (c) => {
  const model = makeModel({ dModel: D, layers: [c.layer], context: 80, ...(c.norm ? { norm: c.norm } : {}), ...(c.tied === undefined ? {} : { tied: c.tied }) });
  const graph = lowerPrefill(model);
  const weights = randomWeights(model, 17);

  it("verifies", () => verify(graph));

  it.each(LENGTHS)("L = %i matches the reference", (L) => {
    const tokens = randomTokens(model, L, 100 + L);
    const ref = new Reference(model, weights);
    const want = ref.forward(tokens);
    const got = runGraph(graph, model, weights, tokens, 0, zeroState(model));
    const errs = { logits: relError(got.logits, want) } as Record<string, number>;
    const refState = ref.state();
    for (const k of Object.keys(refState)) errs[k] = relError(got.state[k]!, refState[k]!);
    expect(Object.keys(got.state).sort()).toEqual(Object.keys(refState).sort());
    for (const [k, e] of Object.entries(errs)) {
      expect(e, `${k} at L=${L}`).toBeLessThanOrEqual(TOL);
      worst[c.name] = Math.max(worst[c.name] ?? 0, e);
    }
  });
});

afterAll(() => {
  const lines = Object.entries(worst).map(([k, v]) => `  ${k.padEnd(48)} ${v.toExponential(2)}`);
  console.log(`max relative error vs reference (tolerance ${TOL}):\n${lines.join("\n")}`);
});
