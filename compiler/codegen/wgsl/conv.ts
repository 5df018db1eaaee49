/**
 * The conv family: `conv1d_silu` (prefill) and `conv1d_silu_update` (decode, S = 1), and the
 * unfused program's `conv1d_causal` (no bias, no activation: act = none), one generator; decode
 * is the same kernel at L = 1 with L baked in.
 *
 *   xe = cat(state, x) along time (state [C, W] oldest first, W = kernel width)
 *   y[t, c] = act(bias[c] + sum_k w[c, k] xe[c, t + 1 + k])      (w[:, W-1] hits x[t]; act = silu or none)
 *   state'[c, j] = xe[c, L + j]                                    (the last W inputs)
 *
 * Algorithm: an invocation owns `vec` channels and a chunk of T tokens; it keeps the last W-1
 * inputs in registers and reads each x once (plus W-1 at the chunk start). The state is read
 * and written only by the chunk-0 invocation of a channel: with T >= W-1 no other chunk's window
 * reaches into the state, and the new state comes from x (or, when L < W, from the old state the
 * same invocation reads first), so updating the state in place has no race.
 * Schedule: vec (4 channels per invocation when x and y rows allow vec4 and the window fits the
 * function variables WGSL guarantees), T, workgroup size. A window that does not fit even one
 * channel wide (d_conv over about 2,000) is a limits problem (HYB5002), not a kernel.
 */
import { invariant } from "../../diag/diagnostic.ts";
import type { NodeOf } from "../../ir/graph.ts";
import { byteSize, type Dim } from "../../ir/types.ts";
import { kernelHeader } from "../header.ts";
import { buildKernel, type KernelLimits, type KernelSpec, type UniformSpec } from "../kernel.ts";
import { bindOperands, LANES, vec4Aligned, type Accessor, type OperandUse } from "../operands.ts";
import type { KernelRequest, OperandView } from "../request.ts";
import { checkRegisters, FUNCTION_VAR_BYTES, lengthExpr, pow2AtLeast, range, siluFn, vecType } from "./common.ts";
import { f32, lines, u32, wgsl } from "./template.ts";

export type ConvOp = "conv1d_silu" | "conv1d_silu_update" | "conv1d_causal";

export interface ConvProblem {
  readonly S: Dim;
  readonly C: number;
  readonly W: number;
  readonly x: OperandView;
  readonly state: OperandView;
  readonly w: OperandView;
  readonly bias: OperandView | null;
  /** silu for the fused ops, none for conv1d_causal. */
  readonly act: "silu" | "none";
  readonly y: OperandView;
  readonly newState: OperandView;
}

export interface ConvSchedule {
  /** Channels per invocation: 4 (vec4 loads of x and stores of y) or 1. */
  readonly vec: 1 | 4;
  /** Tokens per invocation; at least W - 1 (see the race argument above). */
  readonly chunk: number;
  readonly workgroup: number;
}

export function convProblem(req: KernelRequest<ConvOp>): ConvProblem {
  const node = req.node as NodeOf<ConvOp>;
  const [x, state, w, bias] = req.inputs as [OperandView, OperandView, OperandView, OperandView | undefined];
  const [C, W] = w.shape as [number, number];
  const fused = node.op !== "conv1d_causal";
  const hasBias = fused && (node as NodeOf<"conv1d_silu" | "conv1d_silu_update">).attrs.bias;
  const newState = req.results[1]!;
  return { S: x.shape[0]!, C, W, x, state, w, bias: hasBias ? bias! : null, act: fused ? "silu" : "none", y: req.results[0]!, newState };
}

export function convSchedule(limits: KernelLimits, p: ConvProblem): ConvSchedule {
  const vec = p.C % 4 === 0 && vec4Aligned(p.x) && vec4Aligned(p.y) && windowBytes(p, 4) <= FUNCTION_VAR_BYTES ? 4 : 1;
  const wg = Math.min(64, limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX);
  return { vec, chunk: Math.max(p.S === "L" ? 64 : 1, p.W - 1), workgroup: Math.min(wg, pow2AtLeast(p.C / vec)) };
}

/** Bytes of the window an invocation keeps in `var` registers: W - 1 inputs of `vec` channels. */
const windowBytes = (p: ConvProblem, vec: 1 | 4): number => byteSize("f32", vec * (p.W - 1));

