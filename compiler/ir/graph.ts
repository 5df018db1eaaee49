/**
 * The one IR node type and the graph. Everything is immutable plain data: a pass builds a new
 * graph. Nodes are stored in topological order and a node's id is its index in `nodes`.
 * Graph inputs are nodes too (`input` for tokens, pos and state; `weight` for checkpoint
 * tensors), so a reference is always `{ node, index }`.
 */
import { InternalCompilerError } from "../diag/diagnostic.ts";
import type { Span } from "../diag/source.ts";
import type { OpAttrs, OpName } from "./ops.ts";
import type { TensorType } from "./types.ts";

/** Result `index` of node `node`. */
export interface ValueRef {
  readonly node: number;
  readonly index: number;
}

export interface NodeOf<K extends OpName> {
  readonly id: number;
  readonly op: K;
  readonly inputs: readonly ValueRef[];
  readonly results: readonly TensorType[];
  readonly attrs: OpAttrs[K];
  /** The `.hyb` spans this node came from (merged when nodes are fused), sorted, no duplicates. */
  readonly spans: readonly Span[];
}

/** A node of any op; `switch (node.op)` narrows `attrs`. */
export type Node = { [K in OpName]: NodeOf<K> }[OpName];

export interface GraphOutput {
  readonly name: string;
  readonly value: ValueRef;
}

export interface Graph {
  /** `model.prefill` or `model.decode`. */
  readonly name: string;
  readonly nodes: readonly Node[];
  readonly outputs: readonly GraphOutput[];
}

export function ref(node: number, index = 0): ValueRef {
  return { node, index };
}

export function typeOfRef(g: Graph, r: ValueRef): TensorType {
  const t = g.nodes[r.node]?.results[r.index];
  if (t === undefined) throw new InternalCompilerError(`${g.name}: no value %${r.node}#${r.index}`);
  return t;
}

/** Union of span lists, sorted by (start, end), without duplicates: what a fused node carries. */
export function mergeSpans(...lists: readonly (readonly Span[])[]): readonly Span[] {
  // One list already in that form (every node rebuilt by a pass hands its own to the builder): as it is.
  if (lists.length === 1 && isMerged(lists[0]!)) return lists[0]!;
  const all = lists.flat().slice().sort((a, b) => a.start - b.start || a.end - b.end);
  const out: Span[] = [];
  for (const s of all) {
    const last = out[out.length - 1];
    if (last === undefined || last.start !== s.start || last.end !== s.end) out.push(s);
  }
  return out;
}

/** Sorted by (start, end), strictly: no duplicates. */
function isMerged(spans: readonly Span[]): boolean {
  for (let i = 1; i < spans.length; i++) {
    const a = spans[i - 1]!;
    const b = spans[i]!;
    if (a.start > b.start || (a.start === b.start && a.end >= b.end)) return false;
  }
  return true;
}

/** The graph's input nodes (`input` and `weight`), in order. */
export function graphInputs(g: Graph): readonly Node[] {
  return g.nodes.filter((n) => n.op === "input" || n.op === "weight");
}
