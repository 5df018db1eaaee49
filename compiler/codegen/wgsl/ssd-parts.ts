/**
 * What the two SSD algorithms (ssd-sequential.ts, ssd-chunked.ts) share: the problem read off
 * the node, the schedule type, the bindings (x|B|C and z|dt as the optimized layer lays them
 * out, the state updated in place when it is), the per-head scalars and the epilogue's text.
 * ssd.ts picks the algorithm.
 */
import type { NodeOf } from "../../ir/graph.ts";
import type { SsdEpilogue } from "../../ir/fused-ops.ts";
import type { Dim } from "../../ir/types.ts";
import type { UniformSpec } from "../kernel.ts";
import { bindOperands, vec4Aligned, type BoundOperands, type OperandUse } from "../operands.ts";
import type { KernelRequest, OperandView } from "../request.ts";
import { lengthExpr } from "./common.ts";
import { lines, u32, wgsl } from "./template.ts";

export type SsdOp = "ssd" | "ssd_state_update";

const INPUTS = ["x", "dt", "A_log", "B", "C", "D", "dt_bias", "state", "z", "norm_w"] as const;
type SsdInput = (typeof INPUTS)[number];

export interface SsdProblem {
  readonly S: Dim;
  readonly H: number;
  readonly P: number;
  readonly G: number;
  readonly N: number;
  readonly epilogue: SsdEpilogue;
  /** Channels per norm group and the norm's eps (norm epilogues only). */
  readonly normGroup: number | null;
  readonly eps: number | null;
  /** The spec's chunk attr (prefill); it never changes the result, the schedule picks the kernel's own. */
  readonly chunk: number | null;
  readonly ins: Readonly<Partial<Record<SsdInput, OperandView>>>;
  readonly y: OperandView;
  readonly newState: OperandView;
}

export interface SsdSchedule {
  /** 0: sequential over time (ssd-sequential.ts); 1: chunked, matmul-shaped (ssd-chunked.ts). */
  readonly algo: 0 | 1;
  /** d_state lanes per operation: 4 (vec4) or 1. */
  readonly vec: 1 | 4;
  /** Sequential: 1 one workgroup per head (needed by the norm epilogues), 0 a flat grid over rows. */
  readonly perHead: 0 | 1;
  readonly workgroup: number;
  /** Sequential: 1 the state row in named registers, the N loop unrolled; 0 a private array and a loop. */
  readonly unroll: 0 | 1;
  /** Chunked: tokens per chunk (Q). */
  readonly chunk: number;
  /** Chunked: state rows (p) per workgroup; divides P, and a norm group divides it. */
  readonly ptile: number;
}

export const hasNorm = (e: SsdEpilogue): boolean => e === "gate_norm" || e === "norm_gate";

export function ssdProblem(req: KernelRequest<SsdOp>): SsdProblem {
  const node = req.node as NodeOf<SsdOp>;
  const a = node.attrs;
  const ins: Partial<Record<SsdInput, OperandView>> = {};
  req.inputs.forEach((v, i) => (ins[INPUTS[i]!] = v));
  const [S, H, P] = ins.x!.shape as [Dim, number, number];
  const [, G, N] = ins.B!.shape as [Dim, number, number];
  const chunk = "chunk" in a ? (a as { chunk: number }).chunk : null;
  return { S, H, P, G, N, epilogue: a.epilogue, normGroup: a.normGroup, eps: a.eps, chunk, ins, y: req.results[0]!, newState: req.results[1]! };
}

export interface SsdOperands {
  readonly uses: readonly OperandUse[];
  readonly uniforms: UniformSpec;
  readonly ops: BoundOperands;
  /** The state result is the state input's buffer. */
  readonly inPlace: boolean;
  /** The state is read and written as whole vec4s. */
  readonly stateVec: boolean;
}

export function ssdOperands(p: SsdProblem, vec: 1 | 4): SsdOperands {
  const inPlace = p.newState.buffer.key === p.ins.state!.buffer.key;
  const wide = (v: OperandView): boolean => vec === 4 && vec4Aligned(v);
  const stateVec = wide(p.ins.state!) && wide(p.newState);
  const use = (name: SsdInput, vec4 = false): OperandUse => ({ name, view: p.ins[name]!, write: false, vec4 });
  const uses: OperandUse[] = [
    // x is read one element at a time, but as a vec4 use (component loads) it lets B and C,
    // views of the same xBC buffer, share a vec4 binding and load whole vec4s.
    use("x", wide(p.ins.x!)),
    use("dt"),
    use("A_log"),
    use("B", wide(p.ins.B!)),
    use("C", wide(p.ins.C!)),
    use("D"),
    use("dt_bias"),
    use("state", stateVec),
    ...(p.epilogue !== "none" ? [use("z")] : []),
    ...(hasNorm(p.epilogue) ? [use("norm_w")] : []),
    { name: "y", view: p.y, write: true, vec4: false },
    { name: inPlace ? "state" : "new_state", view: p.newState, write: true, vec4: stateVec },
  ];
  const uniforms: UniformSpec = { fields: p.S === "L" ? ["L"] : [] };
  return { uses, uniforms, ops: bindOperands(uses, uniforms), inPlace, stateVec };
}

/** a_h, dt_b, d_h, gi and L, for head `hi` (in scope). */
export function headScalars(p: SsdProblem, o: SsdOperands): string {
  const g = o.ops.get;
  return lines([
    `let a_h = -exp(${g("A_log").load("hi")});`,
    `let dt_b = ${g("dt_bias").load("hi")};`,
    `let d_h = ${g("D").load("hi")};`,
    wgsl`let gi = hi / ${u32(p.H / p.G)};`,
    wgsl`let L = ${lengthExpr(p.S)};`,
  ]);
}

/** The epilogue as one header line. */
export function epilogueText(p: SsdProblem): string {
  const NG = p.normGroup ?? p.P;
  const text: Record<SsdEpilogue, string> = {
    none: "out = y",
    gate: "out = y * silu(z[t, h, p])",
    gate_norm: `out = rmsnorm(y * silu(z)) * norm_w[h, p] over groups of ${NG} of the head's P channels, eps = ${p.eps}`,
    norm_gate: `out = rmsnorm(y) * norm_w[h, p] * silu(z) over groups of ${NG} of the head's P channels, eps = ${p.eps}`,
  };
  return text[p.epilogue];
}
