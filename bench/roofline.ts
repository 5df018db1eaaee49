/**
 * The adapter's roofs, measured in the same run as the figures they bound (issue 12 part 1):
 *   - streaming read bandwidth: our own WGSL kernel reads a buffer (of COPIES, in turn, so that
 *     the bytes of one timed read are never in a cache from the previous) once, vec4 by vec4, and
 *     writes one sum per invocation so nothing is optimized away; GB/s = bytes read / time, the
 *     best of three access patterns at two lengths per invocation (readKernel, measureRoof);
 *   - the same bytes read as packed f16 (vec2<u32> words through unpack2x16float, as f16
 *     weights are read by default) and, with shader-f16, natively as vec4<f16>: what an f16
 *     model's decode can stream;
 *   - the same f32 read kernels from a buffer small enough to stay in cache (CACHE_BYTES: element
 *     i of the streaming read's length is element i mod n of it, one AND a load): where that is no
 *     faster than the streaming read, the backend's load instructions set the roof, not memory. On
 *     lavapipe (Mesa 25.0) it is: every storage load of a lane compiles to scalar loads, each
 *     behind its own bounds check (GALLIVM_DEBUG=asm), so 1 MiB in L2 streams at the rate of
 *     128 MiB from DRAM (README, Benchmark);
 *   - f32 FMA throughput: 8 independent vec4 FMA chains per invocation (GFLOP/s, 2 per FMA lane).
 * Time per dispatch: GPU timestamps around the pass when the device has timestamp-query, else
 * the wall time from submit to onSubmittedWorkDone. Median of `repeats` after a warm-up.
 */
import { waitOn } from "../runtime/device.ts";
import { median } from "./stats.ts";

const USAGE = { MAP_READ: 0x1, COPY_SRC: 0x4, COPY_DST: 0x8, UNIFORM: 0x40, STORAGE: 0x80, QUERY_RESOLVE: 0x200 } as const;
const WG = 256;
/** Buffers of the read roof, read in turn. */
const COPIES = 3;
/** The in-cache read's buffer: within a CPU core's L2 and far within a GPU's. */
const CACHE_BYTES = 2 ** 20;
/** vec4s an invocation reads in the default grid. */
const PER = 64;

export interface Roof {
  /** Streaming read of f32 vec4s, GB/s (1e9 bytes per second). */
  readonly readGBps: number;
  /** The same bytes as packed f16 (unpack2x16float), GB/s of f16 bytes. */
  readonly readF16PackedGBps: number;
  /** As vec4<f16> with shader-f16; null without the feature. */
  readonly readF16NativeGBps: number | null;
  /** The f32 read of a CACHE_BYTES buffer, re-read by the grid (NaN with `readOnly`). */
  readonly readInCacheGBps: number;
  /** f32 FMA throughput, GFLOP/s. */
  readonly fmaGFLOPs: number;
  readonly method: "timestamps" | "wall";
  readonly bytes: number;
}

/** Milliseconds of one dispatch of `pipeline` (timestamps when available, else submit-to-done wall time). */
async function timeDispatch(device: GPUDevice, pipeline: GPUComputePipeline, group: GPUBindGroup, workgroups: number, timestamps: boolean): Promise<number> {
  const [x, y] = workgroups <= 65535 ? [workgroups, 1] : [65535, Math.ceil(workgroups / 65535)];
  const enc = device.createCommandEncoder();
  let query: GPUQuerySet | null = null;
  let resolve: GPUBuffer | null = null;
  let read: GPUBuffer | null = null;
  if (timestamps) {
    query = device.createQuerySet({ type: "timestamp", count: 2 });
    resolve = device.createBuffer({ size: 16, usage: USAGE.QUERY_RESOLVE | USAGE.COPY_SRC });
    read = device.createBuffer({ size: 16, usage: USAGE.MAP_READ | USAGE.COPY_DST });
  }
  const pass = enc.beginComputePass(query ? { timestampWrites: { querySet: query, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } } : {});
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, group);
  pass.dispatchWorkgroups(x, y);
  pass.end();
  if (query && resolve && read) {
    enc.resolveQuerySet(query, 0, 2, resolve, 0);
    enc.copyBufferToBuffer(resolve, 0, read, 0, 16);
  }
  const t0 = performance.now();
  device.queue.submit([enc.finish()]);
  await waitOn(device, device.queue.onSubmittedWorkDone());
  const wall = performance.now() - t0;
  if (!query || !read) return wall;
  await waitOn(device, read.mapAsync(1));
  const [begin, end] = new BigUint64Array(read.getMappedRange().slice(0));
  read.destroy();
  resolve!.destroy();
  query.destroy();
  return Number(end! - begin!) / 1e6;
}

