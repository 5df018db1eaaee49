/**
 * parallel-scan: the chunk-parallel form of the prefill scans, a schedule chosen at build time
 * (`scan: "chunked-parallel"`, build.ts), not by default. The fused scans walk the sequence in
 * one kernel with one invocation per state row: Di invocations for selective_scan (1,536 for
 * mamba-130m), H * P for ssd. Plenty for lavapipe's cores, a starved discrete GPU. Split each
 * over chunks of SCAN_CHUNK tokens (ir/chunk-ops.ts: the ops, the slot layout, the math):
 *
 *   %y, %h = selective_scan(%u, %dt, %W, %A_log, %B, %C, %D, %z, %bias, %h0 [, norms]) {innerNormEps}
 *     =>
 *   %loc   = selective_scan_chunk_state(<same operands>) {innerNormEps, chunk=Q}
 *   %inc   = scan_state_pass(%loc, %A_log, %h0) {chunk=Q}
 *   %y, %h = selective_scan_chunk_output(<same operands>, %inc) {innerNormEps, chunk=Q}
 *
 *   %y, %h = ssd(%x, %dt, %A_log, %B, %C, %D, %dt_bias, %h0 [, %z [, %w]]) {chunk, epilogue, ...}
 *     =>  ssd_chunk_state, scan_state_pass, ssd_chunk_output likewise (chunk=Q replaces the spec's hint)
 *
 * Work: phases 1 and 3 run nc * Di (nc * H * P) invocations each walking Q tokens, phase 2 one
 * per state element walking nc chunks; at L = 2048 and Q = 64 that is 32x the invocations of the
 * sequential kernel, each 32x shorter. Only where L can exceed a chunk (prefill: L is symbolic);
 * decode's *_state_update ops are never touched.
 */
import type { Graph, Node, ValueRef } from "../ir/graph.ts";
import type { Pass } from "./pass.ts";
import { fuseEach, replacing, type Fusion } from "./rewrite.ts";

/**
 * Tokens per chunk. Long enough that a chunk's walk amortises its state load and store (N values
 * per row) and phase 2 stays short (32 chunks at L = 2048), short enough that L = 2048 gives
 * 32 * 1,536 = 49K invocations for mamba-130m's scan; even, as the slot layout needs.
 */
export const SCAN_CHUNK = 64;

/** Which prefill scan kernels a build uses. */
export type ScanAlgorithm = "sequential" | "chunked-parallel";

/** The three-phase rewrite of one scan node, or null when it is not a prefill scan longer than a chunk. */
function split(n: Node, chunk: number): Fusion | null {
  if (n.op !== "selective_scan" && n.op !== "ssd") return null;
  const S = n.results[0]!.shape[0]!;
  if (S !== "L" && S <= chunk) return null;
  const mamba1 = n.op === "selective_scan";
  // Operand positions of A_log and h0 (fused-ops.ts).
  const [Alog, h0] = mamba1 ? [3, 9] : [2, 7];
  return replacing(n, (b, ins) => {
    const slots = (id: number): ValueRef => ({ node: id, index: 0 });
    const loc = mamba1 ? b.emit("selective_scan_chunk_state", ins, { innerNormEps: n.attrs.innerNormEps, chunk }).id : b.emit("ssd_chunk_state", ins, { ...n.attrs, chunk }).id;
    const inc = b.emit("scan_state_pass", [slots(loc), ins[Alog]!, ins[h0]!], { chunk }).id;
    const outs = [...ins, slots(inc)];
    const out = mamba1 ? b.emit("selective_scan_chunk_output", outs, { innerNormEps: n.attrs.innerNormEps, chunk }).id : b.emit("ssd_chunk_output", outs, { ...n.attrs, chunk }).id;
    return [
      { node: out, index: 0 },
      { node: out, index: 1 },
    ];
  });
}

/** Every prefill selective_scan and ssd split into chunks of `chunk` tokens (even, >= 2). */
export function splitScans(g: Graph, chunk = SCAN_CHUNK): Graph {
  return fuseEach(g, null, (_m, n) => split(n, chunk));
}

export const parallelScan: Pass = {
  name: "parallel-scan",
  summary: "with scan = chunked-parallel: prefill selective_scan / ssd -> *_chunk_state (per chunk, parallel) + scan_state_pass + *_chunk_output (per chunk, parallel)",
  fusion: true,
  when: (o) => o.scan === "chunked-parallel",
  run: (g) => splitScans(g),
};
