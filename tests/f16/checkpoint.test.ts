/**
 * A `dtype = f16` model loaded from safetensors checkpoints stored in F32, F16 and BF16: every
 * tensor is converted once, as it is uploaded, to the f16 the GPU stores. An F16 file and the
 * F32 values it was rounded from upload the same bits (identical logits); a BF16 file gives
 * interp's logits on its values rounded again to f16 (1e-4).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { lowerPrefill } from "../../compiler/index.ts";
import { relError } from "../../compiler/interp/index.ts";
import { bf16ToNumber, f32ToBf16 } from "../../runtime/artifact/dtypes.ts";
import { loadModel } from "../../runtime/model.ts";
import { openCheckpoint } from "../../runtime/node.ts";
import { encodeSafetensors, type WritableDtype } from "../../runtime/weights/index.ts";
import { runtime } from "../codegen/harness.ts";
import { randomTokens, randomWeights, runGraph, zeroState } from "../ir/fixtures.ts";
import { built, spec } from "../runtime/built.ts";
import { halfValues } from "./half.ts";

const TEXT = `model tiny_half {
  vocab = 64
  d_model = 16
  dtype = f16
  context = 16
  ssm = mamba2(d_state = 8, expand = 2, d_conv = 4, headdim = 8, chunk = 4)
  attn = attention(heads = 2, kv_heads = 1, rope = 10_000)
  layers = [ssm, attn]
}`;

const dir = mkdtempSync(join(tmpdir(), "hybridc-f16-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("dtype = f16 from F32, F16 and BF16 checkpoints", () => {
  it("converts once at load: F16 file = its F32 source bit for bit; BF16 = interp on f16(bf16(w))", async () => {
    const s = spec(TEXT);
    const m = s.model;
    const weights = Object.fromEntries(Object.entries(randomWeights(m, 21)).map(([k, v]) => [k, Float32Array.from(v)]));
    const write = (dtype: WritableDtype): string => {
      const path = join(dir, `${dtype}.safetensors`);
      writeFileSync(path, encodeSafetensors(m.weights.map((w) => ({ name: w.name, dtype, shape: w.shape, data: weights[w.name]! }))));
      return path;
    };
    const artifact = await built(s);
    const rt = await runtime();
    const tokens = randomTokens(m, 7, 3);
    const logitsOf = async (source: Parameters<typeof loadModel>[2]): Promise<Float32Array> => {
      const model = await loadModel(rt.device, artifact, source);
      try {
        return await model.prefill(tokens);
      } finally {
        model.destroy();
      }
    };
    const fromRecord = await logitsOf(weights);
    for (const dtype of ["F32", "F16"] as const) {
      const ckpt = await openCheckpoint(write(dtype));
      expect(Array.from(await logitsOf(ckpt)), `${dtype} file`).toEqual(Array.from(fromRecord));
      await ckpt.close();
    }
    const bf16 = await openCheckpoint(write("BF16"));
    const fromBf16 = await logitsOf(bf16);
    await bf16.close();
    const viaBf16 = halfValues(Object.fromEntries(Object.entries(weights).map(([k, v]) => [k, Float64Array.from(v, (x) => bf16ToNumber(f32ToBf16(x)))])));
    const ref = runGraph(lowerPrefill(m), m, viaBf16, tokens, 0, zeroState(m));
    expect(relError(Float64Array.from(fromBf16), ref.logits)).toBeLessThanOrEqual(1e-4);
    expect(relError(Float64Array.from(fromRecord), runGraph(lowerPrefill(m), m, halfValues(weights), tokens, 0, zeroState(m)).logits)).toBeLessThanOrEqual(1e-4);
  }, 300_000);
});
