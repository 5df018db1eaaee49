/**
 * Where each base value lives. A value that is not a view is a base; its storage is one of:
 *
 *   weight    a checkpoint tensor (read-only)
 *   constant  computed from weights alone (`-exp(A_log)`): evaluated once when the weights are
 *             loaded, then read like a weight; its nodes launch no per-token kernel
 *   input     the `tokens` and `pos` inputs
 *   state     a state slot: the input, and the new value of the graph output of the same name,
 *             which is written in place into the input's buffer (its producer runs after every
 *             other reader of the old state; otherwise it gets an output buffer of its own)
 *   output    another graph output (logits)
 *   scratch   everything else: intermediates, assigned to reusable buffers (liveness.ts)
 */
import type { Graph, ValueRef } from "../ir/graph.ts";
import { lastReaders, refKey } from "./liveness.ts";
import { isView, type Layout } from "./views.ts";

export type Storage =
  | { readonly kind: "weight"; readonly name: string }
  | { readonly kind: "constant" }
  | { readonly kind: "input"; readonly name: string }
  | { readonly kind: "state"; readonly name: string }
  | { readonly kind: "output"; readonly name: string }
  | { readonly kind: "scratch" };

export type StorageKind = Storage["kind"];

/**
 * The storage of every value's base, by node id and result index (views get their base's),
 * and which nodes are constants (evaluated at load time).
 */
/** storage() by layout table (memoized layouts() gives one table per graph and length); callers only read it. */
const storageMemo = new WeakMap<readonly (readonly Layout[])[], { of: Storage[][]; constant: boolean[] }>();

export function storage(g: Graph, lay: readonly (readonly Layout[])[]): { of: Storage[][]; constant: boolean[] } {
  const known = storageMemo.get(lay);
  if (known !== undefined) return known;
  const result = computeStorage(g, lay);
  storageMemo.set(lay, result);
  return result;
}

function computeStorage(g: Graph, lay: readonly (readonly Layout[])[]): { of: Storage[][]; constant: boolean[] } {
  const baseOf = (r: ValueRef): ValueRef => lay[r.node]![r.index]!.base;
  const constant = g.nodes.map(() => false);
  const of: Storage[][] = g.nodes.map((n) => n.results.map((): Storage => ({ kind: "scratch" })));

  for (const n of g.nodes) {
    if (n.op === "weight") of[n.id]![0] = { kind: "weight", name: n.attrs.name };
    else if (n.op === "input") of[n.id]![0] = n.attrs.role === "state" ? { kind: "state", name: n.attrs.name } : { kind: "input", name: n.attrs.name };
    else if (!isView(g, lay, n.id) && n.inputs.length > 0) {
      const fromWeights = n.inputs.every((r) => {
        const b = baseOf(r);
        return g.nodes[b.node]!.op === "weight" || constant[b.node];
      });
      if (fromWeights) {
        constant[n.id] = true;
        of[n.id] = n.results.map(() => ({ kind: "constant" }));
      }
    }
  }

  const stateInputs = new Map<string, number>();
  for (const n of g.nodes) if (n.op === "input" && n.attrs.role === "state") stateInputs.set(n.attrs.name, n.id);
  const lastReader = lastReaders(g, lay);
  const readBy = (node: number): number => lastReader.get(refKey({ node, index: 0 })) ?? -1;
  for (const o of g.outputs) {
    const b = baseOf(o.value);
    const cur = of[b.node]![b.index]!;
    if (cur.kind !== "scratch") continue; // a weight, an input or an already placed value
    const slot = stateInputs.get(o.name);
    const inPlace = slot !== undefined && readBy(slot) <= b.node && sameSize(lay, b, { node: slot, index: 0 });
    of[b.node]![b.index] = inPlace ? { kind: "state", name: o.name } : { kind: "output", name: o.name };
  }
  // Views share their base's storage.
  for (const n of g.nodes) {
    n.results.forEach((_, index) => {
      const b = baseOf({ node: n.id, index });
      of[n.id]![index] = of[b.node]![b.index]!;
    });
  }
  return { of, constant };
}

function sameSize(lay: readonly (readonly Layout[])[], a: ValueRef, b: ValueRef): boolean {
  const n = (r: ValueRef) => lay[r.node]![r.index]!.shape.reduce((x, y) => x * y, 1);
  return n(a) === n(b);
}
