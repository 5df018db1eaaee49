/**
 * The GPU section of `npm run bench`: every canonical spec built into GpuPrograms (fused, and
 * `--no-fuse`) with deterministic random weights, run on the machine's WebGPU adapter, fused
 * and unfused side by side in one process. Prints figures; asserts nothing.
 *
 * Weights: runtime/weights/random.ts `randomCheckpoint(model, SEED)` (initialization scales of
 * the reference implementations), uploaded once per spec and shared by all its programs.
 *
 * Per spec: decode tokens/s (a few warm steps per repeat, each step a full
 * `GpuProgram.run`: token upload, one submit, onSubmittedWorkDone, logits read back, as the
 * generation loop does), prefill tokens/s at L = 64 (and 256 for the small specs; COUNTS; repeat
 * counts adapt to the machine, TARGET_S, and are printed),
 * dispatches per decode token, where a decode step's wall time goes (GpuRuntime.run, read-backs,
 * the rest), GPU bytes (weights, state, each program's scratch), and the time spent compiling
 * pipelines for the first and a second build of the decode program (Mesa's on-disk shader
 * cache can make a "first" build warm across processes; MESA_SHADER_CACHE_DISABLE=true makes it
 * cold). Then a per-kernel breakdown of one spec's decode (bench/gpu-profile.ts: how it is timed).
 *
 * Honesty rules from ../shared/reference/performance.md §3.2: warm-up before timing, fused and
 * unfused repeats interleaved (order alternating), median and best with the run count, the load
 * average, the adapter (lavapipe is Mesa's CPU Vulkan: its figures are relative, not a GPU's),
 * errors caught by scopes (runtime/device.ts) and uncaptured ones printed; the unfused logits
 * are compared with the fused ones so a broken variant cannot pass for a fast one.
 *
 * A program that cannot be generated yet (a CodegenError, e.g. an op without a WGSL generator)
 * is reported on one line and the spec's fused figures are still measured.
 *
 * Selection: `npm run bench -- --gpu-only` runs only this section, `--no-gpu` skips it
 * (bench/run.ts reads the flags). HYBRIDC_BENCH_SPECS=a.hyb,b.hyb limits the specs, and
 * HYBRIDC_BENCH_BREAKDOWN=c.hyb picks the spec of the per-kernel breakdown (BREAKDOWN_SPEC).
 */
import { loadavg } from "node:os";
import { workgroupCount } from "../compiler/codegen/index.ts";
import type { SourceFile } from "../compiler/diag/source.ts";
import { buildModel, subgroupsFor, targetFor, type ResolvedModel } from "../compiler/index.ts";
import type { ModelArtifact, ProgramArtifact } from "../runtime/artifact/types.ts";
import { GpuModelMemory, GpuProgram, lengthLimit } from "../runtime/program.ts";
import { profileLaunches, type Profile } from "./gpu-profile.ts";
import { BenchRuntime, openBenchDevice } from "./gpu-runtime.ts";
import { randomCheckpoint } from "../runtime/weights/random.ts";
import { relDiff, summarize, type Summary } from "./stats.ts";

const SEED = 1234;
/** The spec whose decode gets the per-kernel breakdown, unless the caller names another. */
export const BREAKDOWN_SPEC = "hybrid-130m.hyb";
const TOP = 10;

/** Per model size: decode steps per timed repeat, the most repeats, prefill lengths, profile replays. */
interface Counts {
  /** Applies to models with fewer parameters than this. */
  readonly below: number;
  readonly decodeSteps: number;
  readonly maxRepeats: number;
  readonly prefillLengths: readonly number[];
  readonly profileRepeats: number;
}

