/**
 * Whole models on the adapter: tiny `.hyb` models with random weights (fixed seed) built into
 * artifacts, run as GpuPrograms (runtime/program.ts) and compared with `interp` of the
 * unoptimized lowered graphs:
 * fused prefill logits at L = 7 and 37, three decode steps continuing on the GPU state, and the
 * last row of prefill(L) against token-by-token GPU decode from zero state.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_LIMITS } from "../../compiler/codegen/index.ts";
import { BuildError, lowerDecode, lowerPrefill, type ResolvedModel } from "../../compiler/index.ts";
import { relError } from "../../compiler/interp/index.ts";
import type { GpuModelMemory, GpuProgram } from "../../runtime/program.ts";
import { randomTokens, randomWeights, runGraph, zeroState, type State } from "../ir/fixtures.ts";
import { built, programsOf, spec } from "../runtime/built.ts";

const MODELS: readonly [string, string][] = [
  [
    "2-layer mamba-1",
    `model tiny_mamba1 {
  vocab = 50
  d_model = 16
  ssm = mamba1(d_state = 8, expand = 2, d_conv = 4, dt_rank = 2)
  layers = [ssm, ssm]
}`,
  ],
  [
    "mamba-2 + GQA attention with rope + SwiGLU MLP",
    `model tiny_m2_attn {
  vocab = 50
  d_model = 32
  context = 128
  ssm = mamba2(d_state = 16, expand = 2, d_conv = 4, headdim = 16, chunk = 8)
  attn = attention(heads = 4, kv_heads = 2, rope = rope(theta = 10_000))
  ffn = mlp(swiglu, hidden = 48)
  layers = [ssm, attn + ffn]
}`,
  ],
  [
    "jamba-style: mamba-1 + MLP, windowed MQA attention + MLP, untied",
    `model tiny_jamba {
  vocab = 50
  d_model = 16
  tied = false
  context = 128
  ssm = mamba1(d_state = 8, expand = 2, d_conv = 4, dt_rank = 2)
  attn = attention(heads = 4, kv_heads = 1, rope = none, window = 5)
  ffn = mlp(swiglu, hidden = 24)
  layers = [ssm + ffn, attn + ffn, ssm + ffn]
}`,
  ],
];

const TOL = 1e-4;
const LENGTHS = [7, 37] as const;

/** Float32 weights for the GPU, and the same values as float64 for interp. */
function weights(m: ResolvedModel): { f32: Record<string, Float32Array>; f64: Record<string, Float64Array> } {
  const f32: Record<string, Float32Array> = {};
  const f64: Record<string, Float64Array> = {};
  for (const [n, a] of Object.entries(randomWeights(m, 11))) {
    f32[n] = Float32Array.from(a);
    f64[n] = Float64Array.from(f32[n]!);
  }
  return { f32, f64 };
}

const err = (gpu: ArrayLike<number>, ref: Float64Array) => relError(Float64Array.from(gpu), ref);

describe.each(MODELS)("%s", (_, text) => {
  const s = spec(text);
  const m = s.model;
  const { f32, f64 } = weights(m);
  const ref = { prefill: lowerPrefill(m), decode: lowerDecode(m) };
  let memory: GpuModelMemory;
  let decode: GpuProgram;
  let prefill: ReadonlyMap<number, GpuProgram>;

  beforeAll(async () => {
    ({ memory, decode, prefill } = await programsOf(await built(s), f32, LENGTHS));
  }, 600_000);

  it.each(LENGTHS)("prefill L = %i, then 3 decode steps on the GPU state, match interp", async (L) => {
    memory.resetState();
    const tokens = randomTokens(m, L, L);
    const gpu = await prefill.get(L)!.run(tokens, 0);
    const r = runGraph(ref.prefill, m, f64, tokens, 0, zeroState(m));
    expect(err(gpu, r.logits), "prefill logits").toBeLessThanOrEqual(TOL);
    const gpuState = await decode.readState();
    for (const [name, v] of Object.entries(r.state)) expect(err(gpuState[name]!, v), `state ${name} after prefill`).toBeLessThanOrEqual(TOL);

    let state: State = r.state;
    for (let i = 0; i < 3; i++) {
      const t = (7 * L + 3 * i) % m.vocab;
      const g = await decode.run([t], L + i);
      const d = runGraph(ref.decode, m, f64, [t], L + i, state);
      state = d.state;
      expect(err(g, d.logits), `decode step ${i}`).toBeLessThanOrEqual(TOL);
    }
  });

  it.each(LENGTHS)("prefill(L = %i) last row equals token-by-token GPU decode from zero state", async (L) => {
    const tokens = randomTokens(m, L, 100 + L);
    memory.resetState();
    const all = await prefill.get(L)!.run(tokens, 0);
    const last = all.subarray((L - 1) * m.vocab, L * m.vocab);
    memory.resetState();
    let g: Float32Array = new Float32Array(0);
    for (let i = 0; i < L; i++) g = await decode.run([tokens[i]!], i);
    expect(err(g, Float64Array.from(last)), "decode vs prefill last row").toBeLessThanOrEqual(TOL);
  });
});

describe("--no-fuse programs", () => {
  // Every primitive has a generator now; unfused-program.test.ts checks their logits against the fused programs'.
  it("build, and a kernel over the adapter's limits is a BuildError with HYB5002 at the spec's line", async () => {
    const s = spec(MODELS[0]![1]);
    const a = await built(s, { fuse: false });
    expect(a.prefill.call.map((k) => k.op)).toContain("conv1d_causal");
    const { prefill } = await programsOf(a, weights(s.model).f32, [7]);
    expect(prefill.get(7)!.specs.map((k) => k.op)).toContain("conv1d_causal");
    const e = await built(s, { fuse: false, limits: { ...DEFAULT_LIMITS, maxStorageBuffersPerShaderStage: 3 } }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(BuildError);
    expect((e as BuildError).diagnostics[0]!.code).toBe("HYB5002");
    expect((e as BuildError).message).toMatch(/^test\.hyb:\d+:\d+: error\[HYB5002\]: kernel .* needs \d+ storage buffers; the adapter allows 3/m);
  });
});
