/**
 * Which weights are stored in row quads (runtime/artifact/quads.ts) for a build sized for a CPU
 * adapter: those whose every reader, in every program of the model (prefill and decode, per-call
 * and load-time kernels), indexes them as a whole [N, K] matrix through an operand accessor
 * (codegen/operands.ts), which then addresses quads: the weights W_i of the linear family
 * (linear, fused_linear, linear_conv_update) and an embedding's table (a tied LM head is both).
 * A weight read any other way (dt_proj's W inside the selective scan, a conv kernel, a slice,
 * a load-time computation) stays row-major, as does one whose shape does not fit (4 | N, U | K).
 */
import { quadsFit } from "../../runtime/artifact/quads.ts";
import type { Graph, Node } from "../ir/graph.ts";
import type { Dtype } from "../ir/types.ts";
import { isContiguous, isView, layouts, type Layout } from "./views.ts";

/** The inputs of `n` that a linear-family generator reads as a weight matrix W [out, in], or an embedding as its table. */
function matrixInputs(n: Node): readonly number[] {
  switch (n.op) {
    case "linear":
      return [1];
    case "fused_linear":
    case "linear_conv_update":
      return Array.from({ length: n.attrs.weights }, (_, i) => 1 + i);
    case "embedding":
      return [0];
    default:
      return [];
  }
}

/** The whole tensor, row-major: no slice, broadcast or transposition between the weight and its reader. */
function whole(l: Layout, shape: readonly number[]): boolean {
  return l.offset === 0 && l.shape.length === shape.length && l.shape.every((d, i) => d === shape[i]) && isContiguous(l);
}

/** The names of the weights of `graphs` (one model's programs) that are stored in quads, given the weights' storage dtype. */
export function quadWeights(graphs: readonly Graph[], dtypeOf: (name: string) => Dtype): Set<string> {
  const fit = new Map<string, boolean>();
  const read = (name: string, ok: boolean): void => {
    fit.set(name, (fit.get(name) ?? true) && ok);
  };
  for (const g of graphs) {
    const lay = layouts(g, 2);
    const weightOf = (l: Layout): Extract<Node, { op: "weight" }> | null => {
      const b = g.nodes[l.base.node]!;
      return b.op === "weight" ? b : null;
    };
    for (const n of g.nodes) {
      if (n.op === "weight" || n.op === "input" || isView(g, lay, n.id)) continue;
      const matrices = matrixInputs(n);
      n.inputs.forEach((r, i) => {
        const l = lay[r.node]![r.index]!;
        const w = weightOf(l);
        if (w === null) return;
        const shape = w.attrs.type.shape as readonly number[];
        read(w.attrs.name, matrices.includes(i) && whole(l, shape) && quadsFit(shape, dtypeOf(w.attrs.name)));
      });
    }
    // A weight handed out as an output is read by the host, row-major.
    for (const o of g.outputs) {
      const w = weightOf(lay[o.value.node]![o.value.index]!);
      if (w !== null) read(w.attrs.name, false);
    }
  }
  return new Set([...fit].filter(([, ok]) => ok).map(([name]) => name));
}
