/**
 * The row-norm family, one generator with flags: `add_rmsnorm`, `rmsnorm_gated`, and the
 * unfused program's `rmsnorm` and `layernorm` (interp/norms.ts and interp/kernels.ts define them):
 *
 *   add_rmsnorm     s = a + b;  y = s / sqrt(mean_g(s^2) + eps) * w        (results s, y)
 *   rmsnorm_gated   v = normBeforeGate ? x : x * silu(z);  y = rmsnorm_g(v) * w (* silu(z) when normBeforeGate)
 *   rmsnorm         y = x / sqrt(mean_g(x^2) + eps) * w
 *   layernorm       y = (x - mean) / sqrt(mean((x - mean)^2) + eps) * w + bias   (whole row, two passes)
 *
 * (mean_g: over each consecutive group of G channels; G = C for layernorm.)
 *
 * Algorithm: one invocation per (row, group), walking the group's channels in registers, with no
 * workgroup memory and no barriers (performance.md 3.2.8: one row per invocation beats tree and
 * subgroup reductions on lavapipe); vec4 along the channels when every operand allows it. The
 * statistics are accumulated in f32; the last pass re-reads the inputs (add_rmsnorm re-reads s,
 * which the invocation wrote itself, so s may share the residual's buffer in place).
 * Schedule: vec (4 or 1) and the workgroup size. A workgroup-per-row reduction for long rows on
 * real GPUs (decode has only one row) is not implemented yet.
 */
import { invariant } from "../../diag/diagnostic.ts";
import type { NodeOf } from "../../ir/graph.ts";
import { kernelHeader } from "../header.ts";
import { buildKernel, type KernelLimits, type KernelSpec } from "../kernel.ts";
import { bindOperands, vec4Aligned, type OperandUse } from "../operands.ts";
import type { KernelRequest, OperandView } from "../request.ts";
import { hsum, siluFn, vecType } from "./common.ts";
import { flatGrid, unflatten } from "./flat.ts";
import { f32, lines, u32, wgsl } from "./template.ts";
import { workgroupReduceDecl } from "./workgroup-reduce.ts";

export type NormOp = "add_rmsnorm" | "rmsnorm_gated" | "rmsnorm" | "layernorm";

export interface NormProblem {
  readonly kind: "rms" | "layer";
  readonly C: number;
  /** Channels per group (C for layernorm). */
  readonly G: number;
  readonly eps: number;
  /** The first operand (a for add_rmsnorm). */
  readonly x: OperandView;
  /** add_rmsnorm's second addend. */
  readonly b: OperandView | null;
  /** rmsnorm_gated's gate, applied before ("pre", normBeforeGate = false) or after the norm. */
  readonly z: OperandView | null;
  readonly gate: "none" | "pre" | "post";
  readonly w: OperandView;
  readonly bias: OperandView | null;
  /** add_rmsnorm's sum. */
  readonly s: OperandView | null;
  readonly y: OperandView;
}

export interface NormSchedule {
  /** Channels per step: 4 (vec4) or 1. */
  readonly vec: 1 | 4;
  readonly workgroup: number;
  /**
   * Invocations per (row, group): 1, or the whole workgroup (a power of two), which strides over
   * the group's channels and adds its partial sums by a tree in workgroup memory. The default
   * takes the workgroup only for a fixed, small number of rows (decode) of long groups, where one
   * invocation per row would leave a GPU idle.
   */
  readonly lanes: number;
}