const COUNTS: readonly Counts[] = [
  { below: 12e6, decodeSteps: 8, maxRepeats: 5, prefillLengths: [64, 256], profileRepeats: 5 },
  { below: 50e6, decodeSteps: 6, maxRepeats: 5, prefillLengths: [64], profileRepeats: 3 },
  { below: Infinity, decodeSteps: 4, maxRepeats: 5, prefillLengths: [64], profileRepeats: 3 },
];
/**
 * Repeats are what fits in TARGET_S seconds of timed calls (estimated from each program's first
 * call), at least MIN_REPEATS and at most the size's maxRepeats: on a loaded 2-core machine a
 * 130M-class prefill at L = 64 takes seconds per call, and the whole section must stay minutes.
 */
const TARGET_S = { decode: 10, prefill: 15 } as const;
const MIN_REPEATS = 3;
/** A prefill length after the first is left out when its warm-up and MIN_REPEATS rounds would take longer. */
const SKIP_S = 60;
/** Untimed decode steps per variant before timing (the first call, the logits check, is one more). */
const WARMUP = 1;

const countsFor = (params: number): Counts => COUNTS.find((c) => params < c.below)!;
const describeCounts = (c: Counts) =>
  `decode ${c.decodeSteps} steps per repeat, prefill L = ${c.prefillLengths.join(", ")}, ${MIN_REPEATS}..${c.maxRepeats} repeats`;
const fit = (targetS: number, roundMs: number, c: Counts) => Math.max(MIN_REPEATS, Math.min(c.maxRepeats, Math.floor((1000 * targetS) / roundMs)));

export interface BenchSpec {
  readonly file: string;
  readonly model: ResolvedModel;
  readonly source: SourceFile;
}

/** The two variants of one program kind at one length; `unfused` is the reason when it is not built. */
interface Pair {
  readonly fused: GpuProgram;
  readonly unfused: GpuProgram | string;
}

