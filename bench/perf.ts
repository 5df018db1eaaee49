/**
 * The performance section of `npm run bench` (issue 12 part 1): hybridc's figures beside the
 * adapter's measured roofs and a PyTorch CPU baseline, in one process, and bench/results.json.
 *
 *   roofline  bench/roofline.ts: streaming read GB/s (f32, packed f16, native f16) and FMA
 *             GFLOP/s of this adapter, measured now, and the read bandwidth again just before each
 *             model runs. Decode bytes per token (the plan's moved bytes, `hybridc inspect`) /
 *             that read bandwidth = the decode bound; decode tokens/s of
 *             mamba-130m.hyb and hybrid-130m.hyb (random weights; f32, f16 packed, f16 native)
 *             as a fraction of it; prefill tokens/s at L = PREFILL_L.
 *   baseline  the same models and weights in eager PyTorch on the CPU (bench/baseline.py), 1 and
 *             2 threads, decode and prefill tokens/s, and hybridc / baseline; the baseline's
 *             logits are compared with hybridc's f32 logits on the same prompt.
 *   kernels   one-layer models at the 130M dims, fused vs --no-fuse, GPU time of the layer's
 *             kernels (timestamps): Mamba-1 and Mamba-2 prefill at L = 2048 (also built with
 *             scan = chunked-parallel: ms and ratio to the sequential scan), attention prefill
 *             at L = 2048 and decode at T = 4096 (quick: 1024 and 2048); achieved GB/s (plan bytes / time) or GFLOP/s
 *             over the measured roof. A program over the binding limit runs in chunks, as the
 *             runtime runs it.
 *   specs     per canonical spec: build time, dispatches per layer per decode token (by block
 *             kind), moved bytes / minimum.
 * Every build is made for this device as `hybridc run` and loadSpec make it: its limits, its
 * target (targetFor: a CPU adapter's shapes, or a GPU's) and subgroups when it has them; the
 * kernel comparisons name their scan algorithm.
 * Medians over repeats; the adapter and the load average are printed (the machine is shared).
 * `--quick` (or HYBRIDC_BENCH_QUICK=1) uses fewer steps and repeats and a smaller roofline
 * buffer: a few minutes on the 2-core VM.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { buildModel, compile, programs, subgroupsFor, targetFor, type ResolvedModel, type ScanAlgorithm } from "../compiler/index.ts";
import type { Graph } from "../compiler/ir/graph.ts";
import { kernelsOf } from "../compiler/plan/kernels.ts";
import { storage } from "../compiler/plan/storage.ts";
import { accesses } from "../compiler/plan/traffic.ts";
import { layouts } from "../compiler/plan/views.ts";
import type { SourceFile } from "../compiler/diag/source.ts";
import { inspectModel } from "../compiler/inspect.ts";
import type { ModelArtifact } from "../runtime/artifact/types.ts";
import { GpuModelMemory, GpuProgram, lengthLimit } from "../runtime/program.ts";
import { randomCheckpoint } from "../runtime/weights/random.ts";
import { runBaseline, torchMissing, type BaselineRun } from "./baseline.ts";
import { profileLaunches } from "./gpu-profile.ts";
import { setQueueWait } from "../runtime/device.ts";
import { dawnWait } from "../runtime/node.ts";
import { BenchRuntime, openBenchDevice } from "./gpu-runtime.ts";
import { decodeMinimum } from "./optimizer.ts";
import { measureRoof, type Roof } from "./roofline.ts";
import { median, relDiff } from "./stats.ts";

const SEED = 1234;
const MODELS = ["mamba-130m.hyb", "hybrid-130m.hyb"] as const;
const PROMPT = 16;
const PREFILL_L = 64;

export interface Counts {
  readonly roofMiB: number;
  readonly roofRepeats: number;
  readonly decodeSteps: number;
  readonly decodeRepeats: number;
  readonly prefillRepeats: number;
  readonly baselineSteps: number;
  readonly baselineRepeats: number;
  readonly kernelRepeats: number;
  /** The kernels' prefill length and decode position (the issue's 2048 and 4096; quick halves them). */
  readonly kernelL: number;
  readonly decodeT: number;
  readonly native: boolean;
}

export const QUICK: Counts = { roofMiB: 64, roofRepeats: 3, decodeSteps: 3, decodeRepeats: 3, prefillRepeats: 1, baselineSteps: 4, baselineRepeats: 1, kernelRepeats: 1, kernelL: 1024, decodeT: 2048, native: false };
const FULL: Counts = { roofMiB: 128, roofRepeats: 7, decodeSteps: 6, decodeRepeats: 5, prefillRepeats: 3, baselineSteps: 16, baselineRepeats: 3, kernelRepeats: 3, kernelL: 2048, decodeT: 4096, native: true };

