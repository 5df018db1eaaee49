/**
 * fuse-ssd: the Mamba-2 primitive chain (discretise, grouped dt x B^T, recurrence over
 * [S, G, H/G, P, N], C readout, D skip, and the z gate / gated RMSNorm after it) becomes one
 * `ssd` op in prefill (the whole SSD over the sequence; its kernel walks the tokens in order,
 * or by chunks of `chunk` tokens, the recurrence's attr, i.e. the spec, when the schedule picks
 * the chunked algorithm: codegen/wgsl/ssd.ts) or `ssd_state_update` in decode (S = 1). No [S, H, P, N]
 * tensor is materialised; A = -exp(A_log) and softplus(dt + dt_bias) are computed inside.
 *
 *   dt = softplus(add(dt_raw, dt_bias));  A = neg(exp(A_log))
 *   dA = broadcast_to(reshape(exp(mul(dt, A)), [S,G,Hg,1,1]), [S,G,Hg,P,N])
 *   dBx = mul(reshape(mul(reshape(x, [S,G,Hg,P]), reshape(dt, [S,G,Hg,1])), [S,G,Hg,P,1]), reshape(B, [S,G,1,1,N]))
 *   (h, last) = linear_recurrence(dA, dBx, reshape(h0, [G,Hg,P,N])) {chunk=Q}
 *   y = reshape(add(reshape(reduce_sum(mul(h, reshape(C, [S,G,1,1,N])), 4), [S,H,P]),
 *                   mul(reshape(x, [S,H,P]), reshape(D, [H,1]))), [S,H*P])
 *     =>  (y', h') = ssd(x', dt_raw, A_log, B', C', D, dt_bias, h0 [, z' [, w']]) {chunk=Q, epilogue=...}
 *         (primes: free reshapes to the op's [S,H,P] / [S,G,N] / [H,P] views)
 *
 * Epilogues, matched on the sole user of y (g = silu(z), read only here):
 *   mul(y, g)                              =>  epilogue=gate
 *   rmsnorm(mul(y, g), w) {groupSize=ng}   =>  epilogue=gate_norm   if legal, else gate + the rmsnorm kept
 *   mul(rmsnorm(y, w) {groupSize=ng}, g)   =>  epilogue=norm_gate   if legal, else none + rmsnorm_gated(y, z, w)
 *   anything else                          =>  epilogue=none (y keeps its users)
 *
 * Legality of a norm epilogue: the kernel's unit of work is one head (P channels) of one token,
 * so it can finish a norm only when every norm group lies inside one head: P % ng == 0. When a
 * group spans several heads (Mamba-2's default ng = d_inner / ngroups spans H/G heads), the norm
 * stays outside: for norm_before_gate = false the gate still runs in the epilogue and the plain
 * grouped `rmsnorm` is left for fuse-norm-prologue to fold into out_proj; for
 * norm_before_gate = true the gate must follow the norm, so a separate `rmsnorm_gated` op does both.
 */
import type { GraphBuilder } from "../ir/builder.ts";
import type { Graph, Node, NodeOf, ValueRef } from "../ir/graph.ts";
import { mergeSpans } from "../ir/graph.ts";
import type { SsdAttrs, SsdEpilogue } from "../ir/fused-ops.ts";
import { InferError, OPS } from "../ir/ops.ts";
import { shapeEq, typeEq, type Shape, type TensorType } from "../ir/types.ts";
import { commuted, type Matcher, negExpOf, otherThan } from "./match.ts";
import type { Pass } from "./pass.ts";
import { fuseEach, type Fusion } from "./rewrite.ts";

const out0 = (n: Node): ValueRef => ({ node: n.id, index: 0 });
const same = (a: ValueRef, b: ValueRef): boolean => a.node === b.node && a.index === b.index;

interface Epilogue {
  readonly nodes: readonly Node[];
  /** The value the fused nodes replace (the gated / normed output), or y itself. */
  readonly out: ValueRef;
  readonly z: ValueRef | null;
  readonly norm: NodeOf<"rmsnorm"> | null;
  readonly normBeforeGate: boolean;
}

