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
 *
 * Wide heads (head_dim > 64, e.g. the 128 of Jamba, Bamba, Nemotron-H, Falcon-H1): one invocation
 * holding a q row and an accumulator of D f32 each would need 2 D registers (256 at D = 128) and
 * spill on a GPU. So DS invocations share each (query, head): invocation `part` owns dims
 * [part DD, (part + 1) DD), DD = D / DS <= 32, of q and of the accumulator. Per key block each
 * writes its partial dot products q[slice] . k_t[slice] to workgroup memory (pd, WG x BK f32);
 * after a barrier each sums the DS partials of its row (all DS compute the same scores, hence the
 * same m and l) and updates its slice of the accumulator. Every barrier is reached by the whole
 * workgroup (the key-block loop runs to a workgroup-uniform bound; only the arithmetic is guarded).
 * Schedule: TQ (queries per workgroup), BK (keys per staged block, 2 BK D floats of workgroup
 * memory, plus WG BK for the partial dots when DS > 1), DS (invocations per query and head: 1 up
 * to D = 64, else the smallest divisor of D leaving at most 32 dims each).
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
  /** Invocations per (query, head), each owning D / ds dims of q and of the accumulator; ds divides D. */
  readonly ds: number;
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

/** Dims of q and of the accumulator one invocation may hold in registers. */
export const MAX_DIMS_PER_INVOCATION = 32;

/** Invocations per (query, head): 1 up to D = 64 (2 D registers), else the smallest divisor of D leaving at most 32 dims each. */
export function headSplit(D: number): number {
  if (D <= 64) return 1;
  let ds = Math.ceil(D / MAX_DIMS_PER_INVOCATION);
  while (D % ds !== 0) ds++;
  return ds;
}

/** Bytes of workgroup memory: the k and v tiles (BK x D f32 each) and, when DS > 1, the partial dots (WG x BK f32). */
export function attentionWorkgroupBytes(D: number, s: AttentionSchedule, WG: number): number {
  return 4 * (2 * s.bk * D + (s.ds > 1 ? WG * s.bk : 0));
}

