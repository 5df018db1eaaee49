/**
 * The kernels of a program: every node that launches a dispatch per call, in execution order.
 * Not kernels: graph inputs and weights, views (views.ts) and constants computed from weights
 * alone (storage.ts; they run once when the weights are loaded).
 *
 * Each kernel gets a stable name, `{scope}.{label}`:
 *   scope  `layers.{i}` from the layer of the weights it reads (or of its operands, for a node
 *          that reads no weight); empty for the model-level embedding, final norm and LM head
 *   label  the module path inside the layer of what the kernel reads: a projection by its
 *          matrices (`mixer.in_proj`, `self_attn.q_proj+k_proj+v_proj`; with the conv step in its
 *          epilogue `mixer.in_proj+conv1d`), a norm or conv by its
 *          tensor (`norm`, `mixer.conv1d`), another fused op by the op inside its modules'
 *          common parent (`mixer.selective_scan`); a product with the embedding matrix (a tied
 *          LM head) is `lm_head`; a kernel that reads no weight is named by its op
 * A repeated name gets `_2`, `_3`, ... in execution order. Unfused Mamba-1 decode:
 *   embeddings, layers.0.norm, layers.0.mixer.in_proj, layers.0.mixer.conv1d, layers.0.add,
 *   layers.0.silu, ..., layers.0.selective_state_update, layers.0.mixer.out_proj, layers.0.add_2,
 *   norm_f, lm_head
 */
import type { Graph, Node, ValueRef } from "../ir/graph.ts";
import { FUSED_OPS } from "../ir/fused-ops.ts";
import type { OpName } from "../ir/ops.ts";
import { storage } from "./storage.ts";
import { isView, layouts, type Layout } from "./views.ts";

export interface KernelInfo {
  /** Node id in the graph. */
  readonly node: number;
  readonly name: string;
  readonly op: OpName;
}

/** Which operand holds the parameter tensor that names the kernel. */
const NAMING_OPERAND: Partial<Record<OpName, number>> = { linear: 1, rmsnorm: 1, layernorm: 1, conv1d_causal: 2, embedding: 0 };

/**
 * The per-call kernels of `g`, in execution order. `L` binds the sequence length (whether a
 * reshape is a view can depend on unit dims; the default 2 is the general case).
 */
export function kernels(g: Graph, L = 2): KernelInfo[] {
  const lay = layouts(g, L);
  return kernelsOf(g, lay, storage(g, lay).constant);
}

/** The kernels and the load-time constant nodes, given layouts and the constant flags. */
export function kernelsOf(g: Graph, lay: readonly (readonly Layout[])[], constant: readonly boolean[], which: "call" | "load" = "call"): KernelInfo[] {
  const weightOf = (r: ValueRef): Extract<Node, { op: "weight" }> | null => {
    const b = g.nodes[lay[r.node]![r.index]!.base.node]!;
    return b.op === "weight" ? b : null;
  };
  const layer: (number | null)[] = [];
  const used = new Map<string, number>();
  const out: KernelInfo[] = [];
  for (const n of g.nodes) {
    layer.push(layerOf(n, layer, weightOf));
    const isKernel = n.op !== "input" && n.op !== "weight" && !isView(g, lay, n.id) && constant[n.id] === (which === "load");
    if (!isKernel) continue;
    const base = `${layer[n.id] === null ? "" : `layers.${layer[n.id]}.`}${label(n, weightOf)}`;
    const k = (used.get(base) ?? 0) + 1;
    used.set(base, k);
    out.push({ node: n.id, name: k === 1 ? base : `${base}_${k}`, op: n.op });
  }
  return out;
}

function layerOf(n: Node, layer: readonly (number | null)[], weightOf: (r: ValueRef) => Extract<Node, { op: "weight" }> | null): number | null {
  if (n.op === "weight") return n.attrs.layer;
  if (n.op === "input") {
    const m = /^layers\.(\d+)\./.exec(n.attrs.name);
    return m ? Number(m[1]) : null;
  }
  for (const r of n.inputs) {
    const w = weightOf(r);
    if (w) return w.attrs.layer;
  }
  let max: number | null = null;
  for (const r of n.inputs) {
    const l = layer[r.node] ?? null;
    if (l !== null && (max === null || l > max)) max = l;
  }
  return max;
}

function label(n: Node, weightOf: (r: ValueRef) => Extract<Node, { op: "weight" }> | null): string {
  const i = NAMING_OPERAND[n.op];
  if (i !== undefined) {
    const w = weightOf(n.inputs[i]!);
    if (!w) return n.op;
    return n.op !== "embedding" && w.attrs.local === "embedding.weight" ? "lm_head" : modulePath(w) || n.op;
  }
  // Primitive ops (the unfused program) are named by their op: `layers.0.add_2`.
  if (!Object.hasOwn(FUSED_OPS, n.op)) return n.op;
  const weights = n.inputs.map(weightOf).filter((w) => w !== null);
  if (weights.some((w) => w.attrs.local === "embedding.weight")) return "lm_head";
  // A projection is named by its matrices (norm + in_proj -> `mixer.in_proj`; parallel
  // projections -> `self_attn.q_proj+k_proj+v_proj`); any other fused op by the one module it
  // reads (`mixer.conv1d`), or by the op inside the modules' common parent (`mixer.selective_scan`).
  // A projection with the conv step in its epilogue adds the conv's module: `mixer.in_proj+conv1d`.
  const isProjection = n.op === "fused_linear" || n.op === "linear_conv_update";
  const convW = n.op === "linear_conv_update" ? weightOf(n.inputs[n.inputs.length - (n.attrs.convBias ? 2 : 1)]!) : null;
  const matrices = [...weights.filter((w) => w.attrs.type.shape.length === 2), ...(convW ? [convW] : [])];
  const paths = unique((isProjection ? matrices : weights).map(modulePath)).filter((p) => p !== "");
  if (paths.length === 0) return n.op;
  if (paths.length === 1) return paths[0]!;
  const parent = commonParent(paths);
  if (isProjection) return parent ? `${parent}.${paths.map((p) => p.slice(parent.length + 1)).join("+")}` : paths.join("+");
  return parent ? `${parent}.${n.op}` : n.op;
}

/** `backbone.layers.3.mixer.in_proj.weight` -> `mixer.in_proj`; `backbone.norm_f.weight` -> `norm_f`; `...mixer.A_log` -> `mixer.A_log`. */
function modulePath(w: Extract<Node, { op: "weight" }>): string {
  const parts = w.attrs.name.split(".");
  if (parts.length === 1) return ""; // a bare tensor name says nothing about its module
  if (parts.length > 1 && (parts[parts.length - 1] === "weight" || parts[parts.length - 1] === "bias")) parts.pop();
  const at = parts.indexOf("layers");
  const path = at >= 0 && w.attrs.layer !== null ? parts.slice(at + 2) : parts.length > 1 ? parts.slice(1) : parts;
  return path.join(".");
}

function unique(xs: readonly string[]): string[] {
  return [...new Set(xs)];
}

/** The longest common dotted prefix of module paths (`mixer.dt_proj`, `mixer.A_log` -> `mixer`). */
function commonParent(paths: readonly string[]): string {
  const split = paths.map((p) => p.split("."));
  const out: string[] = [];
  for (let i = 0; split.every((p) => i < p.length - 1 && p[i] === split[0]![i]); i++) out.push(split[0]![i]!);
  return out.join(".");
}
