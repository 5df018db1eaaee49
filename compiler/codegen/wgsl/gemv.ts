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
 *              one register accumulator per (weight, column)
 *   reduce:    every lane writes its partial sums to workgroup memory, one barrier, then one
 *              invocation per output sums the T partials of its column (log2 T barriers of a
 *              tree cost lavapipe more than T reads of a value that is in L1) and applies the
 *              epilogue: bias, activation (swiglu: both sums), residual
 *   prologue:  a norm is staged as in the tiled decode: the workgroup's WG invocations compute
 *              the row's statistics (workgroup-reduce.ts), write xn to workgroup memory, barrier
 * No subgroup operations: the codegen does not know the device's features beyond the bindings'
 * (kernel.ts bindingFeatures), so `subgroupAdd` would need a `subgroups` flag in KernelLimits
 * (or the request), the artifact's feature list and the device request (runtime/node.ts).
 * Windowed weights (over the binding limit) read through their helper: a lane's loads stay in
 * one row of W, hence one window.
 */
import { invariant } from "../../diag/diagnostic.ts";
import { byteSize } from "../../ir/types.ts";
import { kernelHeader } from "../header.ts";
import { buildKernel, type KernelLimits, type KernelSpec } from "../kernel.ts";
import type { KernelRequest } from "../request.ts";
import { hsum, plus, range } from "./common.ts";
import type { LinearOp, LinearProblem, LinearSchedule, Segment } from "./linear.ts";
import { linearParts, segmentBranches } from "./linear.ts";
import { f32, lines, u32, wgsl } from "./template.ts";
import { workgroupReduceDecl } from "./workgroup-reduce.ts";

/** Weights per segment at most (2 for swiglu). */
function weightsPerColumn(p: LinearProblem): number {
  return p.activation === "swiglu" ? 2 : 1;
}

/** Bytes of workgroup memory: the partial sums, and xn with the reduction's array when a norm is staged. */
export function gemvBytes(p: LinearProblem, lanes: number, slots: number, tileCols: number): number {
  const WG = lanes * slots;
  return byteSize("f32", weightsPerColumn(p) * tileCols * WG + (p.prologue === "none" ? 0 : p.K + WG));
}

export function emitGemv(req: KernelRequest<LinearOp>, p: LinearProblem, s: LinearSchedule): KernelSpec {
  const { vec, tileCols: TN, wgCols: R, coop: T, coopChunked } = s;
  invariant(p.S === 1 && s.tileRows === 1 && s.wgRows === 1, "the cooperative GEMV is a decode schedule: one row, one row of slots");
  invariant(T >= 1 && (T & (T - 1)) === 0 && TN >= 1 && R >= 1, `cooperative GEMV: lanes ${T} must be a power of two`);
  const staged = p.prologue !== "none";
  invariant(s.stage === (staged ? 1 : 0), "the cooperative GEMV stages its norm prologue (and only a norm)");
  const WG = R * T;
  const parts = linearParts(p, vec);
  const { uses, uniforms, ops, segs, V, KV, ld } = parts;
  const tilesOf = segs.map((sg) => Math.ceil(sg.width / TN));
  const totalTiles = tilesOf.reduce((a, b) => a + b, 0);
  const groups = Math.ceil(totalTiles / R);
  const NW = weightsPerColumn(p);
  const n = (v: number): string => String(v);
  const x = ops.get("x");
  // Partial sum of (segment weight w, column j) of slot `slot`, lane `lane`: part[(w * TN + j) * WG + slot * T + lane].
  const chunk = Math.ceil(KV / T);
  const loop = coopChunked
    ? wgsl`for (var k = lane * ${u32(chunk)}; k < min(lane * ${u32(chunk)} + ${u32(chunk)}, ${u32(KV)}); k++)`
    : wgsl`for (var k = lane; k < ${u32(KV)}; k += ${u32(T)})`;

  const walk = (sg: Segment): string => {
    const acc = (w: number, j: number): string => `acc${w}_${j}`;
    const last = wgsl`${u32(sg.width - 1)}`;
    const step = sg.weights.flatMap((w, wi) =>
      range(TN).map((j) =>
        lines([wgsl`let w${n(wi)}_${n(j)} = ${ld(ops.get(parts.wName(w)), wgsl`min(${plus("c0", j)}, ${last})`, "k")};`, `${acc(wi, j)} = fma(xk, w${wi}_${j}, ${acc(wi, j)});`]),
      ),
    );
    return lines([
      wgsl`let c0 = lt * ${u32(TN)};`,
      sg.weights.flatMap((_, wi) => range(TN).map((j) => `var ${acc(wi, j)} = ${V}(${f32(0)});`)).join("\n"),
      wgsl`${loop} {
  let xk = ${staged ? "xs[k]" : ld(x, "0u", "k")};
${lines(step, 2)}
}`,
      sg.weights.flatMap((_, wi) => range(TN).map((j) => wgsl`part[${u32((wi * TN + j) * WG)} + lid] = ${hsum(acc(wi, j), vec)};`)).join("\n"),
    ]);
  };
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
    staged && "let r0 = 0u;",
    staged && "let rows = 1u;",
    staged && parts.stage(0, WG),
    staged && "workgroupBarrier();",
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
      `cooperative GEMV: ${T} lanes per output column walk K = ${p.K} together in ${vec === 4 ? "vec4" : "scalar"} loads, ${coopChunked ? `each its own contiguous range of ${chunk}` : `strided by ${T} (adjacent lanes, adjacent memory)`}`,
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
    staged && wgsl`var<workgroup> xs: array<${V}, ${u32(KV)}>;`,
    staged && workgroupReduceDecl(WG),
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
    schedule: s,
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
  if (gemvBytes(p, T, R, tileCols) > limits.maxComputeWorkgroupStorageSize / 2) return null;
  return { vec, tileRows: 1, tileCols, wgCols: R, wgRows: 1, stage: p.prologue === "none" ? 0 : 1, coop: T, coopChunked: chunked ? 1 : 0 };
}
