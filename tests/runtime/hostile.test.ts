/**
 * Hostile inputs to the runtime and to `hybridc run` (issue 13), on the adapter:
 *   - NaN or ±Inf in weights: loadModel fails naming the tensor, the count and the first element
 *     (NonFiniteWeightError); with allowNonFinite it loads, and generate() stops with a
 *     NonFiniteError at the first position whose logits are not finite (in the prompt or after
 *     a generated token) instead of sampling token 0 forever; f16 storage is checked as stored
 *     (a finite value past ±65504 is Inf there); the CLI says the same in one line
 *     each, exit 1, and --allow-nonfinite reaches the non-finite logits;
 *   - a sharded checkpoint whose shard is a directory: one line naming it, exit 1;
 *   - aborting: generate() stops between prefill chunks; `hybridc run` exits 1 with
 *     `hybridc: interrupted` on SIGINT while weights load and during a long prefill (the prompt
 *     takes far longer than the time bound, which is generous for a loaded machine).
 * The CLI tests spawn `node bin/hybridc.js`, which runs dist/: `npm run build` first.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { weightArtifacts } from "../../compiler/codegen/artifact.ts";
import type { ModelArtifact } from "../../runtime/artifact/types.ts";
import { GpuModelMemory, NonFiniteWeightError } from "../../runtime/memory.ts";
import { loadModel, NonFiniteError, type GenerateOptions, type HybridModel } from "../../runtime/model.ts";
import { encodeSafetensors, WeightError } from "../../runtime/weights/index.ts";
import { runtime } from "../codegen/harness.ts";
import { cliEnv } from "../cli/env.js";
import { randomWeights } from "../ir/fixtures.ts";
import { built, spec } from "./built.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BIN = join(ROOT, "bin", "hybridc.js");
const MAMBA_BYTE = join(ROOT, "specs", "mamba-byte.hyb");
const STACK_FRAME = /^\s+at .+:\d+:\d+\)?$/m;

// Untied: a NaN in one embedding row then touches only the token of that row, not every logit.
const TINY = `model tiny_nan {
  vocab = 256
  d_model = 16
  tied = false
  ssm = mamba1(d_state = 8, expand = 2, d_conv = 4, dt_rank = 2)
  layers = [ssm, ssm]
}
`;
const OUT_PROJ = "backbone.layers.0.mixer.out_proj.weight";
const EMBED = "backbone.embeddings.weight";

const s = spec(TINY);
const m = s.model;
/** Fresh finite weights, float32, by checkpoint name. */
function weights(): Record<string, Float32Array> {
  return Object.fromEntries(Object.entries(randomWeights(m, 13)).map(([n, a]) => [n, Float32Array.from(a)]));
}

async function collect(model: HybridModel, prompt: readonly number[], o: GenerateOptions): Promise<number[]> {
  const out: number[] = [];
  for await (const t of model.generate(prompt, o)) out.push(t.token);
  return out;
}

let artifact: ModelArtifact;
beforeAll(async () => {
  artifact = await built(s);
}, 600_000);