export function attentionSchedule(limits: KernelLimits, p: AttentionProblem, spans: KernelRequest["node"]["spans"]): AttentionSchedule {
  const group = p.H / p.Hkv;
  const wgMax = Math.min(limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX);
  if (group > wgMax) throw new CodegenError(`attention: ${group} query heads per kv head exceed the adapter's ${wgMax} invocations per workgroup`, spans);
  // The head split, as wide as the workgroup allows (a divisor of D).
  let ds = headSplit(p.D);
  while (ds > 1 && group * ds > wgMax) {
    ds--;
    while (p.D % ds !== 0) ds--;
  }
  const tq = p.S === 1 ? 1 : Math.max(1, floorPow2(Math.floor(Math.min(64, Math.floor(wgMax / ds)) / group)));
  const WG = tq * group * ds;
  // Two BK x D f32 tiles (k and v), and the partial dots, in workgroup memory.
  const perKey = 8 * p.D + (ds > 1 ? 4 * WG : 0);
  const bkFit = Math.floor(limits.maxComputeWorkgroupStorageSize / perKey);
  if (bkFit < 1) throw new CodegenError(`attention: head dim ${p.D} does not fit one key of k and v (${perKey} bytes) in ${limits.maxComputeWorkgroupStorageSize} bytes of workgroup memory`, spans);
  return { tq, bk: Math.min(16, floorPow2(bkFit)), ds };
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
  const { tq: TQ, bk: BK, ds: DS } = s;
  if (!Number.isInteger(DS) || DS < 1 || D % DS !== 0) throw new CodegenError(`attention: ds = ${DS} does not divide head dim ${D}`, spans);
  const DD = D / DS;
  const WG = TQ * group * DS;
  if (WG > 1024 || attentionWorkgroupBytes(D, s, WG) > 65536) throw new CodegenError(`attention: schedule tq=${TQ} bk=${BK} ds=${DS} too large`, spans);
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
  if (DS > 1) decls.push(wgsl`var<workgroup> pd: array<f32, ${u32(WG * BK)}>;`);
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
let qrow = lid / ${u32(DS)};
let part = lid % ${u32(DS)};
let d0 = part * ${u32(DD)};
let qi = qrow / ${u32(group)};
let h = g * ${u32(group)} + qrow % ${u32(group)};
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
    wgsl`var qv: array<f32, ${u32(DD)}>;
var acc: array<f32, ${u32(DD)}>;
var sc: array<f32, ${u32(BK)}>;
if (live) {
  for (var i = 0u; i < ${u32(DD)}; i++) { qv[i] = q_rope(s, h * ${u32(D)}, d0 + i, p) * ${f32(p.scale)}; acc[i] = ${f32(0)}; }
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
${lines(
  [
    DS > 1 &&
      wgsl`if (live) {
  for (var j = 0u; j < ${u32(BK)}; j++) {
    let t = t0 + j;
    var dot = ${f32(0)};
    if (t >= my_lo && t <= p) {
      for (var i = 0u; i < ${u32(DD)}; i++) { dot = fma(qv[i], kt[j * ${u32(D)} + d0 + i], dot); }
    }
    pd[lid * ${u32(BK)} + j] = dot;
  }
}
workgroupBarrier();`,
  ],
  2,
)}
  if (live) {
    var mb = m;
    for (var j = 0u; j < ${u32(BK)}; j++) {
      let t = t0 + j;
      if (t >= my_lo && t <= p) {
${lines(
  [
    DS > 1
      ? wgsl`var dot = ${f32(0)};
for (var u = 0u; u < ${u32(DS)}; u++) { dot += pd[(qrow * ${u32(DS)} + u) * ${u32(BK)} + j]; }`
      : wgsl`var dot = ${f32(0)};
for (var i = 0u; i < ${u32(D)}; i++) { dot = fma(qv[i], kt[j * ${u32(D)} + i], dot); }`,
  ],
  8,
)}
        sc[j] = dot;
        mb = max(mb, dot);
      }
    }
    let corr = exp(m - mb);
    l *= corr;
    for (var i = 0u; i < ${u32(DD)}; i++) { acc[i] *= corr; }
    for (var j = 0u; j < ${u32(BK)}; j++) {
      let t = t0 + j;
      if (t >= my_lo && t <= p) {
        let w = exp(sc[j] - mb);
        l += w;
        for (var i = 0u; i < ${u32(DD)}; i++) { acc[i] = fma(w, vt[j * ${u32(D)} + d0 + i], acc[i]); }
      }
    }
    m = mb;
  }
}
if (live) {
  let inv_l = ${f32(1)} / l;
  for (var i = 0u; i < ${u32(DD)}; i++) { ${g("o").store("acc[i] * inv_l", "s", wgsl`h * ${u32(D)} + d0 + i`)} }
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
      `workgroup: ${TQ} queries x ${group} query heads of one kv head${DS > 1 ? ` x ${DS} head slices` : ""} (H = ${H}, Hkv = ${Hkv}, D = ${D}); grid: ceil(S / ${TQ}) * ${Hkv}, wg = tile * ${Hkv} + g`,
      DS > 1
        ? `invocation: one (query, head, slice of ${DD} dims); its slices of q and of the accumulator (${DD} f32 each) in registers; scores summed from the ${DS} slices' partial dots (workgroup memory, ${WG * BK * 4} bytes)`
        : `invocation: one (query, head); q row and accumulator (${D} f32 each) in registers`,
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
  const bytes = attentionWorkgroupBytes(p.D, s, s.tq * (p.H / p.Hkv) * s.ds);
  if (bytes > limits.maxComputeWorkgroupStorageSize) throw new CodegenError(`attention: bk = ${s.bk}, ds = ${s.ds} needs ${bytes} bytes of workgroup memory`, req.node.spans);
  return emitAttention(req, p, s);
}
