/**
 * The cooperative decode GEMV of the linear family (linear.ts; its header has the schedule rule
 * and the measured figures): y = act(xn W^T + bias) (+ residual) for one row x, with T
 * invocations per output column walking K together, so that adjacent invocations read adjacent
 * memory of one row of W (what a GPU coalesces) and a long K or a few outputs (an LM head, a
 * small-N projection with a large K) still spread over the device: split-K inside one kernel.
 *
 *   workgroup: R slots x T lanes (lid = slot * T + lane); slot s owns the TN columns
 *              TN * (wg * R + s) .. of one segment (swiglu: a gate and an up row per column)
 *   walk:      lane l reads loads k = l, l + T, l + 2T, ... of K (`strided`, coalesced), or the
 *              l-th contiguous range of ceil(KV / T) loads (`chunked`, what a CPU backend streams
 *              best), vec4 (f32, or packed f16 words through unpack2x16float) or scalar, into
 *              one register accumulator per (weight, column) (an f32 adding each step's dot
 *              product with vec4 loads: schedule dotAcc); packed f16 weights in octet-aligned
 *              rows (schedule `wide`) are read 8 halves per load (a vec4<u32>: two vec4s of x per step)
 *   reduce:    every lane writes its partial sums to workgroup memory, one barrier, then one
 *              invocation per output sums the T partials of its column (log2 T barriers of a
 *              tree cost lavapipe more than T reads of a value that is in L1) and applies the
 *              epilogue: bias, activation (swiglu: both sums), residual
 *   prologue:  a norm is staged as in the tiled decode: the workgroup's WG invocations compute
 *              the row's statistics (workgroup-reduce.ts), write xn to workgroup memory, barrier
 * With subgroups (the request's `subgroups`: BuildOptions.subgroups, on by default in device-bound
 * builds on a device with the feature) the lanes of a tile are one subgroup instead and sum with
 * subgroupAdd: no workgroup memory, no barrier (emitSubgroupGemv below). On lavapipe (subgroups
 * of 8) both forms run at the same speed within this machine's noise (bench/gemv.ts); on a GPU
 * the subgroup form is the one that avoids the barrier and the partials' round trip.
 * Windowed weights (over the binding limit) read through their helper: a lane's loads stay in
 * one row of W, hence one window.
 */
import { invariant } from "../../diag/diagnostic.ts";
import { byteSize } from "../../ir/types.ts";
import { kernelHeader } from "../header.ts";
import { buildKernel, type KernelLimits, type KernelSpec } from "../kernel.ts";
import { octAligned } from "../operands.ts";
import type { KernelRequest } from "../request.ts";
import { evenSlots, hsum, plus, range, tileColumn, vecType } from "./common.ts";
import type { LinearOp, LinearProblem, LinearSchedule, Segment } from "./linear.ts";
import { decodeStep, dotAccOf, linearParts, segmentBranches, segments } from "./linear.ts";
import { f32, lines, u32, wgsl } from "./template.ts";
import { workgroupReduceDecl } from "./workgroup-reduce.ts";

/** Weights per segment at most (2 for swiglu). */
function weightsPerColumn(p: LinearProblem): number {
  return p.activation === "swiglu" ? 2 : 1;
}

/** The header's words for a lane's loads of W. */
function loadsOf(s: LinearSchedule): string {
  return s.wide === 1 ? "loads of 8 packed halves (vec4<u32>)" : s.vec === 4 ? "vec4 loads" : "scalar loads";
}

/** Bytes of workgroup memory: the partial sums, and xn with the reduction's array when a norm is staged. */
export function gemvBytes(p: LinearProblem, lanes: number, slots: number, tileCols: number): number {
  const WG = lanes * slots;
  return byteSize("f32", weightsPerColumn(p) * tileCols * WG + (p.prologue === "none" ? 0 : p.K + WG));
}

/** What both GEMV forms share: the problem's parts, the column tiles and the grid, and a lane's walk over K. */
interface GemvShape {
  readonly parts: ReturnType<typeof linearParts>;
  readonly staged: boolean;
  readonly WG: number;
  readonly tilesOf: readonly number[];
  readonly totalTiles: number;
  readonly groups: number;
  /** Loads along K of a weight row: KV, or KV / 2 when `wide` (8 halves per load). */
  readonly KL: number;
  /** Lanes of an accumulator: 1 (schedule dotAcc) or vec. */
  readonly accVec: 1 | 4;
  /**
   * Statements of segment `sg`'s tile `lt` (in scope): c0, the accumulators `acc{w}_{j}` (vec4 or
   * f32) and `loop` over k, each step reading xk and the TN columns' weights (edge tiles clamp).
   */
  readonly walk: (sg: Segment, loop: string) => string;
  /** With a norm prologue: the workgroup normalizes x into `xs` (statements ending in a barrier), and its declarations; else empty. */
  readonly stage: readonly string[];
  readonly stageDecls: readonly string[];
}

