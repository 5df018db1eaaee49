/**
 * The shipped trained model against the implementation it was trained in: specs/kjv-byte.hyb with
 * its F16 weights (specs/kjv-byte.safetensors) runs through the real load path (build, then
 * openCheckpoint and loadModel, as `hybridc run` does), and for each prompt of
 * specs/kjv-byte.reference.json its prefill logits (every prompt position) and the logits of 32
 * greedy decode steps must lie within 2e-3 of the PyTorch model's (tools/train/model.py, computed
 * in float64 on the same F16 weights by tools/train/export.py), and the 33 greedy bytes must be
 * the same. This is the one comparison of a whole model with an implementation outside hybridc.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { build } from "../../compiler/index.ts";
import { loadModel, type HybridModel } from "../../runtime/model.ts";
import type { Checkpoint } from "../../runtime/weights/index.ts";
import { openCheckpoint } from "../../runtime/weights/node.ts";
import { runtime } from "../codegen/harness.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SPEC = "specs/kjv-byte.hyb";
const TOLERANCE = 2e-3;

interface Reference {
  readonly weights: string;
  readonly prompts: readonly { readonly prompt: string; readonly tokens: readonly number[]; readonly min_top2_margin: number }[];
}
const ref = JSON.parse(readFileSync(join(ROOT, "specs/kjv-byte.reference.json"), "utf8")) as Reference;

/** The largest |a - b| over two logit rows of equal length. */
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe("trained model specs/kjv-byte against its PyTorch reference", () => {
  let model: HybridModel;
  let logits: Checkpoint;
  beforeAll(async () => {
    const r = build(readFileSync(join(ROOT, SPEC), "utf8"), { path: SPEC });
    if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
    const weights = await openCheckpoint(join(ROOT, ref.weights));
    try {
      model = await loadModel(await runtime(), r.artifacts[0]!, weights);
    } finally {
      await weights.close();
    }
    logits = await openCheckpoint(join(ROOT, "specs/kjv-byte.reference.safetensors"));
  });
  afterAll(async () => {
    model?.destroy();
    await logits?.close();
  });

  it("has three prompts whose greedy choices are clear of the tolerance", () => {
    expect(ref.prompts).toHaveLength(3);
    // A top-2 gap below twice the tolerance could flip a greedy byte within tolerance.
    for (const p of ref.prompts) expect(p.min_top2_margin).toBeGreaterThan(2 * TOLERANCE);
  });

  ref.prompts.forEach((p, i) => {
    it(`prompt ${i} (${JSON.stringify(p.prompt)}): prefill and 32 greedy steps`, async () => {
      const prompt = new TextEncoder().encode(p.prompt);
      const V = 256;
      let prefill: Float32Array = new Float32Array(0);
      const tokens: number[] = [];
      const stepLogits: Float32Array[] = [];
      for await (const t of model.generate(prompt, { maxTokens: p.tokens.length, temperature: 0, onPrefill: (l) => (prefill = l) })) {
        tokens.push(t.token);
        stepLogits.push(t.logits);
      }

      const refPrefill = await logits.read(`p${i}.prefill`);
      expect(logits.tensors.get(`p${i}.prefill`)!.shape).toEqual([prompt.length, V]);
      expect(prefill.length).toBe(prompt.length * V);
      const prefillDiff = maxAbsDiff(prefill, refPrefill);
      expect(prefillDiff).toBeLessThan(TOLERANCE);

      expect(tokens).toEqual(p.tokens);
      // stepLogits[0] is the prefill's last row; stepLogits[k + 1] come after feeding greedy token k.
      expect(maxAbsDiff(stepLogits[0]!, refPrefill.subarray((prompt.length - 1) * V))).toBeLessThan(TOLERANCE);
      const refDecode = await logits.read(`p${i}.decode`);
      expect(logits.tensors.get(`p${i}.decode`)!.shape).toEqual([p.tokens.length - 1, V]);
      let decodeDiff = 0;
      for (let k = 0; k + 1 < stepLogits.length; k++) decodeDiff = Math.max(decodeDiff, maxAbsDiff(stepLogits[k + 1]!, refDecode.subarray(k * V, (k + 1) * V)));
      expect(decodeDiff).toBeLessThan(TOLERANCE);
    });
  });
});
