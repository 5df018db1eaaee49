/**
 * bindLength(g, L): the same graph with the symbolic sequence length replaced by the number L
 * everywhere (input types, reshape and broadcast targets, any shape in attrs); every type is
 * re-inferred by the builder. `hybridc build --emit ir --length N` prints this form.
 */
import { GraphBuilder } from "./builder.ts";
import type { Graph, ValueRef } from "./graph.ts";

export function bindLength(g: Graph, L: number): Graph {
  const b = new GraphBuilder(g.name);
  const ids: number[] = [];
  const map = (r: ValueRef): ValueRef => ({ node: ids[r.node]!, index: r.index });
  for (const n of g.nodes) ids.push(b.at(n.spans).emit(n.op, n.inputs.map(map), bind(n.attrs, L) as typeof n.attrs).id);
  return b.finish(g.outputs.map((o) => ({ name: o.name, value: map(o.value) })));
}

/** Plain attribute data with every `"L"` inside an array (a shape) replaced by L. */
function bind(v: unknown, L: number): unknown {
  if (Array.isArray(v)) return v.map((x) => (x === "L" ? L : bind(x, L)));
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, bind(x, L)]));
  return v;
}
