/**
 * The linear family: `linear` and `fused_linear` (ir/fused-ops.ts), one generator.
 *
 *   z_i[r, o] = sum_k xn[r, k] W_i[o, k] (+ bias_i[o])        weights W_1..W_n side by side
 *   y[r, :]   = act([z_1 | ... | z_n])[r, :] (+ residual[r, :])
 *   xn = x, or the prologue norm of the row: rmsnorm per group of G channels, or layernorm
 *   act = none | gelu (erf) | relu2 | swiglu (silu(z_1) * z_2: y has out_1 columns)
 *
 * Algorithm (fixed): the output columns form segments: one per weight, or one for swiglu
 * whose every column needs a gate row and an up row. An invocation owns a TM x TN register
 * tile of one segment and walks K once, loading TM rows of x (normalized on the fly) and TN
 * rows of each of the segment's weights per step; W is never staged in workgroup memory
 * (performance.md 3.2: register tiling beats shared-memory tiling on lavapipe). The prologue
 * norm is computed in f32 as interp/norms.ts defines it (two passes for layernorm), in one of
 * two ways, a schedule choice:
 *   - recomputed: each invocation computes its rows' statistics itself and normalizes x on the
 *     fly while walking K; no workgroup memory and no barriers. Right for prefill, where the
 *     invocations of a workgroup own different rows.
 *   - staged: when every invocation of the workgroup shares the same TM rows (one row of tiles,
 *     the decode GEMV), the workgroup computes each row's statistics once by a tree reduction
 *     (workgroup-reduce.ts), writes xn = norm(x) * norm_w (+ norm_b) to workgroup memory, and
 *     after a barrier every invocation walks K reading xn from there and W from global memory.
 *     Without it a decode GEMV of N outputs redoes the norm (~2 extra reads of x and one of
 *     norm_w per k) N times. Every invocation reaches the barriers; out-of-range tiles return
 *     only after them.
 * Schedule (per adapter and shape): vector width (vec4 along K when every K-walk is aligned,
 * else scalar), TM x TN (4 x 4 for prefill; decode, tiled: 1 x 1, one output row of W per
 * invocation, except a staged decode: 1 x 4, 1 x 2 for swiglu, see linearSchedule), the
 * workgroup's shape in tiles, and whether the prologue is staged (decode with a norm prologue
 * when K f32 of xn plus the reduction's WG f32 fit in half of maxComputeWorkgroupStorageSize;
 * else recomputed). The staged generator itself takes any TM with one row of tiles. A staged
 * decode reads packed f16 weights 8 halves per load (`wide`, as the cooperative GEMV does) when
 * their rows are whole octets: 1.04-1.09x the 4-halves read on lavapipe (in_proj, swiglu, LM
 * head; 21 rounds, 3 December).
 * Decode (S = 1) has a second schedule, the cooperative GEMV (gemv.ts, `coop` = T > 0): T lanes
 * per output column walk K together (adjacent lanes read adjacent memory of one row of W: what a
 * GPU coalesces, and split-K within one kernel for a long K or a few outputs), R slots of TN
 * columns per workgroup, the T partial sums reduced in workgroup memory after one barrier, the
 * norm prologue staged as above. Rule (linear-family.ts decodeKind): a build for a GPU takes it
 * for every decode GEMV; a build for a CPU (the default target) takes the tiled decode where that
 * stages a norm prologue, and the cooperative GEMV where x comes from storage. The cooperative
 * shape on a CPU: T = 4, R = 16, TN = 4 (2 for swiglu), lanes strided, whenever its workgroup
 * memory (xn, the reduction's and the partials') fits in half of the adapter's; else tiled.
 * Overrides: `{ coop: 0 }` selects the tiled decode, `{ coop: T, wgCols: R, tileCols: TN,
 * coopChunked }` a cooperative shape, `subgroup: 1` its subgroup-reduction form (gemv.ts; the
 * default when the request has `subgroups`).
 * Measured (bench/gemv.ts, lavapipe on the 2-core VM, shared with other jobs (load 2-13), so one
 * run's figures swing up to 2x; per run medians of 7-11 rounds, each after a 64 MiB read that
 * evicts the L3; time of the tiled decode / time of the cooperative default, the range over 2-4
 * runs, f32 | packed f16):
 *   mamba-130m in_proj 768 -> 3072 + rmsnorm    0.69-3.0  | 0.74-2.04
 *   mamba-130m x_proj 1536 -> 80                1.23-1.52 | 0.99-1.36
 *   mamba-130m out_proj 1536 -> 768 + residual  0.97-1.41 | 0.80-1.18
 *   mamba-130m LM head 768 -> 50,280 + rmsnorm  1.01-1.17 | 0.80-1.10
 *   hybrid-130m swiglu 768 -> 2 x 2048 (TN 2)   1.02-1.30 | 1.03-1.65
 *   hybrid-130m down 2048 -> 768 + residual     1.12-1.78 | 0.78-1.38
 * (T2 R32 TN4 and T2 R64 TN4 measure about the same, better on the f16 LM head in the last run.)
 * Measured again on 3 December, on another VM, 21 rounds a run: behind a staged norm the tiled
 * decode ran 1.06-1.12x the cooperative one in f32 (in_proj, LM head, swiglu; three runs) and,
 * reading 8 halves per load, 1.04-1.11x in f16; with x read from storage (out_proj, x_proj, MLP
 * down) neither won beyond the noise. Whole decodes, interleaved, tiled behind the norms against
 * all cooperative: mamba-130m f32 1.08-1.16x tok/s over four runs, hybrid-130m f32 1.12-1.19x;
 * f16 1.06-1.07x (CPU time per token, which the host's other tenants move less: 1.10-1.21x and
 * 1.09-1.11x). Hence the CPU rule above. In the tiled walk every invocation reads xn[k] at the
 * same k; the cooperative lanes read T different ones.
 * Whole decode steps (tok/s, cooperative / tiled, interleaved in one process, four runs of 5-9
 * rounds; geometric means): mamba-130m f32 1.08, f16 1.01; hybrid-130m f32 0.99, f16 0.98: on
 * par within this machine's noise (per-run ratios 0.86-1.45); at low load (2) both decodes reach
 * ~62% of the read-roof bound, so the GEMVs are not what limits decode on lavapipe any more.
 * TN = 4 columns per slot is what pays on lavapipe (x loaded once for 4 FMAs, the staged norm
 * amortized over 64 columns a workgroup); T = 32, R = 2, TN = 1 (a warp per column, the shape a
 * discrete GPU wants) runs at 0.1-0.5x of the tiled decode here, and chunked lanes (each lane its
 * own range of K) at 0.5-1.0x. A discrete GPU wants T = 32 (or the subgroup size) and
 * `subgroupAdd` in place of the workgroup-memory partials: a build for one (BuildOptions.target
 * `gpu`, the request's `gpu`) takes linear-family.ts COOP_GPU's shape, with subgroups when the
 * build has them; not yet timed on a GPU.
 * Weights: a layer's W and bias share one buffer (plan/weights.ts), so one binding (vec4 when W
 * is read as vec4; the bias then reads scalars from it). A W over maxStorageBufferBindingSize
 * (a large LM head) is bound as row windows of its buffer and read through the window helper
 * (operands.ts); each K-walk stays inside one row, hence one window. In a build for a CPU the W_i
 * are stored in row quads (runtime/artifact/quads.ts, plan/quads.ts): the accessor addresses them,
 * and a tile's columns clamp as one (common.ts tileColumn), so the four rows an invocation walks
 * are one contiguous run. Whole decodes, interleaved in one process against row-major W (3
 * December, lavapipe, three runs of 9-15 rounds): mamba-130m f32 0.99-1.08x tok/s, f16
 * 0.94-1.10x; hybrid-130m f32 1.04-1.15x, f16 1.03-1.13x; per kernel (timestamps, 9-11 rounds) the staged
 * in_proj 1.00-1.07x in f32 and 1.06-1.09x in f16, the cooperative out_proj 0.96-1.01x and
 * 0.94-1.09x. A bare GEMV with x from a uniform buffer gains more from quads (bench-local:
 * 0.93-1.10x the read kernel against 0.79-0.90x row-major with x in workgroup memory), not
 * taken: see README, Benchmark.
 */
