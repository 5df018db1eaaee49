/**
 * Flash-decoding: the two kernels of a split decode attention (passes/split-decode-attention.ts;
 * interp/attention.ts defines both ops):
 *
 *   attention_decode_partial   per key block b and head h, over the keys t of the block
 *                              (t in [lo + b B, lo + (b + 1) B) and t <= pos, lo the first visible key):
 *                              m = max s_t, l = sum exp(s_t - m), acc = sum exp(s_t - m) v_t,
 *                              s_t = scale q_h . k_t after RoPE; part[b, h] = [acc | m | l] (zeros when empty)
 *   attention_merge            o_h = sum_b e^(m_b - M) acc_b / sum_b e^(m_b - M) l_b over blocks with l_b > 0
 *
 * Partial: one workgroup per (block b, kv head g), NT invocations, in three phases separated by
 * barriers (all control flow before them is uniform: it depends on the workgroup id and `pos`):
 *   1. the group's query rows, roped and scaled, and the new key and value rows into workgroup
 *      memory; the block's scores, one (query head, key) pair per invocation step, into workgroup memory;
 *   2. per query head, one invocation: the block maximum m, the weights exp(s_t - m) in place, l;
 *   3. per (query head, dim), one invocation: acc = sum_t w_t v_t over the block.
 * Keys t < pos come from cache row t mod T, key pos from the k, v inputs (RoPE applied), exactly
 * as the single decode kernel (wgsl/attention.ts) does; the block-0 workgroup of each kv head
 * writes the new cache row (pos mod T), which no workgroup reads (the caller keeps
 * min(pos, W - 1) + 1 <= T, so the row's previous key is outside every window).
 * Merge: one invocation per output (h, d), a loop over the blocks.
 * Schedule: NT (invocations of a partial workgroup).
 */
import type { NodeOf } from "../../ir/graph.ts";
import { byteSize } from "../../ir/types.ts";
import { kernelHeader } from "../header.ts";
import { buildKernel, CodegenError, type KernelLimits, type KernelSpec, type UniformSpec } from "../kernel.ts";
import { bindOperands } from "../operands.ts";
import type { KernelRequest, OperandView } from "../request.ts";
import { attentionUses } from "./attention.ts";
import { kernelWindow } from "./common.ts";
import { emitFlat, flatSchedule, type FlatSchedule } from "./flat-kernel.ts";
import { ropeAngleDecl, ropedFn } from "./rotary.ts";
import { f32, lines, u32, wgsl } from "./template.ts";

export interface SplitSchedule {
  /** Invocations per partial workgroup. */
  readonly threads: number;
}

interface PartialProblem {
  readonly H: number;
  readonly Hkv: number;
  readonly D: number;
  readonly T: number;
  readonly block: number;
  readonly blocks: number;
  readonly scale: number;
  readonly window: number | null;
  readonly rope: { readonly theta: number; readonly dims: number } | null;
  readonly views: Record<"q" | "k" | "v" | "kc" | "vc" | "part" | "kcOut" | "vcOut", OperandView>;
}

function partialProblem(req: KernelRequest<"attention_decode_partial">): PartialProblem {
  const a = (req.node as NodeOf<"attention_decode_partial">).attrs;
  const [q, k, v, kc, vc] = req.inputs as [OperandView, OperandView, OperandView, OperandView, OperandView];
  const [T, Hkv, D] = kc.shape as [number, number, number];
  const [part, kcOut, vcOut] = req.results as [OperandView, OperandView, OperandView];
  return {
    H: (q.shape[1] as number) / D,
    Hkv,
    D,
    T,
    block: a.block,
    blocks: a.blocks,
    scale: a.scale,
    window: kernelWindow(a.window),
    rope: a.theta === null || a.rotaryDim === null ? null : { theta: a.theta, dims: a.rotaryDim },
    views: { q, k, v, kc, vc, part, kcOut, vcOut },
  };
}

/** f32 words of workgroup memory: the group's q rows, its scores, m and l per query head, the new k and v rows. */
function partialWords(p: PartialProblem): number {
  const G = p.H / p.Hkv;
  return G * p.D + G * p.block + 2 * G + 2 * p.D;
}

