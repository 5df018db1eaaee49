/**
 * fuse-selective-scan: the Mamba-1 dt projection, discretisation, recurrence, C readout, D skip
 * and gate become one op, so no [S, Di, N] tensor is ever materialised and delta [S, Di] is
 * never stored either: the kernel computes it per (t, channel) from the low-rank dt (R MACs).
 * Prefill gets `selective_scan`; a graph whose sequence dim is 1 (decode) gets
 * `selective_state_update`.
 *
 *   delta = softplus(add(linear(dt, dt_proj_w), bias));  A = neg(exp(A_log))
 *   dA = exp(mul(reshape(delta, [S,Di,1]), A))
 *   dBx = mul(reshape(mul(delta, u), [S,Di,1]), reshape(B, [S,1,N]))
 *   (h, last) = linear_recurrence(dA, dBx, h0)
 *   y = mul(add(reduce_sum(mul(h, reshape(C, [S,1,N])), 2), mul(u, D)), silu(z))
 *     =>  (y, last) = selective_scan(u, dt, dt_proj_w, A_log, B, C, D, z, bias, h0) {innerNormEps=none}
 *
 *   the same with dt, B, C = rmsnorm(dt', w_dt), rmsnorm(B', w_B), rmsnorm(C', w_C) (Jamba's inner norms)
 *     =>  selective_scan(u, dt', ..., B', C', ..., w_dt, w_B, w_C) {innerNormEps=eps}
 *
 * add and mul match in either operand order. Every intermediate must be read only inside the
 * pattern (delta exactly twice); otherwise the match is left alone. The inner norms are folded
 * only when all three are whole-row rmsnorms with one eps, each read only by the scan.
 */
import type { Span } from "../diag/source.ts";
import type { GraphBuilder } from "../ir/builder.ts";
import type { Graph, Node, NodeOf, ValueRef } from "../ir/graph.ts";
import { mergeSpans } from "../ir/graph.ts";
import { InferError, OPS } from "../ir/ops.ts";
import { shapeEq, typeEq, type Shape, type TensorType } from "../ir/types.ts";
import { commuted, type Matcher, negExpOf, otherThan } from "./match.ts";
import type { Pass } from "./pass.ts";
import { fuseEach, type Fusion } from "./rewrite.ts";

/** Jamba's inner norms: dt, B, C each a whole-row rmsnorm read once, with one eps. */
function innerNorms(m: Matcher, dt: ValueRef, B: ValueRef, C: ValueRef): { norms: NodeOf<"rmsnorm">[]; eps: number } | null {
  const norms = [dt, B, C].map((r) => m.sole(r, "rmsnorm"));
  if (norms.some((n) => n === null)) return null;
  const ns = norms as NodeOf<"rmsnorm">[];
  const eps = ns[0]!.attrs.eps;
  const whole = (n: NodeOf<"rmsnorm">): boolean => n.attrs.groupSize === m.g.nodes[n.inputs[1]!.node]!.results[n.inputs[1]!.index]!.shape[0];
  return ns.every((n) => n.attrs.eps === eps && whole(n)) ? { norms: ns, eps } : null;
}