import { invariant } from "../../diag/diagnostic.ts";
import type { LinearActivation } from "../../ir/fused-ops.ts";
import type { NodeOf } from "../../ir/graph.ts";
import { byteSize, type Dim } from "../../ir/types.ts";
import { kernelHeader } from "../header.ts";
import { buildKernel, CodegenError, UNPACK_HALVES4, type KernelLimits, type KernelSpec, type UniformSpec } from "../kernel.ts";
import { bindOperands, octAligned, vec4Aligned, type Accessor, type BoundOperands, type OperandUse } from "../operands.ts";
import type { KernelRequest, OperandView } from "../request.ts";
import { GELU, hsum, lengthExpr, plus, pow2AtLeast, range, siluFn, tileColumn, vecType } from "./common.ts";
import { f32, lines, u32, wgsl } from "./template.ts";
import { workgroupReduceDecl } from "./workgroup-reduce.ts";

export type LinearOp = "linear" | "fused_linear" | "linear_conv_update";

/**
 * linear_conv_update's epilogue (decode): output columns [start, start + width) are conv
 * channels 0..width-1; each goes through the conv step and SiLU before it is stored, and its
 * state row is shifted by the new value (the same invocation reads and writes the row, so an
 * in-place update has no race).
 */
export interface ConvEpilogue {
  readonly start: number;
  readonly width: number;
  /** Kernel width (d_conv). */
  readonly taps: number;
  readonly state: OperandView;
  readonly w: OperandView;
  readonly bias: OperandView | null;
  readonly newState: OperandView;
}

/** Output columns [start, start + width) of y, computed from `weights` (two for swiglu). */
export interface Segment {
  readonly start: number;
  readonly width: number;
  /** Indices into the problem's weights (and biases). */
  readonly weights: readonly number[];
}

export interface LinearProblem {
  readonly S: Dim;
  readonly K: number;
  /** Output width. */
  readonly N: number;
  readonly prologue: "none" | "rmsnorm" | "layernorm";
  readonly eps: number;
  /** Channels per norm group (K for layernorm and for none). */
  readonly group: number;
  readonly activation: LinearActivation;
  readonly x: OperandView;
  readonly W: readonly OperandView[];
  readonly normW: OperandView | null;
  readonly normB: OperandView | null;
  readonly bias: readonly OperandView[] | null;
  readonly residual: OperandView | null;
  readonly y: OperandView;
  /** linear_conv_update: the conv step on some output columns; null otherwise. */
  readonly conv: ConvEpilogue | null;
}

