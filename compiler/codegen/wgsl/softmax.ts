/**
 * `softmax` over the last axis (interp/kernels.ts), with masked entries (attn_mask's -inf) given
 * weight 0:
 *
 *   y[r, j] = exp(x[r, j] - m_r) / sum_j' exp(x[r, j'] - m_r),   m_r = max_j x[r, j]
 *
 * x [..., N], rows = the leading dims. WGSL has no infinity (implementations may assume none
 * exists), so a masked score is written as MASKED = -FLT_MAX and every x <= MASKED (that value
 * or a real -inf) gets weight exactly 0; a row with every entry masked is 0/0, as in interp.
 * Algorithm: one workgroup per row; its invocations stride over the row three times (max, sum,
 * output), the max and the sum combined by the tree of wgsl/workgroup-reduce.ts.
 * Schedule: workgroup size (a power of two, at most 64 and no larger than the row needs).
 */
import { invariant } from "../../diag/diagnostic.ts";
import { kernelHeader } from "../header.ts";
import { buildKernel, type KernelLimits, type KernelSpec } from "../kernel.ts";
import { bindOperands, type OperandUse } from "../operands.ts";
import type { KernelRequest, OperandView } from "../request.ts";
import { pow2AtLeast } from "./common.ts";
import { flatGrid, unflatten } from "./flat.ts";
import { f32, lines, u32, wgsl } from "./template.ts";
import { workgroupReduceDecl } from "./workgroup-reduce.ts";

/** The score that stands for -inf (a masked key): the most negative finite f32. */
export const MASKED = f32(-3.4028234663852886e38);

export interface SoftmaxProblem {
  /** Row length (the last axis). */
  readonly N: number;
  readonly x: OperandView;
  readonly y: OperandView;
}

export interface SoftmaxSchedule {
  /** Invocations per row: a power of two. */
  readonly workgroup: number;
}

export function softmaxProblem(req: KernelRequest<"softmax">): SoftmaxProblem {
  const x = req.inputs[0]!;
  return { N: x.shape[x.shape.length - 1] as number, x, y: req.results[0]! };
}

export function softmaxSchedule(limits: KernelLimits, p: SoftmaxProblem): SoftmaxSchedule {
  const wgMax = Math.min(64, limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX);
  return { workgroup: Math.min(2 ** Math.floor(Math.log2(wgMax)), pow2AtLeast(p.N)) };
}

export function emitSoftmax(req: KernelRequest<"softmax">, p: SoftmaxProblem, s: SoftmaxSchedule): KernelSpec {
  const WG = s.workgroup;
  invariant((WG & (WG - 1)) === 0, `softmax needs a power-of-two workgroup, got ${WG}`);
  const rows = p.x.shape.slice(0, -1);
  const grid = flatGrid(rows.length === 0 ? [1] : rows, 1, req.node.spans);
  const uses: OperandUse[] = [
    { name: "x", view: p.x, write: false, vec4: false },
    { name: "y", view: p.y, write: true, vec4: false },
  ];
  const ops = bindOperands(uses, grid.uniforms);
  const { code, ix } = unflatten("f", rows.length === 0 ? [1] : rows, "i");
  const rix = rows.length === 0 ? [] : ix;
  const xj = ops.get("x").load(...rix, "j");
  const stride = (stmt: string): string => wgsl`for (var j = lid; j < ${u32(p.N)}; j += ${u32(WG)}) { ${stmt} }`;
  const body = lines([
    "let f = wg;",
    `if (f >= ${grid.count}) { return; }`,
    code,
    `var m = ${MASKED};`,
    stride(`m = max(m, ${xj});`),
    "let row_max = reduce_max(m, lid);",
    wgsl`var l = ${f32(0)};`,
    stride(`l += weight(${xj}, row_max);`),
    wgsl`let inv = ${f32(1)} / reduce_sum(l, lid);`,
    stride(ops.get("y").store(`weight(${xj}, row_max) * inv`, ...rix, "j")),
  ]);
  const weight = wgsl`// exp(v - m), exactly 0 for a masked entry (v <= MASKED, including a real -inf).
fn weight(v: f32, m: f32) -> f32 {
  return select(exp(v - m), ${f32(0)}, v <= ${MASKED});
}`;
  const header = kernelHeader(req, uses, {
    math: [`y[r, j] = exp(x[r, j] - max_r) / sum_j exp(x[r, j] - max_r),  N = ${p.N};  x <= ${MASKED.text} (masked, -inf) -> weight 0`],
    threads: [`workgroup: one row, ${WG} invocations striding over its ${p.N} entries (max, sum, output); max and sum by a tree in workgroup memory`],
  });
  const decls = [workgroupReduceDecl(WG, "reduce_max", "red_max", "max"), workgroupReduceDecl(WG, "reduce_sum", "red_sum", "sum"), weight];
  return buildKernel({ name: req.name, node: req.node, header, bindings: ops.bindings, uniforms: grid.uniforms, workgroupSize: WG, decls, body, dispatch: grid.dispatch, schedule: s });
}

export function generateSoftmax(req: KernelRequest<"softmax">, limits: KernelLimits, override: Partial<SoftmaxSchedule> = {}): KernelSpec {
  const p = softmaxProblem(req);
  return emitSoftmax(req, p, { ...softmaxSchedule(limits, p), ...override });
}
