/**
 * Run under Deno by tests/runtime/deno.test.ts (not a test file itself): hybridc's compiler and
 * its browser-safe runtime on Deno's `navigator.gpu`, which is wgpu, with naga as its WGSL
 * compiler: a second WebGPU implementation beside Node's Dawn.
 *
 *   deno run --unstable-webgpu --allow-read --allow-env deno-run.ts JOB.json  ->  one JSON line
 *
 * JOB: { specs: paths of .hyb files whose every kernel (spec-kernels.ts) is compiled into a
 * shader module and a compute pipeline, each distinct module once;
 * runs: [{ name, source, fuse, seed, prompt, generate }] loaded with randomCheckpoint(seed),
 * prefilled with `prompt` (token ids), then `generate` greedy tokens }.
 * Out: { adapter, kernels: { modules, failures: [{ spec, kernel, messages }], probe: the errors
 * of a module that must fail }, runs: [{ name, fuse, prefill: logits of every prompt token,
 * tokens, logits: the row each token came from }] }.
 * Only the test compares numbers (against the float64 interpreter); this script only reports.
 */
import { compile, type ResolvedModel } from "../../compiler/index.ts";
import { loadModel, randomCheckpoint } from "../../runtime/index.ts";
import { emittedKernels } from "./spec-kernels.ts";

declare const Deno: { readonly args: readonly string[]; readTextFile(path: string): Promise<string>; exit(code: number): never };

interface Job {
  readonly specs: readonly string[];
  readonly runs: readonly { readonly name: string; readonly source: string; readonly fuse: boolean; readonly seed: number; readonly prompt: readonly number[]; readonly generate: number }[];
}

function resolve(source: string, what: string): ResolvedModel[] {
  const r = compile(source, { path: what });
  if (!r.ok) throw new Error(`${what}: ${r.diagnostics.map((d) => d.message).join("; ")}`);
  return [...r.models];
}

async function checkKernel(device: GPUDevice, code: string): Promise<string[]> {
  device.pushErrorScope("validation");
  const module = device.createShaderModule({ code });
  const info = await module.getCompilationInfo();
  const messages = info.messages.filter((m) => m.type === "error").map((m) => `${m.lineNum}:${m.linePos} ${m.message}`);
  const moduleError = await device.popErrorScope();
  if (moduleError) messages.push(moduleError.message);
  if (messages.length > 0) return messages;
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

const job = JSON.parse(await Deno.readTextFile(Deno.args[0]!)) as Job;
const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
const adapter = await gpu?.requestAdapter();
if (!adapter) {
  console.log(JSON.stringify({ error: "Deno found no WebGPU adapter" }));
  Deno.exit(1);
}
const device = await adapter.requestDevice({
  requiredLimits: { maxStorageBuffersPerShaderStage: Math.min(16, adapter.limits.maxStorageBuffersPerShaderStage) },
});

// A module that must fail: proof that this implementation's validation errors reach us.
const probe = await checkKernel(device, "@compute @workgroup_size(1) fn main() { let x: u32 = 1.5; }");
if (probe.length === 0) {
  console.log(JSON.stringify({ error: "an invalid WGSL module raised no error: validation is not observable here" }));
  Deno.exit(1);
}

const seen = new Set<string>();
const failures: { spec: string; kernel: string; messages: string[] }[] = [];
for (const path of job.specs) {
  for (const model of resolve(await Deno.readTextFile(path), path)) {
    const fresh = emittedKernels(model).filter(([, code]) => !seen.has(code) && seen.add(code));
    const results = await Promise.all(fresh.map(([, code]) => checkKernel(device, code)));
    results.forEach((messages, i) => messages.length > 0 && failures.push({ spec: path, kernel: fresh[i]![0], messages }));
  }
}

const runs = [];
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

const info = adapter.info;
console.log(JSON.stringify({ adapter: `${info.vendor} ${info.architecture} ${info.description}`.trim(), kernels: { modules: seen.size, failures, probe }, runs }));