/**
 * A read kernel over the array elements of type `elem`, each turned into a vec4<f32> by `load`.
 * Three access patterns (the chunked ones at two invocation counts, measureRoof), since the best one depends on the adapter: `strided` (grid-stride:
 * neighbouring invocations read neighbouring elements, what a GPU coalesces), `chunked` (each
 * invocation walks its own contiguous range, what a CPU backend such as lavapipe, which runs an
 * invocation's loop for a few SIMD lanes at a time, streams best) and `chunked2` (the same with
 * two loads a loop step: on lavapipe 1.09-1.14x `chunked` in bench-local runs, the loop's own
 * cost halved).
 */
function readKernel(elem: string, load: (e: string) => string, enable: boolean, layout: "strided" | "chunked" | "chunked2", wrap?: { readonly length: number; readonly mask: number }): string {
  // wrap: the in-cache read walks a virtual array of `length` elements, element i at a[i & mask].
  const len = wrap ? `${wrap.length}u` : "arrayLength(&a)";
  const a = (i: string): string => (wrap ? `a[(${i}) & ${wrap.mask}u]` : `a[${i}]`);
  const loop =
    layout === "strided"
      ? `for (var i = id; i < ${len}; i += total) { acc += ${load(a("i"))}; }`
      : layout === "chunked"
        ? `let per = (${len} + total - 1u) / total;
  let end = min(id * per + per, ${len});
  for (var i = id * per; i < end; i++) { acc += ${load(a("i"))}; }`
        : `let per = ((${len} + total - 1u) / total + 1u) & ~1u;
  let end = min(id * per + per, ${len});
  var i = min(id * per, end);
  for (; i + 1u < end; i += 2u) { acc += ${load(a("i"))} + ${load(a("i + 1u"))}; }
  if (i < end) { acc += ${load(a("i"))}; }`;
  return `${enable ? "enable f16;\n" : ""}@group(0) @binding(0) var<storage, read> a: array<${elem}>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let total = nwg.x * nwg.y * ${WG}u;
  let id = gid.x + gid.y * nwg.x * ${WG}u;
  var acc = vec4<f32>(0.0);
  ${loop}
  out[id] = acc.x + acc.y + acc.z + acc.w;
}
`;
}

const FMA_STEPS = 2048;
const FMA_KERNEL = `@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let id = gid.x + gid.y * nwg.x * ${WG}u;
  let m = a[0];
  let c = a[1];
  var r0 = vec4<f32>(f32(id)); var r1 = r0 + 1.0; var r2 = r0 + 2.0; var r3 = r0 + 3.0;
  var r4 = r0 + 4.0; var r5 = r0 + 5.0; var r6 = r0 + 6.0; var r7 = r0 + 7.0;
  for (var i = 0u; i < ${FMA_STEPS}u; i++) {
    r0 = fma(r0, m, c); r1 = fma(r1, m, c); r2 = fma(r2, m, c); r3 = fma(r3, m, c);
    r4 = fma(r4, m, c); r5 = fma(r5, m, c); r6 = fma(r6, m, c); r7 = fma(r7, m, c);
  }
  let s = r0 + r1 + r2 + r3 + r4 + r5 + r6 + r7;
  out[id] = s.x + s.y + s.z + s.w;
}
`;

