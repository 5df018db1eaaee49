/**
 * B5 of performance.md: the Mamba-2 SSD prefill kernel, chunked (ssd-chunked.ts) against the
 * sequential scan (ssd-sequential.ts), ms per layer (one `ssd` call) on the machine's
 * WebGPU adapter. `node --import tsx bench/ssd.ts [L ...]` (default L = 1024 4096). Prints
 * figures; asserts nothing.
 *
 * Shape: H = 24 heads, headdim P = 64, d_state N in {64, 128}, one group, the gate epilogue,
 * operands laid out as the optimized layer has them (tests/codegen/ssd-graphs.ts). Variants: the
 * sequential kernel with its default schedule, and the chunked one at every chunk Q in
 * {8, 16, 32, 64} that fits the adapter's workgroup memory (with the widest p tile that fits, as
 * ssdSchedule picks it) and workgroups of 64 and 128 invocations, and the tiles the chunked schedule
 * picks under the WebGPU default limits (16 KiB of workgroup memory, what `hybridc build` targets).
 *
 * Honesty (performance.md §3.2): one warm-up call per variant (it also compiles the pipeline),
 * then ROUNDS rounds with every variant once per round, in alternating order; the median and
 * the best of the rounds; each kernel timed alone by timestamp queries when the adapter has them
 * (bench/gpu-profile.ts). Before timing, every chunked variant's y is compared with the
 * sequential one's from the same inputs and state, so a broken variant cannot pass for a fast one.
 */
import { loadavg } from "node:os";
import { bindingBytes, DEFAULT_LIMITS, generateKernel, requestFromGraph, type KernelSpec } from "../compiler/codegen/index.ts";
import { chunkedWords } from "../compiler/codegen/wgsl/ssd-chunked.ts";
import { chunkedTiles, ssdProblem, type SsdSchedule } from "../compiler/codegen/wgsl/ssd.ts";
import type { Launch } from "../runtime/device.ts";
import { ssdGraph } from "../tests/codegen/ssd-graphs.ts";
import { profileLaunches } from "./gpu-profile.ts";
import { BenchRuntime, openBenchDevice } from "./gpu-runtime.ts";
import { summarize } from "./stats.ts";

const ROUNDS = 3;
const H = 24;
const P = 64;

/** A deterministic fill (xorshift), small values like a layer's activations. */
function fill(n: number, seed: number, lo: number, hi: number): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return lo + ((s >>> 0) / 2 ** 32) * (hi - lo);
  });
}

interface Variant {
  readonly name: string;
  readonly spec: KernelSpec;
  launch?: Launch;
  readonly ms: number[];
}

async function shape(rt: BenchRuntime, device: GPUDevice, N: number, L: number): Promise<void> {
  const tg = ssdGraph({ S: "L", H, P, G: 1, N, epilogue: "gate" });
  const req = requestFromGraph(tg.graph, tg.node);
  const problem = ssdProblem(req as never);
  const seq = generateKernel(req, device.limits);
  const variants: Variant[] = [{ name: "sequential", spec: seq, ms: [] }];
  for (const chunk of [8, 16, 32, 64]) {
    const ptile = [64, 32, 16, 8, 4, 2, 1].find((t) => 4 * chunkedWords(problem, chunk, t) <= device.limits.maxComputeWorkgroupStorageSize);
    if (ptile === undefined) continue;
    for (const workgroup of [64, 128]) {
      const schedule: Partial<SsdSchedule> = { algo: 1, chunk, ptile, workgroup };
      variants.push({ name: `chunked Q=${chunk} PT=${ptile} WG=${workgroup}`, spec: generateKernel(req, device.limits, schedule), ms: [] });
    }
  }
  // What the chunked schedule picks under the WebGPU default limits (16 KiB), as `hybridc build` would.
  const small = chunkedTiles(DEFAULT_LIMITS, problem);
  if (small) variants.push({ name: `chunked 16K Q=${small.chunk} PT=${small.ptile} WG=64`, spec: generateKernel(req, DEFAULT_LIMITS, { algo: 1 }), ms: [] });
  const compiled = await rt.compile(variants.map((v) => v.spec));
  // Shared buffers: every variant binds the same ones (same layout), state rewritten before checks.
  const buffers: Record<string, GPUBuffer> = {};
  const initial = new Map<string, Float32Array>();
  for (const b of seq.bindings) {
    if (b.access === "uniform" || buffers[b.buffer]) continue;
    const bytes = bindingBytes(b, L);
    const data = b.buffer.startsWith("weight:") ? fill(bytes / 4, bytes, 0, 0.5) : fill(bytes / 4, bytes + 7, -0.5, 0.5);
    buffers[b.buffer] = rt.createBuffer(bytes, b.buffer);
    rt.write(buffers[b.buffer]!, data);
    initial.set(b.buffer, data);
  }
  const storage = seq.bindings.flatMap((b) => (b.access === "uniform" ? [] : [b]));
  const yKey = storage.find((b) => b.name === "y")!.buffer;
  const stateKey = storage.find((b) => b.access === "read_write" && b.role === "state")!.buffer;
  let reference: Float32Array | null = null;
  for (const [i, v] of variants.entries()) {
    v.launch = { kernel: compiled[i]!, buffers, L };
    rt.write(buffers[stateKey]!, initial.get(stateKey)!);
    await rt.run([v.launch]);
    const y = new Float32Array(await rt.read(buffers[yKey]!));
    if (reference === null) reference = y;
    else {
      let num = 0;
      let den = 0;
      for (let k = 0; k < y.length; k++) {
        num = Math.max(num, Math.abs(y[k]! - reference[k]!));
        den = Math.max(den, Math.abs(reference[k]!));
      }
      if (!(num <= 1e-3 * den)) throw new Error(`${v.name}: y differs from the sequential kernel's (norm-wise ${num / den})`);
    }
  }
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? variants : [...variants].reverse();
    for (const v of order) v.ms.push((await profileLaunches(device, [v.launch!], 1)).kernels[0]!.ms);
  }
  const seqMs = summarize(variants[0]!.ms).median;
  for (const v of variants) {
    const s = summarize(v.ms);
    const ratio = v === variants[0] ? "" : `  ${(s.median / seqMs).toFixed(2)}x sequential`;
    console.log(`  N = ${String(N).padStart(3)}  L = ${String(L).padStart(4)}  ${v.name.padEnd(28)} median ${s.median.toFixed(1).padStart(8)} ms  best ${s.min.toFixed(1).padStart(8)} ms${ratio}`);
  }
  for (const b of Object.values(buffers)) b.destroy();
}

const opened = await openBenchDevice();
if (typeof opened === "string") {
  console.log(`ssd bench skipped: ${opened}`);
  process.exit(0);
}
const { device, adapter, timestamps, uncaptured } = opened;
const rt = new BenchRuntime(device);
const lengths = process.argv.slice(2).map(Number).filter((n) => n > 0);
console.log(
  `SSD prefill (B5): ${adapter}, H = ${H}, P = ${P}, gate epilogue, ${ROUNDS} rounds, ${timestamps ? "timestamp queries" : "submit wall clock"}, ` +
    `workgroup memory ${device.limits.maxComputeWorkgroupStorageSize} bytes, load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`,
);
for (const N of [64, 128]) for (const L of lengths.length > 0 ? lengths : [1024, 4096]) await shape(rt, device, N, L);
if (uncaptured.length > 0) console.log(`uncaptured errors: ${uncaptured.join("; ")}`);
process.exit(0);
