/**
 * One portability job, run inside a foreign WebGPU implementation (Deno's wgpu by deno-run.ts,
 * Chromium by browser-page.ts) with nothing but a `GPU` object and hybridc's browser-safe
 * runtime: no compiler (the Node side builds the artifacts and the modules, as an app would ship
 * them), no Node API. The tests that start those environments (deno.test.ts, browser.test.ts)
 * compare what comes back with the float64 reference (portable.ts); this file only reports.
 *
 *   modules  every distinct WGSL module of the canonical specs compiled into a shader module (and
 *            a compute pipeline with `pipelines`); first a module that must fail, so a validator
 *            that reports nothing is caught
 *   runs     each built model loaded with randomCheckpoint(seed), prefilled with `prompt` (token
 *            ids), then `generate` greedy tokens with their logits rows
 */
import { loadModel, randomCheckpoint, type ModelArtifact } from "../../runtime/index.ts";

export interface PortableRunSpec {
  readonly name: string;
  readonly fuse: boolean;
  readonly seed: number;
  readonly prompt: readonly number[];
  readonly generate: number;
  /** The model as `build()` made it (WebGPU's default limits), as JSON travels. */
  readonly artifact: ModelArtifact;
}

export interface PortableJob {
  /** Distinct WGSL modules, each with the spec and kernel it first came from. */
  readonly modules: readonly { readonly spec: string; readonly kernel: string; readonly code: string }[];
  /** Also make a compute pipeline of each module (false: module validation only). */
  readonly pipelines: boolean;
  readonly runs: readonly PortableRunSpec[];
}

export interface PortableRun {
  readonly name: string;
  readonly fuse: boolean;
  readonly prefill: number[];
  readonly tokens: number[];
  readonly logits: number[][];
}

export interface PortableResult {
  readonly error?: string;
  readonly adapter: string;
  readonly kernels: { readonly modules: number; readonly failures: readonly { spec: string; kernel: string; messages: string[] }[]; readonly probe: readonly string[] };
  readonly runs: readonly PortableRun[];
}

/** The errors of compiling `code` into a module and, with `pipeline`, a pipeline (none: it compiled). */
async function checkKernel(device: GPUDevice, code: string, pipeline: boolean): Promise<string[]> {
  device.pushErrorScope("validation");
  const module = device.createShaderModule({ code });
  const info = await module.getCompilationInfo();
  const messages = info.messages.filter((m) => m.type === "error").map((m) => `${m.lineNum}:${m.linePos} ${m.message}`);
  const moduleError = await device.popErrorScope();
  if (moduleError) messages.push(moduleError.message);
  if (messages.length > 0 || !pipeline) return messages;
  device.pushErrorScope("validation");
  try {
    await device.createComputePipelineAsync({ layout: "auto", compute: { module, entryPoint: "main" } });
  } catch (e) {
    messages.push(`pipeline: ${e instanceof Error ? e.message : String(e)}`);
  }
  const pipelineError = await device.popErrorScope();
  if (pipelineError) messages.push(`pipeline: ${pipelineError.message}`);
  return messages;
}

export async function runPortableJob(gpu: GPU | undefined, job: PortableJob): Promise<PortableResult> {
  const adapter = await gpu?.requestAdapter();
  if (!adapter) return { error: "no WebGPU adapter", adapter: "", kernels: { modules: 0, failures: [], probe: [] }, runs: [] };
  const device = await adapter.requestDevice({
    requiredLimits: { maxStorageBuffersPerShaderStage: Math.min(16, adapter.limits.maxStorageBuffersPerShaderStage) },
  });
  const info = adapter.info;
  const name = [info.vendor, info.architecture, info.description].filter((s) => s).join(" ");

  const probe = await checkKernel(device, "@compute @workgroup_size(1) fn main() { let x: u32 = 1.5; }", false);
  if (probe.length === 0) return { error: "an invalid WGSL module raised no error: validation is not observable here", adapter: name, kernels: { modules: 0, failures: [], probe }, runs: [] };

  const failures: { spec: string; kernel: string; messages: string[] }[] = [];
  const results = await Promise.all(job.modules.map((m) => checkKernel(device, m.code, job.pipelines)));
  results.forEach((messages, i) => messages.length > 0 && failures.push({ spec: job.modules[i]!.spec, kernel: job.modules[i]!.kernel, messages }));

  const runs: PortableRun[] = [];
  for (const r of job.runs) {
    const model = await loadModel(device, r.artifact, randomCheckpoint(r.artifact, r.seed));
    const prefill = await model.prefill(r.prompt);
    const tokens: number[] = [];
    const logits: number[][] = [];
    for await (const t of model.generate(r.prompt, { maxTokens: r.generate, temperature: 0 })) {
      tokens.push(t.token);
      logits.push([...t.logits]);
    }
    model.destroy();
    runs.push({ name: r.name, fuse: r.fuse, prefill: [...prefill], tokens, logits });
  }
  device.destroy();
  return { adapter: name, kernels: { modules: results.length, failures, probe }, runs };
}
