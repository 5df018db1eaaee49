/**
 * Whole models built with `scan: "chunked-parallel"` (passes/parallel-scan.ts, chunks of
 * SCAN_CHUNK = 64 tokens) on the adapter: prefill logits and the state after prefill equal the
 * sequential build's at L = 7 (one chunk) and 131 (three, the last partial), and prefill(L)
 * followed by two decode steps equals token-by-token decode of the same L + 2 tokens from zero
 * state. Decode programs are the same in both builds.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { ResolvedModel } from "../../compiler/index.ts";
import { relError } from "../../compiler/interp/index.ts";
import { SCAN_CHUNK } from "../../compiler/passes/parallel-scan.ts";
import { randomTokens, randomWeights } from "../ir/fixtures.ts";
import { built, programsOf, spec, type Loaded } from "../runtime/built.ts";

const MODELS: readonly [string, string][] = [
  [
    "2-layer mamba-1, one with Jamba's inner norms",
    `model tiny_scan_m1 {
  vocab = 40
  d_model = 16
  ssm = mamba1(d_state = 8, expand = 2, d_conv = 4, dt_rank = 2)
  jamba = mamba1(d_state = 8, expand = 2, d_conv = 4, dt_rank = 2, inner_norms = true)
  layers = [ssm, jamba]
}`,
  ],
  [
    "mamba-2 (gate_norm with norm groups under headdim, norm_gate) + attention",
    `model tiny_scan_m2 {
  vocab = 40
  d_model = 32
  context = 256
  ssm = mamba2(d_state = 16, expand = 2, d_conv = 4, headdim = 16, chunk = 8, norm_group = 8)
  ssm2 = mamba2(d_state = 16, expand = 2, d_conv = 4, headdim = 16, chunk = 8, norm_before_gate = true, norm_group = 16)
  attn = attention(heads = 4, kv_heads = 2, rope = rope(theta = 10_000))
  ffn = mlp(swiglu, hidden = 48)
  layers = [ssm, attn + ffn, ssm2]
}`,
  ],
];

const TOL = 1e-4;
const LENGTHS = [7, 2 * SCAN_CHUNK + 3] as const;

function f32Weights(m: ResolvedModel): Record<string, Float32Array> {
  return Object.fromEntries(Object.entries(randomWeights(m, 12)).map(([n, a]) => [n, Float32Array.from(a)]));
}

const err = (gpu: ArrayLike<number>, ref: ArrayLike<number>) => relError(Float64Array.from(gpu), Float64Array.from(ref));

describe.each(MODELS)("%s", (_, text) => {
  const s = spec(text);
  const m = s.model;
  let seq: Loaded;
  let par: Loaded;

  beforeAll(async () => {
    const weights = f32Weights(m);
    seq = await programsOf(await built(s), weights, LENGTHS);
    par = await programsOf(await built(s, { scan: "chunked-parallel" }), weights, LENGTHS);
  }, 600_000);

  it("the parallel build splits every prefill scan, and only those", () => {
    const ops = (l: Loaded, p: "prefill" | "decode") => l.artifact[p].call.map((k) => k.op);
    const scans = ops(seq, "prefill").filter((op) => op === "selective_scan" || op === "ssd").length;
    expect(scans).toBeGreaterThan(0);
    expect(ops(par, "prefill").filter((op) => op === "scan_state_pass")).toHaveLength(scans);
    expect(ops(par, "prefill").filter((op) => op === "selective_scan" || op === "ssd")).toHaveLength(0);
    expect(ops(par, "decode")).toEqual(ops(seq, "decode"));
    // The spec's norm epilogues went into the kernels (gate_norm, norm_gate), not into separate norms.
    const epilogues = par.artifact.prefill.call.filter((k) => k.op === "ssd_chunk_output").map((k) => /out = (rmsnorm\(y \* silu|rmsnorm\(y\) \*)/.exec(k.wgsl)?.[1]);
    if (epilogues.length > 0) expect(epilogues).toEqual(["rmsnorm(y * silu", "rmsnorm(y) *"]);
  });

  it.each(LENGTHS)("prefill L = %i: logits and state equal the sequential build's", async (L) => {
    const tokens = randomTokens(m, L, 200 + L);
    seq.memory.resetState();
    par.memory.resetState();
    const want = await seq.prefill.get(L)!.run(tokens, 0);
    const got = await par.prefill.get(L)!.run(tokens, 0);
    expect(err(got, want), "logits").toBeLessThanOrEqual(TOL);
    const [a, b] = [await seq.decode.readState(), await par.decode.readState()];
    for (const [name, v] of Object.entries(a)) expect(err(b[name]!, v), `state ${name}`).toBeLessThanOrEqual(TOL);
  });

  it.each(LENGTHS)("prefill L = %i then 2 decode steps equal token-by-token decode", async (L) => {
    const tokens = randomTokens(m, L + 2, 300 + L);
    par.memory.resetState();
    await par.prefill.get(L)!.run(tokens.slice(0, L), 0);
    const after: Float32Array[] = [];
    for (let i = L; i < L + 2; i++) after.push(await par.decode.run([tokens[i]!], i));
    par.memory.resetState();
    const steps: Float32Array[] = [];
    for (let i = 0; i < L + 2; i++) {
      const logits = await par.decode.run([tokens[i]!], i);
      if (i >= L) steps.push(logits);
    }
    after.forEach((g, i) => expect(err(g, steps[i]!), `decode step ${i}`).toBeLessThanOrEqual(TOL));
  });
});