const load = () => loadavg().map((l) => l.toFixed(2)).join(" ");
const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(3));
const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;

interface Compiled {
  readonly model: ResolvedModel;
  readonly source: SourceFile;
}

function compileText(text: string, path: string): Compiled {
  const r = compile(text, { path });
  if (!r.ok) throw new Error(`${path} does not compile: ${r.diagnostics.map((d) => d.message).join("; ")}`);
  return { model: r.models[0]!, source: r.source };
}

const withDtype = (text: string, dtype: "f32" | "f16") => text.replace(/d_model = (\d+)/, `d_model = $1\n  dtype = ${dtype}`);

function artifact(c: Compiled, device: GPUDevice, options: { fuse?: boolean; f16?: "native" | "packed"; scan?: ScanAlgorithm } = {}): ModelArtifact {
  const r = buildModel(c.model, c.source, {
    limits: device.limits,
    fuse: options.fuse ?? true,
    target: targetFor(device),
    subgroups: subgroupsFor(device),
    ...(options.f16 ? { f16: options.f16 } : {}),
    ...(options.scan ? { scan: options.scan } : {}),
  });
  if (!r.ok) throw new Error(`not buildable: ${r.problems.map((p) => `${p.code} ${p.message}`).join("; ")}`);
  return r.artifact;
}

/** One decode/prefill measurement of a model variant. */
interface ModelRun {
  readonly key: string;
  readonly decodeTokensPerSecond: number;
  readonly prefillTokensPerSecond: number;
  readonly decodeBytesPerToken: number;
  readonly decodeBoundTokensPerSecond: number;
  readonly decodeRooflineFraction: number;
  /** The streaming read bandwidth measured just before (GB/s), which the bound uses. */
  readonly roofGBps: number;
  /**
   * The fastest round's tokens/s, and its fraction of the bound at the run's highest roof: the
   * same comparison between the best the machine gave each (the median-based figures above are
   * the headline; this VM's neighbours move both by up to 2x within minutes).
   */
  readonly decodeBestTokensPerSecond: number;
  readonly decodeRooflineFractionBest: number;
  readonly promptLogits: Float32Array;
}

/** `wait: "spin"`: the runtime waits with Dawn's own busy polling instead of dawnWait (runtime/node.ts), the comparison of the two. */
type Variant = { readonly dtype: "f32" | "f16"; readonly f16?: "native" | "packed"; readonly wait?: "spin" };

/** `fn` with the device's waits done by Dawn's busy polling when `wait` is "spin", then the bench's wait again. */
async function withWait<T>(device: GPUDevice, wait: "spin" | undefined, fn: () => Promise<T>): Promise<T> {
  if (wait !== "spin" || process.env["HYBRIDC_BENCH_WAIT"] === "spin") return fn();
  setQueueWait(device, (p) => p);
  try {
    return await fn();
  } finally {
    setQueueWait(device, dawnWait);
  }
}

/**
 * Decode and prefill of every variant of one model, interleaved: each round measures the read
 * roof, then runs each variant's decode steps (the order alternating from round to round), so
 * all of them and their bound see the same load on a shared machine; medians over rounds.
 */
