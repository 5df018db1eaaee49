/**
 * The attention family: `attention` (prefill, S = L) and `attention_decode` (S = 1), one
 * generator, flash-style, for the definition in interp/attention.ts:
 *
 *   q, k = rope(q, pos + s), rope(k, pos + s)       NeoX half-split on the first rotaryDim dims
 *   caches' = caches with rows (pos + s) mod T = k (after RoPE), v    (a ring: runtime/artifact/kv-ring.ts)
 *   o[s, h] = softmax_t(scale q_s . k_t) v_t over t in [lo, pos + s], lo = window ? pos + s - W + 1 : 0,
 *             query head h reading kv head h / (H / Hkv)
 *
 * Algorithm: one workgroup per (tile of TQ queries, kv head g), one invocation per (query, query
 * head of g's group), so GQA/MQA heads share every key tile. The keys the tile needs are walked
 * in blocks of BK rows of k and v staged in workgroup memory (loaded cooperatively, between two
 * barriers); each invocation keeps its roped, scaled q row and its output accumulator in
 * registers and runs the online softmax per block (m, l, acc rescaled once per block).
 *
 * Race freedom of the in-place cache update: one dispatch both writes cache rows (pos + s) mod T
 * and reads keys, and workgroups cannot wait for one another. So no workgroup ever reads a row
 * this dispatch writes: keys t >= pos come straight from the k, v inputs (RoPE applied as they
 * are staged), keys t < pos from cache row t mod T, which this dispatch writes only if
 * t <= pos + S - 1 - T; the caller guarantees min(pos, W - 1) + S <= T (every key the call sees
 * is still in the ring), so such a t lies before every query's window and is never read. The
 * rows of kv head g for query s are written only by the workgroup whose tile holds s: every
 * cache element is written at most once, and nothing written is read. RoPE angles
 * t * inv_freq are reduced mod 2 pi exactly, in u32 fixed point (turns), so sin/cos get an
 * accurate argument in [-pi, pi) at any position.
 *
 * When a cache result is not the input's buffer (not in place), the tile-0 workgroup of each kv
 * head also copies the other rows.
 * Schedule: TQ (queries per workgroup), BK (keys per staged block, 2 BK D floats of workgroup memory).
 */
import type { NodeOf } from "../../ir/graph.ts";
import type { Dim } from "../../ir/types.ts";
import { kernelHeader } from "../header.ts";
import { buildKernel, CodegenError, type KernelLimits, type KernelSpec, type UniformSpec } from "../kernel.ts";
import { bindOperands, type OperandUse } from "../operands.ts";
import type { KernelRequest, OperandView } from "../request.ts";
import { kernelWindow, lengthExpr } from "./common.ts";
import { ropeAngleDecl, ropedFn } from "./rotary.ts";
import { f32, lines, u32, wgsl } from "./template.ts";

export type AttentionOp = "attention" | "attention_decode";

export interface AttentionProblem {
  readonly S: Dim;
  readonly H: number;
  readonly Hkv: number;
  readonly D: number;
  /** Cache rows. */
  readonly T: number;
  readonly scale: number;
  readonly window: number | null;
  /** RoPE: theta and rotaryDim, or null. */
  readonly rope: { readonly theta: number; readonly dims: number } | null;
  readonly q: OperandView;
  readonly k: OperandView;
  readonly v: OperandView;
  readonly kc: OperandView;
  readonly vc: OperandView;
  readonly o: OperandView;
  readonly kcOut: OperandView;
  readonly vcOut: OperandView;
}

export interface AttentionSchedule {
  /** Queries per workgroup (the workgroup is TQ * H/Hkv invocations). */
  readonly tq: number;
  /** Keys per block staged in workgroup memory. */
  readonly bk: number;
}