function gemvShape(p: LinearProblem, s: LinearSchedule, what: string): GemvShape {
  const { vec, tileCols: TN, wgCols: R, coop: T } = s;
  invariant(p.S === 1 && s.tileRows === 1 && s.wgRows === 1, `the ${what} is a decode schedule: one row, one row of tiles`);
  invariant(T >= 1 && TN >= 1 && R >= 1, `${what}: lanes, tiles and columns must be positive`);
  const staged = p.prologue !== "none";
  invariant(s.stage === (staged ? 1 : 0), `the ${what} stages its norm prologue (and only a norm)`);
  const wide = s.wide === 1;
  const dotAcc = dotAccOf(s) === 1;
  const accVec = dotAcc ? 1 : vec;
  const parts = linearParts(p, vec, wide);
  const { ops, segs, V, ld, KV } = parts;
  const tilesOf = segs.map((sg) => Math.ceil(sg.width / TN));
  const totalTiles = tilesOf.reduce((a, b) => a + b, 0);
  const x = ops.get("x");
  const walk = (sg: Segment, loop: string): string => {
    const acc = (w: number, j: number): string => `acc${w}_${j}`;
    const column = (j: number): string => tileColumn(sg.width, TN, j);
    // One load of W per (weight, column) and step: 4 elements (vec4 or packed vec2<u32>), or 8 packed halves (wide).
    const step = sg.weights.flatMap((w, wi) => range(TN).map((j) => decodeStep(parts, w, column(j), `w${wi}_${j}`, acc(wi, j), "xk", wide, dotAcc)));
    const xAt = (i: string): string => (staged ? `xs[${i}]` : ld(x, "0u", i));
    return lines([
      wgsl`let c0 = lt * ${u32(TN)};`,
      sg.weights.flatMap((_, wi) => range(TN).map((j) => `var ${acc(wi, j)} = ${vecType(accVec)}(${f32(0)});`)).join("\n"),
      wgsl`${loop} {
${wide ? `  let xa = ${xAt("2u * k")};\n  let xb = ${xAt("2u * k + 1u")};` : `  let xk = ${xAt("k")};`}
${lines(step, 2)}
}`,
    ]);
  };
  const WG = R * T;
  const stage = staged ? ["let r0 = 0u;", "let rows = 1u;", parts.stage(0, WG), "workgroupBarrier();"] : [];
  const stageDecls = staged ? [wgsl`var<workgroup> xs: array<${V}, ${u32(parts.KV)}>;`, workgroupReduceDecl(WG)] : [];
  return { parts, staged, WG, tilesOf, totalTiles, groups: Math.ceil(totalTiles / R), KL: wide ? KV / 2 : KV, accVec, walk, stage, stageDecls };
}

