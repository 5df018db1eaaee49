/**
 * Applying fusions: each replaces a set of interior nodes by new nodes whose results stand for
 * some of the old values. The graph is rebuilt in order through the builder (so every type is
 * re-inferred); a fusion's nodes are emitted right after its last operand is defined.
 */
import { InternalCompilerError } from "../diag/diagnostic.ts";
import type { Span } from "../diag/source.ts";
import { GraphBuilder } from "../ir/builder.ts";
import { mergeSpans, type Graph, type Node, type NodeOf, type ValueRef } from "../ir/graph.ts";
import type { OpName } from "../ir/ops.ts";
import { dce } from "./dce.ts";
import { Matcher } from "./match.ts";

export interface Fusion {
  /** Old nodes this fusion removes. */
  readonly interior: ReadonlySet<number>;
  /** Old values read by the fused nodes (none may be interior). */
  readonly operands: readonly ValueRef[];
  /** Old values (results of interior nodes) still read outside the fusion. */
  readonly replaces: readonly ValueRef[];
  /** Spans of all interior nodes, merged. */
  readonly spans: readonly Span[];
  /** Emits the fused nodes from the mapped operands; returns the values for `replaces`, in order. */
  readonly emit: (b: GraphBuilder, operands: readonly ValueRef[]) => readonly ValueRef[];
}

/**
 * Whether a fusion can be emitted after its last operand: every outside user of a replaced value
 * must come later (users inside the fusion go away with it; fuse-attention's caches have both),
 * and no operand may be swallowed by the fusion itself.
 */
export function placeable(m: Matcher, f: Fusion): boolean {
  if (f.operands.some((r) => f.interior.has(r.node))) return false;
  const at = Math.max(...f.operands.map((r) => r.node));
  return f.replaces.every((r) => m.usersOf(r).every((u) => u < 0 || f.interior.has(u) || u > at));
}

/** Rebuilds `g` with the fusions applied (callers pass disjoint, placeable fusions), then DCE. */
export function applyFusions(g: Graph, fusions: readonly Fusion[]): Graph {
  if (fusions.length === 0) return g;
  const skip = new Set<number>();
  const after = new Map<number, Fusion[]>();
  for (const f of fusions) {
    for (const id of f.interior) skip.add(id);
    const at = Math.max(...f.operands.map((r) => r.node));
    after.set(at, [...(after.get(at) ?? []), f]);
  }
  const b = new GraphBuilder(g.name);
  // The new value of old result (node, index), by node id then index.
  const map: ValueRef[][] = [];
  const get = (r: ValueRef): ValueRef => {
    const v = map[r.node]?.[r.index];
    if (v === undefined) throw new InternalCompilerError(`rewrite of ${g.name}: %${r.node}#${r.index} used before it is defined`);
    return v;
  };
  for (const n of g.nodes) {
    if (!skip.has(n.id)) {
      const copy = b.at(n.spans).emit(n.op, n.inputs.map(get), n.attrs);
      map[n.id] = n.results.map((_, index) => ({ node: copy.id, index }));
    }
    for (const f of after.get(n.id) ?? []) {
      const values = f.emit(b.at(f.spans), f.operands.map(get));
      f.replaces.forEach((r, i) => ((map[r.node] ??= [])[r.index] = values[i]!));
    }
  }
  return dce.run(b.finish(g.outputs.map((o) => ({ name: o.name, value: get(o.value) }))));
}

/** A fusion that replaces node `n` alone by what `emit` builds from its operands (a schedule split: one op into several). */
export function replacing(n: Node, emit: Fusion["emit"]): Fusion {
  return { interior: new Set([n.id]), operands: n.inputs, replaces: n.results.map((_, index) => ({ node: n.id, index })), spans: mergeSpans(n.spans), emit };
}

/**
 * The common body of a fusion pass: try `match` at every node whose op is `anchor` (or at every
 * node), keep the placeable fusions that do not overlap one found earlier, and apply them.
 */
export function fuseEach<K extends OpName>(g: Graph, anchor: K, match: (m: Matcher, n: NodeOf<K>) => Fusion | null): Graph;
export function fuseEach(g: Graph, anchor: null, match: (m: Matcher, n: Node) => Fusion | null): Graph;
export function fuseEach(g: Graph, anchor: OpName | null, match: (m: Matcher, n: Node) => Fusion | null): Graph {
  const m = new Matcher(g);
  const fusions: Fusion[] = [];
  const taken = new Set<number>();
  for (const n of g.nodes) {
    if (anchor !== null && n.op !== anchor) continue;
    const f = match(m, n);
    if (!f || !placeable(m, f) || [...f.interior].some((id) => taken.has(id))) continue;
    fusions.push(f);
    f.interior.forEach((id) => taken.add(id));
  }
  return applyFusions(g, fusions);
}