export function attentionProblem(req: KernelRequest<AttentionOp>): AttentionProblem {
  const node = req.node as NodeOf<AttentionOp>;
  const [q, k, v, kc, vc] = req.inputs as [OperandView, OperandView, OperandView, OperandView, OperandView];
  const [T, Hkv, D] = kc.shape as [number, number, number];
  const H = (q.shape[1] as number) / D;
  const a = node.attrs;
  return {
    S: q.shape[0]!,
    H,
    Hkv,
    D,
    T,
    scale: a.scale,
    window: kernelWindow(a.window),
    rope: a.theta === null || a.rotaryDim === null ? null : { theta: a.theta, dims: a.rotaryDim },
    q,
    k,
    v,
    kc,
    vc,
    o: req.results[0]!,
    kcOut: req.results[1]!,
    vcOut: req.results[2]!,
  };
}

function floorPow2(n: number): number {
  let p = 1;
  while (p * 2 <= n) p *= 2;
  return p;
}

export function attentionSchedule(limits: KernelLimits, p: AttentionProblem, spans: KernelRequest["node"]["spans"]): AttentionSchedule {
  const group = p.H / p.Hkv;
  const wgMax = Math.min(limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX);
  if (group > wgMax) throw new CodegenError(`attention: ${group} query heads per kv head exceed the adapter's ${wgMax} invocations per workgroup`, spans);
  // Two BK x D f32 tiles (k and v) in workgroup memory.
  const bkFit = Math.floor(limits.maxComputeWorkgroupStorageSize / (8 * p.D));
  if (bkFit < 1) throw new CodegenError(`attention: head dim ${p.D} does not fit one key of k and v (${8 * p.D} bytes) in ${limits.maxComputeWorkgroupStorageSize} bytes of workgroup memory`, spans);
  const tq = p.S === 1 ? 1 : Math.max(1, floorPow2(Math.floor(Math.min(64, wgMax) / group)));
  return { tq, bk: Math.min(16, floorPow2(bkFit)) };
}

/** The operands of q, k, v, the caches (in place when a cache result shares the input's buffer) and the output. */
export type AttentionViews = Pick<AttentionProblem, "q" | "k" | "v" | "kc" | "vc" | "kcOut" | "vcOut">;

/**
 * The bindings of an attention kernel, in order: q, k, v, the caches, `out`, the cache results
 * (`kc`/`vc` again when in place, else `kc_out`/`vc_out`). An input sharing a buffer with a cache
 * the kernel writes is refused (the kernel reads inputs while it writes the caches).
 */
export function attentionUses(p: AttentionViews, out: { readonly name: string; readonly view: OperandView }, spans: KernelRequest["node"]["spans"]): OperandUse[] {
  for (const [a, b] of [
    [p.k, p.kcOut],
    [p.v, p.vcOut],
    [p.q, p.kcOut],
    [p.q, p.vcOut],
  ] as const) {
    if (a.buffer.key === b.buffer.key) throw new CodegenError(`attention: an input shares buffer ${a.buffer.key} with a cache it writes`, spans);
  }
  const kIn = p.kcOut.buffer.key === p.kc.buffer.key;
  const vIn = p.vcOut.buffer.key === p.vc.buffer.key;
  return [
    { name: "q", view: p.q, write: false, vec4: false },
    { name: "k", view: p.k, write: false, vec4: false },
    { name: "v", view: p.v, write: false, vec4: false },
    { name: "kc", view: p.kc, write: false, vec4: false },
    { name: "vc", view: p.vc, write: false, vec4: false },
    { ...out, write: true, vec4: false },
    { name: kIn ? "kc" : "kc_out", view: p.kcOut, write: true, vec4: false },
    { name: vIn ? "vc" : "vc_out", view: p.vcOut, write: true, vec4: false },
  ];
}

