/**
 * `dtype = f16` on the adapter, whole models: weights stored in f16 (read packed through
 * unpack2x16float, and natively as array<f16> where the device has shader-f16), everything else
 * in f32. For a small derived version of every canonical spec (half.ts derivedSpec):
 *   - prefill logits of a 5-token prompt, the state it leaves and two decode steps equal the
 *     float64 interpreter run on the f16-rounded weights (normwise 1e-4, as for f32: the
 *     arithmetic is f32 either way, only the stored weights differ);
 *   - the logits are within 2e-2 (normwise) of the f32 model's on the same unrounded weights:
 *     the cost of storing weights in half precision;
 *   - the native and the packed kernels give the same logits (1e-6), and only the native
 *     artifact needs shader-f16.
 * And on the tiny reference models of every block kind: greedy generation of the f16 model
 * equals the float64 reference's (on f16-rounded weights) and the f32 model's, token for token.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { lowerDecode, lowerPrefill } from "../../compiler/index.ts";
import { relError } from "../../compiler/interp/index.ts";
import { loadModel } from "../../runtime/model.ts";
import { argmax } from "../../runtime/sample.ts";
import { runtime } from "../codegen/harness.ts";
import { CANONICAL } from "../codegen/spec-acceptance.ts";
import { randomTokens, randomWeights, runDecode, runGraph, zeroState, type State } from "../ir/fixtures.ts";
import { built, programsOf, spec } from "../runtime/built.ts";
import { MODELS } from "../runtime/portable.ts";
import { derivedSpec, halfValues } from "./half.ts";

const TOL = 1e-4;
const F32_TOL = 2e-2;
const PROMPT = 5;
const STEPS = 2;
const GEN = 8;
const SPECS = join(import.meta.dirname, "../../specs");

const err = (gpu: ArrayLike<number>, ref: ArrayLike<number>): number => relError(Float64Array.from(gpu), Float64Array.from(ref));
const f32Of = (w: Record<string, Float64Array>): Record<string, Float32Array> => Object.fromEntries(Object.entries(w).map(([k, v]) => [k, Float32Array.from(v)]));

describe.each(CANONICAL)("%s, derived small, dtype = f16", (file) => {
  it("matches interp on f16-rounded weights (prefill, state, decode); within 2e-2 of f32; native = packed", async () => {
    const text = readFileSync(join(SPECS, file), "utf8");
    const s16 = spec(derivedSpec(text, "f16"), file);
    const s32 = spec(derivedSpec(text, "f32"), file);
    const m = s16.model;
    const weights = f32Of(randomWeights(m, 2026));
    const rounded = halfValues(weights);
    const tokens = randomTokens(m, PROMPT, 7);

    const packed = await built(s16);
    expect(packed.weights.every((w) => w.dtype === "f16")).toBe(true);
    expect(packed.weightBuffers.every((b) => b.dtype === "f16")).toBe(true);
    expect(packed.features).toEqual([]);
    const half = await programsOf(packed, weights, [PROMPT]);
    let logits16: Float32Array;
    try {
      const ref = runGraph(lowerPrefill(m), m, rounded, tokens, 0, zeroState(m));
      logits16 = await half.prefill.get(PROMPT)!.run(tokens, 0);
      expect(err(logits16, ref.logits), "prefill logits vs interp on f16 weights").toBeLessThanOrEqual(TOL);
      const gpuState = await half.decode.readState();
      for (const [name, v] of Object.entries(ref.state)) expect(err(gpuState[name]!, v), `state ${name} (f32)`).toBeLessThanOrEqual(TOL);
      let state: State = ref.state;
      for (let i = 0; i < STEPS; i++) {
        const t = (31 * i + 5) % m.vocab;
        const d = runGraph(lowerDecode(m), m, rounded, [t], PROMPT + i, state);
        state = d.state;
        expect(err(await half.decode.run([t], PROMPT + i), d.logits), `decode step ${i}`).toBeLessThanOrEqual(TOL);
      }
    } finally {
      half.destroy();
    }

    const full = await programsOf(await built(s32), weights, [PROMPT]);
    try {
      const logits32 = await full.prefill.get(PROMPT)!.run(tokens, 0);
      const diff = err(logits16, logits32);
      console.log(`${file}: f16 vs f32 prefill logits, normwise relative difference ${diff.toExponential(2)}`);
      expect(diff, "f16 vs f32 logits").toBeLessThanOrEqual(F32_TOL);
    } finally {
      full.destroy();
    }

    const rt = await runtime();
    expect(rt.device.features.has("shader-f16"), "the test device offers shader-f16 (lavapipe does)").toBe(true);
    const nativeArtifact = await built(s16, { f16: "native" });
    expect(nativeArtifact.features).toEqual(["shader-f16"]);
    const native = await programsOf(nativeArtifact, weights, [PROMPT]);
    try {
      expect(err(await native.prefill.get(PROMPT)!.run(tokens, 0), logits16), "native vs packed").toBeLessThanOrEqual(1e-6);
    } finally {
      native.destroy();
    }
  }, 300_000);
});

describe.each(Object.entries(MODELS))("tiny reference model: %s", (_, text) => {
  it(`greedy generation of ${GEN} tokens in f16 equals the reference on f16 weights and the f32 model`, async () => {
    const s16 = spec(text.replace(/d_model = (\d+)/, "d_model = $1\n  dtype = f16"));
    const s32 = spec(text);
    const m = s16.model;
    const weights = f32Of(randomWeights(m, 11));
    const rounded = halfValues(weights);
    const prompt = randomTokens(m, 9, 5);
    // Reference: interp decode token by token (the ring model's prompt is longer than its
    // context, which one interp prefill call cannot hold), then argmax of float64 logits.
    let r = runDecode(lowerDecode(m), m, rounded, prompt, 0, zeroState(m));
    let logits = r.logits.subarray((prompt.length - 1) * m.vocab);
    const expected: number[] = [];
    for (let i = 0; i < GEN; i++) {
      const t = argmax(logits);
      expected.push(t);
      r = runGraph(lowerDecode(m), m, rounded, [t], prompt.length + i, r.state);
      logits = r.logits;
    }
    const rt = await runtime();
    const greedy = async (artifact: Awaited<ReturnType<typeof built>>): Promise<number[]> => {
      const model = await loadModel(rt.device, artifact, weights);
      try {
        const got: number[] = [];
        for await (const t of model.generate(prompt, { maxTokens: GEN, temperature: 0 })) got.push(t.token);
        return got;
      } finally {
        model.destroy();
      }
    };
    expect(await greedy(await built(s16)), "f16 vs the reference on f16 weights").toEqual(expected);
    expect(await greedy(await built(s32)), "f32 model on the unrounded weights").toEqual(expected);
  }, 300_000);
});
