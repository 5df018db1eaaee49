// bindLength: the prefill graph with L replaced by a number verifies, mentions no L, and
// computes the same values as the symbolic graph run at that length.
import { expect, it } from "vitest";
import { relError } from "../../compiler/interp/index.ts";
import { bindLength } from "../../compiler/ir/bind-length.ts";
import { isSymbolic, printGraph, verify } from "../../compiler/ir/index.ts";
import { lowerPrefill } from "../../compiler/lower/index.ts";
import { optimize } from "../../compiler/passes/index.ts";
import { attention, makeModel, mamba1, mamba2, randomTokens, randomWeights, runGraph, zeroState } from "./fixtures.ts";

it("binds L everywhere and keeps the values", () => {
  const D = 8;
  const model = makeModel({ dModel: D, vocab: 16, context: 16, layers: [[mamba1(D, { dState: 4 })], [mamba2(D, { dState: 4, headdim: 4, chunk: 4 })], [attention(D, { heads: 2, rope: { theta: 100, fraction: 1 } })]] });
  const weights = randomWeights(model, 3);
  const tokens = randomTokens(model, 5, 4);
  for (const g of [lowerPrefill(model), optimize(lowerPrefill(model))]) {
    const bound = bindLength(g, 5);
    verify(bound);
    expect(bound.nodes.some((n) => n.results.some((t) => isSymbolic(t.shape)))).toBe(false);
    expect(printGraph(bound)).not.toMatch(/[[,]L[\],]/);
    expect(printGraph(bindLength(g, 5))).toBe(printGraph(bound));
    const want = runGraph(g, model, weights, tokens, 0, zeroState(model));
    const got = runGraph(bound, model, weights, tokens, 0, zeroState(model));
    expect(relError(got.logits, want.logits)).toBe(0);
  }
});