export function normProblem(req: KernelRequest<NormOp>): NormProblem {
  const n = req.node as NodeOf<NormOp>;
  const ins = req.inputs;
  const x = ins[0]!;
  const C = x.shape[x.shape.length - 1] as number;
  const none = { b: null, z: null, gate: "none" as const, bias: null, s: null };
  switch (n.op) {
    case "add_rmsnorm": {
      const a = (n as NodeOf<"add_rmsnorm">).attrs;
      return { ...none, kind: "rms", C, G: a.groupSize, eps: a.eps, x, b: ins[1]!, w: ins[2]!, s: req.results[0]!, y: req.results[1]! };
    }
    case "rmsnorm_gated": {
      const a = (n as NodeOf<"rmsnorm_gated">).attrs;
      return { ...none, kind: "rms", C, G: a.groupSize, eps: a.eps, x, z: ins[1]!, gate: a.normBeforeGate ? "post" : "pre", w: ins[2]!, y: req.results[0]! };
    }
    case "rmsnorm": {
      const a = (n as NodeOf<"rmsnorm">).attrs;
      return { ...none, kind: "rms", C, G: a.groupSize, eps: a.eps, x, w: ins[1]!, y: req.results[0]! };
    }
    case "layernorm": {
      const a = (n as NodeOf<"layernorm">).attrs;
      return { ...none, kind: "layer", C, G: C, eps: a.eps, x, w: ins[1]!, bias: ins[2]!, y: req.results[0]! };
    }
  }
}

function operands(p: NormProblem): OperandView[] {
  return [p.x, p.b, p.z, p.w, p.bias, p.s, p.y].filter((v): v is OperandView => v !== null);
}

export function normSchedule(limits: KernelLimits, p: NormProblem): NormSchedule {
  const vec = p.G % 4 === 0 && operands(p).every(vec4Aligned) ? 4 : 1;
  const wgMax = Math.min(limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX);
  const items = [...p.x.shape.slice(0, -1), p.C / p.G];
  const fixedRows = items.every((d) => d !== "L") ? items.reduce<number>((a, d) => a * (d as number), 1) : Infinity;
  if (fixedRows <= 16 && p.G >= 256) {
    const lanes = Math.min(64, 2 ** Math.floor(Math.log2(wgMax)));
    return { vec, workgroup: lanes, lanes };
  }
  return { vec, workgroup: Math.min(64, wgMax), lanes: 1 };
}