export interface LinearSchedule {
  /** Lanes per load along K: 4 (vec4) or 1. */
  readonly vec: 1 | 4;
  readonly tileRows: number;
  readonly tileCols: number;
  /** The workgroup is wgCols x wgRows tiles (cols vary fastest). */
  readonly wgCols: number;
  readonly wgRows: number;
  /** 1: the prologue norm is staged in workgroup memory once per workgroup (needs wgRows = 1); 0: recomputed per invocation. */
  readonly stage: 0 | 1;
  /**
   * 0: the register-tiled schedule; T > 0: the cooperative decode GEMV (gemv.ts), T lanes per
   * output column walking K together, wgCols slots (of tileCols columns each) per workgroup.
   */
  readonly coop: number;
  /** Cooperative: 1 when each lane walks its own contiguous range of K, 0 when lanes interleave (stride T). */
  readonly coopChunked: 0 | 1;
  /**
   * Cooperative: 1 when the lanes of a column tile are one subgroup (its active invocations,
   * whatever their number) that sums with subgroupAdd, tiles handed to subgroups by a workgroup
   * counter (gemv.ts); T then only sizes the workgroup (T x wgCols invocations). Needs `subgroups`.
   */
  readonly subgroup: 0 | 1;
  /**
   * Tiled, an rmsnorm prologue not staged (prefill): 1 when the invocations of a row of tiles
   * split each row's sum of squares over K and combine the parts in workgroup memory (one
   * barrier), instead of every invocation reading its rows' whole K again for the statistics.
   */
  readonly shareStats: 0 | 1;
  /**
   * Cooperative, packed f16 weights (two halves per u32): 1 when each load reads 8 halves of W
   * (a vec4<u32> word, two vec4s of x per step) instead of 4 (vec2<u32>): half the loads for the
   * same bytes, and on a GPU a 16-byte load per lane instead of 8. The default takes it with a
   * staged norm prologue (gemvSchedule has the figures).
   */
  readonly wide: 0 | 1;
  /**
   * Decode (one row, vec4 loads): 1 when each (weight, column) accumulates a step's dot product
   * into one f32 (`acc += dot(x, w)`) instead of four lanes of a vec4 (`acc = fma(x, w, acc)`,
   * summed at the end): lavapipe then holds a column's accumulator in one SIMD register instead
   * of four. Default for every decode schedule with vec4 loads. Measured on lavapipe (3 December,
   * interleaved in one process): a 24,576 x 768 tiled GEMV kernel 1.06-1.09x; whole mamba-130m
   * decodes, two runs of 11 rounds, f32 1.08-1.09x tokens/s (CPU time 1.02-1.04x), f16
   * 1.05-1.14x (CPU 1.05-1.08x). On a GPU the step's four products form one dependent chain
   * instead of four, which a memory-bound GEMV hides.
   */
  readonly dotAcc: 0 | 1;
}

/**
 * The schedule's dotAcc as it runs: dot-product accumulators take one row of vec4 loads, so a
 * schedule overridden to other tiles or to scalar loads keeps vector ones (a kernel's spec records
 * this value).
 */
export function dotAccOf(s: LinearSchedule): 0 | 1 {
  return s.dotAcc === 1 && s.tileRows === 1 && s.vec === 4 ? 1 : 0;
}

/** Bytes of workgroup memory the staged prologue needs: TM rows of xn and the reduction's array. */
function stageBytes(K: number, tileRows: number, wgSize: number): number {
  return byteSize("f32", tileRows * K + wgSize);
}

export function linearProblem(req: KernelRequest<LinearOp>): LinearProblem {
  const node = req.node as NodeOf<"linear"> | NodeOf<"fused_linear"> | NodeOf<"linear_conv_update">;
  const x = req.inputs[0]!;
  if (x.shape.length !== 2) throw new CodegenError(`${node.op}: only [S, K] inputs are supported (got rank ${x.shape.length})`, node.spans);
  const a =
    node.op !== "linear"
      ? node.attrs
      : { weights: 1, prologue: "none" as const, eps: null, normGroup: null, bias: false, activation: "none" as const, residual: false };
  const n = a.weights;
  let k = 1 + n;
  const normW = a.prologue === "none" ? null : req.inputs[k++]!;
  const normB = a.prologue === "layernorm" ? req.inputs[k++]! : null;
  const bias = a.bias ? req.inputs.slice(k, (k += n)) : null;
  const residual = a.residual ? req.inputs[k++]! : null;
  const y = req.results[0]!;
  const K = x.shape[1] as number;
  let conv: ConvEpilogue | null = null;
  if (node.op === "linear_conv_update") {
    const c = node.attrs;
    const [state, w] = [req.inputs[k++]!, req.inputs[k++]!];
    conv = { start: c.convStart, width: c.convWidth, taps: w.shape[1] as number, state, w, bias: c.convBias ? req.inputs[k++]! : null, newState: req.results[1]! };
  }
  return { S: x.shape[0]!, K, N: y.shape[1] as number, prologue: a.prologue, eps: a.eps ?? 0, group: a.normGroup ?? K, activation: a.activation, x, W: req.inputs.slice(1, 1 + n), normW, normB, bias, residual, y, conv };
}

/** The problem's column segments: one per weight, or one for swiglu (a gate and an up row per column). */
export function segments(p: LinearProblem): Segment[] {
  if (p.activation === "swiglu") return [{ start: 0, width: p.N, weights: [0, 1] }];
  let start = 0;
  return p.W.map((W, i) => {
    const width = W.shape[0] as number;
    start += width;
    return { start: start - width, width, weights: [i] };
  });
}

