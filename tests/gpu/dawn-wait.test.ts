/**
 * runtime/node.ts dawnWait: the runtime's wait for a Dawn promise settles as the promise does,
 * and does not keep the main thread busy. Dawn's Node binding polls with setImmediate while one
 * of its promises is pending, a loop that takes a whole core (on a 2-core machine, one of the two
 * that lavapipe's workers run the kernels on).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { GpuRuntime } from "../../runtime/device.ts";
import { dawnWait } from "../../runtime/node.ts";
import { getDevice } from "./device.ts";

/** CPU seconds of the main thread (its thread id is the process id) so far: utime + stime. */
function mainThreadCpuSeconds(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8");
  // Fields after the command name (which is in parentheses and may hold spaces): utime is the 14th field, stime the 15th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ: 100 on Linux
}

/** A kernel that keeps one invocation busy for a long while on any device: n dependent FMAs. */
const BUSY = /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(1)
fn main() {
  var v = out[0];
  for (var i = 0u; i < 60000000u; i++) { v = fma(v, 0.999999, 1e-7); }
  out[0] = v;
}
`;

describe("dawnWait", () => {
  it("settles with the promise's value, or its rejection", async () => {
    await expect(dawnWait(Promise.resolve(42))).resolves.toBe(42);
    const late = new Promise<string>((resolve) => setTimeout(() => resolve("late"), 30));
    await expect(dawnWait(late)).resolves.toBe("late");
    const failure = new Error("lost");
    await expect(dawnWait(new Promise((_, reject) => setTimeout(() => reject(failure), 10)))).rejects.toBe(failure);
    // Many at once (a model's pipelines compile concurrently): one loop serves them all.
    const many = Array.from({ length: 50 }, (_, i) => dawnWait(new Promise<number>((resolve) => setTimeout(() => resolve(i), 5 + (i % 7)))));
    await expect(Promise.all(many)).resolves.toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it("leaves the main thread idle while the device works, and the runtime reads the right result", async () => {
    const device = await getDevice();
    const rt = new GpuRuntime(device);
    const out = device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC, mappedAtCreation: true });
    new Float32Array(out.getMappedRange()).set([0.5, 0, 0, 0]);
    out.unmap();
    const module = device.createShaderModule({ code: BUSY });
    const pipeline = await device.createComputePipelineAsync({ layout: "auto", compute: { module, entryPoint: "main" } });
    const group = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: out } }] });
    const submit = (): void => {
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(1);
      pass.end();
      device.queue.submit([enc.finish()]);
    };
    // Warm: the first submit pays for anything lazy.
    submit();
    await dawnWait(device.queue.onSubmittedWorkDone());

    submit();
    const cpu0 = mainThreadCpuSeconds();
    const t0 = performance.now();
    await dawnWait(device.queue.onSubmittedWorkDone());
    const wall = (performance.now() - t0) / 1000;
    const cpu = mainThreadCpuSeconds() - cpu0;
    // Dawn's own polling would bill the main thread for about the whole wait (cpu ~ wall). The
    // bound leaves room for the first millisecond of polling, the clock's 10 ms ticks and a
    // loaded machine; the kernel runs for far longer than that on lavapipe or a GPU.
    expect(wall).toBeGreaterThan(0.05);
    expect(cpu).toBeLessThan(0.5 * wall + 0.02);

    // The runtime waits the same way (createNodeDevice registered dawnWait) and reads the value:
    // 2 x 60,000,000 steps of v <- a v + b (a = f32(0.999999), b = 1e-7) from 0.5 reach the fixed
    // point b / (1 - a) ~ 0.0987; f32 rounding stalls v where a step moves it less than half an ulp,
    // within ulp(0.1) / 2 / (1 - a) ~ 4% of the point.
    const a = Math.fround(0.999999);
    const fixed = Math.fround(1e-7) / (1 - a);
    const [v] = new Float32Array(await rt.read(out, 4));
    expect(Math.abs(v! - fixed)).toBeLessThan(0.05 * fixed);
    out.destroy();
  });
});