async function runModel(rt: BenchRuntime, file: string, text: string, variants: readonly Variant[], c: Counts, timestamps: boolean): Promise<ModelRun[]> {
  const loaded = [];
  for (const v of variants) {
    const compiled = compileText(withDtype(text, v.dtype), file);
    const a = artifact(compiled, rt.device, v.f16 ? { f16: v.f16 } : {});
    const memory = await GpuModelMemory.upload(rt, a, randomCheckpoint(a, SEED));
    const decode = await GpuProgram.fromArtifact(memory, a.decode, 1);
    const prefill = await GpuProgram.fromArtifact(memory, a.prefill, PREFILL_L);
    loaded.push({ v, compiled, memory, decode, prefill, perToken: [] as number[], prefillMs: [] as number[], pos: PROMPT + 1, promptLogits: new Float32Array(0) });
  }
  try {
    const vocab = loaded[0]!.compiled.model.vocab;
    const tokens = Array.from({ length: PREFILL_L }, (_, i) => (i * 37 + 11) % vocab);
    for (const l of loaded) {
      l.memory.resetState();
      const logits = await l.prefill.run(tokens.slice(0, PROMPT), 0);
      l.promptLogits = Float32Array.from(logits.subarray((PROMPT - 1) * vocab));
      await l.decode.run([tokens[PROMPT]!], PROMPT); // warm-up
    }
    const roofs: number[] = [];
    for (let r = 0; r < c.decodeRepeats; r++) {
      roofs.push((await measureRoof(rt.device, { mib: c.roofMiB, repeats: 1, timestamps, readOnly: true })).readGBps);
      for (const l of r % 2 === 0 ? loaded : [...loaded].reverse()) {
        l.perToken.push(
          await withWait(rt.device, l.v.wait, async () => {
            const t0 = performance.now();
            for (let i = 0; i < c.decodeSteps; i++, l.pos++) await l.decode.run([tokens[l.pos % PREFILL_L]!], l.pos);
            return (performance.now() - t0) / c.decodeSteps;
          }),
        );
      }
    }
    for (let r = 0; r < c.prefillRepeats; r++) {
      for (const l of r % 2 === 0 ? loaded : [...loaded].reverse()) {
        l.memory.resetState();
        l.prefillMs.push(
          await withWait(rt.device, l.v.wait, async () => {
            const t0 = performance.now();
            await l.prefill.run(tokens, 0);
            return performance.now() - t0;
          }),
        );
      }
    }
    const roofGBps = median(roofs);
    return loaded.map((l) => {
      const decodeTokensPerSecond = 1000 / median(l.perToken);
      const T = PROMPT + Math.round((c.decodeRepeats * c.decodeSteps) / 2);
      const decodeBytesPerToken = inspectModel(l.compiled.model, { length: T, fuse: true }).decode.movedBytes;
      const decodeBoundTokensPerSecond = (roofGBps * 1e9) / decodeBytesPerToken;
      const decodeBestTokensPerSecond = 1000 / Math.min(...l.perToken);
      return {
        key: `${l.compiled.model.name}/${l.v.dtype}${l.v.f16 === "native" ? "-native" : ""}${l.v.wait === "spin" ? "-dawnspin" : ""}`,
        decodeTokensPerSecond,
        prefillTokensPerSecond: (1000 * PREFILL_L) / median(l.prefillMs),
        decodeBytesPerToken,
        decodeBoundTokensPerSecond,
        decodeRooflineFraction: decodeTokensPerSecond / decodeBoundTokensPerSecond,
        roofGBps,
        decodeBestTokensPerSecond,
        decodeRooflineFractionBest: decodeBestTokensPerSecond / ((Math.max(...roofs) * 1e9) / decodeBytesPerToken),
        promptLogits: l.promptLogits,
      };
    });
  } finally {
    for (const l of loaded) {
      l.decode.destroy();
      l.prefill.destroy();
      l.memory.destroy();
    }
  }
}

/** One kernel comparison: a one-layer model's mixer kernels, fused vs --no-fuse, GPU milliseconds. */
interface KernelRun {
  readonly name: string;
  readonly fusedMs: number;
  readonly unfusedMs: number;
  readonly fusedSpeedup: number;
  /** What the fused kernels achieve and the roof it is compared with. */
  readonly achieved: number;
  readonly unit: "GB/s" | "GFLOP/s";
  readonly ofRoof: number;
  /** The ops of the kernels timed, fused and unfused. */
  readonly ops: readonly [string, string];
  /**
   * Scan layers: the fused layer built with scan = chunked-parallel (passes/parallel-scan.ts), its ms and ops,
   * and the scan kernels alone: the sequential scan's ms, the chunk phases' ms (each phase's too).
   */
  readonly parallel?: {
    readonly ms: number;
    readonly overSequential: number;
    readonly ops: string;
    readonly scanMs: number;
    readonly phasesMs: number;
    readonly phases: Readonly<Record<string, number>>;
  };
}

/**
 * The projections (and their norms, folded into them when fused) are the same GEMMs fused or not
 * and would hide the mixer: the comparison times every other kernel of the layer (conv, scan,
 * discretization, gating, attention and their unfused pieces).
 */
const PROJECTION_OPS = new Set(["linear", "fused_linear", "embedding", "rmsnorm", "layernorm", "add_rmsnorm"]);

interface Timed {
  readonly ms: number;
  readonly bytes: number;
  readonly ops: ReadonlySet<string>;
  /** GPU ms by op. */
  readonly msByOp: ReadonlyMap<string, number>;
}

/**
 * GPU ms of the mixer kernels (layers.*, not PROJECTION_OPS) of a call of `tokens` at `pos`,
 * chunked at the program's length as the runtime does, each chunk's launches replayed `repeats`
 * times (median per kernel); and the bytes they access by the plan (plan/traffic.ts accesses).
 */