function emitPartial(req: KernelRequest<"attention_decode_partial">, p: PartialProblem, s: SplitSchedule, limits: KernelLimits): KernelSpec {
  const spans = req.node.spans;
  const { H, Hkv, D, T, block: B } = p;
  const G = H / Hkv;
  const NT = s.threads;
  const bytes = byteSize("f32", partialWords(p));
  if (bytes > limits.maxComputeWorkgroupStorageSize) {
    throw new CodegenError(`attention_decode_partial: ${G} query heads x (head dim ${D} + ${B} keys) need ${bytes} bytes of workgroup memory; the adapter allows ${limits.maxComputeWorkgroupStorageSize}`, spans);
  }
  if (NT < 1 || NT > Math.min(limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX)) throw new CodegenError(`attention_decode_partial: ${NT} invocations per workgroup`, spans);
  const v = p.views;
  const uses = attentionUses(v, { name: "part", view: v.part }, spans);
  const kIn = v.kcOut.buffer.key === v.kc.buffer.key;
  const vIn = v.vcOut.buffer.key === v.vc.buffer.key;
  const uniforms: UniformSpec = { fields: ["pos"] };
  const ops = bindOperands(uses, uniforms);
  const g = ops.get;
  const kOut = g(kIn ? "kc" : "kc_out");
  const vOut = g(vIn ? "vc" : "vc_out");
  const decls = [
    wgsl`var<workgroup> qs: array<f32, ${u32(G * D)}>;
var<workgroup> sc: array<f32, ${u32(G * B)}>;
var<workgroup> ml: array<f32, ${u32(2 * G)}>;
var<workgroup> kv_new: array<f32, ${u32(2 * D)}>;`,
  ];
  if (p.rope) decls.push(ropeAngleDecl(p.rope));
  decls.push(ropedFn("q_rope", "hb: u32, d: u32, t: u32", p.rope, (e) => g("q").load("0u", `hb + ${e}`)));
  decls.push(ropedFn("k_rope", "hb: u32, d: u32, t: u32", p.rope, (e) => g("k").load("0u", `hb + ${e}`)));
  const copyRows = (out: typeof kOut, inp: typeof kOut): string =>
    wgsl`for (var e = lid; e < ${u32(T * D)}; e += ${u32(NT)}) {
  let t = e / ${u32(D)};
  let d = e % ${u32(D)};
  if (t != pos % ${u32(T)}) { ${out.store(inp.load("t", "g", "d"), "t", "g", "d")} }
}`;
  const lo = p.window === null ? "0u" : wgsl`select(0u, pos + 1u - ${u32(p.window)}, pos + 1u >= ${u32(p.window)})`;
  // Element d of key t's row for kv head g: the cache for t < pos, the new row (roped k, v; staged
  // in workgroup memory once) for t = pos. The two are read in separate loops (scores) or the new
  // row's term added after the walk (values), not through a `select` per element, which
  // evaluates both sides: on lavapipe every element then cost a gather from each.
  const cachedKey = g("kc").load(`t % ${u32(T).text}`, "g", "d");
  const cachedValue = g("vc").load(`t % ${u32(T).text}`, "g", "d");
  const body = lines([
    wgsl`let pos = params.pos;
let b = wg / ${u32(Hkv)};
let g = wg % ${u32(Hkv)};
let first = ${lo} + b * ${u32(B)};
let n = select(0u, min(pos + 1u - first, ${u32(B)}), first <= pos);`,
    wgsl`if (b == 0u) {
  for (var d = lid; d < ${u32(D)}; d += ${u32(NT)}) {
    ${kOut.store(wgsl`k_rope(g * ${u32(D)}, d, pos)`, `pos % ${u32(T).text}`, "g", "d")}
    ${vOut.store(g("v").load("0u", wgsl`g * ${u32(D)} + d`), `pos % ${u32(T).text}`, "g", "d")}
  }
${lines([!kIn && copyRows(kOut, g("kc")), !vIn && copyRows(vOut, g("vc"))], 1)}
}`,
    wgsl`if (n == 0u) {
  for (var e = lid; e < ${u32(G * (D + 2))}; e += ${u32(NT)}) { ${g("part").store(f32(0).text, "b", wgsl`g * ${u32(G)} + e / ${u32(D + 2)}`, wgsl`e % ${u32(D + 2)}`)} }
  return;
}
for (var e = lid; e < ${u32(G * D)}; e += ${u32(NT)}) {
  let d = e % ${u32(D)};
  qs[e] = q_rope((g * ${u32(G)} + e / ${u32(D)}) * ${u32(D)}, d, pos) * ${f32(p.scale)};
}
for (var d = lid; d < ${u32(D)}; d += ${u32(NT)}) {
  kv_new[d] = k_rope(g * ${u32(D)}, d, pos);
  kv_new[${u32(D)} + d] = ${g("v").load("0u", wgsl`g * ${u32(D)} + d`)};
}
workgroupBarrier();
for (var e = lid; e < ${u32(G * B)}; e += ${u32(NT)}) {
  let j = e % ${u32(B)};
  if (j < n) {
    let t = first + j;
    let qb = (e / ${u32(B)}) * ${u32(D)};
    var dot = ${f32(0)};
    if (t == pos) {
      for (var d = 0u; d < ${u32(D)}; d++) { dot = fma(qs[qb + d], kv_new[d], dot); }
    } else {
      for (var d = 0u; d < ${u32(D)}; d++) { dot = fma(qs[qb + d], ${cachedKey}, dot); }
    }
    sc[e] = dot;
  }
}
workgroupBarrier();
if (lid < ${u32(G)}) {
  let sb = lid * ${u32(B)};
  var m = sc[sb];
  for (var j = 1u; j < n; j++) { m = max(m, sc[sb + j]); }
  var l = ${f32(0)};
  for (var j = 0u; j < n; j++) {
    let w = exp(sc[sb + j] - m);
    sc[sb + j] = w;
    l += w;
  }
  ml[2u * lid] = m;
  ml[2u * lid + 1u] = l;
}
workgroupBarrier();
for (var e = lid; e < ${u32(G * D)}; e += ${u32(NT)}) {
  let hh = e / ${u32(D)};
  let d = e % ${u32(D)};
  let sb = hh * ${u32(B)};
  var acc = ${f32(0)};
  for (var j = 0u; j < n; j++) {
    let t = first + j;
    if (t != pos) { acc = fma(sc[sb + j], ${cachedValue}, acc); }
  }
  // The new row, when it is in this block: it is the block's last key (t = pos, the newest).
  if (first + n == pos + 1u) { acc = fma(sc[sb + n - 1u], kv_new[${u32(D)} + d], acc); }
  let h = g * ${u32(G)} + hh;
  ${g("part").store("acc", "b", "h", "d")}
  if (d == 0u) {
    ${g("part").store("ml[2u * hh]", "b", "h", u32(D).text)}
    ${g("part").store("ml[2u * hh + 1u]", "b", "h", u32(D + 1).text)}
  }
}`,
  ]);
  const header = kernelHeader(req, uses, {
    math: [
      p.rope ? `q, k <- rope(q, pos), rope(k, pos): NeoX half-split on the first ${p.rope.dims} of ${D} dims, theta = ${p.rope.theta}` : "no RoPE",
      `k cache[pos mod ${T}, g, :] = k[g], v cache[pos mod ${T}, g, :] = v[g]${kIn && vIn ? " (in place)" : ""}`,
      `part[b, h] = [acc | m | l] of the keys t in [lo + ${B} b, lo + ${B} (b + 1)), t <= pos, lo = ${p.window === null ? "0" : `max(0, pos - ${p.window - 1})`}: s_t = ${p.scale} q_h . k_t, m = max s_t, l = sum exp(s_t - m), acc = sum exp(s_t - m) v_t; zeros when empty`,
    ],
    threads: [
      `workgroup: one (key block b, kv head g) of ${p.blocks} x ${Hkv}, ${NT} invocations; the ${G} query heads of g share the block's keys`,
      `phases: q rows and scores (head, key) into workgroup memory; m, l and the weights per head; acc per (head, dim)`,
    ],
  });
  return buildKernel({ name: req.name, node: req.node, header, bindings: ops.bindings, uniforms, workgroupSize: NT, decls, body, dispatch: { lTile: null, times: p.blocks * Hkv }, schedule: s });
}