describe("non-finite weights and logits (runtime)", () => {
  it("a NaN in one tensor fails the load, naming the tensor, the count and the element", async () => {
    const w = weights();
    w[OUT_PROJ]![37] = NaN;
    const load = loadModel(await runtime(), artifact, w);
    await expect(load).rejects.toBeInstanceOf(NonFiniteWeightError);
    await expect(load).rejects.toBeInstanceOf(WeightError);
    const e = (await load.catch((x: unknown) => x)) as NonFiniteWeightError;
    expect(e.problems).toEqual([{ file: "weights", tensor: OUT_PROJ, message: "1 non-finite value (NaN at element 37)" }]);
    expect(e.message).toContain("allowNonFinite");
  });

  it("every tensor with NaN or ±Inf is named in one error, with the first element and the count", async () => {
    const w = weights();
    w[OUT_PROJ]![5] = Infinity;
    w[OUT_PROJ]![9] = NaN;
    w["backbone.norm_f.weight"]![3] = -Infinity;
    const e = (await loadModel(await runtime(), artifact, w).catch((x: unknown) => x)) as NonFiniteWeightError;
    expect(e).toBeInstanceOf(NonFiniteWeightError);
    expect(e.problems.map((p) => [p.tensor, p.message])).toEqual([
      [OUT_PROJ, "2 non-finite values (the first: +Inf at element 5)"],
      ["backbone.norm_f.weight", "1 non-finite value (-Inf at element 3)"],
    ]);
  });

  it("with allowNonFinite it loads, and generate() stops with a NonFiniteError at the prompt's first position", async () => {
    const w = weights();
    w[OUT_PROJ]![37] = NaN;
    const model = await loadModel(await runtime(), artifact, w, { allowNonFinite: true });
    try {
      const run = collect(model, [72, 105, 33], { maxTokens: 8, temperature: 0 });
      await expect(run).rejects.toBeInstanceOf(NonFiniteError);
      const e = (await run.catch((x: unknown) => x)) as NonFiniteError;
      expect(e.position).toBe(0);
      expect(e.message).toMatch(/^the logits at position 0 \(prompt token 1 of 3\) are not finite \(256 of 256 are NaN or ±Inf\)/);
    } finally {
      model.destroy();
    }
  });

  it("a token whose embedding is NaN stops generation right after it is generated", async () => {
    const prompt = [72, 105, 33];
    const clean = await loadModel(await runtime(), artifact, weights());
    const [first] = await collect(clean, prompt, { maxTokens: 1, temperature: 0 });
    clean.destroy();
    expect(prompt).not.toContain(first);
    const w = weights();
    w[EMBED]![first! * 16 + 2] = NaN;
    const model = await loadModel(await runtime(), artifact, w, { allowNonFinite: true });
    try {
      const tokens: number[] = [];
      const run = (async () => {
        for await (const t of model.generate(prompt, { maxTokens: 8, temperature: 0 })) tokens.push(t.token);
      })();
      const e = (await run.catch((x: unknown) => x)) as NonFiniteError;
      expect(e).toBeInstanceOf(NonFiniteError);
      expect(tokens).toEqual([first]);
      expect(e.position).toBe(prompt.length);
      expect(e.message).toMatch(/^the logits at position 3 \(after generated token 1\) are not finite/);
    } finally {
      model.destroy();
    }
  });
});

describe("non-finite weights as stored (runtime/memory.ts upload)", () => {
  it("f16 storage: a finite value past ±65504 is non-finite on the GPU and named; a checkpoint's label names the file", async () => {
    const plan = {
      weightBuffers: [
        { key: "weight:a", dtype: "f16" as const, elements: 64 + 8, tensors: [{ name: "a.weight", offset: 0, shape: [4, 2] }, { name: "b.weight", offset: 64, shape: [8] }] },
      ],
    };
    const source = { label: "ckpt.safetensors", read: (name: string) => (name === "a.weight" ? Float32Array.of(1, 2, 3, 70_000, 5, -1e6, 7, 8) : new Float32Array(8)) };
    const e = (await GpuModelMemory.upload(await runtime(), plan, source).catch((x: unknown) => x)) as NonFiniteWeightError;
    expect(e).toBeInstanceOf(NonFiniteWeightError);
    expect(e.problems).toEqual([{ file: "ckpt.safetensors", tensor: "a.weight", message: "2 non-finite values as f16 (the first: 70000 at element 3; f16 holds at most ±65504)" }]);
    const memory = await GpuModelMemory.upload(await runtime(), plan, source, { allowNonFinite: true });
    memory.destroy();
  });
});

describe("abort during prefill (runtime)", () => {
  it("an abort during a multi-chunk prefill rejects before the remaining chunks run", async () => {
    const model = await loadModel(await runtime(), artifact, weights(), { prefillChunk: 4 });
    try {
      const prompt = Array.from({ length: 400 }, (_, i) => (i * 37) % 256);
      const ac = new AbortController();
      const run = collect(model, prompt, { maxTokens: 1, signal: ac.signal });
      // Abort once the first chunks have run (position advances by 4 per chunk).
      while (model.position < 8) await new Promise((r) => setImmediate(r));
      ac.abort();
      await expect(run).rejects.toMatchObject({ name: "AbortError" });
      // The chunk in flight when it aborted may finish; none after it starts.
      expect(model.position).toBeLessThan(100);
    } finally {
      model.destroy();
    }
  });
});

interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

function hybridc(args: readonly string[]): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, env: cliEnv(), encoding: "utf8", timeout: 120_000 });
  if (r.error) throw r.error;
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Spawns hybridc and sends SIGINT once stderr contains `marker`; the exit and the milliseconds
 * from the signal to the exit. The child is killed after `limitMs` (a run that ignores SIGINT).
 */
