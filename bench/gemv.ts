/**
 * The decode GEMV (issue 12 §3): the linear family's two decode schedules side by side on the
 * mamba-130m decode shapes, f32 and f16 weights (read packed, two halves per u32), one process:
 *
 *   tiled   one output column per invocation walking all of K (a staged norm prologue: 4
 *           columns per invocation), linear.ts
 *   coop    T lanes per output column walking K together (strided: adjacent lanes, adjacent
 *           memory; or chunked: each lane its own range), R slots of TN columns per workgroup,
 *           partial sums reduced in workgroup memory, gemv.ts
 *
 * Shapes (the operands as the fused decode has them): mamba-130m's in_proj 768 -> 3072 with the
 * rmsnorm prologue, x_proj 1536 -> 80 (small N, large K), out_proj 1536 -> 768 + residual, the
 * tied LM head 768 -> 50,280 with the final rmsnorm (f32: 154 MB, bound as row windows under the
 * 128 MiB binding limit, as the build binds it); hybrid-130m's swiglu MLP (gate/up 768 -> 2 x
 * 2048 with the norm, down 2048 -> 768 + residual). GEMV_SHAPES=in_proj,lm_head picks some. Weights in their own buffers, laid out for the device's
 * binding limit.
 *
 * Honesty (performance.md §3.2): every variant's y is checked against the tiled one's before
 * timing; one warm-up (it compiles); ROUNDS rounds, every variant once per round in alternating
 * order, each kernel timed alone by timestamps around its pass, after a pass that reads 256 MiB
 * (so the weights come from memory as in a real decode: an L3 of 32 MiB holds an in_proj, one of
 * 105 MiB most of an f32 LM head); the median. GEMV_VARIANTS=subgroup,coop T4 picks variants by name prefix (default and tiled always run; subgroup variants only on a device with `subgroups`). Own bind groups and timing here: each kernel alone after the eviction pass. GB/s = weight bytes / time, against the read roof (bench/roofline.ts: f32 vec4 and
 * packed f16 streaming reads) measured in the same run. `npm run bench:gemv [rounds]`.
 */
import { loadavg } from "node:os";
import { bindingBytes, extentAt, foldGrid, generateKernel, requestFromGraph, workgroupCount, type KernelSpec } from "../compiler/codegen/index.ts";
import { invariant } from "../compiler/diag/diagnostic.ts";
import type { LinearSchedule } from "../compiler/codegen/wgsl/linear.ts";
import type { Graph } from "../compiler/ir/graph.ts";
import { byteSize } from "../compiler/ir/types.ts";
import { weightLayout } from "../compiler/plan/weights.ts";
import { DTYPES } from "../runtime/artifact/dtypes.ts";
import { windowBytes } from "../runtime/artifact/launch.ts";
import { waitOn, type Launch } from "../runtime/device.ts";
import { linearGraph, type LinearCase } from "../tests/codegen/graphs.ts";
import { halfWeights } from "../tests/f16/half.ts";
import { BenchRuntime, openBenchDevice } from "./gpu-runtime.ts";
import { measureRoof } from "./roofline.ts";
import { relDiff, summarize } from "./stats.ts";

const ROUNDS = Number(process.argv[2] ?? 7);

const SHAPES: readonly [string, LinearCase][] = [
  ["in_proj 768->3072 +rmsnorm", { S: 1, K: 768, outs: [3072], prologue: "rmsnorm" }],
  ["x_proj 1536->80", { S: 1, K: 1536, outs: [80], plain: true }],
  ["out_proj 1536->768 +res", { S: 1, K: 1536, outs: [768], residual: true }],
  ["lm_head 768->50280 +rmsnorm", { S: 1, K: 768, outs: [50280], prologue: "rmsnorm" }],
  // hybrid-130m's MLP: swiglu gate/up 768 -> 2 x 2048 with the norm, down 2048 -> 768 + residual.
  ["mlp_up 768->2x2048 swiglu", { S: 1, K: 768, outs: [2048, 2048], prologue: "rmsnorm", activation: "swiglu" }],
  ["mlp_down 2048->768 +res", { S: 1, K: 2048, outs: [768], residual: true }],
];