function emitMerge(req: KernelRequest<"attention_merge">, s: FlatSchedule): KernelSpec {
  const part = req.inputs[0]!;
  const [NB, H, W] = part.shape as [number, number, number];
  const D = W - 2;
  return emitFlat(
    req,
    {
      dims: req.results[0]!.shape,
      uses: [
        { name: "part", view: part, write: false, vec4: false },
        { name: "o", view: req.results[0]!, write: true, vec4: false },
      ],
      uniforms: [],
      math: [`o[h, d] = sum_b e^(m_b - M) acc_b[d] / sum_b e^(m_b - M) l_b over the ${NB} blocks with l_b > 0, M = their max m_b;  part [${NB}, ${H}, ${D} + 2]`],
      item: `one output (h, d): two passes over ${NB} blocks`,
      decls: () => [],
      body: ([, c], ops) => {
        const P = ops.get("part");
        return wgsl`let h = ${c!} / ${u32(D)};
let d = ${c!} % ${u32(D)};
var M = ${f32(-3.0e38)};
for (var b = 0u; b < ${u32(NB)}; b++) {
  if (${P.load("b", "h", u32(D + 1).text)} > ${f32(0)}) { M = max(M, ${P.load("b", "h", u32(D).text)}); }
}
var l = ${f32(0)};
var acc = ${f32(0)};
for (var b = 0u; b < ${u32(NB)}; b++) {
  let lb = ${P.load("b", "h", u32(D + 1).text)};
  if (lb > ${f32(0)}) {
    let f = exp(${P.load("b", "h", u32(D).text)} - M);
    l = fma(f, lb, l);
    acc = fma(f, ${P.load("b", "h", "d")}, acc);
  }
}
${ops.get("o").store("acc / l", "0u", c!)}`;
      },
    },
    s,
  );
}

export function generateAttentionPartial(req: KernelRequest<"attention_decode_partial">, limits: KernelLimits, override: Partial<SplitSchedule> = {}): KernelSpec {
  const threads = Math.min(64, limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX);
  return emitPartial(req, partialProblem(req), { threads, ...override }, limits);
}

export function generateAttentionMerge(req: KernelRequest<"attention_merge">, limits: KernelLimits, override: Partial<FlatSchedule> = {}): KernelSpec {
  return emitMerge(req, { ...flatSchedule(limits), ...override });
}
