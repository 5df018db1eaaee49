/**
 * Portability: hybridc on Deno, whose `navigator.gpu` is wgpu with naga as its WGSL compiler, a
 * WebGPU implementation independent of Node's Dawn (deno-run.ts runs there).
 *   - every kernel of every spec in specs/ (fused and --no-fuse, prefill and decode) passes
 *     naga's validation and becomes a compute pipeline; a module that must fail does fail, so a
 *     silent validator cannot pass this test;
 *   - tiny models covering every block kind (Mamba-1 with layernorm and GELU MLP, Mamba-2 with
 *     GQA RoPE attention and SwiGLU, windowed MQA running past its context through the ring KV
 *     cache), fused and unfused, loaded with seeded random weights through the public runtime
 *     API: prefill logits and greedy generation against the step-by-step float64 reference
 *     (tests/ir/reference.ts), norm-wise 1e-4, the tokens equal.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile, type ResolvedModel } from "../../compiler/index.ts";
import { relError } from "../../compiler/interp/index.ts";
import { argmax, randomCheckpoint } from "../../runtime/index.ts";
import { Reference } from "../ir/reference.ts";
import { emittedKernels } from "./spec-kernels.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const DENO = join(ROOT, "node_modules", ".bin", "deno");
const TOL = 1e-4;
const GENERATE = 6;

const MODELS: Record<string, string> = {
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
const PROMPT_LENGTH = 13;

interface DenoRun {
  readonly name: string;
  readonly fuse: boolean;
  readonly prefill: number[];
  readonly tokens: number[];
  readonly logits: number[][];
}
interface DenoResult {
  readonly error?: string;
  readonly adapter: string;
  readonly kernels: { readonly modules: number; readonly failures: readonly { spec: string; kernel: string; messages: string[] }[]; readonly probe: readonly string[] };
  readonly runs: readonly DenoRun[];
}

function resolve(source: string): ResolvedModel {
  const r = compile(source);
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  return r.models[0]!;
}

const specs = readdirSync(join(ROOT, "specs"))
  .filter((f) => f.endsWith(".hyb"))
  .sort()
  .map((f) => join("specs", f));
const prompt = (m: ResolvedModel) => Array.from({ length: PROMPT_LENGTH }, (_, i) => (i * 7 + 3) % m.vocab);

let dir: string;
let result: DenoResult;

beforeAll(() => {
  if (!existsSync(DENO)) throw new Error(`Deno is not installed at ${DENO}: it is a devDependency of hybridc; run \`npm ci\` (or \`bash .ci/install\`)`);
  dir = mkdtempSync(join(tmpdir(), "hybridc-deno-"));
  const runs = Object.entries(MODELS).flatMap(([name, source]) => [true, false].map((fuse) => ({ name, source, fuse, seed: 3, prompt: prompt(resolve(source)), generate: GENERATE })));
  const job = join(dir, "job.json");
  writeFileSync(job, JSON.stringify({ specs, runs }));
  const r = spawnSync(DENO, ["run", "--unstable-webgpu", "--allow-read", "--allow-env", join(ROOT, "tests", "runtime", "deno-run.ts"), job], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 540_000,
    maxBuffer: 256 << 20,
    env: { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
  });
  if (r.error) throw r.error;
  const last = r.stdout.trim().split("\n").pop() ?? "";
  if (r.status !== 0 || !last.startsWith("{")) throw new Error(`deno exited with ${r.status}:\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-4000)}`);
  result = JSON.parse(last) as DenoResult;
  if (result.error) throw new Error(`deno: ${result.error}`);
}, 600_000);

afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));

describe("Deno (wgpu / naga)", () => {
  it("compiles every kernel of every spec, fused and --no-fuse, into a pipeline", () => {
    const distinct = new Set(specs.flatMap((p) => compile(readFileSync(join(ROOT, p), "utf8"), { path: p }).models.flatMap((m) => emittedKernels(m).map(([, code]) => code))));
    console.log(`deno: ${result.adapter}: ${result.kernels.modules} distinct WGSL modules of ${specs.length} specs validated and compiled`);
    expect(result.kernels.probe.length, "the invalid probe module must be reported").toBeGreaterThan(0);
    expect(result.kernels.failures).toEqual([]);
    expect(result.kernels.modules).toBe(distinct.size);
  });

  describe.each(Object.entries(MODELS))("%s", (name, source) => {
    const m = resolve(source);
    it.each([true, false])("fuse = %s: prefill logits and greedy generation match the float64 reference", async (fuse) => {
      const run = result.runs.find((r) => r.name === name && r.fuse === fuse)!;
      expect(run, "the Deno run of this model").toBeDefined();
      const rand = randomCheckpoint(m, 3);
      const w: Record<string, Float64Array> = {};
      for (const t of m.weights) w[t.name] = Float64Array.from(await rand.read(t.name));
      const ref = new Reference(m, w);
      const p = prompt(m);
      const want = ref.forward(p);
      expect(relError(Float64Array.from(run.prefill), want), "prefill logits").toBeLessThanOrEqual(TOL);
      // Greedy: each token is the argmax of the reference's row, which is then fed back.
      let row = want.subarray((p.length - 1) * m.vocab);
      const expected: number[] = [];
      for (let i = 0; i < GENERATE; i++) {
        expect(relError(Float64Array.from(run.logits[i]!), row), `logits of generated token ${i}`).toBeLessThanOrEqual(TOL);
        expected.push(argmax(row));
        row = Float64Array.from(ref.step(expected[i]!));
      }
      expect(run.tokens).toEqual(expected);
    });
  });
});
