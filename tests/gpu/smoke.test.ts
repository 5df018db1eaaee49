/**
 * The GPU harness works end to end: a WGSL kernel compiles without messages, runs, and reads
 * back what a CPU computes; a broken kernel reports its error with a line and column.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { getDevice } from "./device.ts";

const N = 1000;
const WORKGROUP = 64;

const AXPB = /* wgsl */ `
// y[i] = a[i] * x[i] + b, one invocation per element.
struct Params { b: f32, n: u32 }
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x;
  if (i >= params.n) { return; }
  y[i] = a[i] * x[i] + params.b;
}
`;

function storage(device: GPUDevice, data: Float32Array, usage = 0): GPUBuffer {
  const buf = device.createBuffer({ size: data.byteLength, usage: GPUBufferUsage.STORAGE | usage, mappedAtCreation: true });
  new Float32Array(buf.getMappedRange()).set(data);
  buf.unmap();
  return buf;
}

/** A small deterministic generator, so a failure reproduces. */
function randoms(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

describe("GPU smoke", () => {
  it("runs y = a*x + b on 1000 f32 elements and matches the CPU", async () => {
    const device = await getDevice();
    device.pushErrorScope("validation");
    const module = device.createShaderModule({ code: AXPB });
    const info = await module.getCompilationInfo();
    expect(info.messages.filter((m) => m.type === "error")).toEqual([]);

    const a = randoms(N, 1);
    const x = randoms(N, 2);
    const b = 0.375;
    const aBuf = storage(device, a);
    const xBuf = storage(device, x);
    const yBuf = device.createBuffer({ size: N * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
    const params = device.createBuffer({ size: 8, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    const p = new ArrayBuffer(8);
    new Float32Array(p, 0, 1)[0] = b;
    new Uint32Array(p, 4, 1)[0] = N;
    device.queue.writeBuffer(params, 0, p);
    const readback = device.createBuffer({ size: N * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });

    const pipeline = await device.createComputePipelineAsync({ layout: "auto", compute: { module, entryPoint: "main" } });
    const bindGroup = device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [aBuf, xBuf, yBuf, params].map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(Math.ceil(N / WORKGROUP));
    pass.end();
    enc.copyBufferToBuffer(yBuf, 0, readback, 0, N * 4);
    device.queue.submit([enc.finish()]);
    expect(await device.popErrorScope()).toBeNull();

    await readback.mapAsync(GPUMapMode.READ);
    const y = new Float32Array(readback.getMappedRange().slice(0));
    readback.unmap();
    let maxErr = 0;
    for (let i = 0; i < N; i++) maxErr = Math.max(maxErr, Math.abs(y[i]! - Math.fround(Math.fround(a[i]! * x[i]!) + b)));
    expect(maxErr).toBeLessThan(1e-6);
    // Not all zeros: the kernel really wrote the buffer.
    expect(y.some((v) => v !== 0)).toBe(true);
    for (const buf of [aBuf, xBuf, yBuf, params, readback]) buf.destroy();
  });

  it("reports a WGSL error with its line and column", async () => {
    const device = await getDevice();
    device.pushErrorScope("validation");
    const code = "@compute @workgroup_size(1)\nfn main() {\n  let v: f32 = 1u;\n}\n";
    const module = device.createShaderModule({ code });
    const info = await module.getCompilationInfo();
    const scopeError = await device.popErrorScope();
    const errors = info.messages.filter((m) => m.type === "error");
    expect(errors.length).toBeGreaterThan(0);
    const e = errors[0]!;
    expect(e.lineNum).toBe(3);
    // Tint points at the `let` being initialized: `v`, 1-based column 7 of `  let v: f32 = 1u;`.
    expect(e.linePos).toBe(code.split("\n")[2]!.indexOf("v:") + 1);
    expect(e.offset).toBe(code.indexOf("v:"));
    expect(e.message).toMatch(/f32/);
    expect(scopeError).not.toBeNull();
  });

  it("fails with install instructions, not a skip, when there is no adapter", () => {
    // Point the Vulkan loader at no driver at all, in a child process (this one holds a device).
    const script = `import { getDevice } from "./tests/gpu/device.ts";
      getDevice().then(() => process.exit(10), (e) => { process.stdout.write(e.message); process.exit(0); });`;
    const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      cwd: fileURLToPath(new URL("../..", import.meta.url)),
      env: { ...process.env, VK_ICD_FILENAMES: "/nonexistent/icd.json", VK_DRIVER_FILES: "/nonexistent/icd.json" },
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("no WebGPU adapter");
    expect(r.stdout).toContain("apt-get install -y -t bookworm-backports mesa-vulkan-drivers");
    expect(r.stdout).toContain("export XDG_RUNTIME_DIR=/tmp");
  });
});