export function emitAttention(req: KernelRequest<AttentionOp>, p: AttentionProblem, s: AttentionSchedule): KernelSpec {
  const spans = req.node.spans;
  const { H, Hkv, D, T } = p;
  const group = H / Hkv;
  const { tq: TQ, bk: BK } = s;
  const WG = TQ * group;
  if (WG > 1024 || BK * D * 8 > 65536) throw new CodegenError(`attention: schedule tq=${TQ} bk=${BK} too large`, spans);
  const uses = attentionUses(p, { name: "o", view: p.o }, spans);
  const kIn = p.kcOut.buffer.key === p.kc.buffer.key;
  const vIn = p.vcOut.buffer.key === p.vc.buffer.key;
  const uniforms: UniformSpec = { fields: p.S === "L" ? ["L", "pos"] : ["pos"] };
  const ops = bindOperands(uses, uniforms);
  const g = ops.get;
  const kOut = g(kIn ? "kc" : "kc_out");
  const vOut = g(vIn ? "vc" : "vc_out");
  const rope = p.rope;
  const NEG = f32(-3.0e38);

  const decls: string[] = [];
  decls.push(wgsl`var<workgroup> kt: array<f32, ${u32(BK * D)}>;
var<workgroup> vt: array<f32, ${u32(BK * D)}>;`);
  if (rope) decls.push(ropeAngleDecl(rope));
  // Element d of row s of a head-major [S, heads * D] input, roped at position `t` (head base hb).
  const roped = (name: "q" | "k"): string => ropedFn(`${name}_rope`, "s: u32, hb: u32, d: u32, t: u32", rope, (e) => g(name).load("s", `hb + ${e}`));
  decls.push(roped("q"), roped("k"));
  const lowOf = (pe: string): string =>
    p.window === null ? "0u" : wgsl`select(0u, ${pe} + 1u - ${u32(p.window)}, ${pe} + 1u >= ${u32(p.window)})`;

  const copyRows = (out: typeof kOut, inp: typeof kOut): string =>
    wgsl`for (var e = lid; e < ${u32(T * D)}; e += ${u32(WG)}) {
  let t = e / ${u32(D)};
  let d = e % ${u32(D)};
  if ((t + ${u32(T)} - pos % ${u32(T)}) % ${u32(T)} >= L) { ${out.store(inp.load("t", "g", "d"), "t", "g", "d")} }
}`;

  const body = lines([
    wgsl`let L = ${lengthExpr(p.S)};
let pos = params.pos;
let tile = wg / ${u32(Hkv)};
let g = wg % ${u32(Hkv)};
let s0 = tile * ${u32(TQ)};
if (s0 >= L) { return; }
let qi = lid / ${u32(group)};
let h = g * ${u32(group)} + lid % ${u32(group)};
let s = s0 + qi;
let live = s < L;
let p = pos + s;`,
    // The cache rows of this tile's queries: k after RoPE, v as is (never read by this dispatch).
    wgsl`for (var e = lid; e < ${u32(TQ * D)}; e += ${u32(WG)}) {
  let sw = s0 + e / ${u32(D)};
  let d = e % ${u32(D)};
  if (sw < L) {
    let row = (pos + sw) % ${u32(T)};
    ${kOut.store(`k_rope(sw, g * ${u32(D).text}, d, pos + sw)`, "row", "g", "d")}
    ${vOut.store(g("v").load("sw", wgsl`g * ${u32(D)} + d`), "row", "g", "d")}
  }
}`,
    (!kIn || !vIn) &&
      wgsl`if (tile == 0u) {
${lines([!kIn && copyRows(kOut, g("kc")), !vIn && copyRows(vOut, g("vc"))], 2)}
}`,
    wgsl`var qv: array<f32, ${u32(D)}>;
var acc: array<f32, ${u32(D)}>;
var sc: array<f32, ${u32(BK)}>;
if (live) {
  for (var d = 0u; d < ${u32(D)}; d++) { qv[d] = q_rope(s, h * ${u32(D)}, d, p) * ${f32(p.scale)}; acc[d] = ${f32(0)}; }
}
var m = ${NEG};
var l = ${f32(0)};
let my_lo = ${lowOf("p")};
let p_last = pos + min(s0 + ${u32(TQ)}, L) - 1u;
let t_first = ${lowOf("pos + s0")};
for (var t0 = t_first; t0 <= p_last; t0 += ${u32(BK)}) {
  workgroupBarrier();
  for (var e = lid; e < ${u32(BK * D)}; e += ${u32(WG)}) {
    let t = t0 + e / ${u32(D)};
    let d = e % ${u32(D)};
    if (t <= p_last) {
      if (t < pos) {
        kt[e] = ${g("kc").load(`t % ${u32(T).text}`, "g", "d")};
        vt[e] = ${g("vc").load(`t % ${u32(T).text}`, "g", "d")};
      } else {
        kt[e] = k_rope(t - pos, g * ${u32(D)}, d, t);
        vt[e] = ${g("v").load("t - pos", wgsl`g * ${u32(D)} + d`)};
      }
    }
  }
  workgroupBarrier();
  if (live) {
    var mb = m;
    for (var j = 0u; j < ${u32(BK)}; j++) {
      let t = t0 + j;
      if (t >= my_lo && t <= p) {
        var dot = ${f32(0)};
        for (var d = 0u; d < ${u32(D)}; d++) { dot = fma(qv[d], kt[j * ${u32(D)} + d], dot); }
        sc[j] = dot;
        mb = max(mb, dot);
      }
    }
    let corr = exp(m - mb);
    l *= corr;
    for (var d = 0u; d < ${u32(D)}; d++) { acc[d] *= corr; }
    for (var j = 0u; j < ${u32(BK)}; j++) {
      let t = t0 + j;
      if (t >= my_lo && t <= p) {
        let w = exp(sc[j] - mb);
        l += w;
        for (var d = 0u; d < ${u32(D)}; d++) { acc[d] = fma(w, vt[j * ${u32(D)} + d], acc[d]); }
      }
    }
    m = mb;
  }
}
if (live) {
  let inv_l = ${f32(1)} / l;
  for (var d = 0u; d < ${u32(D)}; d++) { ${g("o").store("acc[d] * inv_l", "s", wgsl`h * ${u32(D)} + d`)} }
}`,
  ]);

  const header = kernelHeader(req, uses, {
    math: [
      rope ? `q, k <- rope(q, pos + s), rope(k, pos + s): NeoX half-split on the first ${rope.dims} of ${D} dims, theta = ${rope.theta}` : "no RoPE",
      `k cache[(pos + s) mod ${T}, g, :] = k[s, g], v cache[(pos + s) mod ${T}, g, :] = v[s, g]   (s < ${p.S === "L" ? "L" : p.S}${kIn && vIn ? ", in place" : ""})`,
      `o[s, h] = sum_t softmax_t(${p.scale} * q[s, h] . k_t) v_t,  t in [${p.window === null ? "0" : `pos + s - ${p.window - 1}`}, pos + s],  kv head g = h / ${group}`,
      `keys t < pos from cache row t mod ${T}, t >= pos from k, v directly (so no cache row this dispatch writes is read; needs min(pos, W - 1) + S <= ${T})`,
    ],
    threads: [
      `workgroup: ${TQ} queries x ${group} query heads of one kv head (H = ${H}, Hkv = ${Hkv}, D = ${D}); grid: ceil(S / ${TQ}) * ${Hkv}, wg = tile * ${Hkv} + g`,
      `invocation: one (query, head); q row and accumulator (${D} f32 each) in registers`,
      `keys: blocks of ${BK} rows of k and v staged in workgroup memory (${BK * D * 8} bytes); online softmax per block`,
    ],
  });
  return buildKernel({
    name: req.name,
    node: req.node,
    header,
    bindings: ops.bindings,
    uniforms,
    workgroupSize: WG,
    decls,
    body,
    dispatch: p.S === "L" ? { lTile: TQ, times: Hkv } : { lTile: null, times: Math.ceil(p.S / TQ) * Hkv },
    schedule: s,
  });
}

export function generateAttention(req: KernelRequest<AttentionOp>, limits: KernelLimits, override: Partial<AttentionSchedule> = {}): KernelSpec {
  const p = attentionProblem(req);
  const s = { ...attentionSchedule(limits, p, req.node.spans), ...override };
  if (s.bk * p.D * 8 > limits.maxComputeWorkgroupStorageSize) throw new CodegenError(`attention: bk = ${s.bk} needs ${s.bk * p.D * 8} bytes of workgroup memory`, req.node.spans);
  return emitAttention(req, p, s);
}
