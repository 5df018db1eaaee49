/**
 * Scratch buffers by liveness. Kernels run in node order. A scratch value occupies a buffer from
 * the kernel that writes it to the last kernel that reads it (through any view); after that
 * kernel the buffer is free for values written later (never for the reader's own results, so
 * no kernel reads and writes one buffer).
 *
 * Assignment is greedy in definition order: the smallest free buffer that holds the value
 * (best fit); else the largest free buffer, grown to fit; else a new buffer. Ties go to the
 * lowest buffer number, so the plan is deterministic.
 */
import type { Graph, ValueRef } from "../ir/graph.ts";
import { isView, type Layout } from "./views.ts";

export const refKey = (r: ValueRef): string => `${r.node}#${r.index}`;

/** For each base value (by refKey), the last kernel node that reads it through any view. */
export function lastReaders(g: Graph, lay: readonly (readonly Layout[])[]): Map<string, number> {
  const last = new Map<string, number>();
  for (const n of g.nodes) {
    if (isView(g, lay, n.id)) continue;
    for (const r of n.inputs) {
      const k = refKey(lay[r.node]![r.index]!.base);
      last.set(k, Math.max(last.get(k) ?? -1, n.id));
    }
  }
  return last;
}

/** A value that needs scratch space: written by node `def`, last read by node `last` (>= def). */
export interface Interval {
  readonly key: string;
  readonly bytes: number;
  readonly def: number;
  readonly last: number;
}

export interface BufferPlan {
  /** Bytes of each scratch buffer (the largest value it ever holds). */
  readonly buffers: readonly number[];
  /** Buffer number of each interval, by key. */
  readonly assigned: ReadonlyMap<string, number>;
  /** Sum of the buffers: the scratch memory the program needs. */
  readonly peakScratchBytes: number;
  /** The most bytes live at once: the lower bound of any reuse plan. */
  readonly maxLiveBytes: number;
}

export function assignBuffers(intervals: readonly Interval[]): BufferPlan {
  const order = intervals.map((v, i) => ({ v, i })).sort((a, b) => a.v.def - b.v.def || a.i - b.i);
  const sizes: number[] = [];
  const busyUntil: number[] = []; // per buffer: the last reader of the value it holds
  const assigned = new Map<string, number>();
  for (const { v } of order) {
    const free = sizes.map((_, b) => b).filter((b) => busyUntil[b]! < v.def);
    const fits = free.filter((b) => sizes[b]! >= v.bytes);
    let buf: number;
    if (fits.length > 0) buf = fits.reduce((best, b) => (sizes[b]! < sizes[best]! ? b : best));
    else if (free.length > 0) buf = free.reduce((best, b) => (sizes[b]! > sizes[best]! ? b : best));
    else buf = sizes.push(0) - 1;
    sizes[buf] = Math.max(sizes[buf]!, v.bytes);
    busyUntil[buf] = v.last;
    assigned.set(v.key, buf);
  }
  return { buffers: sizes, assigned, peakScratchBytes: sizes.reduce((a, b) => a + b, 0), maxLiveBytes: maxLive(intervals) };
}

function maxLive(intervals: readonly Interval[]): number {
  const events = intervals.flatMap((v) => [
    { at: v.def, delta: v.bytes },
    { at: v.last + 1, delta: -v.bytes },
  ]);
  events.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let live = 0;
  let max = 0;
  for (const e of events) {
    live += e.delta;
    max = Math.max(max, live);
  }
  return max;
}
