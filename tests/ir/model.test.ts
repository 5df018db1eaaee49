// Whole tiny models written in .hyb, checked by compile(), lowered and run by the evaluator:
//  - prefill equals the step-by-step reference (logits at every position, final state);
//  - prefill equals token-by-token decode from an empty state;
//  - a prompt continues: prefill(a) then prefill(b) (or decode b) equals prefill(a + b).
// Tolerance: max |x - y| / max |y| <= 1e-10 per tensor.
import { describe, expect, it } from "vitest";
import type { ResolvedModel } from "../../compiler/check/model.ts";
import { compile } from "../../compiler/index.ts";
import { InterpError, relError } from "../../compiler/interp/index.ts";
import { verify } from "../../compiler/ir/index.ts";
import { lowerDecode, lowerPrefill, stateSlots } from "../../compiler/lower/index.ts";
import { randomTokens, randomWeights, runDecode, runGraph, zeroState, type State } from "./fixtures.ts";
import { Reference } from "./reference.ts";

const TOL = 1e-10;

const SPECS: Record<string, string> = {
  // jamba naming: four kinds of layer, inner norms, grouped Mamba-2, windowed GQA with partial RoPE
  hybrid: `
    model tiny_hybrid {
      vocab   = 64
      d_model = 32
      context = 96
      m1   = mamba1(d_state = 16, inner_norms = true)
      m2   = mamba2(d_state = 16, headdim = 16, ngroups = 2, chunk = 16)
      attn = attention(heads = 4, kv_heads = 2, rope = rope(theta = 10_000, fraction = 0.5), window = 24)
      ffn  = mlp(swiglu, hidden = 64)
      layers = [m1 + ffn, m2, attn + ffn, m1]
    }`,
  // layernorm, untied head, MQA without RoPE, norm_before_gate, gelu and relu2 MLPs, a ratio
  misc: `
    model tiny_misc {
      vocab   = 48
      d_model = 32
      norm    = layernorm(eps = 1e-6)
      tied    = false
      context = 80
      attn = attention(heads = 4, kv_heads = 1)
      ssm  = mamba2(d_state = 8, headdim = 8, norm_before_gate = true, chunk = 16)
      g    = mlp(gelu, hidden = 48)
      r    = mlp(relu2, hidden = 40, bias = true)
      layers = 2 * (ssm + g : attn + r = 1 : 1)
    }`,
  // mamba naming (one sublayer per layer), d_state 64
  mamba: `
    model tiny_mamba {
      vocab   = 64
      d_model = 32
      ssm = mamba1(d_state = 16)
      m2  = mamba2(d_state = 64, headdim = 16, chunk = 16)
      layers = [ssm, m2, ssm]
    }`,
};

function load(text: string): ResolvedModel {
  const r = compile(text, { path: "tiny.hyb" });
  expect(r.diagnostics.map((d) => d.message)).toEqual([]);
  expect(r.models).toHaveLength(1);
  return r.models[0]!;
}

function expectStatesClose(got: State, want: State, what: string): void {
  expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
  for (const k of Object.keys(want)) expect(relError(got[k]!, want[k]!), `${what}: ${k}`).toBeLessThanOrEqual(TOL);
}

describe.each(Object.keys(SPECS))("%s", (key) => {
  const model = load(SPECS[key]!);
  const prefill = lowerPrefill(model);
  const decode = lowerDecode(model);
  const weights = randomWeights(model, 7);
  const V = model.vocab;

  it("lowers to verified graphs with one state slot per cache", () => {
    verify(prefill);
    verify(decode);
    const slots = stateSlots(model).map((s) => s.name);
    expect(prefill.outputs.map((o) => o.name)).toEqual(["logits", ...slots]);
    expect(decode.outputs.map((o) => o.name)).toEqual(["logits", ...slots]);
  });

  it.each([64, 37])("prefill of %i tokens matches the reference", (L) => {
    const tokens = randomTokens(model, L, L);
    const ref = new Reference(model, weights);
    const want = ref.forward(tokens);
    const got = runGraph(prefill, model, weights, tokens, 0, zeroState(model));
    expect(relError(got.logits, want)).toBeLessThanOrEqual(TOL);
    expectStatesClose(got.state, ref.state(), "state");
  });

  it("prefill equals token-by-token decode from an empty state", () => {
    const tokens = randomTokens(model, 40, 3);
    const p = runGraph(prefill, model, weights, tokens, 0, zeroState(model));
    const d = runDecode(decode, model, weights, tokens, 0, zeroState(model));
    for (let t = 0; t < tokens.length; t++) {
      const row = (x: Float64Array) => x.subarray(t * V, (t + 1) * V);
      expect(relError(row(d.logits), row(p.logits)), `position ${t}`).toBeLessThanOrEqual(TOL);
    }
    expectStatesClose(d.state, p.state, "decode vs prefill");
  });

  it("prefill(a) then prefill(b) or decode(b) equals prefill(a + b)", () => {
    const tokens = randomTokens(model, 45, 4);
    const [a, b] = [tokens.slice(0, 29), tokens.slice(29)];
    const whole = runGraph(prefill, model, weights, tokens, 0, zeroState(model));
    const first = runGraph(prefill, model, weights, a, 0, zeroState(model));
    const tail = whole.logits.subarray(a.length * V);
    expect(relError(first.logits, whole.logits.subarray(0, a.length * V))).toBeLessThanOrEqual(TOL);

    const second = runGraph(prefill, model, weights, b, a.length, first.state);
    expect(relError(second.logits, tail)).toBeLessThanOrEqual(TOL);
    expectStatesClose(second.state, whole.state, "prefill continuation");

    const stepped = runDecode(decode, model, weights, b, a.length, first.state);
    expect(relError(stepped.logits, tail)).toBeLessThanOrEqual(TOL);
    expectStatesClose(stepped.state, whole.state, "decode continuation");
  });
});

describe("KV cache bounds", () => {
  it("refuses a token past `context`", () => {
    const model = load(SPECS["misc"]!);
    const weights = randomWeights(model, 1);
    expect(() => runGraph(lowerDecode(model), model, weights, [1], model.context, zeroState(model))).toThrow(InterpError);
    expect(() => runGraph(lowerPrefill(model), model, weights, [1, 2], model.context - 1, zeroState(model))).toThrow(/needs \d+ rows of a cache of/);
  });
});
