/**
 * The elementwise family, one generator for the unfused program's pointwise ops:
 *
 *   unary   y = f(a),  f = neg | exp | sigmoid | silu | softplus (threshold 20) | relu | gelu (exact erf)
 *   binary  y = a + b | a * b with numpy broadcasting
 *
 * Broadcasting needs no code of its own: an operand of lower rank takes the output's last indices,
 * and its unit axes (and the stride-0 axes of broadcast_to views) drop out of its index
 * (operands.ts), so one output index walks every operand through its window.
 * Algorithm: one invocation per output element, or per vec4 of the last axis when the output row
 * is whole aligned vec4s; then each operand is read as a vec4 (stride 1), a splat (its last axis
 * broadcast), or four lanes (any other stride). Flat grid of wgsl/flat.ts.
 * Schedule: vec (4 or 1), workgroup size.
 */
import { invariant } from "../../diag/diagnostic.ts";
import { BINARY_OPS, type BinaryOp, type UnaryOp } from "../../ir/ops.ts";
import { kernelHeader } from "../header.ts";
import { buildKernel, type KernelLimits, type KernelSpec } from "../kernel.ts";
import { bindOperands, vec4Aligned, type Accessor, type OperandUse } from "../operands.ts";
import type { KernelRequest, OperandView } from "../request.ts";
import { GELU, range, siluFn, SOFTPLUS, vecType } from "./common.ts";
import { flatGrid, unflatten } from "./flat.ts";
import { f32, lines, u32, wgsl } from "./template.ts";

export type ElementwiseOp = UnaryOp | BinaryOp;

export interface ElementwiseProblem {
  readonly op: ElementwiseOp;
  readonly inputs: readonly OperandView[];
  readonly y: OperandView;
}

export interface ElementwiseSchedule {
  /** Output elements per invocation along the last axis: 4 or 1. */
  readonly vec: 1 | 4;
  readonly workgroup: number;
}

export function elementwiseProblem(req: KernelRequest<ElementwiseOp>): ElementwiseProblem {
  return { op: req.node.op, inputs: req.inputs, y: req.results[0]! };
}

export function elementwiseSchedule(limits: KernelLimits, p: ElementwiseProblem): ElementwiseSchedule {
  return { vec: vec4Aligned(p.y) ? 4 : 1, workgroup: Math.min(64, limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX) };
}

/** How a vec4 step reads an operand along its last axis. */
type Read = "vec4" | "splat" | "lanes";

function readOf(v: OperandView): Read {
  const last = v.shape.length - 1;
  if (last < 0 || v.shape[last] === 1 || v.strides[last] === 0) return "splat";
  return v.strides[last] === 1 ? "vec4" : "lanes";
}

/** The op on f32 or vec4<f32> (`V`); helpers defined for f32 only are mapped over the lanes. */
function opDecls(op: ElementwiseOp, V: "f32" | "vec4<f32>"): string[] {
  const lanewise = (f: string): string =>
    V === "f32" ? `fn op(v: f32) -> f32 { return ${f}(v); }` : `fn op(v: vec4<f32>) -> vec4<f32> { return vec4<f32>(${f}(v.x), ${f}(v.y), ${f}(v.z), ${f}(v.w)); }`;
  const one = f32(1);
  switch (op) {
    case "add":
      return [`fn op(a: ${V}, b: ${V}) -> ${V} { return a + b; }`];
    case "mul":
      return [`fn op(a: ${V}, b: ${V}) -> ${V} { return a * b; }`];
    case "neg":
      return [`fn op(v: ${V}) -> ${V} { return -v; }`];
    case "exp":
      return [`fn op(v: ${V}) -> ${V} { return exp(v); }`];
    case "sigmoid":
      return [wgsl`fn op(v: ${V}) -> ${V} { return ${V}(${one}) / (${V}(${one}) + exp(-v)); }`];
    case "silu":
      return [siluFn("op", V)];
    case "relu":
      return [wgsl`fn op(v: ${V}) -> ${V} { return max(v, ${V}(${f32(0)})); }`];
    case "softplus":
      return [SOFTPLUS, lanewise("softplus")];
    case "gelu":
      return [GELU, lanewise("gelu")];
  }
}