function matchScan(m: Matcher, rec: NodeOf<"linear_recurrence">): Fusion | null {
  const g = m.g;
  const type = (r: ValueRef): TensorType => g.nodes[r.node]!.results[r.index]!;
  const interior: Node[] = [rec];
  const take = <N extends Node>(n: N | null): N | null => (n === null ? null : (interior.push(n), n));
  const reshapedTo = (n: NodeOf<"reshape">, shape: Shape): boolean => shapeEq(n.attrs.shape, shape);
  const [dAref, dBxRef, h0] = rec.inputs as [ValueRef, ValueRef, ValueRef];

  // dA = exp(mul(reshape(delta, [S, Di, 1]), A)), delta = softplus(add(linear(dt, W), bias))
  const dA = take(m.sole(dAref, "exp"));
  const up = commuted(take(dA && m.sole(dA.inputs[0]!, "mul")), (r1ref, A) => {
    const r1 = m.sole(r1ref, "reshape");
    const sp = r1 && m.producer(r1.inputs[0]!, "softplus");
    if (!r1 || !sp || m.usersOf(r1.inputs[0]!).length !== 2 || !reshapedTo(r1, [...type(r1.inputs[0]!).shape, 1])) return null;
    return { r1, sp, A };
  });
  if (!up) return null;
  take(up.r1);
  const Alog = negExpOf(m, up.A, interior);
  const delta: ValueRef = { node: up.sp.id, index: 0 };
  const biasAdd = take(m.sole(take(up.sp)!.inputs[0]!, "add"));
  const dtBias = commuted(biasAdd, (dt, bias) => {
    const proj = m.sole(dt, "linear");
    return proj && type(bias).shape.length === 1 ? { proj, bias } : null;
  });
  if (!dtBias || !Alog) return null;
  take(dtBias.proj);

  // dBx = mul(reshape(mul(delta, u), [S, Di, 1]), reshape(B, [S, 1, N]))
  const dBx = commuted(take(m.sole(dBxRef, "mul")), (r2ref, r3ref) => {
    const r2 = m.sole(r2ref, "reshape");
    const r3 = m.sole(r3ref, "reshape");
    const du = r2 && m.sole(r2.inputs[0]!, "mul");
    const u = du && otherThan(du, delta);
    if (!r2 || !r3 || !du || !u || !reshapedTo(r2, [...type(r2.inputs[0]!).shape, 1])) return null;
    const bShape = type(r3.inputs[0]!).shape;
    if (bShape.length !== 2 || !reshapedTo(r3, [bShape[0]!, 1, bShape[1]!])) return null;
    return { r2, r3, du, u, B: r3.inputs[0]! };
  });
  if (!dBx) return null;
  take(dBx.r2);
  take(dBx.r3);
  take(dBx.du);

  // y = mul(add(reduce_sum(mul(h, reshape(C, [S, 1, N])), 2), mul(u, D)), silu(z))
  const hRef: ValueRef = { node: rec.id, index: 0 };
  const hC = take(m.soleUser(hRef, "mul"));
  const cRef = hC && otherThan(hC, hRef);
  const r4 = take(cRef && m.sole(cRef, "reshape"));
  const cShape = r4 && type(r4.inputs[0]!).shape;
  if (!r4 || !cShape || cShape.length !== 2 || !reshapedTo(r4, [cShape[0]!, 1, cShape[1]!])) return null;
  const sum = take(m.soleUser({ node: hC!.id, index: 0 }, "reduce_sum"));
  if (!sum || sum.attrs.axis !== 2) return null;
  const skipAdd = take(m.soleUser({ node: sum.id, index: 0 }, "add"));
  const sumRef: ValueRef = { node: sum.id, index: 0 };
  const uD = take(skipAdd && otherThan(skipAdd, sumRef) && m.sole(otherThan(skipAdd, sumRef)!, "mul"));
  const D = uD && otherThan(uD, dBx.u);
  const root = take(skipAdd && m.soleUser({ node: skipAdd.id, index: 0 }, "mul"));
  const gate = root && take(m.sole(otherThan(root, { node: skipAdd!.id, index: 0 })!, "silu"));
  if (!D || !root || !gate) return null;

  let [dt, B, C] = [dtBias.proj.inputs[0]!, dBx.B, r4.inputs[0]!];
  const W = dtBias.proj.inputs[1]!;
  const inner = innerNorms(m, dt, B, C);
  if (inner) {
    interior.push(...inner.norms);
    [dt, B, C] = inner.norms.map((n) => n.inputs[0]!) as [ValueRef, ValueRef, ValueRef];
  }
  const operands = [dBx.u, dt, W, Alog, B, C, D, gate.inputs[0]!, dtBias.bias, h0, ...(inner ? inner.norms.map((n) => n.inputs[1]!) : [])];
  const op = type(dBx.u).shape[0] === 1 ? "selective_state_update" : "selective_scan";
  const attrs = { innerNormEps: inner ? inner.eps : null };
  // The fused op's type rule decides whether the operand shapes mean what the pattern assumed.
  let results: readonly TensorType[];
  try {
    results = OPS[op].infer(operands.map(type), attrs);
  } catch (e) {
    if (e instanceof InferError) return null;
    throw e;
  }
  const y: ValueRef = { node: root.id, index: 0 };
  const last: ValueRef = { node: rec.id, index: 1 };
  if (!typeEq(results[0]!, type(y)) || !typeEq(results[1]!, type(last))) return null;
  return {
    interior: new Set(interior.map((n) => n.id)),
    operands,
    replaces: [y, last],
    spans: mergeSpans(...interior.map((n): readonly Span[] => n.spans)),
    emit: (b: GraphBuilder, [u, dt, W, Alog, B, C, D, z, deltaBias, h0, wdt, wb, wc]) =>
      b.selectiveScan(
        op,
        { u: u!, dt: dt!, dtProjW: W!, Alog: Alog!, B: B!, C: C!, D: D!, z: z!, deltaBias: deltaBias!, h0: h0! },
        inner ? { dt: wdt!, B: wb!, C: wc!, eps: inner.eps } : null,
      ),
  };
}

function run(g: Graph): Graph {
  return fuseEach(g, "linear_recurrence", matchScan);
}

export const fuseSelectiveScan: Pass = {
  name: "fuse-selective-scan",
  summary: "Mamba-1 dt_proj + discretise (A = -exp(A_log)) + recurrence + C readout + D skip + silu(z) gate -> selective_scan / selective_state_update",
  fusion: true,
  run,
};
