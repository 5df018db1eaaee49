/**
 * What the two SSD algorithms (ssd-sequential.ts, ssd-chunked.ts) share: the problem read off
 * the node, the schedule type, the bindings (x|B|C and z|dt as the optimized layer lays them
 * out, the state updated in place when it is), the per-head scalars and the epilogue's text.
 * ssd.ts picks the algorithm.
 */
import type { NodeOf } from "../../ir/graph.ts";
import type { SsdEpilogue } from "../../ir/fused-ops.ts";
import { slotWords } from "../../ir/chunk-ops.ts";
import type { Dim } from "../../ir/types.ts";
import type { UniformSpec } from "../kernel.ts";
import { bindOperands, vec4Aligned, type BoundOperands, type OperandUse } from "../operands.ts";
import type { KernelRequest, OperandView } from "../request.ts";
import { lengthExpr } from "./common.ts";
import { lines, u32, wgsl } from "./template.ts";

export type SsdOp = "ssd" | "ssd_state_update" | "ssd_chunk_state" | "ssd_chunk_output";

/** Which walk: all tokens (ssd, ssd_state_update), or one chunk (the chunk-parallel phases, ir/chunk-ops.ts). */
export type SsdPhase = "whole" | "chunk_state" | "chunk_output";

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
  readonly phase: SsdPhase;
  /** Chunk phases: Q, the slot's words and the slots operand (chunk_state's result, chunk_output's last input). */
  readonly slots: { readonly Q: number; readonly words: number; readonly view: OperandView } | null;
  /** y and the new state (absent in chunk_state). */
  readonly y: OperandView | null;
  readonly newState: OperandView | null;
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
  /**
   * Sequential, whole walk over rows: state rows per invocation (consecutive p of one head). Every
   * token reads the group's B and C rows, the same for all the rows; a CPU adapter (lavapipe)
   * runs such a uniform read lane by lane, so one invocation updating several rows reads them once.
   */
  readonly rows: number;
  /** Sequential, whole walk over rows: tokens whose B, C rows a workgroup stages in workgroup memory at a time (0: none). */
  readonly stage: number;
  /** Chunked: tokens per chunk (Q). */
  readonly chunk: number;
  /** Chunked: state rows (p) per workgroup; divides P, and a norm group divides it. */
  readonly ptile: number;
}

export const hasNorm = (e: SsdEpilogue): boolean => e === "gate_norm" || e === "norm_gate";

/** Whether a flat grid's workgroups of `workgroup` invocations of `rows` rows each lie within one group (the same B, C). */
export const rowsInOneGroup = (p: SsdProblem, workgroup: number, rows: number): boolean => ((p.H / p.G) * p.P) % (workgroup * rows) === 0;

export function ssdProblem(req: KernelRequest<SsdOp>): SsdProblem {
  const node = req.node as NodeOf<SsdOp>;
  const a = node.attrs;
  const phase: SsdPhase = node.op === "ssd_chunk_state" ? "chunk_state" : node.op === "ssd_chunk_output" ? "chunk_output" : "whole";
  const ins: Partial<Record<SsdInput, OperandView>> = {};
  (phase === "chunk_output" ? req.inputs.slice(0, -1) : req.inputs).forEach((v, i) => (ins[INPUTS[i]!] = v));
  const [S, H, P] = ins.x!.shape as [Dim, number, number];
  const [, G, N] = ins.B!.shape as [Dim, number, number];
  const chunk = "chunk" in a ? (a as { chunk: number }).chunk : null;
  const slots = phase === "whole" ? null : { Q: chunk!, words: slotWords([H, P, N], chunk!), view: phase === "chunk_state" ? req.results[0]! : req.inputs[req.inputs.length - 1]! };
  const whole = phase !== "chunk_state";
  const y = whole ? req.results[0]! : null;
  const newState = whole ? req.results[1]! : null;
  return { S, H, P, G, N, epilogue: a.epilogue, normGroup: a.normGroup, eps: a.eps, chunk, ins, phase, slots, y, newState };
}

export interface SsdOperands {
  readonly uses: readonly OperandUse[];
  readonly uniforms: UniformSpec;
  readonly ops: BoundOperands;
  /** The state result is the state input's buffer. */
  readonly inPlace: boolean;
  /** The state is read and written as whole vec4s. */
  readonly stateVec: boolean;
  /** The slots are read as whole vec4s (chunk_output; chunk_state also stores scalar dt sums). */
  readonly slotsVec: boolean;
}

export function ssdOperands(p: SsdProblem, vec: 1 | 4): SsdOperands {
  const inPlace = p.newState !== null && p.newState.buffer.key === p.ins.state!.buffer.key;
  const wide = (v: OperandView): boolean => vec === 4 && vec4Aligned(v);
  const stateVec = wide(p.ins.state!) && (p.newState === null || wide(p.newState));
  const slotsVec = p.phase === "chunk_output" && wide(p.slots!.view);
  // chunk_state reads neither C, D, the state nor the epilogue's operands, and writes no y.
  const outputs = p.phase !== "chunk_state";
  const use = (name: SsdInput, vec4 = false): OperandUse => ({ name, view: p.ins[name]!, write: false, vec4 });
  const uses: OperandUse[] = [
    // x is read one element at a time, but as a vec4 use (component loads) it lets B and C,
    // views of the same xBC buffer, share a vec4 binding and load whole vec4s.
    use("x", wide(p.ins.x!)),
    use("dt"),
    use("A_log"),
    use("B", wide(p.ins.B!)),
    ...(outputs ? [use("C", wide(p.ins.C!)), use("D")] : []),
    use("dt_bias"),
    ...(outputs ? [use("state", stateVec)] : []),
    ...(outputs && p.epilogue !== "none" ? [use("z")] : []),
    ...(outputs && hasNorm(p.epilogue) ? [use("norm_w")] : []),
    ...(p.slots !== null ? [{ name: "slots", view: p.slots.view, write: !outputs, vec4: slotsVec }] : []),
    ...(outputs
      ? [
          { name: "y", view: p.y!, write: true, vec4: false },
          { name: inPlace ? "state" : "new_state", view: p.newState!, write: true, vec4: stateVec },
        ]
      : []),
  ];
  const uniforms: UniformSpec = { fields: p.S === "L" ? ["L"] : [] };
  return { uses, uniforms, ops: bindOperands(uses, uniforms), inPlace, stateVec, slotsVec };
}

/** a_h, dt_b, d_h, gi and L, for head `hi` (in scope). */
export function headScalars(p: SsdProblem, o: SsdOperands): string {
  const g = o.ops.get;
  return lines([
    `let a_h = -exp(${g("A_log").load("hi")});`,
    `let dt_b = ${g("dt_bias").load("hi")};`,
    p.phase !== "chunk_state" && `let d_h = ${g("D").load("hi")};`,
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