async function mixerGpu(rt: BenchRuntime, p: GpuProgram, graph: Graph, maxL: number, tokens: readonly number[], pos: number, repeats: number): Promise<Timed> {
  let ms = 0;
  let bytes = 0;
  const ops = new Set<string>();
  const msByOp = new Map<string, number>();
  for (let at = 0; at < tokens.length; at += maxL) {
    const chunk = tokens.slice(at, at + maxL);
    await p.run(chunk, pos + at);
    const prof = await profileLaunches(rt.device, rt.lastLaunches, repeats);
    const chosen = prof.kernels.filter((k) => k.name.startsWith("layers.") && !PROJECTION_OPS.has(k.op));
    ms += chosen.reduce((n, k) => n + k.ms, 0);
    for (const k of chosen) msByOp.set(k.op, (msByOp.get(k.op) ?? 0) + k.ms);
    const L = graph.name.endsWith(".decode") ? 1 : chunk.length;
    const lay = layouts(graph, L);
    const names = new Set(chosen.map((k) => k.name));
    for (const k of kernelsOf(graph, lay, storage(graph, lay).constant)) {
      if (!names.has(k.name)) continue;
      ops.add(k.op);
      bytes += accesses(graph, lay, graph.nodes[k.node]!, pos + at).reduce((n, x) => n + x.bytes, 0);
    }
  }
  return { ms, bytes, ops, msByOp };
}

async function kernelPair(rt: BenchRuntime, roof: Roof, name: string, text: string, mode: { L: number; pos: number }, c: Counts, flops?: number, scan = false): Promise<KernelRun> {
  const compiled = compileText(text, `${name}.hyb`);
  const limit = Math.min(rt.device.limits.maxStorageBufferBindingSize, rt.device.limits.maxBufferSize);
  const tokens = Array.from({ length: mode.L }, (_, i) => (i * 37 + 11) % compiled.model.vocab);
  let memory: GpuModelMemory | null = null;
  const timed: Timed[] = [];
  try {
    // fused (sequential scans, whatever the target), unfused, and for a scan layer fused with the chunk-parallel scans.
    const builds = [{ fuse: true, scan: "sequential" as const }, { fuse: false, scan: "sequential" as const }, ...(scan ? [{ fuse: true, scan: "chunked-parallel" as const }] : [])];
    for (const options of builds) {
      const a = artifact(compiled, rt.device, options);
      memory ??= await GpuModelMemory.upload(rt, a, randomCheckpoint(a, SEED));
      const graphs = programs(compiled.model, options);
      const [prog, graph] = mode.L === 1 ? [a.decode, graphs.decode] : [a.prefill, graphs.prefill];
      const maxL = mode.L === 1 ? 1 : Math.min(mode.L, lengthLimit(prog, limit).L);
      const p = await GpuProgram.fromArtifact(memory, prog, maxL);
      try {
        memory.resetState();
        timed.push(await mixerGpu(rt, p, graph, maxL, tokens, mode.pos, c.kernelRepeats));
      } finally {
        p.destroy();
      }
    }
  } finally {
    memory?.destroy();
  }
  const [fused, unfused, parallel] = timed as [Timed, Timed, Timed | undefined];
  const achieved = flops === undefined ? fused.bytes / (fused.ms / 1000) / 1e9 : flops / (fused.ms / 1000) / 1e9;
  return {
    name,
    fusedMs: fused.ms,
    unfusedMs: unfused.ms,
    fusedSpeedup: unfused.ms / fused.ms,
    achieved,
    unit: flops === undefined ? "GB/s" : "GFLOP/s",
    ofRoof: achieved / (flops === undefined ? roof.readGBps : roof.fmaGFLOPs),
    ops: [[...fused.ops].sort().join(" "), [...unfused.ops].sort().join(" ")],
    ...(parallel ? { parallel: parallelFigures(fused, parallel) } : {}),
  };
}

const SCAN_OPS = new Set(["selective_scan", "ssd"]);
const PHASE_OPS = new Set(["selective_scan_chunk_state", "ssd_chunk_state", "scan_state_pass", "selective_scan_chunk_output", "ssd_chunk_output"]);

function parallelFigures(sequential: Timed, parallel: Timed): NonNullable<KernelRun["parallel"]> {
  const phases = Object.fromEntries([...parallel.msByOp].filter(([op]) => PHASE_OPS.has(op)));
  const sum = (m: Iterable<[string, number]>, keep: ReadonlySet<string>) => [...m].filter(([op]) => keep.has(op)).reduce((n, [, ms]) => n + ms, 0);
  return {
    ms: parallel.ms,
    overSequential: parallel.ms / sequential.ms,
    ops: [...parallel.ops].sort().join(" "),
    scanMs: sum(sequential.msByOp, SCAN_OPS),
    phasesMs: sum(parallel.msByOp, PHASE_OPS),
    phases,
  };
}