/** [name, schedule override]: the default (whatever linearSchedule picks), the tiled one, cooperative shapes. */
const VARIANTS: readonly [string, Partial<LinearSchedule> | null][] = [
  ["default", null],
  ["tiled", { coop: 0 }],
  // Accumulators as vec4 lanes of FMAs instead of one f32 of dot products (the schedule's dotAcc).
  ["tiled vec4 acc", { coop: 0, dotAcc: 0 }],
  ["coop vec4 acc", { coop: 4, wgCols: 16, tileCols: 4, dotAcc: 0 }],
  ["coop T32 R2 TN1", { coop: 32, wgCols: 2, tileCols: 1 }],
  ["coop T8 R8 TN4", { coop: 8, wgCols: 8, tileCols: 4 }],
  ["coop T4 R16 TN4", { coop: 4, wgCols: 16, tileCols: 4 }],
  ["coop T4 R16 TN4 chunked", { coop: 4, wgCols: 16, tileCols: 4, coopChunked: 1 }],
  // Packed f16 read 4 halves per load (vec2<u32>) instead of the default's 8 (the schedule's `wide`; f32 reads 4 either way).
  ["coop T4 R16 TN4 4 halves", { coop: 4, wgCols: 16, tileCols: 4, wide: 0 }],
  ["coop T2 R32 TN4", { coop: 2, wgCols: 32, tileCols: 4 }],
  ["coop T4 R16 TN8", { coop: 4, wgCols: 16, tileCols: 8 }],
  ["coop T4 R32 TN4", { coop: 4, wgCols: 32, tileCols: 4 }],
  ["coop T2 R64 TN4", { coop: 2, wgCols: 64, tileCols: 4 }],
  // Subgroup reductions (gemv.ts emitSubgroupGemv; on a device with `subgroups`): a tile's lanes are a subgroup.
  ["subgroup 64 inv, R16 TN4", { coop: 4, wgCols: 16, tileCols: 4, subgroup: 1 }],
  ["subgroup 64 inv, R8 TN8", { coop: 8, wgCols: 8, tileCols: 8, subgroup: 1 }],
];

/** Small deterministic values (xorshift) of a binding's dtype, written in 1M-element chunks. */
function upload(rt: BenchRuntime, buf: GPUBuffer, dtype: keyof typeof DTYPES, elements: number, seed: number): void {
  let s = seed >>> 0 || 1;
  const CH = 1 << 20;
  for (let off = 0; off < elements; off += CH) {
    const n = Math.min(CH, elements - off);
    const v = new Float32Array(n + (n % 2));
    for (let i = 0; i < n; i++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      v[i] = ((s >>> 0) / 2 ** 32 - 0.5) * 0.1;
    }
    const stored = DTYPES[dtype].encode(v);
    rt.device.queue.writeBuffer(buf, (off * stored.BYTES_PER_ELEMENT) as number, stored.buffer, stored.byteOffset, stored.byteLength);
  }
}

/**
 * A read of EVICT_BUFFERS x 128 MiB before every timed dispatch, in the same submit: a decode
 * reads every layer's weights once, so no kernel may find its W in the L3 (32 MiB on one VM this
 * ran on, 105 MiB on another), left there by its previous run (a queue write would not do: large
 * memcpys store non-temporally, around the cache).
 */
const EVICT_BYTES = 128 * 2 ** 20;
const EVICT_BUFFERS = 2;
const EVICT = `@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  var s = vec4<f32>(0.0);
  let per = arrayLength(&a) / 4096u;
  for (var i = gid.x * per; i < gid.x * per + per; i++) { s += a[i]; }
  out[gid.x] = s.x + s.y + s.z + s.w;
}`;

interface Timer {
  /** Milliseconds of one dispatch of `l` (timestamps around its pass), after the eviction pass. */
  time(l: Launch): Promise<number>;
}

function timer(device: GPUDevice): Timer {
  const module = device.createShaderModule({ code: EVICT });
  const pipeline = device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } });
  const size = Math.min(EVICT_BYTES, device.limits.maxStorageBufferBindingSize);
  const out = device.createBuffer({ size: 4096 * 4, usage: 0x80 });
  const evict = Array.from({ length: EVICT_BUFFERS }, () =>
    device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: device.createBuffer({ size, usage: 0x80 /* STORAGE */ }) } },
        { binding: 1, resource: { buffer: out } },
      ],
    }),
  );
  const query = device.createQuerySet({ type: "timestamp", count: 2 });
  const resolve = device.createBuffer({ size: 16, usage: 0x200 | 0x4 });
  const read = device.createBuffer({ size: 16, usage: 0x1 | 0x8 });
  return {
    async time(l) {
      const spec = l.kernel.spec;
      const group = device.createBindGroup({
        layout: l.kernel.layout,
        entries: spec.bindings.map((b): GPUBindGroupEntry => {
          invariant(b.access !== "uniform", "decode GEMVs take no uniforms");
          const buffer = l.buffers[b.buffer]!;
          return { binding: b.binding, resource: b.window ? { buffer, ...windowBytes({ ...b, window: b.window }) } : { buffer } };
        }),
      });
      const enc = device.createCommandEncoder();
      const e = enc.beginComputePass();
      e.setPipeline(pipeline);
      for (const g of evict) {
        e.setBindGroup(0, g);
        e.dispatchWorkgroups(4096 / 64);
      }
      e.end();
      const pass = enc.beginComputePass({ timestampWrites: { querySet: query, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } });
      pass.setPipeline(l.kernel.pipeline);
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(...foldGrid(workgroupCount(spec.dispatch, 1), device.limits.maxComputeWorkgroupsPerDimension));
      pass.end();
      enc.resolveQuerySet(query, 0, 2, resolve, 0);
      enc.copyBufferToBuffer(resolve, 0, read, 0, 16);
      device.queue.submit([enc.finish()]);
      await waitOn(rt.device, read.mapAsync(1));
      const [t0, t1] = new BigUint64Array(read.getMappedRange().slice(0));
      read.unmap();
      return Number(t1! - t0!) / 1e6;
    },
  };
}

