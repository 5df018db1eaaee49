/**
 * Whole `--no-fuse` programs on the adapter: every node of the unfused graph (the lowering's
 * primitives: conv1d_causal, linear_recurrence, rope, cache_write, the attention pieces, softmax,
 * ...) runs as its own kernel, and the logits must equal the fused program's. Each program gets
 * its own GpuModelMemory (the same weights), so the two keep separate state: prefill at L = 7 and
 * L = 37 from zero state, then 3 decode steps continuing on each program's own GPU state.
 * Norm-wise relative error max|unfused - fused| / max|fused| <= 1e-4, for the logits and for every
 * state slot after prefill. (program.test.ts checks the fused programs against interp.)
 */
import { beforeAll, describe, expect, it } from "vitest";
import { relError } from "../../compiler/interp/index.ts";
import type { GpuModelMemory, GpuProgram } from "../../runtime/program.ts";
import { randomTokens, randomWeights } from "../ir/fixtures.ts";
import { built, programsOf, spec } from "../runtime/built.ts";

const MODELS: readonly [string, string][] = [
  [
    "2-layer mamba-1, d_model 20, d_conv 3",
    `model tiny_mamba1_odd {
  vocab = 37
  d_model = 20
  ssm = mamba1(d_state = 4, expand = 2, d_conv = 3, dt_rank = 3)
  layers = [ssm, ssm]
}`,
  ],
  [
    "mamba-2 (2 groups) + GQA attention with rope + SwiGLU MLP",
    `model tiny_m2_attn {
  vocab = 50
  d_model = 32
  context = 128
  ssm = mamba2(d_state = 16, expand = 2, d_conv = 4, headdim = 16, ngroups = 2, chunk = 8)
  attn = attention(heads = 4, kv_heads = 2, rope = rope(theta = 10_000))
  ffn = mlp(swiglu, hidden = 48)
  layers = [ssm, attn + ffn]
}`,
  ],
  [
    "windowed MQA attention without rope + MLP",
    `model tiny_mqa {
  vocab = 50
  d_model = 16
  context = 128
  attn = attention(heads = 4, kv_heads = 1, rope = none, window = 5)
  ffn = mlp(swiglu, hidden = 24)
  layers = [attn + ffn, attn + ffn]
}`,
  ],
];

const TOL = 1e-4;
const LENGTHS = [7, 37] as const;

const err = (a: ArrayLike<number>, b: ArrayLike<number>) => relError(Float64Array.from(a), Float64Array.from(b));

describe.each(MODELS)("%s: --no-fuse equals fused", (_, text) => {
  const s = spec(text);
  const m = s.model;
  const weights = Object.fromEntries(Object.entries(randomWeights(m, 11)).map(([n, a]) => [n, Float32Array.from(a)]));
  type Pair = { memory: GpuModelMemory; prefill: GpuProgram; decode: GpuProgram };
  const gpu: Partial<Record<"fused" | "unfused", Pair>> = {};

  beforeAll(async () => {
    for (const kind of ["fused", "unfused"] as const) {
      const L = Math.max(...LENGTHS);
      const loaded = await programsOf(await built(s, { fuse: kind === "fused" }), weights, [L]);
      const pair = { memory: loaded.memory, prefill: loaded.prefill.get(L)!, decode: loaded.decode };
      // lavapipe finishes compiling a pipeline at its first dispatch (seconds each on a loaded
      // machine): one call of each program here keeps that out of the tests' time.
      await pair.prefill.run([1], 0);
      await pair.decode.run([1], 1);
      gpu[kind] = pair;
    }
  }, 600_000);

  it("the unfused programs launch more kernels than the fused ones", () => {
    expect(gpu.unfused!.prefill.specs.length).toBeGreaterThan(gpu.fused!.prefill.specs.length);
    expect(gpu.unfused!.decode.specs.length).toBeGreaterThan(gpu.fused!.decode.specs.length);
  });

  it.each(LENGTHS)("prefill L = %i, then 3 decode steps: logits and state match", async (L) => {
    const [f, u] = [gpu.fused!, gpu.unfused!];
    f.memory.resetState();
    u.memory.resetState();
    const tokens = randomTokens(m, L, L);
    expect(err(await u.prefill.run(tokens, 0), await f.prefill.run(tokens, 0)), "prefill logits").toBeLessThanOrEqual(TOL);
    const [fs, us] = [await f.decode.readState(), await u.decode.readState()];
    for (const [name, v] of Object.entries(fs)) expect(err(us[name]!, v), `state ${name} after prefill`).toBeLessThanOrEqual(TOL);
    for (let i = 0; i < 3; i++) {
      const t = (7 * L + 3 * i) % m.vocab;
      expect(err(await u.decode.run([t], L + i), await f.decode.run([t], L + i)), `decode step ${i}`).toBeLessThanOrEqual(TOL);
    }
  }, 120_000);
});
