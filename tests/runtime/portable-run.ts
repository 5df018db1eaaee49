/**
 * One portability job, run inside a foreign WebGPU implementation (Deno's wgpu by deno-run.ts,
 * Chromium by browser-page.ts) with nothing but a `GPU` object: hybridc's compiler and its
 * browser-safe runtime, no Node API. The tests that start those environments (deno.test.ts,
 * browser.test.ts) compare what comes back with the float64 reference (portable.ts); this file
 * only reports.
 *
 *   specs   every kernel of each spec (spec-kernels.ts) compiled into a shader module (and a
 *           compute pipeline with `pipelines`), each distinct module once; first a module that
 *           must fail, so a validator that reports nothing is caught
 *   runs    each model loaded with randomCheckpoint(seed), prefilled with `prompt` (token ids),
 *           then `generate` greedy tokens with their logits rows
 */
import { compile, type ResolvedModel } from "../../compiler/index.ts";
import { loadModel, randomCheckpoint } from "../../runtime/index.ts";
import { emittedKernels } from "./spec-kernels.ts";

export interface PortableRunSpec {
  readonly name: string;
  readonly source: string;
  readonly fuse: boolean;
  readonly seed: number;
  readonly prompt: readonly number[];
  readonly generate: number;
}

export interface PortableJob {
  readonly specs: readonly { readonly path: string; readonly source: string }[];
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

function resolve(source: string, what: string): ResolvedModel[] {
  const r = compile(source, { path: what });
  if (!r.ok) throw new Error(`${what}: ${r.diagnostics.map((d) => d.message).join("; ")}`);
  return [...r.models];
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

  const seen = new Set<string>();
  const failures: { spec: string; kernel: string; messages: string[] }[] = [];
  for (const spec of job.specs) {
    for (const model of resolve(spec.source, spec.path)) {
      const fresh = emittedKernels(model).filter(([, code]) => !seen.has(code) && seen.add(code));
      const results = await Promise.all(fresh.map(([, code]) => checkKernel(device, code, job.pipelines)));
      results.forEach((messages, i) => messages.length > 0 && failures.push({ spec: spec.path, kernel: fresh[i]![0], messages }));
    }
  }

  const runs: PortableRun[] = [];
  for (const r of job.runs) {
    const [m] = resolve(r.source, r.name);
    const model = await loadModel(device, m!, randomCheckpoint(m!, r.seed), { fuse: r.fuse });
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
  return { adapter: name, kernels: { modules: seen.size, failures, probe }, runs };
}
