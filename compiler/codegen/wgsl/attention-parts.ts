/**
 * The unfused attention pieces, one generator (interp/kernels.ts defines each):
 *
 *   attn_scores  s[q, h, t] = scale * sum_d q[q, h, d] k[t, h / G, d]        q [S, H, D], k [T, Hkv, D] -> [S, H, T]
 *   attn_mask    s'[q, h, t] = s[q, h, t] if 0 <= a_t <= pos + q and (no window or a_t > pos + q - window), else MASKED,
 *                a_t = last - ((last - t) mod T), last = pos + S - 1: the position cache row t holds (runtime/artifact/kv-ring.ts)
 *   attn_values  o[q, h, d] = sum_t p[q, h, t] v[t, h / G, d]                p [S, H, T], v [T, Hkv, D] -> [S, H, D]
 *
 * (G = H / Hkv query heads per kv head: GQA, MQA when Hkv = 1.) MASKED (-FLT_MAX) stands for
 * -inf, which WGSL cannot be relied on to hold; softmax (wgsl/softmax.ts) gives it weight 0.
 * Algorithm: one invocation per output element, the contraction over D or T in registers; the
 * flat grid of wgsl/flat-kernel.ts. These are the baseline the fused attention kernel is checked
 * and measured against, so they stay plain. Schedule: workgroup size.
 */
import { assertNever } from "../../diag/diagnostic.ts";
import type { Node } from "../../ir/graph.ts";
import type { KernelLimits, KernelSpec } from "../kernel.ts";
import type { KernelRequest, OperandView } from "../request.ts";
import { emitFlat, flatSchedule, type FlatKernel, type FlatSchedule } from "./flat-kernel.ts";
import { kernelWindow, lengthExpr } from "./common.ts";
import { MASKED } from "./softmax.ts";
import { f32, i32, u32, wgsl } from "./template.ts";

export type AttentionPartOp = "attn_scores" | "attn_mask" | "attn_values";

export type AttentionPartProblem =
  | { readonly op: "attn_scores"; readonly G: number; readonly D: number; readonly scale: number; readonly q: OperandView; readonly k: OperandView; readonly y: OperandView }
  | { readonly op: "attn_mask"; readonly window: number | null; readonly T: number; readonly x: OperandView; readonly y: OperandView }
  | { readonly op: "attn_values"; readonly G: number; readonly T: number; readonly p: OperandView; readonly v: OperandView; readonly y: OperandView };

export function attentionPartProblem(req: KernelRequest<AttentionPartOp>): AttentionPartProblem {
  const [a, b] = req.inputs as [OperandView, OperandView];
  const y = req.results[0]!;
  const G = (a.shape[1] as number) / (b.shape[1] as number);
  const node = req.node as Extract<Node, { op: AttentionPartOp }>;
  switch (node.op) {
    case "attn_scores":
      return { op: node.op, G, D: a.shape[2] as number, scale: node.attrs.scale, q: a, k: b, y };
    case "attn_mask":
      return { op: node.op, window: kernelWindow(node.attrs.window), T: a.shape[2] as number, x: a, y };
    case "attn_values":
      return { op: node.op, G, T: a.shape[2] as number, p: a, v: b, y };
    default:
      return assertNever(node, "attention part");
  }
}

const read = (name: string, view: OperandView) => ({ name, view, write: false, vec4: false });
const written = (view: OperandView) => ({ name: "y", view, write: true, vec4: false });

function kernelOf(p: AttentionPartProblem): FlatKernel {
  const base = { dims: p.y.shape, decls: () => [] };
  switch (p.op) {
    case "attn_scores":
      return {
        ...base,
        uses: [read("q", p.q), read("k", p.k), written(p.y)],
        uniforms: [],
        math: [`s[i, h, t] = ${p.scale} * sum_d q[i, h, d] * k[t, h / ${p.G}, d],  D = ${p.D}`],
        item: `one score (i, h, t): a dot product of ${p.D}`,
        body: ([i, h, t], ops) => wgsl`let g = ${h!} / ${u32(p.G)};
var acc = ${f32(0)};
for (var d = 0u; d < ${u32(p.D)}; d++) { acc = fma(${ops.get("q").load(i!, h!, "d")}, ${ops.get("k").load(t!, "g", "d")}, acc); }
${ops.get("y").store(wgsl`acc * ${f32(p.scale)}`, i!, h!, t!)}`,
      };
    case "attn_mask":
      return {
        ...base,
        uses: [read("x", p.x), written(p.y)],
        uniforms: ["pos"],
        math: [
          `y[i, h, t] = 0 <= a_t <= pos + i${p.window === null ? "" : ` and a_t > pos + i - ${p.window}`} ? x[i, h, t] : ${MASKED.text} (stands for -inf)`,
          `a_t = last - ((last - t) mod ${p.T}), last = pos + S - 1: the position cache row t holds`,
        ],
        item: "one score (i, h, t)",
        body: ([i, h, t], ops) => wgsl`let qp = i32(params.pos + ${i!});
let last = params.pos + ${lengthExpr(p.x.shape[0]!)} - 1u;
let at = i32(last) - i32((last + ${u32(p.T)} - ${t!}) % ${u32(p.T)});
let allowed = at >= 0 && at <= qp${p.window !== null && wgsl` && at + ${i32(p.window)} > qp`};
${ops.get("y").store(`select(${MASKED}, ${ops.get("x").load(i!, h!, t!)}, allowed)`, i!, h!, t!)}`,
      };
    case "attn_values":
      return {
        ...base,
        uses: [read("p", p.p), read("v", p.v), written(p.y)],
        uniforms: [],
        math: [`o[i, h, d] = sum_t p[i, h, t] * v[t, h / ${p.G}, d],  T = ${p.T}`],
        item: `one output (i, h, d): a sum over ${p.T} keys`,
        body: ([i, h, d], ops) => wgsl`let g = ${h!} / ${u32(p.G)};
var acc = ${f32(0)};
for (var t = 0u; t < ${u32(p.T)}; t++) { acc = fma(${ops.get("p").load(i!, h!, "t")}, ${ops.get("v").load("t", "g", d!)}, acc); }
${ops.get("y").store("acc", i!, h!, d!)}`,
      };
    default:
      return assertNever(p, "attention part");
  }
}

export function emitAttentionPart(req: KernelRequest<AttentionPartOp>, p: AttentionPartProblem, s: FlatSchedule): KernelSpec {
  return emitFlat(req, kernelOf(p), s);
}

export function generateAttentionPart(req: KernelRequest<AttentionPartOp>, limits: KernelLimits, override: Partial<FlatSchedule> = {}): KernelSpec {
  return emitAttentionPart(req, attentionPartProblem(req), { ...flatSchedule(limits), ...override });
}
