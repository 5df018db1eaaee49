/**
 * Views: `reshape`, `slice` and `broadcast_to` move no data. Each value is a strided window
 * (element offset, shape, strides) onto a base value that some kernel (or the caller) writes;
 * consumers read through the window. A projection split `slice(in_proj(x), 1, Di, Di)` is the
 * base `in_proj(x)` at offset Di with row stride 2*Di, not a copy.
 *
 * A reshape whose result cannot be expressed with strides (merging axes across a gap) is the
 * one movement op that needs a copy kernel; `layoutOf` returns null for it.
 */
import { assertNever } from "../diag/diagnostic.ts";
import type { Graph, Node, ValueRef } from "../ir/graph.ts";
import { concreteShape } from "../ir/types.ts";

export interface Layout {
  /** The value whose storage this reads: the value itself unless it is a view. */
  readonly base: ValueRef;
  /** Offset of element [0, ..., 0] in the base, in elements. */
  readonly offset: number;
  readonly shape: readonly number[];
  /** Elements between neighbours along each axis; 0 for a broadcast axis. */
  readonly strides: readonly number[];
}

export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

export function baseLayout(base: ValueRef, shape: readonly number[]): Layout {
  return { base, offset: 0, shape, strides: contiguousStrides(shape) };
}

export function isContiguous(l: Layout): boolean {
  const c = contiguousStrides(l.shape);
  return l.shape.every((d, i) => d === 1 || l.strides[i] === c[i]);
}

/** Elements of the base a full read of the view touches (a broadcast axis counts once). */
export function distinctElements(l: Layout): number {
  return l.shape.reduce((n, d, i) => (l.strides[i] === 0 ? n : n * d), 1);
}

export function sliceLayout(l: Layout, axis: number, start: number, size: number): Layout {
  return {
    base: l.base,
    offset: l.offset + start * l.strides[axis]!,
    shape: l.shape.map((d, i) => (i === axis ? size : d)),
    strides: l.strides,
  };
}

/** numpy broadcasting, right-aligned: new and stretched axes get stride 0. */
export function broadcastLayout(l: Layout, shape: readonly number[]): Layout {
  const lead = shape.length - l.shape.length;
  const strides = shape.map((d, i) => {
    if (i < lead) return 0;
    const src = l.shape[i - lead]!;
    return src === 1 && d !== 1 ? 0 : l.strides[i - lead]!;
  });
  return { base: l.base, offset: l.offset, shape, strides };
}

/**
 * The strides of `shape` over the same elements, or null when they do not exist (numpy's
 * `_attempt_nocopy_reshape`): groups of old axes that multiply to groups of new axes must each
 * be contiguous among themselves. Unit axes never matter.
 */
export function reshapeLayout(l: Layout, shape: readonly number[]): Layout | null {
  const od: number[] = [];
  const os: number[] = [];
  l.shape.forEach((d, i) => {
    if (d !== 1) {
      od.push(d);
      os.push(l.strides[i]!);
    }
  });
  const nd = shape;
  const ns = new Array<number>(nd.length).fill(0);
  let oi = 0;
  let oj = 1;
  let ni = 0;
  let nj = 1;
  while (ni < nd.length && oi < od.length) {
    let np = nd[ni]!;
    let op = od[oi]!;
    while (np !== op) {
      if (np < op) np *= nd[nj++]!;
      else op *= od[oj++]!;
    }
    for (let ok = oi; ok < oj - 1; ok++) if (os[ok] !== od[ok + 1]! * os[ok + 1]!) return null;
    ns[nj - 1] = os[oj - 1]!;
    for (let nk = nj - 1; nk > ni; nk--) ns[nk - 1] = ns[nk]! * nd[nk]!;
    ni = nj++;
    oi = oj++;
  }
  // Trailing unit axes (and every axis of an all-unit shape): any stride works.
  const last = ni >= 1 ? ns[ni - 1]! : 1;
  for (let nk = ni; nk < nd.length; nk++) ns[nk] = last;
  return { base: l.base, offset: l.offset, shape, strides: ns };
}

/** Whether the op is a movement op (a view when `layoutOf` finds strides). */
export function isMovement(n: Node): n is Extract<Node, { op: "reshape" | "slice" | "broadcast_to" }> {
  return n.op === "reshape" || n.op === "slice" || n.op === "broadcast_to";
}

/** layouts() by graph and length: graphs are immutable, and codegen asks again for every kernel. */
const layoutMemo = new WeakMap<Graph, Map<number, Layout[][]>>();

/**
 * The layout of every value of `g` with the sequence length bound to `L`, by node id and
 * result index. A value is its own base unless it is a movement op that has a view layout.
 * Memoized per graph and length (callers only read it): requestFromGraph asks for every kernel,
 * which made building a model quadratic in its nodes.
 */
export function layouts(g: Graph, L: number): Layout[][] {
  let byL = layoutMemo.get(g);
  if (byL === undefined) layoutMemo.set(g, (byL = new Map()));
  const known = byL.get(L);
  if (known !== undefined) return known;
  const out = computeLayouts(g, L);
  byL.set(L, out);
  return out;
}

function computeLayouts(g: Graph, L: number): Layout[][] {
  const out: Layout[][] = [];
  for (const n of g.nodes) {
    const own = n.results.map((t, index) => baseLayout({ node: n.id, index }, concreteShape(t.shape, L)));
    if (!isMovement(n)) {
      out.push(own);
      continue;
    }
    const src = out[n.inputs[0]!.node]![n.inputs[0]!.index]!;
    const shape = own[0]!.shape;
    out.push([viewOf(n, src, shape) ?? own[0]!]);
  }
  return out;
}

function viewOf(n: Extract<Node, { op: "reshape" | "slice" | "broadcast_to" }>, src: Layout, shape: readonly number[]): Layout | null {
  switch (n.op) {
    case "reshape":
      return reshapeLayout(src, shape);
    case "slice":
      return sliceLayout(src, n.attrs.axis, n.attrs.start, n.attrs.size);
    case "broadcast_to":
      return broadcastLayout(src, shape);
    default:
      return assertNever(n, "movement op");
  }
}

/** True when node `id` is a movement op that became a view (it launches no kernel). */
export function isView(g: Graph, lay: readonly (readonly Layout[])[], id: number): boolean {
  const n = g.nodes[id]!;
  return isMovement(n) && lay[id]![0]!.base.node !== id;
}
