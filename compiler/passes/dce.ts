/**
 * dead-code elimination: drop every node no graph output depends on; renumber the rest.
 * Graph inputs (`input`, `weight`) are always kept so the program signature never changes.
 *
 *   %5 = exp(%3)   (no users)   =>   (removed)
 */
import type { Graph, Node } from "../ir/graph.ts";
import { isSource, type Pass } from "./pass.ts";

function run(g: Graph): Graph {
  const live = g.nodes.map(isSource);
  for (const o of g.outputs) live[o.value.node] = true;
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    if (live[i]) for (const r of g.nodes[i]!.inputs) live[r.node] = true;
  }
  const newId: number[] = [];
  const nodes: Node[] = [];
  g.nodes.forEach((n, i) => {
    if (!live[i]) return;
    newId[i] = nodes.length;
    nodes.push({ ...n, id: nodes.length, inputs: n.inputs.map((r) => ({ node: newId[r.node]!, index: r.index })) } as Node);
  });
  const outputs = g.outputs.map((o) => ({ name: o.name, value: { node: newId[o.value.node]!, index: o.value.index } }));
  return { name: g.name, nodes, outputs };
}

export const dce: Pass = { name: "dce", summary: "remove nodes no output depends on", fusion: false, run };
