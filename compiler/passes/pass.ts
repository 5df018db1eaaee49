/** A pass is a named pure function Graph -> Graph; `run` never mutates its input. */
import type { Graph, Node, ValueRef } from "../ir/graph.ts";
import type { ScanAlgorithm } from "./parallel-scan.ts";

/** The build's schedule choices a pass may depend on (OptimizeOptions passes them). */
export interface PassOptions {
  /** Prefill scan kernels: sequential (default) or chunked-parallel (passes/parallel-scan.ts). */
  readonly scan?: ScanAlgorithm;
}

export interface Pass {
  /** The name `--dump-after` and `--no-fuse` refer to. */
  readonly name: string;
  /** One line: what it rewrites. */
  readonly summary: string;
  /** A fusion (skipped by `--no-fuse`); cleanup passes such as DCE are not. */
  readonly fusion: boolean;
  /** Runs only when this holds for the build's options (a schedule choice); always when absent. */
  readonly when?: (options: PassOptions) => boolean;
  readonly run: (g: Graph) => Graph;
}

/** For every node, how many node inputs and graph outputs read each of its results. */
export function useCounts(g: Graph): number[][] {
  const counts = g.nodes.map((n) => n.results.map(() => 0));
  for (const n of g.nodes) for (const r of n.inputs) counts[r.node]![r.index]!++;
  for (const o of g.outputs) counts[o.value.node]![o.value.index]!++;
  return counts;
}

export function sameRef(a: ValueRef, b: ValueRef): boolean {
  return a.node === b.node && a.index === b.index;
}

/** True for nodes that are graph inputs (kept by every pass, so the signature never changes). */
export function isSource(n: Node): boolean {
  return n.op === "input" || n.op === "weight";
}