const MATH: Readonly<Record<ElementwiseOp, string>> = {
  add: "y = a + b (numpy broadcasting)",
  mul: "y = a * b (numpy broadcasting)",
  neg: "y = -a",
  exp: "y = exp(a)",
  sigmoid: "y = 1 / (1 + exp(-a))",
  silu: "y = a * sigmoid(a)",
  softplus: "y = a > 20 ? a : log1p(exp(a))",
  relu: "y = max(a, 0)",
  gelu: "y = a/2 (1 + erf(a / sqrt 2)), erfc by A&S 7.1.26 (|error| <= 1.5e-7)",
};

export function emitElementwise(req: KernelRequest<ElementwiseOp>, p: ElementwiseProblem, s: ElementwiseSchedule): KernelSpec {
  const { vec, workgroup: WG } = s;
  invariant(vec === 1 || vec4Aligned(p.y), "vec4 elementwise needs an aligned output");
  invariant(p.inputs.length === ((BINARY_OPS as readonly string[]).includes(p.op) ? 2 : 1), `${p.op}: wrong operand count`);
  const V = vecType(vec);
  const rank = p.y.shape.length;
  const last = rank - 1;
  const dims = rank === 0 ? [1] : p.y.shape.map((d, i) => (i === last ? (d as number) / vec : d));
  const grid = flatGrid(dims, WG, req.node.spans);
  const names = p.inputs.map((_, i) => "ab"[i]!);
  const uses: OperandUse[] = [
    ...p.inputs.map((v, i) => ({ name: names[i]!, view: v, write: false, vec4: vec === 4 && readOf(v) === "vec4" && vec4Aligned(v) })),
    { name: "y", view: p.y, write: true, vec4: vec === 4 },
  ];
  const ops = bindOperands(uses, grid.uniforms);
  const { code, ix } = unflatten("f", dims, "i");
  const yIx = rank === 0 ? [] : ix;
  // An operand's indices: the output's last `rank` ones (unit axes are skipped by the accessor).
  const own = (v: OperandView, lastIx: string): string[] => {
    const r = v.shape.length;
    if (r === 0) return [];
    return [...yIx.slice(rank - r, rank - 1), lastIx];
  };
  const read = (a: Accessor, v: OperandView): string => {
    if (rank === 0 || v.shape.length === 0) return vec === 4 ? `${V}(${a.load(...own(v, "0u"))})` : a.load(...own(v, "0u"));
    const n = yIx[last]!;
    if (vec === 1) return a.load(...own(v, n));
    switch (readOf(v)) {
      case "splat":
        return `${V}(${a.load(...own(v, "0u"))})`;
      case "vec4":
        return a.load4(...own(v, n));
      case "lanes":
        return `${V}(${range(4)
          .map((k) => a.load(...own(v, n === "0u" ? wgsl`${u32(k)}` : wgsl`${n} * 4u + ${u32(k)}`)))
          .join(", ")})`;
    }
  };
  const args = p.inputs.map((v, i) => read(ops.get(names[i]!), v)).join(", ");
  const y = ops.get("y");
  const body = lines([
    wgsl`let f = wg * ${u32(WG)} + lid;`,
    `if (f >= ${grid.count}) { return; }`,
    code,
    vec === 4 ? y.store4(`op(${args})`, ...yIx) : y.store(`op(${args})`, ...yIx),
  ]);
  const header = kernelHeader(req, uses, {
    math: [MATH[p.op]],
    threads: [`invocation: ${vec === 4 ? "a vec4 of 4 elements along the last axis" : "one element"}; workgroup: ${WG} invocations over the flat output`],
  });
  return buildKernel({
    name: req.name,
    node: req.node,
    header,
    bindings: ops.bindings,
    uniforms: grid.uniforms,
    workgroupSize: WG,
    decls: opDecls(p.op, V),
    body,
    dispatch: grid.dispatch,
    schedule: s,
  });
}

export function generateElementwise(req: KernelRequest<ElementwiseOp>, limits: KernelLimits, override: Partial<ElementwiseSchedule> = {}): KernelSpec {
  const p = elementwiseProblem(req);
  return emitElementwise(req, p, { ...elementwiseSchedule(limits, p), ...override });
}