export function emitGemv(req: KernelRequest<LinearOp>, p: LinearProblem, s: LinearSchedule): KernelSpec {
  if (s.subgroup === 1) return emitSubgroupGemv(req, p, s);
  const { vec, tileCols: TN, wgCols: R, coop: T, coopChunked } = s;
  invariant((T & (T - 1)) === 0, `cooperative GEMV: lanes ${T} must be a power of two`);
  const { parts, staged, WG, tilesOf, totalTiles, groups, KL, accVec, walk: walkK, stage, stageDecls } = gemvShape(p, s, "cooperative GEMV");
  const { uses, uniforms, ops, segs } = parts;
  const NW = weightsPerColumn(p);
  // Partial sum of (segment weight w, column j) of slot `slot`, lane `lane`: part[(w * TN + j) * WG + slot * T + lane].
  const chunk = Math.ceil(KL / T);
  const loop = coopChunked
    ? wgsl`for (var k = lane * ${u32(chunk)}; k < min(lane * ${u32(chunk)} + ${u32(chunk)}, ${u32(KL)}); k++)`
    : wgsl`for (var k = lane; k < ${u32(KL)}; k += ${u32(T)})`;

  const walk = (sg: Segment): string =>
    lines([walkK(sg, loop), sg.weights.flatMap((_, wi) => range(TN).map((j) => wgsl`part[${u32((wi * TN + j) * WG)} + lid] = ${hsum(`acc${wi}_${j}`, accVec)};`)).join("\n")]);
  // One output (column j of slot f / TN): the sums of its lanes' partials, then the epilogue.
  const finish = (sg: Segment): string => {
    const dots = sg.weights.map((_, wi) => (wi === 0 ? "lanes(at)" : wgsl`lanes(at + ${u32(wi * TN * WG)})`));
    return wgsl`let c = lt * ${u32(TN)} + j;
if (c < ${u32(sg.width)}) { ${parts.epilogue(sg, dots)} }`;
  };
  const outputs = R * TN;
  const body = lines([
    wgsl`let slot = lid / ${u32(T)};`,
    wgsl`let lane = lid % ${u32(T)};`,
    ...stage,
    wgsl`{
  let ct = wg * ${u32(R)} + slot;
  if (ct < ${u32(totalTiles)}) {
${lines([segmentBranches(segs, tilesOf, walk)], 4)}
  }
}`,
    "workgroupBarrier();",
    wgsl`for (var f = lid; f < ${u32(outputs)}; f += ${u32(WG)}) {
  let ct = wg * ${u32(R)} + f / ${u32(TN)};
  let j = f % ${u32(TN)};
  let at = j * ${u32(WG)} + (f / ${u32(TN)}) * ${u32(T)};
  let r = 0u;
  if (ct < ${u32(totalTiles)}) {
${lines([segmentBranches(segs, tilesOf, finish)], 4)}
  }
}`,
  ]);

  const header = kernelHeader(req, uses, {
    math: parts.math,
    threads: [
      `cooperative GEMV: ${T} lanes per output column walk K = ${p.K} together in ${loadsOf(s)}, ${coopChunked ? `each its own contiguous range of ${chunk}` : `strided by ${T} (adjacent lanes, adjacent memory)`}`,
      `workgroup: ${R} slots x ${T} lanes (${WG} invocations, lid = slot * ${T} + lane); a slot owns ${TN} column(s) of one segment; ${byteSize("f32", NW * TN * WG)} bytes of partial sums`,
      `grid: ${groups} workgroups; ${totalTiles} column tiles in all`,
      ...(staged
        ? [`the workgroup normalizes x once: per group, ${WG} invocations stride over K, a tree reduction sums the statistics, xn goes to workgroup memory; then a barrier`]
        : []),
      `after a barrier, one invocation per output sums its column's ${T} partials and stores act(z) (edge slots clamp their loads; out-of-range outputs skip the store)`,
    ],
  });
  const decls = [
    ...parts.actDecls,
    ...stageDecls,
    wgsl`var<workgroup> part: array<f32, ${u32(NW * TN * WG)}>;

fn lanes(at: u32) -> f32 {
  var s = ${f32(0)};
  for (var l = 0u; l < ${u32(T)}; l++) { s += part[at + l]; }
  return s;
}`,
  ].filter((d): d is string => typeof d === "string");
  return buildKernel({
    name: req.name,
    node: req.node,
    header,
    bindings: ops.bindings,
    uniforms,
    workgroupSize: WG,
    decls,
    body,
    dispatch: { lTile: null, times: groups },
    schedule: { ...s, dotAcc: dotAccOf(s) },
  });
}

/**
 * The cooperative schedule for a decode problem, or null when its workgroup memory does not fit in
 * half of the adapter's: `lanes` invocations per column (a power of two), `slots` per workgroup
 * (halved, then the lanes, until the workgroup fits the adapter's), `tileCols` columns per slot.
 */
export function gemvSchedule(limits: KernelLimits, p: LinearProblem, vec: 1 | 4, lanes: number, slots: number, tileCols: number, chunked: boolean): Partial<LinearSchedule> | null {
  const wgMax = Math.min(limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX);
  let R = slots;
  let T = lanes;
  while (T * R > wgMax && R > 1) R = Math.max(1, Math.floor(R / 2));
  while (T * R > wgMax && T > 1) T /= 2;
  R = evenSlots(segments(p).reduce((n, sg) => n + Math.ceil(sg.width / tileCols), 0), R);
  if (gemvBytes(p, T, R, tileCols) > limits.maxComputeWorkgroupStorageSize / 2) return null;
  // Packed f16 weights whose rows hold whole octets, x staged in workgroup memory (a norm
  // prologue): 8 halves per load. lavapipe, bench/gemv.ts (21 rounds): in_proj 768 -> 3072 with
  // its norm 7% faster than 4 halves per load; with x read from storage (out_proj 1536 -> 768,
  // the MLP's down 2048 -> 768) 16% slower, so those read 4. A whole f16 decode step, interleaved
  // with the 4-halves build, two runs: mamba-130m 2-11% faster, hybrid-130m 0-5%; reading every
  // GEMV's weights 8 at a time was no faster than this.
  const wide = vec === 4 && p.prologue !== "none" && p.W.every(octAligned) ? 1 : 0;
  return { vec, tileRows: 1, tileCols, wgCols: R, wgRows: 1, stage: p.prologue === "none" ? 0 : 1, coop: T, coopChunked: chunked ? 1 : 0, subgroup: 0, shareStats: 0, wide, dotAcc: vec === 4 ? 1 : 0 };
}

