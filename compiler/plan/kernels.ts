/**
 * The kernels of a program: every node that launches a dispatch per call, in execution order.
 * Not kernels: graph inputs and weights, views (views.ts) and constants computed from weights
 * alone (storage.ts; they run once when the weights are loaded).
 *
 * Each kernel gets a stable name, `{scope}.{label}`:
 *   scope  `layers.{i}` from the layer of the weights it reads (or of its operands, for a node
 *          that reads no weight); empty for the model-level embedding, final norm and LM head
 *   label  for ops that read one parameter tensor (linear, norms, conv, embedding), and fused ops
 *          that read exactly one weight matrix, that tensor's module path inside its layer
 *          (`mixer.in_proj`, `self_attn.q_proj`, `norm`); a product with the embedding matrix
 *          (a tied LM head) is `lm_head`; otherwise the op name
 * A repeated name gets `_2`, `_3`, ... in execution order. Unfused Mamba-1 decode:
 *   embeddings, layers.0.norm, layers.0.mixer.in_proj, layers.0.mixer.conv1d, layers.0.add,
 *   layers.0.silu, ..., layers.0.selective_state_update, layers.0.mixer.out_proj, layers.0.add_2,
 *   norm_f, lm_head
 */
import type { Graph, Node, ValueRef } from "../ir/graph.ts";
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
  // A fused op is named by its one weight matrix when it has exactly one (norm + in_proj -> in_proj).
  const matrices = n.inputs.map(weightOf).filter((w) => w !== null && w.attrs.type.shape.length === 2);
  const w = i !== undefined ? weightOf(n.inputs[i]!) : matrices.length === 1 ? matrices[0]! : null;
  if (!w) return n.op;
  if (n.op !== "embedding" && w.attrs.local === "embedding.weight") return "lm_head";
  // `backbone.layers.3.mixer.in_proj.weight` -> `mixer.in_proj`; `backbone.norm_f.weight` -> `norm_f`
  const parts = w.attrs.name.split(".").slice(0, -1);
  const at = parts.indexOf("layers");
  const path = at >= 0 && w.attrs.layer !== null ? parts.slice(at + 2) : parts.length > 1 ? parts.slice(1) : parts;
  return path.join(".") || n.op;
}