export function emitNorm(req: KernelRequest<NormOp>, p: NormProblem, sch: NormSchedule): KernelSpec {
  const { vec, workgroup: WG } = sch;
  invariant(vec === 1 || (p.G % 4 === 0 && operands(p).every(vec4Aligned)), "vec4 norm needs aligned rows and groups");
  const wide = sch.lanes > 1;
  invariant(!wide || (sch.lanes === WG && (WG & (WG - 1)) === 0), "a workgroup-wide norm takes the whole workgroup, a power of two");
  const V = vecType(vec);
  const rows = p.x.shape.slice(0, -1);
  const groups = p.C / p.G;
  const GV = p.G / vec;
  const grid = flatGrid([...rows, groups], wide ? 1 : WG, req.node.spans);
  const v4 = vec === 4;
  const uses: OperandUse[] = [
    { name: p.b ? "a" : "x", view: p.x, write: false, vec4: v4 },
    ...(p.b ? [{ name: "b", view: p.b, write: false, vec4: v4 }] : []),
    ...(p.z ? [{ name: "z", view: p.z, write: false, vec4: v4 }] : []),
    { name: "w", view: p.w, write: false, vec4: v4 },
    ...(p.bias ? [{ name: "bias", view: p.bias, write: false, vec4: v4 }] : []),
    ...(p.s ? [{ name: "s", view: p.s, write: true, vec4: v4 }] : []),
    { name: "y", view: p.y, write: true, vec4: v4 },
  ];
  const ops = bindOperands(uses, grid.uniforms);
  const { code, ix } = unflatten("f", [...rows, groups], "i");
  const rix = ix.slice(0, -1);
  const gi = ix[ix.length - 1]!;
  const ld = (name: string, ...i: string[]): string => (v4 ? ops.get(name).load4(...i) : ops.get(name).load(...i));
  const st = (name: string, value: string, ...i: string[]): string => (v4 ? ops.get(name).store4(value, ...i) : ops.get(name).store(value, ...i));
  // The value normalised, at channel (group) step c.
  const input = p.b ? `${ld("a", ...rix, "c")} + ${ld("b", ...rix, "c")}` : p.gate === "pre" ? `${ld("x", ...rix, "c")} * silu(${ld("z", ...rix, "c")})` : ld("x", ...rix, "c");
  const lastInput = p.s ? ld("s", ...rix, "c") : input;
  const loop = (stmts: readonly string[]): string => wgsl`for (var c = c0${wide && " + lid"}; c < c0 + ${u32(GV)}; c += ${u32(wide ? WG : 1)}) {
${lines(stmts, 2)}
}`;
  const zero = wgsl`${V}(${f32(0)})`;
  const invG = f32(1 / p.G);
  // The sum over the group of a per-invocation partial sum.
  const total = (acc: string): string => (wide ? `reduce(${hsum(acc, vec)}, lid)` : hsum(acc, vec));
  const stats =
    p.kind === "rms"
      ? [
          `var acc = ${zero};`,
          loop([`let v = ${input};`, p.s ? st("s", "v", ...rix, "c") : "", "acc = fma(v, v, acc);"]),
          wgsl`let inv = ${f32(1)} / sqrt(${total("acc")} * ${invG} + ${f32(p.eps)});`,
        ]
      : [
          `var acc = ${zero};`,
          loop([`acc += ${input};`]),
          wgsl`let mean = ${total("acc")} * ${invG};`,
          `var acc2 = ${zero};`,
          loop([`let d = ${input} - ${V}(mean);`, "acc2 = fma(d, d, acc2);"]),
          wgsl`let inv = ${f32(1)} / sqrt(${total("acc2")} * ${invG} + ${f32(p.eps)});`,
        ];
  let out = p.kind === "layer" ? `(${lastInput} - ${V}(mean)) * inv * ${ld("w", "c")} + ${ld("bias", "c")}` : `${lastInput} * inv * ${ld("w", "c")}`;
  if (p.gate === "post") out = `${out} * silu(${ld("z", ...rix, "c")})`;
  const body = lines([
    wide ? "let f = wg;" : wgsl`let f = wg * ${u32(WG)} + lid;`,
    `if (f >= ${grid.count}) { return; }`,
    code,
    wgsl`let c0 = ${gi} * ${u32(GV)};`,
    ...stats,
    loop([st("y", out, ...rix, "c")]),
  ]);
  const opText =
    p.b !== null
      ? ["s = a + b", "y = s / sqrt(mean_g(s^2) + eps) * w"]
      : p.kind === "layer"
        ? ["y = (x - mean) / sqrt(mean((x - mean)^2) + eps) * w + bias  (over the row)"]
        : p.gate === "pre"
          ? ["v = x * silu(z)", "y = v / sqrt(mean_g(v^2) + eps) * w"]
          : p.gate === "post"
            ? ["y = x / sqrt(mean_g(x^2) + eps) * w * silu(z)"]
            : ["y = x / sqrt(mean_g(x^2) + eps) * w"];
  const header = kernelHeader(req, uses, {
    math: [...opText, `C = ${p.C} channels, groups of G = ${p.G}, eps = ${p.eps}`],
    threads: [
      wide
        ? `workgroup: one (row, group), ${WG} invocations striding over its ${GV} ${vec === 4 ? "vec4s" : "channels"}; partial sums added by a tree in workgroup memory`
        : `invocation: one (row, group): ${GV} steps of ${vec === 4 ? "vec4" : "one channel"}; workgroup: ${WG} invocations over the flat [rows, ${groups}] grid; no workgroup memory`,
      p.kind === "layer" ? "three passes (mean, variance, output)" : "two passes (sum of squares, output)",
    ],
  });
  const decls = [...(p.gate === "none" ? [] : [siluFn("silu", V)]), ...(wide ? [workgroupReduceDecl(WG)] : [])];
  return buildKernel({
    name: req.name,
    node: req.node,
    header,
    bindings: ops.bindings,
    uniforms: grid.uniforms,
    workgroupSize: WG,
    decls,
    body,
    dispatch: grid.dispatch,
    schedule: sch,
  });
}

export function generateNorm(req: KernelRequest<NormOp>, limits: KernelLimits, override: Partial<NormSchedule> = {}): KernelSpec {
  const p = normProblem(req);
  return emitNorm(req, p, { ...normSchedule(limits, p), ...override });
}