/** The tiled schedule (linear-family.ts picks between it and the cooperative decode GEMV). */
export function tiledSchedule(limits: KernelLimits, p: LinearProblem): LinearSchedule {
  const aligned = [p.x, ...p.W, p.normW, p.normB].every((v) => v === null || vec4Aligned(v));
  const vec = aligned && p.group % 4 === 0 ? 4 : 1;
  const decode = p.S === 1;
  const wg = Math.min(64, limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX);
  // Decode with a norm prologue stages xn when it fits in half the adapter's workgroup memory
  // (room for the compiler's own and for occupancy); wg bounds the reduction's array.
  const stage = decode && p.prologue !== "none" && stageBytes(p.K, 1, wg) <= limits.maxComputeWorkgroupStorageSize / 2 ? 1 : 0;
  // Prefill tiles stay 4 x 4. Larger register tiles with dot-product accumulators load fewer words
  // per FMA and ran whole L = 64 prefills faster on lavapipe (3 December, interleaved against
  // 4 x 4: mamba-130m 8 x 16 1.79-1.85x, 8 x 8 1.64x, 16 x 16 2.24x; hybrid-130m 8 x 16
  // 1.45-1.50x), but as unrolled WGSL they are 4.8x the code, and lavapipe compiles them so slowly
  // on a cold shader cache that the f16 model tests ran past 300 s: not taken until the tile's
  // code is compact (a loop over the stores, accumulators in an array).
  const tileRows = decode ? 1 : 4;
  // swiglu keeps two accumulators per output: halve the tile's columns to stay in registers.
  const cols = p.activation === "swiglu" ? 2 : 4;
  // A staged decode takes `cols` columns per invocation: the barriers cost lavapipe a fixed
  // amount per invocation, which one column of work does not amortize (measured: 1 x 1 staged
  // ~1.7x the plain GEMV, 1 x 4 on par with it).
  const tileCols = decode && stage === 0 ? 1 : cols;
  const tiles = segments(p).reduce((n, s) => n + Math.ceil(s.width / tileCols), 0);
  // Prefill: a 16 x 4 block of tiles shares x rows and W rows in cache (measured best on lavapipe).
  // Decode: workgroups of `wg`, the last one partly idle. Not spread evenly as the cooperative GEMV's
  // (common.ts evenSlots): hybrid-130m's in_proj would run 14 workgroups of 60 instead of 13 of 64
  // and one of 6, but lavapipe runs SIMD groups of 8, so 60 invocations cost 64 and each core's
  // share stays 56 groups.
  const wgCols = Math.min(decode ? wg : 16, pow2AtLeast(tiles));
  const wgRows = decode ? 1 : Math.max(1, Math.floor(wg / wgCols));
  // Shared statistics: wgRows * tileRows rows x G groups x wgCols parts, within a quarter of the adapter's workgroup memory.
  const shareStats = stage === 0 && p.prologue === "rmsnorm" && sharedStatsBytes(p, tileRows, wgCols, wgRows) <= limits.maxComputeWorkgroupStorageSize / 4 ? 1 : 0;
  // A staged decode reads packed f16 weights 8 halves per load when every row is whole octets (as the cooperative GEMV does).
  const wide = stage === 1 && vec === 4 && p.W.every(octAligned) ? 1 : 0;
  return { vec, tileRows, tileCols, wgCols, wgRows, stage, coop: 0, coopChunked: 0, subgroup: 0, shareStats, wide, dotAcc: decode && vec === 4 ? 1 : 0 };
}

/** Bytes of workgroup memory for shared norm statistics: a partial sum per (row of the workgroup, group, part). */
function sharedStatsBytes(p: LinearProblem, tileRows: number, wgCols: number, wgRows: number): number {
  return byteSize("f32", wgRows * tileRows * (p.K / p.group) * wgCols);
}

/** WGSL of the activation applied to the pre-activation values `z` (one per segment weight). */
function activate(act: LinearActivation, z: readonly string[]): string {
  switch (act) {
    case "none":
      return z[0]!;
    case "gelu":
      return `gelu(${z[0]})`;
    case "relu2":
      return wgsl`(max(${z[0]!}, ${f32(0)}) * max(${z[0]!}, ${f32(0)}))`;
    case "swiglu":
      return `silu(${z[0]}) * ${z[1]}`;
  }
}

/** What the tiled and the cooperative schedules share: operands, loads, the staged prologue, the epilogue. */
export interface LinearParts {
  readonly uses: readonly OperandUse[];
  readonly uniforms: UniformSpec;
  readonly ops: BoundOperands;
  readonly segs: readonly Segment[];
  readonly V: "f32" | "vec4<f32>";
  /** K in loads (vec4s or scalars). */
  readonly KV: number;
  readonly wName: (i: number) => string;
  /** A load of `vec` lanes (vec4<f32> or f32) at [...ix]; the last index counts loads. */
  readonly ld: (a: Accessor, ...ix: string[]) => string;
  /** `min(r0 + i, rows - 1u)`: tile row i, clamped. */
  readonly rowOf: (i: number) => string;
  /** Stages tile row i's xn into xs[i * KV ..], WG invocations striding over K (`r0`, `rows`, `lid` and `reduce` in scope). */
  readonly stage: (i: number, WG: number) => string;
  /** The statement y[r, c + start] = act(z) (+ residual), z_w = dots[w] (+ bias): `r` and `c` (column in the segment) in scope. */
  readonly epilogue: (sg: Segment, dots: readonly string[]) => string;
  /** Module declarations of the activation (gelu, silu). */
  readonly actDecls: readonly string[];
  /** The kernel header's math lines. */
  readonly math: readonly string[];
}

/**
 * One K step of a decode walk over column `col` of weight `w`, into accumulator `acc`: the load
 * into `name`, then the products with x: `wide` (8 packed halves of W a load) with `xa` and `xb`,
 * the step's two vec4s of x, else with `x`. `dotAcc`: `acc` is one f32 that adds the step's dot
 * product; else a vector of lanes (FMAs). Both decode schedules (tiled, cooperative) walk with it.
 */
