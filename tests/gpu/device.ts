/**
 * The GPU for tests: one Dawn instance and one device per test process, on whatever adapter
 * the machine has (Mesa's lavapipe on CI). No adapter is a failure with install instructions,
 * never a skip: a GPU test that silently does not run proves nothing.
 */
import { createHash } from "node:crypto";
import { appendFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { createNodeDevice, INSTALL_ADAPTER } from "../../runtime/node.ts";

// The Dawn instance, its lifetime rule, the limits and the install text live in runtime/node.ts
// (the same device the CLI and the API get).
export { INSTALL_ADAPTER };

let device: Promise<GPUDevice> | undefined;

/** The process's device, created on first use. */
export function getDevice(): Promise<GPUDevice> {
  device ??= openDevice();
  return device;
}

async function openDevice(): Promise<GPUDevice> {
  const d = await createNodeDevice({ onLost: (info) => void process.stderr.write(`hybridc tests: GPU device lost: ${info.message}\n`) });
  const log = process.env["HYBRIDC_PIPELINE_LOG"];
  if (log) countPipelines(d, log);
  return d;
}

/**
 * The suite's cost on a fresh machine is compiling pipelines (lavapipe: LLVM, seconds each with a
 * cold shader cache). With HYBRIDC_PIPELINE_LOG=DIR (`.ci/run` sets it), every compute pipeline
 * this process creates is recorded as `test file <TAB> hash of its module and entry point` in
 * DIR/<pid>.tsv; `.ci/run` counts the distinct ones.
 */
function countPipelines(d: GPUDevice, dir: string): void {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${process.pid}.tsv`);
  const codeOf = new WeakMap<GPUShaderModule, string>();
  const createShaderModule = d.createShaderModule.bind(d);
  d.createShaderModule = (desc) => {
    const m = createShaderModule(desc);
    codeOf.set(m, createHash("sha1").update(desc.code).digest("hex"));
    return m;
  };
  const record = (desc: GPUComputePipelineDescriptor): void => {
    const code = codeOf.get(desc.compute.module) ?? "unknown";
    const test = expect.getState().testPath ?? "outside a test";
    appendFileSync(file, `${test}\t${code}:${desc.compute.entryPoint ?? ""}\n`);
  };
  const createAsync = d.createComputePipelineAsync.bind(d);
  d.createComputePipelineAsync = (desc) => (record(desc), createAsync(desc));
  const create = d.createComputePipeline.bind(d);
  d.createComputePipeline = (desc) => (record(desc), create(desc));
}
