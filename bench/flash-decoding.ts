/**
 * Decode attention, one kernel (attention_decode: a workgroup per kv head walking every key)
 * against flash-decoding (split-decode-attention: attention_decode_partial, a workgroup per key
 * block and kv head, then attention_merge), side by side in one process on the machine's WebGPU
 * adapter. `node --import tsx bench/flash-decoding.ts [T ...]` (default T = 1024 4096 8192, the
 * query at the last position: every key visible). Shape: hybrid-130m's attention (12 query heads,
 * 4 kv heads, head dim 64, full RoPE). Prints figures; asserts nothing.
 *
 * One warm-up per variant (compiles the pipelines) whose output o is compared with the single
 * kernel's first, then ROUNDS rounds in alternating order; median and best; each kernel timed by
 * timestamp queries where the adapter has them (bench/gpu-profile.ts), the split's two summed.
 */
import { loadavg } from "node:os";
import { bindingBytes, generateKernel, requestFromGraph, type KernelSpec } from "../compiler/codegen/index.ts";
import { splitDecodeAttention } from "../compiler/passes/split-decode-attention.ts";
import type { Launch } from "../runtime/device.ts";
import { attentionGraph } from "../tests/codegen/attention-graphs.ts";
import { profileLaunches } from "./gpu-profile.ts";
import { BenchRuntime, openBenchDevice } from "./gpu-runtime.ts";
import { summarize } from "./stats.ts";

const ROUNDS = 5;
const SHAPE = { S: 1, H: 12, Hkv: 4, D: 64, rotary: 64 } as const;

function fill(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32 - 0.5;
  });
}

async function shape(rt: BenchRuntime, device: GPUDevice, T: number): Promise<void> {
  const single = attentionGraph({ ...SHAPE, T });
  const split = splitDecodeAttention.run(single.graph);
  const specsOf = (g: typeof split, ops: readonly string[]): KernelSpec[] =>
    g.nodes.flatMap((n) => (ops.includes(n.op) ? [generateKernel(requestFromGraph(g, n.id), device.limits)] : []));
  const variants = [
    { name: "one kernel", specs: specsOf(single.graph, ["attention_decode"]), ms: [] as number[], launches: [] as Launch[] },
    { name: "flash-decoding", specs: specsOf(split, ["attention_decode_partial", "attention_merge"]), ms: [] as number[], launches: [] as Launch[] },
  ];
  const buffers: Record<string, GPUBuffer> = {};
  for (const v of variants) {
    const compiled = await rt.compile(v.specs);
    for (const spec of v.specs)
      for (const b of spec.bindings) {
        if (b.access === "uniform" || buffers[b.buffer]) continue;
        const bytes = bindingBytes(b, 1);
        buffers[b.buffer] = rt.createBuffer(bytes, b.buffer);
        rt.write(buffers[b.buffer]!, fill(bytes / 4, bytes + b.buffer.length));
      }
    v.launches = compiled.map((kernel) => ({ kernel, buffers, L: 1, pos: T - 1 }));
  }
  // o of each variant (both write the graph output o) must agree before anything is timed.
  const oKey = (spec: KernelSpec): string => {
    const o = spec.bindings.find((b) => b.name === "o");
    if (o === undefined || o.access === "uniform") throw new Error(`${spec.name}: no output binding o`);
    return o.buffer;
  };
  const outs: Float32Array[] = [];
  for (const v of variants) {
    await rt.run(v.launches);
    outs.push(new Float32Array(await rt.read(buffers[oKey(v.specs.at(-1)!)]!)));
  }
  let num = 0;
  let den = 0;
  outs[0]!.forEach((x, i) => ((num = Math.max(num, Math.abs(x - outs[1]![i]!))), (den = Math.max(den, Math.abs(x)))));
  if (!(num <= 1e-4 * den)) throw new Error(`T = ${T}: flash-decoding's o differs from the single kernel's (norm-wise ${num / den})`);
  for (let r = 0; r < ROUNDS; r++) {
    for (const v of r % 2 === 0 ? variants : [...variants].reverse()) {
      const p = await profileLaunches(device, v.launches, 1);
      v.ms.push(p.kernels.reduce((s, k) => s + k.ms, 0));
    }
  }
  const base = summarize(variants[0]!.ms).median;
  for (const v of variants) {
    const s = summarize(v.ms);
    const ratio = v === variants[0] ? "" : `  ${(base / s.median).toFixed(2)}x faster than one kernel`;
    console.log(`  T = ${String(T).padStart(5)}  ${v.name.padEnd(15)} median ${s.median.toFixed(3).padStart(8)} ms  best ${s.min.toFixed(3).padStart(8)} ms${ratio}`);
  }
  for (const b of Object.values(buffers)) b.destroy();
}

const opened = await openBenchDevice();
if (typeof opened === "string") {
  console.log(`flash-decoding bench skipped: ${opened}`);
  process.exit(0);
}
const { device, adapter, timestamps } = opened;
const rt = new BenchRuntime(device);
const lengths = process.argv.slice(2).map(Number).filter((n) => n > 0);
console.log(
  `decode attention, one kernel vs flash-decoding: ${adapter}, H = ${SHAPE.H}, Hkv = ${SHAPE.Hkv}, D = ${SHAPE.D}, ${ROUNDS} rounds, ` +
    `${timestamps ? "timestamp queries" : "submit wall clock"}, load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`,
);
for (const T of lengths.length > 0 ? lengths : [1024, 4096, 8192]) await shape(rt, device, T);
process.exit(0);