export function decodeStep(parts: LinearParts, w: number, col: string, name: string, acc: string, x: string, wide: boolean, dotAcc: boolean): string {
  const W = parts.ops.get(parts.wName(w));
  if (!wide) {
    const load = wgsl`let ${name} = ${parts.ld(W, col, "k")};`;
    return lines([load, dotAcc ? `${acc} += dot(${x}, ${name});` : `${acc} = fma(${x}, ${name}, ${acc});`]);
  }
  const [lo, hi] = [`${UNPACK_HALVES4}(${name}.xy)`, `${UNPACK_HALVES4}(${name}.zw)`];
  return lines([
    wgsl`let ${name} = ${W.load8(col, "k")};`,
    ...(dotAcc ? [`${acc} += dot(xa, ${lo}) + dot(xb, ${hi});`] : [`${acc} = fma(xa, ${lo}, ${acc});`, `${acc} = fma(xb, ${hi}, ${acc});`]),
  ]);
}

/** `wide`: the weights are read 8 packed halves at a time as well (operands.ts load8; the cooperative GEMV). */
export function linearParts(p: LinearProblem, vec: 1 | 4, wide = false): LinearParts {
  invariant(vec === 1 || (p.K % 4 === 0 && p.group % 4 === 0), "vec4 linear needs K and the norm group divisible by 4");
  invariant(!wide || (vec === 4 && p.W.every(octAligned)), "reading 8 halves at a time needs packed f16 weights in octet-aligned rows");
  const V = vecType(vec);
  const KV = p.K / vec;
  const GV = p.group / vec;
  const G = p.K / p.group;
  const segs = segments(p);
  const one = p.W.length === 1;
  const wName = (i: number): string => (one ? "W" : `W${i}`);
  const bName = (i: number): string => (one ? "bias" : `bias${i}`);
  const uses: OperandUse[] = [
    { name: "x", view: p.x, write: false, vec4: vec === 4 },
    ...p.W.map((view, i) => ({ name: wName(i), view, write: false, vec4: vec === 4, vec8: wide })),
    ...(p.normW ? [{ name: "norm_w", view: p.normW, write: false, vec4: vec === 4 }] : []),
    ...(p.normB ? [{ name: "norm_b", view: p.normB, write: false, vec4: vec === 4 }] : []),
    ...(p.bias ?? []).map((view, i) => ({ name: bName(i), view, write: false, vec4: false })),
    ...(p.residual ? [{ name: "residual", view: p.residual, write: false, vec4: false }] : []),
    { name: "y", view: p.y, write: true, vec4: false },
    ...(p.conv === null ? [] : convUses(p.conv)),
  ];
  const uniforms: UniformSpec = { fields: p.S === "L" ? ["L"] : [] };
  const ops = bindOperands(uses, uniforms);
  const x = ops.get("x");
  const ld = (a: Accessor, ...ix: string[]): string => (vec === 4 ? a.load4(...ix) : a.load(...ix));
  const rowOf = (i: number): string => `min(${plus("r0", i)}, rows - 1u)`;
  // Staged: tile row i's xn, group by group, cooperatively into xs[i * KV ..]: k strides by WG.
  const stage = (i: number, WG: number): string => {
    const loop = (stmts: readonly string[]): string => wgsl`for (var k = g * ${u32(GV)} + lid; k < (g + 1u) * ${u32(GV)}; k += ${u32(WG)}) {
${lines(stmts, 2)}
}`;
    const zero = wgsl`${V}(${f32(0)})`;
    const total = (acc: string): string => `reduce(${hsum(acc, vec)}, lid)`;
    const nw = ld(ops.get("norm_w"), "k");
    const stats =
      p.prologue === "layernorm"
        ? [
            `var s = ${zero};`,
            loop([`s += ${ld(x, "r", "k")};`]),
            wgsl`let mean = ${total("s")} / ${f32(p.group)};`,
            `var s2 = ${zero};`,
            loop([`let d = ${ld(x, "r", "k")} - ${V}(mean);`, "s2 = fma(d, d, s2);"]),
            wgsl`let inv = inverseSqrt(${total("s2")} / ${f32(p.group)} + ${f32(p.eps)});`,
          ]
        : [`var s = ${zero};`, loop([`let v = ${ld(x, "r", "k")};`, "s = fma(v, v, s);"]), wgsl`let inv = inverseSqrt(${total("s")} / ${f32(p.group)} + ${f32(p.eps)});`];
    const xn = p.prologue === "layernorm" ? `(${ld(x, "r", "k")} - ${V}(mean)) * inv * ${nw} + ${ld(ops.get("norm_b"), "k")}` : `${ld(x, "r", "k")} * inv * ${nw}`;
    return wgsl`{
  let r = ${rowOf(i)};
  for (var g = 0u; g < ${u32(G)}; g++) {
${lines([...stats, loop([`xs[${plus("k", i * KV)}] = ${xn};`])], 4)}
  }
}`;
  };
  const epilogue = (sg: Segment, dots: readonly string[]): string => {
    const z = sg.weights.map((w, wi) => (p.bias ? `(${dots[wi]} + ${ops.get(bName(w)).load("c")})` : dots[wi]!));
    const value = activate(p.activation, z) + (p.residual ? ` + ${ops.get("residual").load("r", plus("c", sg.start))}` : "");
    const store = ops.get("y").store(value, "r", plus("c", sg.start));
    return p.conv === null ? store : convStep(p.conv, ops, sg, value, store);
  };
  const convMath =
    p.conv === null
      ? []
      : [
          `then columns [${p.conv.start}, ${p.conv.start + p.conv.width}) = conv channels ch: y = silu(${p.conv.bias ? "conv_b[ch] + " : ""}sum_k conv_w[ch, k] * [conv_state[ch, 1:] | z][k]), k < ${p.conv.taps};  conv_state'[ch] = [conv_state[ch, 1:] | z]${inPlaceConv(p.conv) ? " (in place)" : ""}`,
        ];
  const norm =
    p.prologue === "rmsnorm"
      ? [`xn[r, k] = x[r, k] / sqrt(mean of x[r, :]^2 over the group of ${p.group} channels holding k + eps) * norm_w[k],  eps = ${p.eps}`]
      : p.prologue === "layernorm"
        ? [`xn[r, k] = (x[r, k] - mean_r) / sqrt(var_r + eps) * norm_w[k] + norm_b[k]  (biased var over the row),  eps = ${p.eps}`]
        : ["xn = x"];
  const math = [
    `z_i[r, o] = sum_k xn[r, k] * W_i[o, k]${p.bias ? " + bias_i[o]" : ""}   (i < ${p.W.length})`,
    `y[r, :] = ${p.activation === "swiglu" ? "silu(z_1) * z_2" : p.activation === "none" ? "[z_1 | ... | z_n]" : `${p.activation}([z_1 | ... | z_n])`}${p.residual ? " + residual[r, :]" : ""}`,
    ...norm,
    ...convMath,
    `column segments (start, width, weights): ${segs.map((sg) => `(${sg.start}, ${sg.width}, ${sg.weights.map(wName).join("+")})`).join(", ")}`,
  ];
  const actDecls = [p.activation === "gelu" && GELU, (p.activation === "swiglu" || p.conv !== null) && siluFn("silu", "f32")].filter((d): d is string => typeof d === "string");
  return { uses, uniforms, ops, segs, V, KV, wName, ld, rowOf, stage, epilogue, actDecls, math };
}