/** The gate / gated norm after y, per the table in the header; `none` when nothing matches. */
function matchEpilogue(m: Matcher, y: ValueRef): Epilogue {
  const none: Epilogue = { nodes: [], out: y, z: null, norm: null, normBeforeGate: false };
  const gateOf = (mul: NodeOf<"mul">, x: ValueRef): NodeOf<"silu"> | null => {
    const other = otherThan(mul, x);
    return other && !same(other, x) ? m.sole(other, "silu") : null;
  };
  const mul = m.soleUser(y, "mul");
  if (mul) {
    const silu = gateOf(mul, y);
    if (!silu) return none;
    const norm = m.soleUser(out0(mul), "rmsnorm");
    if (norm && same(norm.inputs[0]!, out0(mul))) return { nodes: [mul, silu, norm], out: out0(norm), z: silu.inputs[0]!, norm, normBeforeGate: false };
    return { nodes: [mul, silu], out: out0(mul), z: silu.inputs[0]!, norm: null, normBeforeGate: false };
  }
  const norm = m.soleUser(y, "rmsnorm");
  const gmul = norm && same(norm.inputs[0]!, y) ? m.soleUser(out0(norm), "mul") : null;
  const silu = gmul && gateOf(gmul, out0(norm!));
  if (!norm || !gmul || !silu) return none;
  return { nodes: [norm, gmul, silu], out: out0(gmul), z: silu.inputs[0]!, norm, normBeforeGate: true };
}

