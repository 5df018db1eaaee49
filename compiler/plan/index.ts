/**
 * The buffer plan of one program at a concrete sequence length: where every value lives, which
 * nodes launch kernels, how scratch buffers are reused, and the bytes one call moves.
 *
 *   layouts   views.ts     reshape/slice/broadcast_to are strided windows onto a base value
 *   storage   storage.ts   weight | constant | input | state (in place) | output | scratch
 *   kernels   kernels.ts   the per-call dispatches, with stable names
 *   buffers   liveness.ts  scratch values -> reusable buffers (greedy best fit by liveness)
 *   traffic   traffic.ts   weight, state and total bytes per call
 */
import type { Graph } from "../ir/graph.ts";
import { byteSize, numel } from "../ir/types.ts";
import { kernelsOf, type KernelInfo } from "./kernels.ts";
import { assignBuffers, lastReaders, refKey, type Interval } from "./liveness.ts";
import { storage, type Storage } from "./storage.ts";
import { traffic, type Traffic } from "./traffic.ts";
import { isView, layouts, type Layout } from "./views.ts";

export { kernels, type KernelInfo } from "./kernels.ts";
export { assignBuffers, type BufferPlan, type Interval } from "./liveness.ts";
export type { Storage, StorageKind } from "./storage.ts";
export { accesses, type Access, type Traffic } from "./traffic.ts";
export { reshapeLayout, sliceLayout, broadcastLayout, distinctElements, type Layout } from "./views.ts";

export interface PlanOptions {
  /** The sequence length bound to `"L"` (prefill); decode graphs have none. */
  readonly L: number;
  /** The position of the first token: how many cache rows are valid (decode: T). Default 0. */
  readonly pos?: number;
}

export interface ValuePlan {
  readonly layout: Layout;
  /** The storage of the layout's base. */
  readonly storage: Storage;
  /** The scratch buffer of the base (scratch storage only), else null. */
  readonly buffer: number | null;
}

export interface Plan {
  readonly graph: Graph;
  readonly L: number;
  readonly pos: number;
  /** By node id and result index. */
  readonly values: readonly (readonly ValuePlan[])[];
  /** Per-call dispatches, in execution order. */
  readonly kernels: readonly KernelInfo[];
  /** Nodes computed from weights alone, evaluated once when the weights are loaded. */
  readonly constants: readonly KernelInfo[];
  readonly dispatches: number;
  /** Bytes of each scratch buffer. */
  readonly buffers: readonly number[];
  /** Sum of the scratch buffers. */
  readonly peakScratchBytes: number;
  /** The most scratch bytes live at once (a lower bound for any reuse plan). */
  readonly maxLiveBytes: number;
  readonly traffic: Traffic;
}

export function planGraph(g: Graph, options: PlanOptions): Plan {
  const { L } = options;
  const pos = options.pos ?? 0;
  const lay = layouts(g, L);
  const { of, constant } = storage(g, lay);
  const ks = kernelsOf(g, lay, constant, "call");
  const last = lastReaders(g, lay);

  const intervals: Interval[] = [];
  for (const n of g.nodes) {
    if (isView(g, lay, n.id)) continue;
    n.results.forEach((t, index) => {
      if (of[n.id]![index]!.kind !== "scratch") return;
      const key = refKey({ node: n.id, index });
      const bytes = byteSize(t.dtype, numel(lay[n.id]![index]!.shape));
      intervals.push({ key, bytes, def: n.id, last: Math.max(n.id, last.get(key) ?? n.id) });
    });
  }
  const bp = assignBuffers(intervals);
  const values = g.nodes.map((n) =>
    n.results.map((_, index): ValuePlan => {
      const layout = lay[n.id]![index]!;
      return { layout, storage: of[n.id]![index]!, buffer: bp.assigned.get(refKey(layout.base)) ?? null };
    }),
  );
  return {
    graph: g,
    L,
    pos,
    values,
    kernels: ks,
    constants: kernelsOf(g, lay, constant, "load"),
    dispatches: ks.length,
    buffers: bp.buffers,
    peakScratchBytes: bp.peakScratchBytes,
    maxLiveBytes: bp.maxLiveBytes,
    traffic: traffic(g, lay, of, ks, pos),
  };
}
