/**
 * verify(graph): re-derives every node's types through the op table and checks the structure.
 * A failure is a compiler bug, so it throws InternalCompilerError with the offending node.
 */
import { InternalCompilerError } from "../diag/diagnostic.ts";
import type { Graph, Node } from "./graph.ts";
import { arityOf, InferError, isOpName, OPS, type OpDef, type OpName } from "./ops.ts";
import { printNode } from "./print.ts";
import { typeEq, typeToString, type TensorType } from "./types.ts";

export function verify(g: Graph): void {
  const fail = (n: Node | null, msg: string): never => {
    const where = n === null ? "" : ` at node %${n.id} \`${safePrint(g, n)}\``;
    throw new InternalCompilerError(`verify ${g.name}${where}: ${msg}`);
  };
  const names = new Set<string>();
  g.nodes.forEach((n, i) => {
    if (n.id !== i) fail(n, `id ${n.id} stored at index ${i}`);
    if (!isOpName(n.op)) fail(n, `unknown op ${String(n.op)}`);
    const def = OPS[n.op] as unknown as OpDef<OpName>;
    const arity = arityOf(n.op, n.attrs as never);
    if (n.inputs.length !== arity) fail(n, `${n.op} takes ${arity} inputs, got ${n.inputs.length}`);
    const types: TensorType[] = [];
    for (const r of n.inputs) {
      if (!Number.isInteger(r.node) || r.node < 0 || r.node >= i) fail(n, `input %${r.node} is not defined before it`);
      const t = g.nodes[r.node]!.results[r.index];
      if (t === undefined) fail(n, `input %${r.node}#${r.index}: node has ${g.nodes[r.node]!.results.length} results`);
      types.push(t!);
    }
    const keys = Object.keys(n.attrs).sort();
    const want = [...def.attrs].sort();
    if (keys.join() !== want.join()) fail(n, `attrs {${keys.join(", ")}} but ${n.op} takes {${want.join(", ")}}`);
    let expected: readonly TensorType[] = [];
    try {
      expected = def.infer(types, n.attrs as never);
    } catch (e) {
      if (!(e instanceof InferError)) throw e;
      fail(n, e.message);
    }
    if (expected.length !== n.results.length || expected.some((t, k) => !typeEq(t, n.results[k]!))) {
      fail(n, `results (${n.results.map(typeToString).join(", ")}) but inference gives (${expected.map(typeToString).join(", ")})`);
    }
    for (let k = 0; k < n.spans.length; k++) {
      const s = n.spans[k]!;
      if (!(Number.isInteger(s.start) && Number.isInteger(s.end) && 0 <= s.start && s.start <= s.end)) fail(n, `bad span ${JSON.stringify(s)}`);
      const p = n.spans[k - 1];
      if (p !== undefined && (p.start > s.start || (p.start === s.start && p.end >= s.end))) fail(n, "spans not sorted and unique");
    }
    if (n.op === "input" || n.op === "weight") {
      if (names.has(n.attrs.name)) fail(n, `graph input ${n.attrs.name} declared twice`);
      names.add(n.attrs.name);
    }
  });
  const outs = new Set<string>();
  for (const o of g.outputs) {
    if (o.name === "" || outs.has(o.name)) fail(null, `output name "${o.name}" empty or repeated`);
    outs.add(o.name);
    if (g.nodes[o.value.node]?.results[o.value.index] === undefined) fail(null, `output ${o.name} refers to missing %${o.value.node}#${o.value.index}`);
  }
}

function safePrint(g: Graph, n: Node): string {
  try {
    return printNode(g, n);
  } catch {
    return `${n.op}(...)`;
  }
}