function interrupt(args: readonly string[], marker: string, limitMs: number): Promise<Run & { afterSignalMs: number; signalled: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, env: cliEnv(), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let sentAt = 0;
    const killer = setTimeout(() => child.kill("SIGKILL"), limitMs);
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
      if (sentAt === 0 && stderr.includes(marker)) {
        sentAt = Date.now();
        child.kill("SIGINT");
      }
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr, signalled: sentAt > 0, afterSignalMs: sentAt > 0 ? Date.now() - sentAt : NaN });
    });
  });
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "hybridc-hostile-run-"));
  writeFileSync(join(dir, "tiny.hyb"), TINY);
  const tensors = (w: Record<string, Float32Array>) => weightArtifacts(m).map((t) => ({ name: t.name, dtype: "F32" as const, shape: t.shape, data: w[t.name]! }));
  const nan = weights();
  nan[OUT_PROJ]![37] = NaN;
  writeFileSync(join(dir, "nan.safetensors"), encodeSafetensors(tensors(nan)));
  // 3,000 bytes: about a minute of prefill for mamba-byte on lavapipe (24 chunks of 128).
  writeFileSync(join(dir, "long-prompt.txt"), "The state space model reads the prompt one chunk at a time. ".repeat(50));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("hybridc run: non-finite weights and logits", () => {
  it("a checkpoint with a NaN: one line naming the file, the tensor and the element, exit 1", () => {
    const r = hybridc(["run", "tiny.hyb", "--weights", "nan.safetensors", "--prompt", "hi", "--max-tokens", "4"]);
    expect(r.stderr).not.toMatch(STACK_FRAME);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`hybridc: error: nan.safetensors: ${OUT_PROJ}: 1 non-finite value (NaN at element 37)\n`);
    expect(r.stderr).toContain("--allow-nonfinite");
    expect(r.stdout).toBe("");
  });

  it("--allow-nonfinite loads it, then generation stops at the non-finite logits: one line, exit 1", () => {
    const r = hybridc(["run", "tiny.hyb", "--weights", "nan.safetensors", "--prompt", "hi", "--max-tokens", "4", "--temperature", "0", "--allow-nonfinite"]);
    expect(r.stderr).not.toMatch(STACK_FRAME);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^hybridc: error: the logits at position 0 \(prompt token 1 of 2\) are not finite \(256 of 256 are NaN or ±Inf\): .*generation stopped$/m);
    expect(r.stdout).toBe("");
  });
});

describe("hybridc run: a sharded checkpoint whose shard is a directory (EISDIR)", () => {
  it("one line naming the shard, exit 1 (was an internal error)", () => {
    mkdirSync(join(dir, "sharded", "model-00001-of-00001.safetensors"), { recursive: true });
    writeFileSync(join(dir, "sharded", "model.safetensors.index.json"), JSON.stringify({ weight_map: { [OUT_PROJ]: "model-00001-of-00001.safetensors" } }));
    const r = hybridc(["run", "tiny.hyb", "--weights", "sharded", "--prompt", "hi"]);
    expect(r.stderr).not.toMatch(STACK_FRAME);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toBe(`hybridc: error: ${join("sharded", "model-00001-of-00001.safetensors")}: is a directory, not a safetensors file\n`);
  });
});

describe("hybridc run: SIGINT", () => {
  it("during a long prefill: 'hybridc: interrupted', exit 1, within 20 s of the signal (the prefill takes far longer)", async () => {
    const r = await interrupt(["run", MAMBA_BYTE, "--init", "random", "--prompt-file", "long-prompt.txt", "--max-tokens", "100000", "--verbose"], "prefill chunks of up to", 240_000);
    expect(r.signalled, `no prefill marker on stderr:\n${r.stderr}`).toBe(true);
    expect(r.stderr).not.toMatch(STACK_FRAME);
    expect({ code: r.code, signal: r.signal }, r.stderr).toEqual({ code: 1, signal: null });
    expect(r.stderr).toMatch(/^hybridc: interrupted$/m);
    expect(r.afterSignalMs).toBeLessThan(20_000);
  }, 300_000);

  it("while the weights load: 'hybridc: interrupted', exit 1 (it used to die of the signal, 130, silently)", async () => {
    const r = await interrupt(["run", MAMBA_BYTE, "--init", "random", "--prompt", "hi", "--max-tokens", "100000", "--verbose"], "MiB of weights", 240_000);
    expect(r.signalled, `no loading marker on stderr:\n${r.stderr}`).toBe(true);
    expect(r.stderr).not.toMatch(STACK_FRAME);
    expect({ code: r.code, signal: r.signal }, r.stderr).toEqual({ code: 1, signal: null });
    expect(r.stderr).toMatch(/^hybridc: interrupted$/m);
    // It stopped in the load: the line printed after loading never came.
    expect(r.stderr).not.toContain("prefill chunks of up to");
    expect(r.afterSignalMs).toBeLessThan(20_000);
  }, 300_000);
});
