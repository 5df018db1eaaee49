/**
 * `reduce_sum`: y[..., ...] = sum_n x[..., n, ...] over `axis`, which is removed (the unfused
 * program's `(h * C).sum(-1)` of the Mamba scans).
 *
 * Algorithm: one invocation per output element, summing the axis in registers (f32), on the flat
 * grid of wgsl/flat.ts; when the axis is the last one, contiguous and a multiple of 4 long, it is
 * read as vec4s (4 partial sums, added at the end). No workgroup memory.
 * Schedule: vec (4 or 1), workgroup size.
 */
import { CodegenError, buildKernel, type KernelLimits, type KernelSpec } from "../kernel.ts";
import { invariant } from "../../diag/diagnostic.ts";
import { kernelHeader } from "../header.ts";
import { bindOperands, vec4Aligned, type OperandUse } from "../operands.ts";
import type { KernelRequest, OperandView } from "../request.ts";
import { hsum, vecType } from "./common.ts";
import { flatGrid, unflatten } from "./flat.ts";
import { f32, lines, u32, wgsl } from "./template.ts";

export interface ReduceProblem {
  readonly axis: number;
  /** Length of the reduced axis. */
  readonly n: number;
  readonly x: OperandView;
  readonly y: OperandView;
}

export interface ReduceSchedule {
  /** Elements of the axis per step: 4 (vec4 loads) or 1. */
  readonly vec: 1 | 4;
  readonly workgroup: number;
}

export function reduceProblem(req: KernelRequest<"reduce_sum">): ReduceProblem {
  const x = req.inputs[0]!;
  const axis = req.node.attrs.axis;
  const n = x.shape[axis]!;
  if (n === "L") throw new CodegenError("reduce_sum over the sequence axis is not supported", req.node.spans);
  return { axis, n, x, y: req.results[0]! };
}

function vec4Ok(p: ReduceProblem): boolean {
  return p.axis === p.x.shape.length - 1 && p.n % 4 === 0 && p.x.strides[p.axis] === 1;
}

export function reduceSchedule(limits: KernelLimits, p: ReduceProblem): ReduceSchedule {
  return { vec: vec4Ok(p) ? 4 : 1, workgroup: Math.min(64, limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX) };
}

export function emitReduce(req: KernelRequest<"reduce_sum">, p: ReduceProblem, s: ReduceSchedule): KernelSpec {
  const { vec, workgroup: WG } = s;
  invariant(vec === 1 || vec4Ok(p), "vec4 reduce_sum needs a contiguous last axis of 4k elements");
  const V = vecType(vec);
  const outDims = p.y.shape.length === 0 ? [1] : p.y.shape;
  const grid = flatGrid(outDims, WG, req.node.spans);
  const uses: OperandUse[] = [
    { name: "x", view: p.x, write: false, vec4: vec === 4 && vec4Aligned(p.x) },
    { name: "y", view: p.y, write: true, vec4: false },
  ];
  const ops = bindOperands(uses, grid.uniforms);
  const { code, ix } = unflatten("f", outDims, "i");
  const yIx = p.y.shape.length === 0 ? [] : ix;
  const xIx = [...yIx.slice(0, p.axis), "k", ...yIx.slice(p.axis)];
  const x = ops.get("x");
  const body = lines([
    wgsl`let f = wg * ${u32(WG)} + lid;`,
    `if (f >= ${grid.count}) { return; }`,
    code,
    wgsl`var acc = ${V}(${f32(0)});`,
    wgsl`for (var k = 0u; k < ${u32(p.n / vec)}; k++) {
  acc += ${vec === 4 ? x.load4(...xIx) : x.load(...xIx)};
}`,
    ops.get("y").store(hsum("acc", vec), ...yIx),
  ]);
  const header = kernelHeader(req, uses, {
    math: [`y = sum of x over axis ${p.axis} (${p.n} elements)`],
    threads: [`invocation: one output element, ${p.n / vec} steps of ${vec === 4 ? "vec4" : "one element"}; workgroup: ${WG} invocations over the flat output`],
  });
  return buildKernel({
    name: req.name,
    node: req.node,
    header,
    bindings: ops.bindings,
    uniforms: grid.uniforms,
    workgroupSize: WG,
    decls: [],
    body,
    dispatch: grid.dispatch,
    schedule: s,
  });
}

export function generateReduce(req: KernelRequest<"reduce_sum">, limits: KernelLimits, override: Partial<ReduceSchedule> = {}): KernelSpec {
  const p = reduceProblem(req);
  return emitReduce(req, p, { ...reduceSchedule(limits, p), ...override });
}