export function emitConv(req: KernelRequest<ConvOp>, p: ConvProblem, s: ConvSchedule): KernelSpec {
  const { vec, chunk: T, workgroup: WG } = s;
  checkRegisters(req.node.op, `the window of d_conv - 1 = ${p.W - 1} inputs of ${vec} channel${vec === 1 ? "" : "s"} in registers`, windowBytes(p, vec), req.node.spans);
  invariant(T >= Math.max(1, p.W - 1), `conv chunk ${T} must be at least W - 1 = ${p.W - 1}`);
  invariant(vec === 1 || (p.C % 4 === 0 && vec4Aligned(p.x) && vec4Aligned(p.y)), "vec4 conv needs aligned x and y rows");
  const V = vecType(vec);
  const groups = p.C / vec;
  const times = Math.ceil(groups / WG);
  const inPlace = p.newState.buffer.key === p.state.buffer.key;
  const uses: OperandUse[] = [
    { name: "x", view: p.x, write: false, vec4: vec === 4 },
    { name: "state", view: p.state, write: false, vec4: false },
    { name: "w", view: p.w, write: false, vec4: false },
    ...(p.bias ? [{ name: "bias", view: p.bias, write: false, vec4: vec === 4 && vec4Aligned(p.bias) }] : []),
    { name: "y", view: p.y, write: true, vec4: vec === 4 },
    { name: inPlace ? "state" : "new_state", view: p.newState, write: true, vec4: false },
  ];
  const uniforms: UniformSpec = { fields: p.S === "L" ? ["L"] : [] };
  const ops = bindOperands(uses, uniforms);
  const [x, y] = [ops.get("x"), ops.get("y")];
  // `vec` channels starting at c, column j of a [C, W] operand (gathered: rows are W apart).
  const gather = (a: Accessor, j: string): string =>
    vec === 1 ? a.load("c", j) : `${V}(${range(4).map((k) => a.load(k === 0 ? "c" : `c + ${k}u`, j)).join(", ")})`;
  const scatter = (a: Accessor, j: string, v: string): string =>
    vec === 1 ? a.store(v, "c", j) : LANES.map((lane, k) => a.store(`${v}.${lane}`, k === 0 ? "c" : `c + ${k}u`, j)).join("\n");
  const xAt = (t: string): string => (vec === 4 ? x.load4(t, "cg") : x.load(t, "c"));
  const biasVec4 = uses.some((u) => u.name === "bias" && u.vec4);
  const bias = p.bias === null ? null : biasVec4 ? ops.get("bias").load4("cg") : gatherVec(ops.get("bias"), vec, V);
  const Wn = p.W;

  // xe(j): element j of cat(state, x) for the invocation's channels.
  const xe = wgsl`fn xe(j: u32, c: u32, cg: u32) -> ${V} {
  if (j < ${u32(Wn)}) { return ${gather(ops.get("state"), "j")}; }
  return ${xAt(wgsl`j - ${u32(Wn)}`)};
}`;
  const taps = range(Wn).map((k) => (k === Wn - 1 ? "xt" : `win${k}`));
  const sum = taps.reduce((acc, tap, k) => `fma(w${k}, ${tap}, ${acc})`, bias ?? wgsl`${V}(${f32(0)})`);
  const out = p.act === "silu" ? `silu(${sum})` : sum;
  const body = lines([
    wgsl`let cg = (wg % ${u32(times)}) * ${u32(WG)} + lid;`,
    wgsl`let t0 = (wg / ${u32(times)}) * ${u32(T)};`,
    wgsl`let L = ${lengthExpr(p.S)};`,
    wgsl`if (cg >= ${u32(groups)} || t0 >= L) { return; }`,
    vec === 1 ? "let c = cg;" : "let c = cg * 4u;",
    range(Wn)
      .map((k) => wgsl`let w${String(k)} = ${gather(ops.get("w"), wgsl`${u32(k)}`)};`)
      .join("\n"),
    range(Wn - 1)
      .map((k) => wgsl`var win${String(k)} = xe(t0 + ${u32(k + 1)}, c, cg);`)
      .join("\n"),
    wgsl`for (var t = t0; t < min(t0 + ${u32(T)}, L); t++) {
  let xt = ${xAt("t")};
  ${vec === 4 ? y.store4(out, "t", "cg") : y.store(out, "t", "c")}
${lines(
  range(Wn - 1).map((k) => `win${k} = ${k === Wn - 2 ? "xt" : `win${k + 1}`};`),
  2,
)}
}
if (t0 == 0u) {
${lines(
  range(Wn).map((j) => wgsl`let s${String(j)} = xe(L + ${u32(j)}, c, cg);`),
  2,
)}
${lines(
  range(Wn).map((j) => scatter(ops.get(inPlace ? "state" : "new_state"), wgsl`${u32(j)}`, `s${j}`)),
  2,
)}
}`,
  ]);
  const header = kernelHeader(req, uses, {
    math: [
      "xe = cat(state, x) along time (state [C, W] oldest first)",
      `y[t, c] = ${p.act === "silu" ? "silu(" : ""}${p.bias ? "bias[c] + " : ""}sum_k w[c, k] * xe[c, t + 1 + k]${p.act === "silu" ? ")" : ""},  k < W = ${Wn}`,
      `state'[c, j] = xe[c, L + j]${inPlace ? "  (written in place)" : ""}`,
    ],
    threads: [
      `invocation: ${vec} channel${vec === 1 ? "" : "s (vec4)"} x a chunk of ${T} tokens; the last ${Wn - 1} inputs in registers`,
      `workgroup: ${WG} channel groups; grid: ${p.S === "L" ? `ceil(L / ${T}) x ` : ""}${times} (flat wg = chunk * ${times} + channel block)`,
      "the chunk-0 invocation of a channel alone reads and writes its state row (race-free in place)",
    ],
  });
  return buildKernel({
    name: req.name,
    node: req.node,
    header,
    bindings: ops.bindings,
    uniforms,
    workgroupSize: WG,
    decls: [...(p.act === "silu" ? [siluFn("silu", V)] : []), xe],
    body,
    dispatch: p.S === "L" ? { lTile: T, times } : { lTile: null, times: Math.ceil(p.S / T) * times },
    schedule: s,
  });
}

/** `vec` consecutive elements from c of a 1-D operand. */
function gatherVec(a: Accessor, vec: 1 | 4, V: string): string {
  return vec === 1 ? a.load("c") : `${V}(${[0, 1, 2, 3].map((k) => a.load(k === 0 ? "c" : `c + ${k}u`)).join(", ")})`;
}

export function generateConv(req: KernelRequest<ConvOp>, limits: KernelLimits, override: Partial<ConvSchedule> = {}): KernelSpec {
  const p = convProblem(req);
  return emitConv(req, p, { ...convSchedule(limits, p), ...override });
}
