/**
 * The Node side of the portability tests (deno.test.ts, browser.test.ts): the tiny models every
 * foreign WebGPU implementation runs (every block kind, fused and unfused), the job's runs, and
 * the check of what comes back against the step-by-step float64 reference (tests/ir/reference.ts):
 * prefill logits and each generated token's logits within 1e-4 norm-wise, the greedy tokens equal.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";
import { build, compile, type ResolvedModel } from "../../compiler/index.ts";
import { weightArtifacts } from "../../compiler/codegen/artifact.ts";
import { relError } from "../../compiler/interp/index.ts";
import { argmax, randomCheckpoint } from "../../runtime/index.ts";
import { Reference } from "../ir/reference.ts";
import type { PortableJob, PortableRun, PortableRunSpec } from "./portable-run.ts";
import { emittedKernels } from "./spec-kernels.ts";

export const TOL = 1e-4;
const GENERATE = 6;
const PROMPT_LENGTH = 13;
const SEED = 3;

export const MODELS: Readonly<Record<string, string>> = {
  "mamba-1, layernorm, GELU MLP, untied": `model m1 {
  vocab = 64
  d_model = 16
  norm = layernorm
  tied = false
  ssm = mamba1(d_state = 8, expand = 2, d_conv = 4, dt_rank = 2)
  ffn = mlp(gelu, hidden = 40, bias = true)
  layers = [ssm + ffn, ssm]
}`,
  "mamba-2 + GQA attention with RoPE + SwiGLU": `model m2 {
  vocab = 96
  d_model = 32
  context = 32
  ssm = mamba2(d_state = 16, expand = 2, d_conv = 4, headdim = 16, chunk = 8)
  attn = attention(heads = 4, kv_heads = 2, rope = rope(theta = 10_000, fraction = 0.5))
  ffn = mlp(swiglu, hidden = 48)
  layers = [ssm, attn + ffn]
}`,
  "windowed MQA past its context (ring KV cache)": `model ring {
  vocab = 64
  d_model = 16
  context = 8
  ssm = mamba1(d_state = 8, expand = 2, d_conv = 4, dt_rank = 2)
  attn = attention(heads = 4, kv_heads = 1, rope = 10_000, window = 5)
  layers = [ssm, attn]
}`,
};

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** The canonical specs. */
export function canonicalSpecs(): { readonly path: string; readonly source: string }[] {
  return readdirSync(join(ROOT, "specs"))
    .filter((f) => f.endsWith(".hyb"))
    .sort()
    .map((f) => ({ path: join("specs", f), source: readFileSync(join(ROOT, "specs", f), "utf8") }));
}

/** Every distinct WGSL module of the specs' kernels (fused and unfused, both programs), with where it first came from. */
export function distinctModules(specs: readonly { readonly path: string; readonly source: string }[]): PortableJob["modules"] {
  const seen = new Set<string>();
  return specs.flatMap((s) =>
    emittedKernels(s.source, s.path).flatMap(([kernel, code]) => {
      if (seen.has(code)) return [];
      seen.add(code);
      return [{ spec: s.path, kernel, code }];
    }),
  );
}

/** The job: every distinct module of the canonical specs, and every model of portableRuns(). */
export function portableJob(pipelines: boolean): PortableJob {
  return { modules: distinctModules(canonicalSpecs()), pipelines, runs: portableRuns() };
}

export function resolveModel(source: string): ResolvedModel {
  const r = compile(source);
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  return r.models[0]!;
}

const promptOf = (m: ResolvedModel) => Array.from({ length: PROMPT_LENGTH }, (_, i) => (i * 7 + 3) % m.vocab);

/** Every model, fused and unfused, built with WebGPU's default limits (they run on any device). */
export function portableRuns(): PortableRunSpec[] {
  return Object.entries(MODELS).flatMap(([name, source]) =>
    [true, false].map((fuse) => {
      const r = build(source, { path: `${name}.hyb`, fuse });
      if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
      return { name, fuse, seed: SEED, prompt: promptOf(r.models[0]!), generate: GENERATE, artifact: r.artifacts[0]! };
    }),
  );
}

/** The run of `name` / `fuse` against the reference with the same seeded weights. */
export async function expectMatchesReference(runs: readonly PortableRun[], name: string, fuse: boolean): Promise<void> {
  const run = runs.find((r) => r.name === name && r.fuse === fuse);
  expect(run, `the run of ${name}, fuse = ${fuse}`).toBeDefined();
  const m = resolveModel(MODELS[name]!);
  const rand = randomCheckpoint({ weights: weightArtifacts(m) }, SEED);
  const w: Record<string, Float64Array> = {};
  for (const t of m.weights) w[t.name] = Float64Array.from(await rand.read(t.name));
  const ref = new Reference(m, w);
  const prompt = promptOf(m);
  const want = ref.forward(prompt);
  expect(relError(Float64Array.from(run!.prefill), want), "prefill logits").toBeLessThanOrEqual(TOL);
  // Greedy: each token is the argmax of the reference's row, which is then fed back.
  let row = want.subarray((prompt.length - 1) * m.vocab);
  const expected: number[] = [];
  for (let i = 0; i < GENERATE; i++) {
    expect(relError(Float64Array.from(run!.logits[i]!), row), `logits of generated token ${i}`).toBeLessThanOrEqual(TOL);
    expected.push(argmax(row));
    row = Float64Array.from(ref.step(expected[i]!));
  }
  expect(run!.tokens).toEqual(expected);
}