/** The kernel comparisons; `only` keeps the cases whose name starts with one of these (bench/scan-parallel.ts: the scans). */
export async function kernelBench(rt: BenchRuntime, roof: Roof, c: Counts, only?: readonly string[]): Promise<KernelRun[]> {
  // context = the keys a call needs (L for prefill, T for decode): --no-fuse scores every cache row.
  const layer = (block: string, context = 8192) => `model k {\n  vocab = 256\n  d_model = 768\n  context = ${context}\n  b = ${block}\n  layers = b\n}\n`;
  const L = c.kernelL;
  const T = c.decodeT;
  const attn = "attention(heads = 12, kv_heads = 4, rope = 10_000)";
  const cases: [string, string, { L: number; pos: number }, number | undefined][] = [
    [`mamba1 prefill L=${L}`, "mamba1(d_state = 16, expand = 2, d_conv = 4)", { L, pos: 0 }, undefined],
    [`mamba2 prefill L=${L}`, "mamba2(d_state = 128, expand = 2, d_conv = 4, headdim = 64, chunk = 128)", { L, pos: 0 }, undefined],
    // Causal attention: QK^T and PV over the lower triangle, 2 * L^2 * head_dim * heads FLOPs.
    [`attention prefill L=${L}`, attn, { L, pos: 0 }, 2 * L * L * 64 * 12],
    // Decode at T: the KV rows read dominate.
    [`attention decode T=${T}`, attn, { L: 1, pos: T - 1 }, undefined],
  ];
  const runs: KernelRun[] = [];
  for (const [name, block, mode, flops] of cases) {
    if (only !== undefined && !only.some((o) => name.startsWith(o))) continue;
    const k = await kernelPair(rt, roof, name, layer(block, Math.max(mode.L, mode.pos + 1)), mode, c, flops, name.startsWith("mamba"));
    runs.push(k);
    console.log(
      `  ${k.name.padEnd(26)} fused ${fmt(k.fusedMs).padStart(8)} ms  unfused ${fmt(k.unfusedMs).padStart(8)} ms  ${k.fusedSpeedup.toFixed(2)}x   fused ${fmt(k.achieved)} ${k.unit} = ${(100 * k.ofRoof).toFixed(0)}% of the roof` +
        `   (fused: ${k.ops[0]}; unfused: ${k.ops[1]}; load ${load()})`,
    );
    if (k.parallel) {
      console.log(
        `  ${"".padEnd(26)} chunk-parallel scan ${fmt(k.parallel.ms).padStart(8)} ms = ${k.parallel.overSequential.toFixed(2)}x the sequential scan's layer time (${k.parallel.ops});` +
          ` the scan kernels alone: ${fmt(k.parallel.phasesMs)} vs ${fmt(k.parallel.scanMs)} ms = ${(k.parallel.phasesMs / k.parallel.scanMs).toFixed(2)}x` +
          ` (${Object.entries(k.parallel.phases).map(([op, ms]) => `${op} ${fmt(ms)}`).join(", ")})`,
      );
    }
  }
  return runs;
}

interface SpecFigures {
  readonly compileMs: number;
  readonly dispatchesPerToken: number;
  /** Decode kernels per layer by the layer's mixer kind (max over layers of that kind). */
  readonly dispatchesPerLayer: Readonly<Record<string, number>>;
  readonly movedOverMinimum: number;
}

function specFigures(file: string, text: string): SpecFigures {
  const c = compileText(text, file);
  const ms: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const r = buildModel(c.model, c.source, {});
    ms.push(performance.now() - t0);
    if (!r.ok) throw new Error(`${file}: not buildable`);
  }
  const ins = inspectModel(c.model, { length: 1024, fuse: true });
  const perLayer: Record<string, number> = {};
  for (const layer of c.model.layers) {
    const kinds = layer.sublayers.map((s) => s.block.config.kind).join("+");
    const n = ins.kernels.filter((k) => k.name.startsWith(`layers.${layer.index}.`)).length;
    perLayer[kinds] = Math.max(perLayer[kinds] ?? 0, n);
  }
  return { compileMs: median(ms), dispatchesPerToken: ins.decode.dispatches, dispatchesPerLayer: perLayer, movedOverMinimum: ins.decode.movedBytes / decodeMinimum(c.model, ins.decode.weightBytes, 1024) };
}