const inPlaceConv = (c: ConvEpilogue): boolean => c.newState.buffer.key === c.state.buffer.key;

/** Whether the conv's rows are one vec4 each (d_conv = 4, aligned): a state row and a weight row in one load each. */
const convRowsVec4 = (c: ConvEpilogue): boolean => c.taps === 4 && [c.state, c.w, c.newState].every(vec4Aligned);

/** The conv epilogue's operands: its state (written in place, or to new_conv_state), weights and bias. */
function convUses(c: ConvEpilogue): OperandUse[] {
  const inPlace = inPlaceConv(c);
  const vec4 = convRowsVec4(c);
  return [
    { name: "conv_state", view: c.state, write: false, vec4 },
    { name: "conv_w", view: c.w, write: false, vec4 },
    ...(c.bias ? [{ name: "conv_b", view: c.bias, write: false, vec4: false }] : []),
    { name: inPlace ? "conv_state" : "new_conv_state", view: c.newState, write: true, vec4 },
  ];
}

/**
 * The store of output column `c` of segment `sg` (`value` its finished z, `store` the plain
 * store): a column in the conv's range goes through the conv step and SiLU instead, and its
 * state row shifts by z. Static where the segment lies wholly inside or outside the conv's
 * columns, a branch where it straddles them.
 */
function convStep(c: ConvEpilogue, ops: BoundOperands, sg: Segment, value: string, store: string): string {
  const [lo, hi, end] = [sg.start, sg.start + sg.width, c.start + c.width];
  if (hi <= c.start || lo >= end) return store;
  const col = plus("c", sg.start);
  const conv = lines([c.start === 0 ? `let ch = ${col};` : wgsl`let ch = ${col} - ${u32(c.start)};`, `let zc = ${value};`, ...convWindow(c, ops, col)]);
  if (lo >= c.start && hi <= end) return lines(["{", lines([conv], 2), "}"]);
  const inside = c.start <= lo ? wgsl`${col} < ${u32(end)}` : wgsl`${col} >= ${u32(c.start)} && ${col} < ${u32(end)}`;
  return lines([`if (${inside}) {`, lines([conv], 2), "} else {", lines([store], 2), "}"]);
}

/** Channel `ch`'s conv over [state[ch, 1:] | zc]: y[r, col] = silu(...), the state row shifted by zc. */
function convWindow(c: ConvEpilogue, ops: BoundOperands, col: string): string[] {
  const state = ops.get("conv_state");
  const next = ops.get(inPlaceConv(c) ? "conv_state" : "new_conv_state");
  const w = ops.get("conv_w");
  if (convRowsVec4(c)) {
    // The window [s1, s2, s3, z] in one vec4: one load of the state row, one of the weights, one store.
    const bias = c.bias ? `${ops.get("conv_b").load("ch")} + ` : "";
    return [
      `let sv = ${state.load4("ch", "0u")};`,
      "let win = vec4<f32>(sv.yzw, zc);",
      ops.get("y").store(`silu(${bias}dot(${w.load4("ch", "0u")}, win))`, "r", col),
      next.store4("win", "ch", "0u"),
    ];
  }
  const W = c.taps;
  const tap = (k: number): string => (k === W - 1 ? "zc" : `s${k + 1}`);
  const sum = range(W).reduce((acc, k) => wgsl`fma(${w.load("ch", wgsl`${u32(k)}`)}, ${tap(k)}, ${acc})`, c.bias ? ops.get("conv_b").load("ch") : f32(0));
  return [
    ...range(W - 1).map((k) => wgsl`let s${String(k + 1)} = ${state.load("ch", wgsl`${u32(k + 1)}`)};`),
    ops.get("y").store(`silu(${sum})`, "r", col),
    ...range(W).map((k) => next.store(tap(k), "ch", wgsl`${u32(k)}`)),
  ];
}

/** Segment branches over a tile index `ct`: tiles [first, first + tiles) belong to segment s, whose body gets `lt` (its local tile). */
export function segmentBranches(segs: readonly Segment[], tilesOf: readonly number[], body: (sg: Segment) => string): string {
  let first = 0;
  return segs
    .map((sg, si) => {
      const lo = first;
      first += tilesOf[si]!;
      const cond = si === segs.length - 1 ? "" : wgsl`if (ct < ${u32(first)}) `;
      return wgsl`${si === 0 ? "" : "else "}${cond}{
  let lt = ${lo === 0 ? "ct" : wgsl`ct - ${u32(lo)}`};
${lines([body(sg)], 2)}
}`;
    })
    .join("\n");
}