function matchSsd(m: Matcher, rec: NodeOf<"linear_recurrence">): Fusion | null {
  const g = m.g;
  const type = (r: ValueRef): TensorType => g.nodes[r.node]!.results[r.index]!;
  const shapeIs = (r: ValueRef, s: Shape): boolean => shapeEq(type(r).shape, s);
  const interior: Node[] = [rec];
  const take = <N extends Node>(n: N | null): N | null => (n === null ? null : (interior.push(n), n));
  /** The sole-use reshape producing `r`, with target `to`. */
  const reshapeTo = (r: ValueRef, to: Shape): NodeOf<"reshape"> | null => {
    const n = m.sole(r, "reshape");
    return n && shapeEq(n.attrs.shape, to) ? n : null;
  };

  const hType = type(rec.inputs[0]!);
  if (hType.shape.length !== 5) return null;
  const [S, G, Hg, P, N] = hType.shape as [Shape[number], number, number, number, number];
  if (![G, Hg, P, N].every((d) => typeof d === "number")) return null;
  const chunk = rec.attrs.chunk;
  if (S !== 1 && chunk === null) return null; // prefill needs the spec's chunk (the lowering records it)
  const H = G * Hg;
  const Di = H * P;

  // dA = broadcast_to(reshape(exp(mul(dt, A)), [S,G,Hg,1,1]), [S,G,Hg,P,N])
  const bc = take(m.sole(rec.inputs[0]!, "broadcast_to"));
  const r1 = take(bc && reshapeTo(bc.inputs[0]!, [S, G, Hg, 1, 1]));
  const e = take(r1 && m.sole(r1.inputs[0]!, "exp"));
  const dtA = commuted(take(e && m.sole(e.inputs[0]!, "mul")), (dt, A) => {
    const sp = m.producer(dt, "softplus");
    return sp && m.usersOf(dt).length === 2 && shapeIs(dt, [S, H]) ? { sp, A } : null;
  });
  if (!dtA) return null;
  const dt = out0(dtA.sp);
  const Alog = negExpOf(m, dtA.A, interior);
  const biasAdd = take(m.sole(take(dtA.sp)!.inputs[0]!, "add"));
  const raw = commuted(biasAdd, (dtRaw, dtBias) => (shapeIs(dtRaw, [S, H]) && shapeIs(dtBias, [H]) ? { dtRaw, dtBias } : null));
  if (!Alog || !raw) return null;

  // dBx = mul(reshape(mul(reshape(x, [S,G,Hg,P]), reshape(dt, [S,G,Hg,1])), [S,G,Hg,P,1]), reshape(B, [S,G,1,1,N]))
  const dBx = commuted(take(m.sole(rec.inputs[1]!, "mul")), (a, b) => {
    const r2 = reshapeTo(a, [S, G, Hg, P, 1]);
    const r3 = reshapeTo(b, [S, G, 1, 1, N]);
    const dtx = r2 && m.sole(r2.inputs[0]!, "mul");
    const xdt = commuted(dtx, (xr, dr) => {
      const rx = reshapeTo(xr, [S, G, Hg, P]);
      const rdt = reshapeTo(dr, [S, G, Hg, 1]);
      return rx && rdt && same(rdt.inputs[0]!, dt) && shapeIs(rx.inputs[0]!, [S, Di]) ? { rx, rdt } : null;
    });
    return r2 && r3 && dtx && xdt && shapeIs(r3.inputs[0]!, [S, G * N]) ? { r2, r3, dtx, ...xdt, B: r3.inputs[0]! } : null;
  });
  if (!dBx) return null;
  [dBx.r2, dBx.r3, dBx.dtx, dBx.rx, dBx.rdt].forEach(take);
  const x = dBx.rx.inputs[0]!;
  if (m.usersOf(x).length !== 2) return null; // x is read by the dt x B^T term and the D skip only

  // y = reshape(add(reshape(reduce_sum(mul(h, reshape(C)), 4), [S,H,P]), mul(reshape(x, [S,H,P]), reshape(D, [H,1]))), [S,Di])
  const h = { node: rec.id, index: 0 };
  const hC = take(m.soleUser(h, "mul"));
  const r4 = take(hC && reshapeTo(otherThan(hC, h)!, [S, G, 1, 1, N]));
  const sum = take(hC && m.soleUser(out0(hC), "reduce_sum"));
  const ry = take(sum && m.soleUser(out0(sum), "reshape"));
  const skip = take(ry && m.soleUser(out0(ry), "add"));
  if (!r4 || !shapeIs(r4.inputs[0]!, [S, G * N]) || !sum || sum.attrs.axis !== 4 || !ry || !shapeEq(ry.attrs.shape, [S, H, P]) || !skip) return null;
  const xD = commuted(take(m.sole(otherThan(skip, out0(ry))!, "mul")), (a, b) => {
    const rx = reshapeTo(a, [S, H, P]);
    const rD = reshapeTo(b, [H, 1]);
    return rx && rD && same(rx.inputs[0]!, x) && shapeIs(rD.inputs[0]!, [H]) ? { rx, rD } : null;
  });
  const yflat = take(skip && m.soleUser(out0(skip), "reshape"));
  if (!xD || !yflat || !shapeEq(yflat.attrs.shape, [S, Di])) return null;
  take(xD.rx);
  take(xD.rD);

  // h0 = reshape(state [H,P,N], [G,Hg,P,N]) and out state = reshape(last, [H,P,N]), looked through when sole
  const h0r = reshapeTo(rec.inputs[2]!, [G, Hg, P, N]);
  const h0 = h0r && shapeIs(h0r.inputs[0]!, [H, P, N]) ? (take(h0r), h0r.inputs[0]!) : rec.inputs[2]!;
  const lastRef = { node: rec.id, index: 1 };
  const lastR = m.soleUser(lastRef, "reshape");
  const lastOut = lastR && shapeEq(lastR.attrs.shape, [H, P, N]) ? (take(lastR), out0(lastR)) : lastRef;

  const epi = matchEpilogue(m, out0(yflat));
  interior.push(...epi.nodes);
  const ng = epi.norm?.attrs.groupSize ?? null;
  const legal = ng !== null && P % ng === 0;
  let epilogue: SsdEpilogue = "none";
  if (epi.z !== null && epi.norm === null) epilogue = "gate";
  else if (epi.z !== null && legal) epilogue = epi.normBeforeGate ? "norm_gate" : "gate_norm";
  else if (epi.z !== null) epilogue = epi.normBeforeGate ? "none" : "gate"; // the norm stays outside, see below
  const attrs: SsdAttrs = { epilogue, normGroup: legal ? ng : null, eps: legal ? epi.norm!.attrs.eps : null };
  // Where the norm is not legal: gate_norm keeps its rmsnorm node outside; norm_gate becomes rmsnorm_gated.
  const keptNorm = epi.norm !== null && !legal && !epi.normBeforeGate ? epi.norm : null;
  if (keptNorm) interior.splice(interior.indexOf(keptNorm), 1);
  const gated = epi.norm !== null && !legal && epi.normBeforeGate ? epi.norm : null;
  const replacesY = keptNorm ? { node: keptNorm.inputs[0]!.node, index: 0 } : epi.out;

  const op = S === 1 ? "ssd_state_update" : "ssd";
  const full = op === "ssd" ? { chunk, ...attrs } : attrs;
  const zIn = epi.z !== null && (attrs.epilogue !== "none" || gated) ? [epi.z] : [];
  const wIn = attrs.normGroup !== null || gated ? [epi.norm!.inputs[1]!] : [];
  const operands = [x, raw.dtRaw, Alog, dBx.B, r4.inputs[0]!, xD.rD.inputs[0]!, raw.dtBias, h0, ...zIn, ...wIn];

  // The fused op's type rule decides whether the operand shapes mean what the pattern assumed.
  const view = (t: TensorType, s: Shape): TensorType => ({ dtype: t.dtype, shape: s });
  const [tx, tdt, tA, tB, tC, tD, tdb] = operands.map(type) as TensorType[];
  const opTypes = [view(tx!, [S, H, P]), tdt!, tA!, view(tB!, [S, G, N]), view(tC!, [S, G, N]), tD!, tdb!, view(type(h0), [H, P, N])];
  if (attrs.epilogue !== "none") opTypes.push(view(type(epi.z!), [S, H, P]));
  if (attrs.normGroup !== null) opTypes.push(view(type(epi.norm!.inputs[1]!), [H, P]));
  try {
    const res = OPS[op].infer(opTypes, full as never);
    if (!typeEq(view(res[0]!, [S, Di]), type(replacesY))) return null;
  } catch (e) {
    if (e instanceof InferError) return null;
    throw e;
  }

  return {
    interior: new Set(interior.map((n) => n.id)),
    operands,
    replaces: [replacesY, lastOut],
    spans: mergeSpans(...interior.map((n) => n.spans)),
    emit: (b: GraphBuilder, ops) => {
      const [x, dtRaw, Alog, B, C, D, dtBias, h0] = ops as ValueRef[];
      const z = zIn.length > 0 ? ops[8]! : undefined;
      const w = wIn.length > 0 ? ops[8 + zIn.length]! : undefined;
      const rs = (r: ValueRef, s: Shape): ValueRef => (shapeEq(b.typeOf(r).shape, s) ? r : b.reshape(r, s));
      const [y, hOut] = b.ssd(
        op,
        {
          x: rs(x!, [S, H, P]),
          dt: dtRaw!,
          Alog: Alog!,
          B: rs(B!, [S, G, N]),
          C: rs(C!, [S, G, N]),
          D: D!,
          dtBias: dtBias!,
          h0: rs(h0!, [H, P, N]),
          ...(attrs.epilogue !== "none" ? { z: rs(z!, [S, H, P]) } : {}),
          ...(attrs.normGroup !== null ? { normW: rs(w!, [H, P]) } : {}),
        },
        full as never,
      );
      let out = b.reshape(y, [S, Di]);
      if (gated) out = b.rmsnormGated(out, z!, w!, { eps: gated.attrs.eps, groupSize: gated.attrs.groupSize, normBeforeGate: true });
      return [out, rs(hOut, type(lastOut).shape)];
    },
  };
}

function run(g: Graph): Graph {
  return fuseEach(g, "linear_recurrence", matchSsd);
}

export const fuseSsd: Pass = {
  name: "fuse-ssd",
  summary: "Mamba-2 discretise + grouped recurrence + C readout + D skip + gate / gated norm -> ssd / ssd_state_update",
  fusion: true,
  run,
};