/**
 * The cooperative GEMV with subgroup reductions (schedule `subgroup: 1`, for a device with the
 * `subgroups` feature): the lanes of a column tile are one whole subgroup, so its partial sums
 * meet in registers (subgroupAdd) with no workgroup memory and no barrier.
 *
 * Nothing here depends on how the device groups invocations into subgroups, nor on the subgroup
 * size (WGSL promises neither a mapping from local_invocation_index nor full subgroups): a lane's
 * index is its rank among the subgroup's active invocations (subgroupExclusiveAdd(1)) and the
 * stride is their count (subgroupAdd(1)), so the lanes cover K exactly once whatever the size;
 * and the workgroup's R column tiles go to subgroups one at a time from a workgroup counter
 * (zero-initialized by WGSL), so each tile is walked by exactly one subgroup, however many
 * subgroups the workgroup has. The subgroup's first lane applies the epilogue to its TN columns.
 * The staged norm prologue (all WG invocations, barriers) comes first, in uniform control flow.
 */
function emitSubgroupGemv(req: KernelRequest<LinearOp>, p: LinearProblem, s: LinearSchedule): KernelSpec {
  const { vec, tileCols: TN, wgCols: R, coopChunked } = s;
  const { parts, staged, WG, tilesOf, totalTiles, groups, KL, accVec, walk: walkK, stage, stageDecls } = gemvShape(p, s, "subgroup GEMV");
  const { uses, uniforms, ops, segs } = parts;
  const loop = coopChunked
    ? wgsl`let span = (${u32(KL)} + width - 1u) / width;
for (var k = rank * span; k < min(rank * span + span, ${u32(KL)}); k++)`
    : wgsl`for (var k = rank; k < ${u32(KL)}; k += width)`;

  const walk = (sg: Segment): string => {
    const columns = range(TN).map((j) => {
      const dots = sg.weights.map((_, wi) => `d${wi}_${j}`);
      return wgsl`{
  let c = c0 + ${u32(j)};
  if (c < ${u32(sg.width)}) { ${parts.epilogue(sg, dots)} }
}`;
    });
    return lines([
      walkK(sg, loop),
      sg.weights.flatMap((_, wi) => range(TN).map((j) => `let d${wi}_${j} = subgroupAdd(${hsum(`acc${wi}_${j}`, accVec)});`)).join("\n"),
      wgsl`if (rank == 0u) {
  let r = 0u;
${lines(columns, 2)}
}`,
    ]);
  };
  const body = lines([
    ...stage,
    "let rank = subgroupExclusiveAdd(1u);",
    "let width = subgroupAdd(1u);",
    wgsl`loop {
  var t = 0u;
  if (subgroupElect()) { t = atomicAdd(&next_tile, 1u); }
  t = subgroupBroadcastFirst(t);
  if (t >= ${u32(R)}) { break; }
  let ct = wg * ${u32(R)} + t;
  if (ct >= ${u32(totalTiles)}) { break; }
${lines([segmentBranches(segs, tilesOf, walk)], 2)}
}`,
  ]);

  const header = kernelHeader(req, uses, {
    math: parts.math,
    threads: [
      `subgroup GEMV: the active invocations of a subgroup (however many) walk K = ${p.K} of a tile's ${TN} column(s) together in ${loadsOf(s)}, ${coopChunked ? "each its own contiguous range" : "strided by their count"}, lane = rank among them (subgroupExclusiveAdd)`,
      `workgroup: ${WG} invocations; its ${R} column tiles are handed to subgroups one at a time (atomicAdd on a workgroup counter)`,
      `grid: ${groups} workgroups; ${totalTiles} column tiles in all`,
      ...(staged
        ? [`the workgroup normalizes x once: per group, ${WG} invocations stride over K, a tree reduction sums the statistics, xn goes to workgroup memory; then a barrier`]
        : []),
      "each tile's sums meet in registers (subgroupAdd); the subgroup's first lane stores act(z) (edge tiles clamp their loads; out-of-range columns skip the store)",
    ],
  });
  const decls = [
    ...parts.actDecls,
    ...stageDecls,
    "var<workgroup> next_tile: atomic<u32>;",
  ].filter((d): d is string => typeof d === "string");
  return buildKernel({
    name: req.name,
    node: req.node,
    header,
    bindings: ops.bindings,
    uniforms,
    workgroupSize: WG,
    decls,
    body,
    dispatch: { lTile: null, times: groups },
    schedule: { ...s, dotAcc: dotAccOf(s) },
    features: ["subgroups"],
  });
}