interface Variant {
  readonly name: string;
  readonly spec: KernelSpec;
  launch?: Launch;
  readonly ms: number[];
}

async function shape(rt: BenchRuntime, device: GPUDevice, clock: Timer, label: string, c: LinearCase, half: boolean, roofGBps: number): Promise<void> {
  const tg = linearGraph(c);
  const graph: Graph = half ? halfWeights(tg.graph) : tg.graph;
  const dtype = half ? ("f16" as const) : ("f32" as const);
  const entries = graph.nodes.flatMap((n) => (n.op === "weight" ? [{ name: n.attrs.name, shape: n.attrs.type.shape as number[], dtype }] : []));
  const layout = weightLayout(entries, device.limits);
  const req = requestFromGraph(graph, tg.node, { weights: layout, f16: "packed" });
  const picked = process.env["GEMV_VARIANTS"]?.split(",");
  const variants: Variant[] = VARIANTS.filter(([name, o], i) => i < 2 || ((!picked || picked.some((v) => name.startsWith(v))) && (o?.subgroup !== 1 || device.features.has("subgroups")))).map(([name, o]) => ({
    name,
    spec: generateKernel(req, device.limits, o ?? undefined),
    ms: [],
  }));
  const compiled = await rt.compile(variants.map((v) => v.spec));
  const buffers: Record<string, GPUBuffer> = {};
  for (const v of variants) {
    for (const b of v.spec.bindings) {
      if (b.access === "uniform" || buffers[b.buffer]) continue;
      buffers[b.buffer] = rt.createBuffer(bindingBytes(b, 1), b.buffer);
      if (b.access === "read") upload(rt, buffers[b.buffer]!, b.dtype, extentAt(b.elements, 1), bindingBytes(b, 1) + b.buffer.length);
    }
  }
  const yKey = variants[0]!.spec.bindings.find((b) => b.name === "y")!;
  const yBuffer = yKey.access === "uniform" ? "" : yKey.buffer;
  let reference: Float32Array | null = null;
  for (const [i, v] of variants.entries()) {
    v.launch = { kernel: compiled[i]!, buffers, L: 1 };
    await rt.run([v.launch]);
    const y = new Float32Array(await rt.read(buffers[yBuffer]!));
    if (reference === null) reference = y;
    else {
      const d = relDiff(y, reference);
      if (!(d <= 1e-4)) throw new Error(`${label} ${v.name}: y differs from the default's (norm-wise ${d})`);
    }
  }
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? variants : [...variants].reverse();
    for (const v of order) v.ms.push(await clock.time(v.launch!));
  }
  const bytes = byteSize(dtype, c.K * c.outs.reduce((a, b) => a + b, 0));
  const tiled = summarize(variants[1]!.ms);
  for (const v of variants) {
    const s = summarize(v.ms);
    const gbps = bytes / (s.median / 1000) / 1e9;
    const sch = v.spec.schedule;
    const what = sch["coop"] ? `${sch["subgroup"] ? "sg " : ""}T${sch["coop"]} R${sch["wgCols"]} TN${sch["tileCols"]}${sch["coopChunked"] ? " chunked" : ""}` : `tiled TN${sch["tileCols"]} wg${sch["wgCols"]}`;
    console.log(
      `  ${dtype} ${label.padEnd(28)} ${v.name.padEnd(24)} ${what.padEnd(20)} median ${s.median.toFixed(3).padStart(8)} ms  best ${s.min.toFixed(3).padStart(8)} ms  ` +
        `${gbps.toFixed(2).padStart(6)} GB/s = ${((100 * gbps) / roofGBps).toFixed(0).padStart(3)}% of the roof  ${(tiled.median / s.median).toFixed(2)}x tiled (best: ${(tiled.min / s.min).toFixed(2)}x)`,
    );
  }
  for (const b of Object.values(buffers)) b.destroy();
}

const opened = await openBenchDevice();
if (typeof opened === "string") {
  console.log(`gemv bench skipped: ${opened}`);
  process.exit(0);
}
const { device, adapter, timestamps, uncaptured } = opened;
if (!timestamps) {
  console.log("gemv bench skipped: the adapter has no timestamp-query");
  process.exit(0);
}
const clock = timer(device);
const rt = new BenchRuntime(device);
const roof = await measureRoof(device, { mib: 128, repeats: 5, timestamps });
console.log(
  `decode GEMV (issue 12 §3): ${adapter}, ${ROUNDS} rounds, ${timestamps ? "timestamp queries" : "submit wall clock"}, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}\n` + `  read roof: f32 vec4 ${roof.readGBps.toFixed(2)} GB/s, packed f16 ${roof.readF16PackedGBps.toFixed(2)} GB/s`,
);
const only = process.env["GEMV_SHAPES"]?.split(",");
for (const half of [false, true]) {
  for (const [label, c] of SHAPES) {
    if (only && !only.some((o) => label.startsWith(o))) continue;
    await shape(rt, device, clock, label, c, half, half ? roof.readF16PackedGBps : roof.readGBps);
  }
}
if (uncaptured.length > 0) console.log(`uncaptured errors: ${uncaptured.join("; ")}`);
process.exit(0);