const mb = (bytes: number) => (bytes < 2 ** 20 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`);
const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const ratio = (unfused: number, fused: number) => `${(unfused / fused).toFixed(2)}x`;
const load = () => loadavg().map((l) => l.toFixed(2)).join(" ");

/** The model built for the bench device as `hybridc run` builds it (its limits, target and subgroups; fused or `--no-fuse`), or why it cannot be built. */
function artifactOrReason(spec: BenchSpec, device: GPUDevice, fuse: boolean): ModelArtifact | string {
  const r = buildModel(spec.model, spec.source, { limits: device.limits, fuse, target: targetFor(device), subgroups: subgroupsFor(device) });
  return r.ok ? r.artifact : `not buildable (${r.problems.map((p) => `${p.code} ${p.message}`).join("; ")})`;
}

/** A program of the artifact for up to L tokens (capped, as loadModel caps it, where a buffer would pass the binding size). */
async function programOf(memory: GpuModelMemory, p: ProgramArtifact | string, L: number): Promise<GpuProgram | string> {
  if (typeof p === "string") return p;
  const limits = memory.rt.device.limits;
  return GpuProgram.fromArtifact(memory, p, Math.min(L, lengthLimit(p, Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize)).L));
}

/** `fn`'s value and its wall time in milliseconds. */
async function timedValue<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t0 };
}

const timed = async (fn: () => Promise<unknown>): Promise<number> => (await timedValue(fn)).ms;

/**
 * Runs `measure(variant)` per built variant, alternating which goes first, after `warm(variant)`
 * for each (untimed; it returns its estimate of one `measure` in ms), as many rounds as
 * `repeatsFor(the estimates' sum)` says; returns each variant's milliseconds.
 */
async function interleaved(
  pair: Pair,
  repeatsFor: (roundMs: number) => number,
  warm: (p: GpuProgram) => Promise<number>,
  measure: (p: GpuProgram) => Promise<number>,
): Promise<{ fused: Summary; unfused: Summary | null }> {
  const variants = typeof pair.unfused === "string" ? [pair.fused] : [pair.fused, pair.unfused];
  let roundMs = 0;
  for (const v of variants) roundMs += await warm(v);
  const repeats = repeatsFor(roundMs);
  const ms: number[][] = variants.map(() => []);
  for (let r = 0; r < repeats; r++) {
    const order = r % 2 === 0 ? variants.map((_, i) => i) : variants.map((_, i) => variants.length - 1 - i);
    for (const i of order) ms[i]!.push(await measure(variants[i]!));
  }
  return { fused: summarize(ms[0]!), unfused: ms[1] ? summarize(ms[1]) : null };
}

function row(label: string, fused: string, unfused: string, r: string): void {
  console.log(`  ${label.padEnd(30)} ${fused.padStart(14)} ${unfused.padStart(14)} ${r.padStart(9)}`);
}

/** A throughput row from per-token (or per-call) milliseconds: median and best tokens/s. */
function rateRows(label: string, tokens: number, s: { fused: Summary; unfused: Summary | null }): void {
  const rate = (ms: number) => (1000 * tokens) / ms;
  const u = s.unfused;
  row(`${label} tok/s median (n=${s.fused.runs})`, fmt(rate(s.fused.median)), u ? fmt(rate(u.median)) : "-", u ? ratio(u.median, s.fused.median) : "");
  row(`${label} tok/s best`, fmt(rate(s.fused.min)), u ? fmt(rate(u.min)) : "-", u ? ratio(u.min, s.fused.min) : "");
}

function printProfile(title: string, p: Profile, stepMs: number): void {
  const total = p.kernels.reduce((n, k) => n + k.ms, 0);
  console.log(
    `  ${title}: ${p.kernels.length} kernels, method: ${p.method}, median of ${p.repeats} replays; sum of per-kernel medians ${total.toFixed(1)} ms,` +
      ` replay wall ${p.replayMs.toFixed(1)} ms, decode step wall (timed above) ${stepMs.toFixed(1)} ms`,
  );
  for (const k of [...p.kernels].sort((a, b) => b.ms - a.ms).slice(0, TOP)) {
    console.log(`    ${k.ms.toFixed(3).padStart(9)} ms ${((100 * k.ms) / total).toFixed(1).padStart(5)}%  ${k.name} (${k.op})`);
  }
  const byOp = new Map<string, { ms: number; n: number }>();
  for (const k of p.kernels) {
    const e = byOp.get(k.op) ?? { ms: 0, n: 0 };
    byOp.set(k.op, { ms: e.ms + k.ms, n: e.n + 1 });
  }
  const ops = [...byOp].sort((a, b) => b[1].ms - a[1].ms);
  console.log(`    by op: ${ops.map(([op, e]) => `${op} ${((100 * e.ms) / total).toFixed(0)}% (${e.n})`).join(", ")}`);
}

/** Everything built for one spec: the programs and what building them cost. */
interface Built {
  readonly decode: Pair;
  readonly prefill: ReadonlyMap<number, Pair>;
  /** Milliseconds compiling pipelines: first and second build of each decode program. */
  readonly compile: { readonly fused: readonly [number, number]; readonly unfused: readonly [number, number] | null };
  readonly owned: readonly GpuProgram[];
}

/**
 * Builds the decode programs (fused first, so an unfused kernel whose WGSL equals a fused one's
 * finds it compiled: the unfused "1st build" is not fully cold), each a second time (Dawn keeps
 * identical pipelines for the process), then the prefill programs. A reason when fused cannot build.
 */
async function build(rt: BenchRuntime, memory: GpuModelMemory, fusedArtifact: ModelArtifact, unfusedArtifact: ModelArtifact | string, c: Counts): Promise<Built | string> {
  const fused = fusedArtifact;
  const unfused = typeof unfusedArtifact === "string" ? { decode: unfusedArtifact, prefill: unfusedArtifact } : unfusedArtifact;
  const owned: GpuProgram[] = [];
  const compileOf = async (g: ProgramArtifact | string, L: number): Promise<{ p: GpuProgram | string; ms: number }> => {
    const before = rt.compileMs;
    const p = await programOf(memory, g, L);
    if (typeof p !== "string") owned.push(p);
    return { p, ms: rt.compileMs - before };
  };
  const f1 = await compileOf(fused.decode, 1);
  if (typeof f1.p === "string") return `fused decode ${f1.p}`;
  const u1 = await compileOf(unfused.decode, 1);
  const f2 = await compileOf(fused.decode, 1);
  const u2 = typeof u1.p === "string" ? null : await compileOf(unfused.decode, 1);
  const prefill = new Map<number, Pair>();
  for (const L of c.prefillLengths) {
    const f = await compileOf(fused.prefill, L);
    if (typeof f.p === "string") return `fused prefill ${f.p}`;
    prefill.set(L, { fused: f.p, unfused: (await compileOf(unfused.prefill, L)).p });
  }
  return {
    decode: { fused: f1.p, unfused: u1.p },
    prefill,
    compile: { fused: [f1.ms, f2.ms], unfused: u2 ? [u1.ms, u2.ms] : null },
    owned,
  };
}

/** The first call of a program: dispatches, logits and wall time (it also warms the program up). */
interface FirstCall {
  readonly dispatches: number;
  readonly logits: Float32Array;
  readonly ms: number;
}

async function firstCall(rt: BenchRuntime, memory: GpuModelMemory, p: GpuProgram | string, tokens: readonly number[]): Promise<FirstCall | null> {
  if (typeof p === "string") return null;
  memory.resetState();
  const { value: logits, ms } = await timedValue(() => p.run(tokens, 0));
  return { dispatches: rt.lastLaunches.filter((l) => workgroupCount(l.kernel.spec.dispatch, l.L) > 0).length, logits, ms };
}

type Timings = Awaited<ReturnType<typeof interleaved>>;

async function benchSpec(rt: BenchRuntime, device: GPUDevice, spec: BenchSpec, breakdown: boolean): Promise<void> {
  const { model, file } = spec;
  const c = countsFor(model.parameters);
  const t0 = performance.now();
  console.log(`\n${file} (${model.name}, ${(model.parameters / 1e6).toFixed(1)}M parameters, ${model.layers.length} layers); load average ${load()}\n  ${describeCounts(c)}`);
  rt.allocated.clear();
  const fusedArtifact = artifactOrReason(spec, device, true);
  if (typeof fusedArtifact === "string") {
    console.log(`  fused ${fusedArtifact}`);
    return;
  }
  // --no-fuse has the same weight layout (the same weights and limits), so both run on one memory.
  const unfusedArtifact = artifactOrReason(spec, device, false);
  const memory = await GpuModelMemory.upload(rt, fusedArtifact, randomCheckpoint(fusedArtifact, SEED));
  const built = await build(rt, memory, fusedArtifact, unfusedArtifact, c);
  if (typeof built === "string") {
    console.log(`  ${built}`);
    memory.destroy();
    return;
  }
  const buildMs = performance.now() - t0;
  const { decode, prefill } = built;
  const tokens = Array.from({ length: Math.max(...c.prefillLengths) }, (_, i) => (i * 37 + 11) % model.vocab);
  const L0 = c.prefillLengths[0]!;
  const pf0 = prefill.get(L0)!;

  // First calls from zero state: dispatch counts, the unfused logits against the fused ones, cost estimates.
  const fd = (await firstCall(rt, memory, decode.fused, tokens.slice(0, 1)))!;
  const ud = await firstCall(rt, memory, decode.unfused, tokens.slice(0, 1));
  const fp = (await firstCall(rt, memory, pf0.fused, tokens.slice(0, L0)))!;
  const up = await firstCall(rt, memory, pf0.unfused, tokens.slice(0, L0));

  // Timed: decode continues from the current state, each variant at its own position.
  memory.resetState();
  const pos = new Map<GpuProgram, number>();
  const step = async (p: GpuProgram) => {
    const at = pos.get(p) ?? 0;
    pos.set(p, at + 1);
    return p.run([tokens[at % tokens.length]!], at);
  };
  const warmDecode = async (p: GpuProgram) => {
    let ms = 0;
    for (let i = 0; i < WARMUP; i++) ms = await timed(() => step(p));
    return ms * c.decodeSteps;
  };
  const split = new Map<GpuProgram, { total: number; run: number; read: number }>();
  const decodeMs = await interleaved(decode, (ms) => fit(TARGET_S.decode, ms, c), warmDecode, async (p) => {
    const [run, read] = [rt.runMs, rt.readMs];
    const ms = await timed(async () => {
      for (let i = 0; i < c.decodeSteps; i++) await step(p);
    });
    const s = split.get(p) ?? { total: 0, run: 0, read: 0 };
    split.set(p, { total: s.total + ms, run: s.run + rt.runMs - run, read: s.read + rt.readMs - read });
    return ms / c.decodeSteps;
  });
  const prefillMs = new Map<number, Timings>();
  const notes: string[] = [];
  for (const L of c.prefillLengths) {
    const call = (p: GpuProgram) => timed(() => p.run(tokens.slice(0, L), 0));
    const roundMs = ((fp.ms + (up?.ms ?? 0)) * L) / L0; // cost grows about linearly with L
    if (L !== L0 && ((1 + MIN_REPEATS) * roundMs) / 1000 > SKIP_S) {
      notes.push(`prefill L=${L} left out: about ${(roundMs / 1000).toFixed(0)} s per round of calls (L=${L0} scaled), over the ${SKIP_S} s budget`);
      continue;
    }
    // L0's first calls (the check) warmed it up; a longer L gets one warm-up call each.
    const firstMs = (p: GpuProgram) => (p === pf0.fused ? fp.ms : (up?.ms ?? 0));
    prefillMs.set(L, await interleaved(prefill.get(L)!, (ms) => fit(TARGET_S.prefill, ms, c), L === L0 ? async (p) => firstMs(p) : call, call));
  }

  // Figures.
  const u = (p: GpuProgram | string, f: (p: GpuProgram) => string) => (typeof p === "string" ? "-" : f(p));
  const scratch = (label: string, pair: Pair) =>
    row(`${label} scratch`, mb(pair.fused.scratchBytes), u(pair.unfused, (q) => mb(q.scratchBytes)), u(pair.unfused, (q) => ratio(q.scratchBytes, pair.fused.scratchBytes)));
  const { compile } = built;
  row("", "fused", "unfused", "unf/fused");
  rateRows("decode", 1, decodeMs);
  for (const [L, ms] of prefillMs) rateRows(`prefill L=${L}`, L, ms);
  row("dispatches / decode token", String(fd.dispatches), ud ? String(ud.dispatches) : "-", ud ? ratio(ud.dispatches, fd.dispatches) : "");
  scratch("decode", decode);
  for (const [L, pair] of prefill) scratch(`prefill L=${L}`, pair);
  row("decode compile, 1st build", `${compile.fused[0].toFixed(0)} ms`, compile.unfused ? `${compile.unfused[0].toFixed(0)} ms` : "-", "");
  row("decode compile, 2nd build", `${compile.fused[1].toFixed(0)} ms`, compile.unfused ? `${compile.unfused[1].toFixed(0)} ms` : "-", "");
  console.log(
    `  GPU memory shared by all programs: weights ${mb(rt.allocated.get("weight") ?? 0)}, state ${mb(rt.allocated.get("state") ?? 0)}` +
      ` (SSM/conv state and KV cache at context ${model.context}); all programs' scratch/io ${mb(rt.allocated.get("other") ?? 0)}`,
  );
  const checks = [ud ? `decode ${relDiff(ud.logits, fd.logits).toExponential(1)}` : null, up ? `prefill L=${L0} ${relDiff(up.logits, fp.logits).toExponential(1)}` : null].filter((x) => x);
  if (checks.length > 0) console.log(`  check: unfused vs fused logits from zero state, normwise rel. difference: ${checks.join(", ")}`);
  for (const [name, p] of [["fused", decode.fused], ["unfused", decode.unfused]] as const) {
    const s = typeof p === "string" ? undefined : split.get(p);
    if (s === undefined) continue;
    const pct = (x: number) => `${((100 * x) / s.total).toFixed(0)}%`;
    console.log(`  ${name} decode step wall: ${pct(s.run)} in GpuRuntime.run (submit to done), ${pct(s.read)} in read-backs (logits, state copies), ${pct(s.total - s.run - s.read)} other (uploads, JS)`);
  }
  for (const line of notes) console.log(`  ${line}`);
  if (typeof decode.unfused === "string") console.log(`  unfused: ${decode.unfused}`);
  else if (typeof pf0.unfused === "string") console.log(`  unfused prefill: ${pf0.unfused}`);

  if (breakdown) {
    console.log(`  per-kernel decode breakdown (${file}):`);
    const variants: [string, GpuProgram | string, Summary | null][] = [["fused", decode.fused, decodeMs.fused], ["unfused", decode.unfused, decodeMs.unfused]];
    for (const [name, p, timing] of variants) {
      if (typeof p === "string" || timing === null) continue;
      await p.run([tokens[0]!], 0);
      printProfile(name, await profileLaunches(device, rt.lastLaunches, c.profileRepeats), timing.median);
    }
  }
  console.log(`  (${((performance.now() - t0) / 1000).toFixed(1)} s for this spec, of which ${(buildMs / 1000).toFixed(1)} s weights + builds; load average ${load()})`);
  for (const p of built.owned) p.destroy();
  memory.destroy();
}

/** The GPU section: header, then each spec. Returns false when there is no adapter. */
export async function gpuBench(specs: readonly BenchSpec[], breakdown: string = BREAKDOWN_SPEC): Promise<boolean> {
  const opened = await openBenchDevice();
  if (typeof opened === "string") {
    console.log(`\nGPU benchmark skipped: ${opened}`);
    return false;
  }
  const { device, adapter, timestamps, uncaptured } = opened;
  const rt = new BenchRuntime(device);
  const lavapipe = /llvmpipe|lavapipe/i.test(adapter);
  const t0 = performance.now();
  console.log(
    `\nGPU programs, fused vs --no-fuse: ${adapter}` +
      (lavapipe ? "\n  backend: Mesa lavapipe, Vulkan on the CPU: figures are CPU figures, meaningful as ratios on this machine, not as GPU speeds" : "") +
      `\n  LP_NUM_THREADS=${process.env["LP_NUM_THREADS"] ?? "unset"}, MESA_SHADER_CACHE_DISABLE=${process.env["MESA_SHADER_CACHE_DISABLE"] ?? "unset"}, timestamp-query ${timestamps ? "yes" : "no"}, load average ${load()}, random weights seed ${SEED}` +
      `\n  by size: ${COUNTS.map((c) => `${c.below === Infinity ? "larger" : `under ${c.below / 1e6}M parameters`}: ${describeCounts(c)}`).join("; ")}` +
      `\n  repeats: as many as fit in ${TARGET_S.decode} s (decode) / ${TARGET_S.prefill} s (prefill) of timed calls, estimated from the warm-up; n = repeats per variant` +
      `\n  warm-up: the first call of each program (the logits check) and ${WARMUP} more decode step per variant; a prefill length without a check call gets one warm-up call` +
      `\n  tok/s: median and best over repeats; "unf/fused" = unfused cost / fused cost (> 1: fusion pays)`,
  );
  for (const s of specs) {
    try {
      await benchSpec(rt, device, s, s.file === breakdown);
    } catch (e) {
      console.log(`  !! ${s.file}: ${e instanceof Error ? `${e.name}: ${e.message.split("\n")[0]}` : String(e)}`);
    }
    if (uncaptured.length > 0) console.log(`  !! ${uncaptured.length} uncaptured GPU errors, first: ${uncaptured.splice(0)[0]}`);
  }
  console.log(`\nGPU section: ${((performance.now() - t0) / 1000).toFixed(0)} s, load average ${load()}`);
  return true;
}
