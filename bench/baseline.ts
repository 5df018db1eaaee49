/**
 * The PyTorch CPU baseline (bench/baseline.py) run from the bench: the model and its weights are
 * written to a temporary directory (a JSON description and an F32 safetensors file holding
 * exactly the weights hybridc ran), then Debian's python3 runs the eager PyTorch implementation
 * with 1 and 2 threads. Returns its figures, or how to install PyTorch when it is missing.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ResolvedModel } from "../compiler/check/model.ts";
import type { Checkpoint } from "../runtime/weights/checkpoint.ts";
import { encodeSafetensors } from "../runtime/weights/safetensors.ts";

/** Debian's python3 (python3-torch); HYBRIDC_BENCH_PYTHON names another (a lent GPU machine's, tools/device-kit). */
export const PYTHON = process.env["HYBRIDC_BENCH_PYTHON"] || "/usr/bin/python3";
export const INSTALL = "PyTorch baseline not run: Debian's python3-torch is missing (install it with `sudo apt-get install python3-torch python3-numpy`, then rerun `npm run bench`)";

export interface BaselineRun {
  readonly torch: string;
  /** By thread count ("1", "2"). */
  readonly results: Readonly<Record<string, { readonly prefillTokensPerSecond: number; readonly decodeTokensPerSecond: number; readonly repeats: number }>>;
  /** Logits of the prompt's last token, and of the first greedy token decoded after it. */
  readonly promptLogits: readonly number[];
  readonly stepLogits: readonly number[];
  readonly firstToken: number;
}

/** Whether PYTHON imports torch; the reason when not. */
export function torchMissing(): string | null {
  const r = spawnSync(PYTHON, ["-c", "import torch, numpy"], { encoding: "utf8" });
  return r.status === 0 ? null : INSTALL;
}

/** The JSON description baseline.py reads: blocks with their resolved configs and weight names. */
function describe(model: ResolvedModel, prompt: readonly number[]): unknown {
  const names = (layer: number | null, sub: number | null): Record<string, string> =>
    Object.fromEntries(model.weights.filter((w) => w.layer === layer && w.sublayer === sub).map((w) => [w.local, w.name]));
  const modelLevel = names(null, null);
  return {
    vocab: model.vocab,
    dModel: model.dModel,
    norm: model.norm,
    tied: model.tied,
    layers: model.layers.map((l) => l.sublayers.map((s, j) => ({ config: s.block.config, weights: names(l.index, j) }))),
    embedding: modelLevel["embedding.weight"],
    finalNorm: modelLevel,
    lmHead: model.tied ? modelLevel["embedding.weight"] : modelLevel["lm_head.weight"],
    prompt,
  };
}

/** Runs the baseline on `model` with the checkpoint's weights (F32). */
export async function runBaseline(
  model: ResolvedModel,
  weights: Checkpoint,
  options: { readonly prompt: readonly number[]; readonly steps: number; readonly repeats: number; readonly threads: readonly number[] },
): Promise<BaselineRun> {
  const dir = mkdtempSync(join(tmpdir(), "hybridc-baseline-"));
  try {
    const tensors = [];
    for (const w of model.weights) tensors.push({ name: w.name, dtype: "F32" as const, shape: w.shape, data: await weights.read(w.name) });
    writeFileSync(join(dir, "weights.safetensors"), encodeSafetensors(tensors));
    writeFileSync(join(dir, "model.json"), JSON.stringify(describe(model, options.prompt)));
    const script = fileURLToPath(new URL("baseline.py", import.meta.url));
    const args = [script, join(dir, "model.json"), join(dir, "weights.safetensors"), String(options.prompt.length), String(options.steps), String(options.repeats), ...options.threads.map(String)];
    const r = spawnSync(PYTHON, args, { encoding: "utf8", maxBuffer: 1 << 28 });
    if (r.status !== 0) throw new Error(`baseline.py failed (exit ${r.status}): ${(r.stderr || r.error?.message || "").trim().split("\n").slice(-3).join(" | ")}`);
    return JSON.parse(r.stdout) as BaselineRun;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