export async function perfBench(root: string, quick: boolean): Promise<void> {
  const c = quick ? QUICK : FULL;
  const t0 = performance.now();
  const opened = await openBenchDevice();
  if (typeof opened === "string") {
    console.log(`\nperformance section skipped: ${opened}`);
    return;
  }
  const rt = new BenchRuntime(opened.device);
  const loads: string[] = [load()];
  console.log(`\nperformance (issue 12)${quick ? ", quick mode" : ""}: ${opened.adapter}; load average ${load()}`);
  if (/llvmpipe|lavapipe/i.test(opened.adapter)) console.log("  lavapipe: Vulkan on the CPU, so every figure is a CPU figure; the roofline fractions are the meaningful ones");

  const roof = await measureRoof(rt.device, { mib: c.roofMiB, repeats: c.roofRepeats, timestamps: opened.timestamps });
  // The same read kernel while Dawn's busy polling runs (the main thread spins during the wait).
  const spinRoof = await withWait(rt.device, "spin", () => measureRoof(rt.device, { mib: c.roofMiB, repeats: c.roofRepeats, timestamps: opened.timestamps, readOnly: true }));
  console.log(
    `  roof (${roof.method}, ${mb(roof.bytes)} buffer, median of ${c.roofRepeats}): streaming read ${fmt(roof.readGBps)} GB/s (f32 vec4); as packed f16 ${fmt(roof.readF16PackedGBps)} GB/s` +
      `${roof.readF16NativeGBps === null ? "" : `; as native vec4<f16> ${fmt(roof.readF16NativeGBps)} GB/s`}; f32 FMA ${fmt(roof.fmaGFLOPs)} GFLOP/s`,
  );
  // A read from cache within 1.25x of the streaming one is the same instruction stream, not a faster memory.
  const cacheRatio = roof.readInCacheGBps / roof.readGBps;
  console.log(
    `  the same read from a 1 MiB buffer (in cache): ${fmt(roof.readInCacheGBps)} GB/s, ${cacheRatio.toFixed(2)}x the streaming read` +
      (cacheRatio < 1.25 ? ": about as fast, so this roof is the backend's load instructions, not memory bandwidth" : ": memory bounds the streaming read"),
  );
  console.log(
    `  waiting (runtime/node.ts dawnWait): the f32 read ${fmt(roof.readGBps)} GB/s with dawnWait vs ${fmt(spinRoof.readGBps)} GB/s under Dawn's busy polling (${(roof.readGBps / spinRoof.readGBps).toFixed(2)}x); decode below as "-dawnspin"`,
  );

  // Decode and prefill of the two 130M models.
  const runs: ModelRun[] = [];
  const texts = new Map(MODELS.map((f) => [f, readFileSync(join(root, "specs", f), "utf8")]));
  const variants: Variant[] = [
    { dtype: "f32" },
    { dtype: "f16", f16: "packed" },
    ...(c.native && rt.device.features.has("shader-f16") ? [{ dtype: "f16", f16: "native" } as const] : []),
    // The same f32 program waited on with Dawn's busy polling (what a plain await gets in Node).
    ...(process.env["HYBRIDC_BENCH_WAIT"] === "spin" ? [] : [{ dtype: "f32", wait: "spin" } as const]),
  ];
  console.log(
    `\n  decode (${c.decodeRepeats} rounds of ${c.decodeSteps} steps after a ${PROMPT}-token prompt, median per token) and prefill (L = ${PREFILL_L}, median of ${c.prefillRepeats});` +
      ` random weights, seed ${SEED}; a model's variants interleaved, each round after a read-roof measurement (read GB/s: their median; bound = read GB/s / bytes per token; best round: the fastest round against the highest roof)`,
  );
  console.log(`  ${"model".padEnd(22)}${"decode tok/s".padStart(13)}${"bytes/token".padStart(13)}${"read GB/s".padStart(11)}${"bound tok/s".padStart(13)}${"of bound".padStart(10)}${"best round".padStart(12)}${"prefill tok/s".padStart(15)}`);
  for (const file of MODELS) {
    for (const r of await runModel(rt, file, texts.get(file)!, variants, c, opened.timestamps)) {
      runs.push(r);
      console.log(`  ${r.key.padEnd(22)}${fmt(r.decodeTokensPerSecond).padStart(13)}${mb(r.decodeBytesPerToken).padStart(13)}${fmt(r.roofGBps).padStart(11)}${fmt(r.decodeBoundTokensPerSecond).padStart(13)}${`${(100 * r.decodeRooflineFraction).toFixed(0)}%`.padStart(10)}${`${(100 * r.decodeRooflineFractionBest).toFixed(0)}%`.padStart(12)}${fmt(r.prefillTokensPerSecond).padStart(15)}`);
    }
    console.log(`  (load average ${load()})`);
  }
  for (const file of MODELS) {
    const name = compileText(texts.get(file)!, file).model.name;
    const f32 = runs.find((r) => r.key === `${name}/f32`)!;
    const f16 = runs.find((r) => r.key === `${name}/f16`)!;
    console.log(`  ${name}: f16 / f32 decode ${(f16.decodeTokensPerSecond / f32.decodeTokensPerSecond).toFixed(2)}x (best rounds ${(f16.decodeBestTokensPerSecond / f32.decodeBestTokensPerSecond).toFixed(2)}x), bytes per token ${(f16.decodeBytesPerToken / f32.decodeBytesPerToken).toFixed(3)}x; f16 vs f32 prompt logits ${relDiff(f16.promptLogits, f32.promptLogits).toExponential(1)}`);
    const spin = runs.find((r) => r.key === `${name}/f32-dawnspin`);
    if (spin) console.log(`  ${name}: f32 with dawnWait / with Dawn's busy polling: decode ${(f32.decodeTokensPerSecond / spin.decodeTokensPerSecond).toFixed(2)}x, prefill ${(f32.prefillTokensPerSecond / spin.prefillTokensPerSecond).toFixed(2)}x`);
  }
  loads.push(load());

  // The PyTorch CPU baseline.
  const baseline = new Map<string, BaselineRun>();
  const missing = torchMissing();
  console.log(`\n  PyTorch CPU baseline (bench/baseline.py: eager, recurrent decode; the same weights; ${c.baselineRepeats} repeats of ${c.baselineSteps} decode steps and a ${PREFILL_L}-token prefill)`);
  if (missing) console.log(`  ${missing}`);
  else {
    for (const file of MODELS) {
      const compiled = compileText(texts.get(file)!, file);
      const a = artifact(compiled, rt.device);
      const prompt = Array.from({ length: PREFILL_L }, (_, i) => (i * 37 + 11) % compiled.model.vocab);
      try {
        const b = await runBaseline(compiled.model, randomCheckpoint(a, SEED), { prompt, steps: c.baselineSteps, repeats: c.baselineRepeats, threads: [1, 2] });
        baseline.set(compiled.model.name, b);
        const ours = runs.find((r) => r.key === `${compiled.model.name}/f32`)!;
        for (const [t, res] of Object.entries(b.results)) {
          console.log(
            `  ${compiled.model.name} torch ${b.torch}, ${t} thread${t === "1" ? "" : "s"}: decode ${fmt(res.decodeTokensPerSecond)} tok/s, prefill ${fmt(res.prefillTokensPerSecond)} tok/s;` +
              ` hybridc f32 / torch: decode ${(ours.decodeTokensPerSecond / res.decodeTokensPerSecond).toFixed(2)}x, prefill ${(ours.prefillTokensPerSecond / res.prefillTokensPerSecond).toFixed(2)}x`,
          );
        }
        const check = await baselineCheck(rt, compiled, a, prompt, b);
        console.log(`  ${compiled.model.name}: torch vs hybridc f32 logits (prompt's last token, next token ${b.firstToken}), normwise rel. difference ${check.map((x) => x.toExponential(1)).join(", ")}`);
      } catch (e) {
        console.log(`  !! ${file}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }
  loads.push(load());

  console.log(
    `\n  kernels: one layer at the 130M dims (d_model 768), fused vs --no-fuse: GPU time (timestamps, median of ${c.kernelRepeats}) of the layer's kernels but the projections` +
      " (the same GEMMs either way); achieved = the plan's bytes of the fused kernels / time (GFLOP/s for attention prefill), over the measured read (FMA) roof",
  );
  const ks = await kernelBench(rt, roof, c);
  loads.push(load());

  const specs = Object.fromEntries(
    [...new Set([...MODELS, ...readdirSpecs(root)])].map((f) => {
      const s = specFigures(f, readFileSync(join(root, "specs", f), "utf8"));
      return [f, s];
    }),
  );
  console.log("\n  specs: build time (median of 3), decode dispatches per token and per layer (by sublayers), moved bytes / minimum at T = 1024");
  for (const [f, s] of Object.entries(specs)) {
    console.log(`  ${f.padEnd(18)} ${fmt(s.compileMs).padStart(7)} ms  ${String(s.dispatchesPerToken).padStart(4)} dispatches  ${Object.entries(s.dispatchesPerLayer).map(([k, n]) => `${k} ${n}`).join(", ")}  moved/min ${s.movedOverMinimum.toFixed(3)}`);
  }

  const byKey = <T>(f: (r: ModelRun) => T) => Object.fromEntries(runs.map((r) => [r.key, f(r)]));
  const results = {
    adapter: opened.adapter,
    quick,
    date: new Date().toISOString(),
    loadAverage: loads,
    streamReadGBps: roof.readGBps,
    streamReadGBpsDawnSpin: spinRoof.readGBps,
    streamReadF16PackedGBps: roof.readF16PackedGBps,
    streamReadF16NativeGBps: roof.readF16NativeGBps,
    streamReadInCacheGBps: roof.readInCacheGBps,
    fmaGFLOPs: roof.fmaGFLOPs,
    decodeTokensPerSecond: byKey((r) => r.decodeTokensPerSecond),
    decodeBytesPerToken: byKey((r) => r.decodeBytesPerToken),
    decodeBoundTokensPerSecond: byKey((r) => r.decodeBoundTokensPerSecond),
    decodeRooflineFraction: byKey((r) => r.decodeRooflineFraction),
    decodeBestTokensPerSecond: byKey((r) => r.decodeBestTokensPerSecond),
    decodeRooflineFractionBest: byKey((r) => r.decodeRooflineFractionBest),
    decodeStreamReadGBps: byKey((r) => r.roofGBps),
    prefillTokensPerSecond: byKey((r) => r.prefillTokensPerSecond),
    prefillLength: PREFILL_L,
    baselineDecodeTokensPerSecond: Object.fromEntries([...baseline].map(([m, b]) => [m, Object.fromEntries(Object.entries(b.results).map(([t, r]) => [`threads${t}`, r.decodeTokensPerSecond]))])),
    baselinePrefillTokensPerSecond: Object.fromEntries([...baseline].map(([m, b]) => [m, Object.fromEntries(Object.entries(b.results).map(([t, r]) => [`threads${t}`, r.prefillTokensPerSecond]))])),
    baseline: missing ?? `torch ${[...baseline.values()][0]?.torch ?? "?"} eager on the CPU`,
    fusedSpeedup: Object.fromEntries(ks.map((k) => [k.name, k.fusedSpeedup])),
    kernels: Object.fromEntries(
      ks.map((k) => [
        k.name,
        {
          fusedMs: k.fusedMs,
          unfusedMs: k.unfusedMs,
          achieved: k.achieved,
          unit: k.unit,
          ofRoof: k.ofRoof,
          fusedOps: k.ops[0],
          unfusedOps: k.ops[1],
          ...(k.parallel
            ? {
                chunkParallelMs: k.parallel.ms,
                chunkParallelOverSequential: k.parallel.overSequential,
                chunkParallelOps: k.parallel.ops,
                sequentialScanKernelMs: k.parallel.scanMs,
                chunkParallelScanKernelsMs: k.parallel.phasesMs,
                chunkParallelPhaseMs: k.parallel.phases,
              }
            : {}),
        },
      ]),
    ),
    specs,
  };
  mkdirSync(join(root, "bench"), { recursive: true });
  writeFileSync(join(root, "bench", "results.json"), `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\n  wrote bench/results.json; performance section ${((performance.now() - t0) / 1000).toFixed(0)} s, load average ${load()}`);
  if (opened.uncaptured.length > 0) console.log(`  !! ${opened.uncaptured.length} uncaptured GPU errors, first: ${opened.uncaptured[0]}`);
}

function readdirSpecs(root: string): string[] {
  return readdirSync(join(root, "specs")).filter((f) => f.endsWith(".hyb")).sort();
}

/** hybridc's f32 logits on the baseline's prompt (last token) and after its first greedy token, against the baseline's. */
async function baselineCheck(rt: BenchRuntime, compiled: Compiled, a: ModelArtifact, prompt: readonly number[], b: BaselineRun): Promise<number[]> {
  const memory = await GpuModelMemory.upload(rt, a, randomCheckpoint(a, SEED));
  const prefill = await GpuProgram.fromArtifact(memory, a.prefill, prompt.length);
  const decode = await GpuProgram.fromArtifact(memory, a.decode, 1);
  try {
    const V = compiled.model.vocab;
    const logits = await prefill.run(prompt, 0);
    const step = await decode.run([b.firstToken], prompt.length);
    return [relDiff(logits.subarray((prompt.length - 1) * V), b.promptLogits), relDiff(step, b.stepLogits)];
  } finally {
    prefill.destroy();
    decode.destroy();
    memory.destroy();
  }
}

