// The KV cache as a ring (compiler/ir/kv-ring.ts): a model whose attention is all windowed runs
// past `context`. The IR (unfused primitives and fused flash attention, prefill in chunks and
// decode token by token) against the step-by-step reference, which keeps every key in a plain
// list and knows nothing of rings: logits at every position and the final ring state agree to
// 1e-10, far past the context (three fixed models, and random windows, rings and chunk sizes);
// a call that would overwrite keys it still sees is refused.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { relError } from "../../compiler/interp/index.ts";
import { maxCallTokens, positionLimit, ringPosition, ringRowsNeeded } from "../../runtime/artifact/kv-ring.ts";
import { lowerDecode, lowerPrefill } from "../../compiler/lower/index.ts";
import { optimize } from "../../compiler/passes/index.ts";
import type { Graph } from "../../compiler/ir/index.ts";
import { attention, makeModel, mamba1, mlp, randomTokens, randomWeights, runGraph, zeroState, type State } from "./fixtures.ts";
import { Reference } from "./reference.ts";

const TOL = 1e-10;
const D = 16;

describe("ring arithmetic", () => {
  it("rows needed: the keys before the call (window - 1 at most) plus the new rows", () => {
    expect(ringRowsNeeded(0, 5, 4)).toBe(5);
    expect(ringRowsNeeded(2, 5, 4)).toBe(7);
    expect(ringRowsNeeded(100, 5, 4)).toBe(8);
    expect(ringRowsNeeded(100, 1, null)).toBe(101);
  });

  it("the position a row holds after writing positions 0..last", () => {
    // T = 4, positions 0..9 written: rows hold 8, 9, 6, 7.
    expect([0, 1, 2, 3].map((t) => ringPosition(t, 9, 4))).toEqual([8, 9, 6, 7]);
    // Positions 0..1 written into T = 4: rows 2 and 3 never were.
    expect([0, 1, 2, 3].map((t) => ringPosition(t, 1, 4))).toEqual([0, 1, -2, -1]);
  });

  it("a model is unbounded iff every attention layer is windowed within the cache", () => {
    expect(positionLimit([], 8)).toBe(Infinity);
    expect(positionLimit([4, 8], 8)).toBe(Infinity);
    expect(positionLimit([4, 9], 8)).toBe(8);
    expect(positionLimit([4, null], 8)).toBe(8);
    // T = 8, windows 4 and 6: at pos 20 a call keeps 5 keys for the window of 6, so 3 new rows.
    expect(maxCallTokens([4, 6], 8, 20)).toBe(3);
    expect(maxCallTokens([4, 6], 8, 2)).toBe(6);
    expect(maxCallTokens([], 8, 1000)).toBe(Infinity);
  });
});

interface Run {
  readonly logits: Float64Array;
  readonly state: State;
}

/** Prefill `tokens` through `g` in calls of at most `chunk` tokens (fewer where the ring needs it). */
function prefill(g: Graph, model: ReturnType<typeof makeModel>, w: Record<string, Float64Array>, tokens: readonly number[], chunk: number, windows: readonly (number | null)[]): Run {
  const logits = new Float64Array(tokens.length * model.vocab);
  let state = zeroState(model);
  for (let at = 0; at < tokens.length; ) {
    const n = Math.min(chunk, maxCallTokens(windows, model.context, at), tokens.length - at);
    const r = runGraph(g, model, w, tokens.slice(at, at + n), at, state);
    logits.set(r.logits, at * model.vocab);
    state = r.state;
    at += n;
  }
  return { logits, state };
}

describe.each([
  { name: "MQA window 5, RoPE, context 8", attn: { heads: 4, kvHeads: 1, window: 5, rope: { theta: 1e4, fraction: 1 } }, context: 8 },
  { name: "GQA window 8 = context 8 (one new row per call once full)", attn: { heads: 4, kvHeads: 2, window: 8 }, context: 8 },
  { name: "MHA window 3, partial RoPE, context 11 (a prime)", attn: { heads: 2, window: 3, rope: { theta: 500, fraction: 0.5 } }, context: 11 },
])("$name: 41 tokens", ({ attn, context }) => {
  const model = makeModel({ dModel: D, vocab: 24, context, layers: [[mamba1(D, { dState: 4 })], [attention(D, attn), mlp({ hidden: 24 })]] });
  const w = randomWeights(model, 5);
  const tokens = randomTokens(model, 41, 6);
  const windows = [attn.window];
  const ref = new Reference(model, w);
  const want = ref.forward(tokens);
  const wantState = ref.state();

  const expectRef = (r: Run, what: string) => {
    expect(relError(r.logits, want), `${what} logits`).toBeLessThanOrEqual(TOL);
    for (const k of Object.keys(wantState)) expect(relError(r.state[k]!, wantState[k]!), `${what} ${k}`).toBeLessThanOrEqual(TOL);
  };

  it("is unbounded", () => expect(positionLimit(windows, context)).toBe(Infinity));

  for (const fuse of [false, true]) {
    const tag = fuse ? "fused" : "unfused";
    it(`${tag} prefill in chunks of up to 6 matches the reference`, () => expectRef(prefill(optimize(lowerPrefill(model), { fuse }), model, w, tokens, 6, windows), `${tag} prefill`));
    it(`${tag} decode token by token matches the reference`, () => expectRef(prefill(optimize(lowerDecode(model), { fuse }), model, w, tokens, 1, windows), `${tag} decode`));
  }
});

it("random windows, rings and chunk sizes: fused and unfused prefill match the reference", () => {
  fc.assert(
    fc.property(
      fc.record({ T: fc.integer({ min: 2, max: 9 }), w: fc.integer({ min: 1, max: 9 }), chunk: fc.integer({ min: 1, max: 9 }), n: fc.integer({ min: 1, max: 25 }), fuse: fc.boolean(), seed: fc.integer({ min: 1, max: 1000 }) }),
      ({ T, w, chunk, n, fuse, seed }) => {
        const window = Math.min(w, T);
        const model = makeModel({ dModel: 8, vocab: 12, context: T, layers: [[attention(8, { heads: 2, kvHeads: 1, window, rope: { theta: 100, fraction: 1 } })]] });
        const wts = randomWeights(model, seed);
        const tokens = randomTokens(model, n, seed + 1);
        const got = prefill(optimize(lowerPrefill(model), { fuse }), model, wts, tokens, chunk, [window]);
        expect(relError(got.logits, new Reference(model, wts).forward(tokens))).toBeLessThanOrEqual(TOL);
      },
    ),
    { numRuns: 60, seed: 11 },
  );
});

it("a call that would overwrite keys its queries see is refused, naming the rows it needs", () => {
  const model = makeModel({ dModel: D, vocab: 24, context: 8, layers: [[attention(D, { heads: 2, window: 5 })]] });
  const w = randomWeights(model, 5);
  // At pos 10 a call keeps 4 keys of the window, so at most 4 new rows fit in 8.
  const state = zeroState(model);
  expect(() => runGraph(optimize(lowerPrefill(model)), model, w, randomTokens(model, 5, 1), 10, state)).toThrow(/attention of 5 tokens at 10 with a window of 5 needs 9 rows of a cache of 8/);
  expect(() => runGraph(optimize(lowerPrefill(model)), model, w, randomTokens(model, 4, 1), 10, state)).not.toThrow();
});