export function emitLinear(req: KernelRequest<LinearOp>, p: LinearProblem, s: LinearSchedule): KernelSpec {
  const { vec, tileRows: TM, tileCols: TN, wgCols, wgRows } = s;
  const staged = s.stage === 1;
  const WG = wgCols * wgRows;
  invariant(!staged || (p.prologue !== "none" && wgRows === 1), "a staged prologue needs a norm and one row of tiles per workgroup");
  // wide: a staged decode row reads packed f16 weights 8 halves per load (two vec4s of xn per step).
  const wide = s.wide === 1;
  invariant(!wide || (staged && TM === 1), "the tiled schedule reads 8 halves per load only in a staged decode (one row)");
  const dotAcc = dotAccOf(s) === 1;
  // The accumulators' lanes: 1 (an f32 of dot products) or the load's.
  const accVec = dotAcc ? 1 : vec;
  const parts = linearParts(p, vec, wide);
  const { uses, uniforms, ops, segs, V, KV, ld, rowOf } = parts;
  const GV = p.group / vec;
  const G = p.K / p.group;
  const tilesOf = segs.map((sg) => Math.ceil(sg.width / TN));
  const totalTiles = tilesOf.reduce((a, b) => a + b, 0);
  const times = Math.ceil(totalTiles / wgCols);
  const x = ops.get("x");
  const n = (v: number): string => String(v);

  // Row statistics of the prologue norm, per tile row i and group g: inv_i[g] (and mean_i[g]).
  const stats = (i: number): string => {
    const sum = (e: string): string => wgsl`var s = ${V}(${f32(0)});
    for (var k = g * ${u32(GV)}; k < (g + 1u) * ${u32(GV)}; k++) { let v = ${ld(x, "r", "k")}; s += ${e}; }`;
    const inv = wgsl`inv${n(i)}[g] = inverseSqrt(${hsum("s", vec)} / ${f32(p.group)} + ${f32(p.eps)});`;
    const body =
      p.prologue === "layernorm"
        ? wgsl`{ ${sum("v")} mean${n(i)}[g] = ${hsum("s", vec)} / ${f32(p.group)}; }
    let m = ${V}(mean${n(i)}[g]);
    ${sum("(v - m) * (v - m)")}
    ${inv}`
        : wgsl`${sum("v * v")}
    ${inv}`;
    return wgsl`var inv${n(i)}: array<f32, ${u32(G)}>;
${p.prologue === "layernorm" && wgsl`var mean${n(i)}: array<f32, ${u32(G)}>;\n`}{
  let r = ${rowOf(i)};
  for (var g = 0u; g < ${u32(G)}; g++) {
    ${body}
  }
}`;
  };
  // Shared statistics (schedule shareStats): part q = lid % wgCols of the row tile sums loads
  // k = g * GV + q, q + wgCols, ... of each of its TM rows into ss[(((lid / wgCols) * TM + i) * G + g) * wgCols + q];
  // after the barrier each invocation adds its rows' wgCols parts.
  // (A schedule overridden to stage, or to another prologue, has nothing to share: the flag is then off.)
  const shared = s.shareStats === 1 && !staged && p.prologue === "rmsnorm";
  const ssAt = (i: number, q: string): string => wgsl`((lid / ${u32(wgCols)}) * ${u32(TM)} + ${u32(i)}) * ${u32(G * wgCols)} + g * ${u32(wgCols)} + ${q}`;
  const sharedParts = (): string =>
    range(TM)
      .map(
        (i) => wgsl`{
  let r = ${rowOf(i)};
  for (var g = 0u; g < ${u32(G)}; g++) {
    var s = ${V}(${f32(0)});
    for (var k = g * ${u32(GV)} + lid % ${u32(wgCols)}; k < (g + 1u) * ${u32(GV)}; k += ${u32(wgCols)}) { let v = ${ld(x, "r", "k")}; s += v * v; }
    ss[${ssAt(i, wgsl`lid % ${u32(wgCols)}`)}] = ${hsum("s", vec)};
  }
}`,
      )
      .join("\n");
  const sharedInv = (i: number): string => wgsl`var inv${n(i)}: array<f32, ${u32(G)}>;
for (var g = 0u; g < ${u32(G)}; g++) {
  var s = ${f32(0)};
  for (var q = 0u; q < ${u32(wgCols)}; q++) { s += ss[${ssAt(i, "q")}]; }
  inv${n(i)}[g] = inverseSqrt(s / ${f32(p.group)} + ${f32(p.eps)});
}`;
  const gOf = G === 1 ? "0u" : wgsl`k / ${u32(GV)}`;
  // A whole-row rmsnorm's 1/rms is constant along K: it scales the finished dot product instead.
  const rowScaled = !staged && p.prologue === "rmsnorm" && G === 1;
  const normalized = (i: number): string => {
    if (staged) return `xs[${plus("k", i * KV)}]`;
    const raw = ld(x, rowOf(i), "k");
    if (p.prologue === "none") return raw;
    const nw = ld(ops.get("norm_w"), "k");
    if (rowScaled) return `${raw} * ${nw}`;
    if (p.prologue === "rmsnorm") return `${raw} * inv${i}[${gOf}] * ${nw}`;
    return `(${raw} - ${V}(mean${i}[${gOf}])) * inv${i}[${gOf}] * ${nw} + ${ld(ops.get("norm_b"), "k")}`;
  };

  // One segment: TM x TN tiles of its columns, local tile index `lt`.
  const segment = (sg: Segment): string => {
    const acc = (w: number, i: number, j: number): string => `acc${w}_${i}_${j}`;
    const column = (j: number): string => tileColumn(sg.width, TN, j);
    const step = sg.weights.flatMap((w, wi) =>
      range(TN).map((j) =>
        TM === 1
          ? decodeStep(parts, w, column(j), `w${wi}_${j}`, acc(wi, 0, j), "x0", wide, dotAcc)
          : [
              wgsl`let w${n(wi)}_${n(j)} = ${ld(ops.get(parts.wName(w)), column(j), "k")};`,
              ...range(TM).map((i) => `${acc(wi, i, j)} = fma(x${i}, w${wi}_${j}, ${acc(wi, i, j)});`),
            ].join("\n"),
      ),
    );
    const store = (i: number, j: number): string => {
      const dots = sg.weights.map((_, wi) => (rowScaled ? `${hsum(acc(wi, i, j), accVec)} * inv${i}[0u]` : hsum(acc(wi, i, j), accVec)));
      return wgsl`{
  let r = ${plus("r0", i)};
  let c = ${plus("c0", j)};
  if (r < rows && c < ${u32(sg.width)}) { ${parts.epilogue(sg, dots)} }
}`;
    };
    return lines([
      wgsl`let c0 = lt * ${u32(TN)};`,
      sg.weights.flatMap((_, wi) => range(TM).flatMap((i) => range(TN).map((j) => `var ${acc(wi, i, j)} = ${vecType(accVec)}(${f32(0)});`))).join("\n"),
      wgsl`for (var k = 0u; k < ${u32(wide ? KV / 2 : KV)}; k++) {
${lines(wide ? ["let xa = xs[2u * k];", "let xb = xs[2u * k + 1u];"] : range(TM).map((i) => `let x${i} = ${normalized(i)};`), 2)}
${lines(step, 2)}
}`,
      range(TM)
        .flatMap((i) => range(TN).map((j) => store(i, j)))
        .join("\n"),
    ]);
  };

  const body = lines([
    wgsl`let ct = (wg % ${u32(times)}) * ${u32(wgCols)} + lid % ${u32(wgCols)};`,
    wgsl`let rt = (wg / ${u32(times)}) * ${u32(wgRows)} + lid / ${u32(wgCols)};`,
    wgsl`let r0 = rt * ${u32(TM)};`,
    wgsl`let rows = ${lengthExpr(p.S)};`,
    // Staged: every invocation stages and reaches the barriers before an out-of-range one returns.
    staged &&
      range(TM)
        .map((i) => parts.stage(i, WG))
        .join("\n"),
    staged && "workgroupBarrier();",
    // Shared statistics: every invocation adds its part (rows clamped) before any returns.
    shared && sharedParts(),
    shared && "workgroupBarrier();",
    wgsl`if (r0 >= rows || ct >= ${u32(totalTiles)}) { return; }`,
    shared && range(TM).map(sharedInv).join("\n"),
    !staged && !shared && p.prologue !== "none" && range(TM).map(stats).join("\n"),
    segmentBranches(segs, tilesOf, segment),
  ]);

  const header = kernelHeader(req, uses, {
    math: parts.math,
    threads: [
      `invocation: a ${TM} x ${TN} register tile of one segment (rows r0 = ${TM} * rt.., cols ${TN} * lt..), walking K = ${p.K} in ${wide ? "steps of 8 packed halves (one vec4<u32> load)" : vec === 4 ? "vec4 steps" : "scalar steps"}`,
      `workgroup: ${wgCols} col tiles x ${wgRows} row tiles (${WG} invocations); ${staged ? `xn of its ${TM} rows in workgroup memory (${stageBytes(p.K, TM, WG)} bytes with the reduction's)` : "no workgroup memory"}`,
      `grid: ${p.S === "L" ? `ceil(L / ${TM * wgRows}) x ` : ""}${times} workgroups (flat wg = row block * ${times} + col block); ${totalTiles} col tiles in all`,
      ...(p.prologue === "none"
        ? []
        : staged
          ? [
              `the workgroup normalizes its rows once: per row and group, ${WG} invocations stride over K, a tree reduction sums the statistics, xn goes to workgroup memory; then a barrier`,
            ]
          : shared
            ? [`the ${wgCols} invocations of a row of tiles split each row's sum of squares over K, the parts meet in workgroup memory (${sharedStatsBytes(p, TM, wgCols, wgRows)} bytes) after one barrier`]
            : ["each invocation recomputes its rows' norm statistics (cached reads of x)"]),
      ...(rowScaled ? ["the whole-row 1/rms scales each finished dot product instead of every x"] : []),
      "edge tiles clamp their loads and skip their stores",
    ],
  });
  const decls = [
    ...parts.actDecls,
    staged && wgsl`var<workgroup> xs: array<${V}, ${u32(TM * KV)}>;`,
    staged && workgroupReduceDecl(WG),
    shared && wgsl`var<workgroup> ss: array<f32, ${u32(wgRows * TM * G * wgCols)}>;`,
  ].filter(
    (d): d is string => typeof d === "string",
  );
  return buildKernel({
    name: req.name,
    node: req.node,
    header,
    bindings: ops.bindings,
    uniforms,
    workgroupSize: wgCols * wgRows,
    decls,
    body,
    dispatch: p.S === "L" ? { lTile: TM * wgRows, times } : { lTile: null, times: Math.ceil(p.S / (TM * wgRows)) * times },
    schedule: { ...s, shareStats: shared ? 1 : 0, dotAcc: dotAccOf(s) },
  });
}