/** Measures the roofs with a buffer of `mib` MiB (at most the adapter's binding limit); `readOnly`: the f32 read alone. */
export async function measureRoof(device: GPUDevice, options: { readonly mib: number; readonly repeats: number; readonly timestamps: boolean; readonly readOnly?: boolean }): Promise<Roof> {
  const bytes = Math.min(options.mib * 2 ** 20, device.limits.maxStorageBufferBindingSize - (device.limits.maxStorageBufferBindingSize % 16));
  // COPIES buffers, read in turn: a timed read never finds the previous one's bytes in a cache
  // (this VM's L3 holds 105 MiB, almost one 128 MiB buffer).
  const srcs = Array.from({ length: COPIES }, () => device.createBuffer({ size: bytes, usage: USAGE.STORAGE | USAGE.COPY_DST }));
  // A fixed pattern (halves of 1.0 in the packed/native views, small floats in the f32 view).
  const chunk = new Uint32Array(1 << 16).fill(0x3c003c00);
  const fill = (buffer: GPUBuffer, size: number): void => {
    for (let off = 0; off < size; off += chunk.byteLength) device.queue.writeBuffer(buffer, off, chunk, 0, Math.min(chunk.length, (size - off) / 4));
  };
  for (const src of srcs) fill(src, bytes);
  // One sum per invocation: as many invocations as fit the grid at 64 vec4s each (GPUs want many).
  const invocations = Math.min(Math.ceil(bytes / 16 / PER / WG) * WG, 65535 * WG);
  const out = device.createBuffer({ size: invocations * 4 * 8, usage: USAGE.STORAGE });
  const run = async (code: string, workgroups: number, from: readonly GPUBuffer[] = srcs): Promise<number> => {
    device.pushErrorScope("validation");
    const module = device.createShaderModule({ code });
    const pipeline = await device.createComputePipelineAsync({ layout: "auto", compute: { module, entryPoint: "main" } });
    const groups = from.map((src) => device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: src } }, { binding: 1, resource: { buffer: out } }] }));
    await timeDispatch(device, pipeline, groups[0]!, workgroups, options.timestamps);
    const ms: number[] = [];
    for (let r = 0; r < options.repeats; r++) ms.push(await timeDispatch(device, pipeline, groups[(r + 1) % groups.length]!, workgroups, options.timestamps));
    const err = await device.popErrorScope();
    if (err) throw new Error(`roofline kernel: ${err.message}`);
    return median(ms);
  };
  const wgs = invocations / WG;
  const gbps = (ms: number) => bytes / (ms / 1000) / 1e9;
  // The roof is the best of the access patterns, per format: each at 64 vec4s (1 KiB of f32) an
  // invocation, and the two-loads walk also at a quarter of the invocations, 4 KiB each (longer
  // runs per invocation: lavapipe streamed a 3 x 128 MiB read 1.10-1.15x faster at 4 KiB a lane
  // than at 1 KiB, 3 December, interleaved).
  const patterns = [
    ["strided", wgs],
    ["chunked", wgs],
    ["chunked2", wgs],
    ["chunked2", Math.max(1, Math.floor(wgs / 4))],
  ] as const;
  const best = async (elem: string, load: (e: string) => string, enable: boolean, cache?: GPUBuffer): Promise<number> => {
    const wrap = cache ? { length: bytes / 16, mask: CACHE_BYTES / 16 - 1 } : undefined;
    const each: number[] = [];
    for (const [layout, groups] of patterns) each.push(gbps(await run(readKernel(elem, load, enable, layout, wrap), groups, cache ? [cache] : srcs)));
    if (process.env["HYBRIDC_ROOF_DEBUG"]) console.log(`  roof ${elem}${cache ? " in cache" : ""}: ${patterns.map(([l, g], i) => `${l} x${g} ${each[i]!.toFixed(2)}`).join(", ")} GB/s`);
    return Math.max(...each);
  };
  const readGBps = await best("vec4<f32>", (e) => e, false);
  if (options.readOnly) {
    for (const src of srcs) src.destroy();
    out.destroy();
    return { readGBps, readF16PackedGBps: NaN, readF16NativeGBps: null, readInCacheGBps: NaN, fmaGFLOPs: NaN, method: options.timestamps ? "timestamps" : "wall", bytes };
  }
  // The in-cache read: the same kernels over a virtual array of the streaming read's length whose
  // element i is element i mod n of one CACHE_BYTES buffer.
  const cache = device.createBuffer({ size: CACHE_BYTES, usage: USAGE.STORAGE | USAGE.COPY_DST });
  fill(cache, CACHE_BYTES);
  const readInCacheGBps = await best("vec4<f32>", (e) => e, false, cache);
  cache.destroy();
  const readF16PackedGBps = await best("vec2<u32>", (e) => `vec4<f32>(unpack2x16float(${e}.x), unpack2x16float(${e}.y))`, false);
  const readF16NativeGBps = device.features.has("shader-f16") ? await best("vec4<f16>", (e) => `vec4<f32>(${e})`, true) : null;
  const fmaWgs = Math.min(wgs, 256);
  const fmaMs = await run(FMA_KERNEL, fmaWgs);
  for (const src of srcs) src.destroy();
  out.destroy();
  return { readGBps, readF16PackedGBps, readF16NativeGBps, readInCacheGBps, fmaGFLOPs: (fmaWgs * WG * FMA_STEPS * 8 * 4 * 2) / (fmaMs / 1000) / 1e9, method: options.timestamps ? "timestamps" : "wall", bytes };
}
