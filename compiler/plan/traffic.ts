/**
 * Global-memory bytes one call of a program reads and writes, kernel by kernel (performance.md
 * §1.7: bytes per decode token vs the minimum). A kernel reads each distinct element of each
 * operand once (a broadcast axis counts once) and writes each result once, except:
 *
 *   embedding        reads one table row per token
 *   cache_write      writes its S rows in place; it does not read the cache
 *   attention(_decode)  reads only the old cache rows some query attends to (the last
 *                    `window - 1` rows before pos, or all pos of them) and writes S rows per
 *                    cache in place; the new rows come from its k and v operands
 *   the chunk-parallel scan phases (ir/chunk-ops.ts)  touch only the slots in use (nc - 1 written
 *                    by *_chunk_state, nc by scan_state_pass), *_chunk_state reads none of C, D,
 *                    z, h0 (nor the C norm, the SSD's z and norm weight), *_chunk_output reads h0
 *                    only when there is one chunk
 *
 * Totals: `weightBytes` counts each weight or constant at most once (a tied embedding is read
 * whole by the LM head, so the row the embedding reads adds nothing); `stateBytes` sums every
 * access to state; `movedBytes` = weights + state + every other access (scratch written and read
 * back, tokens, pos, outputs).
 */
import { chunkCount, slotWords } from "../ir/chunk-ops.ts";
import type { Graph, Node, ValueRef } from "../ir/graph.ts";
import { byteSize, numel } from "../ir/types.ts";
import type { KernelInfo } from "./kernels.ts";
import { refKey } from "./liveness.ts";
import type { Storage } from "./storage.ts";
import { distinctElements, type Layout } from "./views.ts";

export interface Access {
  /** The base value read or written. */
  readonly base: ValueRef;
  readonly bytes: number;
  readonly write: boolean;
}

export interface Traffic {
  readonly weightBytes: number;
  readonly stateBytes: number;
  readonly movedBytes: number;
}

/** What node `n` reads and writes, at start position `pos`. */
export function accesses(g: Graph, lay: readonly (readonly Layout[])[], n: Node, pos: number): Access[] {
  const read = (i: number, elements?: number): Access => {
    const r = n.inputs[i]!;
    const l = lay[r.node]![r.index]!;
    const dt = g.nodes[r.node]!.results[r.index]!.dtype;
    return { base: l.base, bytes: byteSize(dt, elements ?? distinctElements(l)), write: false };
  };
  const write = (i: number, elements?: number): Access => {
    const l = lay[n.id]![i]!;
    return { base: l.base, bytes: byteSize(n.results[i]!.dtype, elements ?? numel(l.shape)), write: true };
  };
  const rowOf = (i: number) => numel(lay[n.id]![i]!.shape.slice(1));
  switch (n.op) {
    case "embedding": {
      const S = lay[n.inputs[1]!.node]![n.inputs[1]!.index]!.shape[0]!;
      const D = lay[n.id]![0]!.shape[1]!;
      return [read(0, S * D), read(1), write(0)];
    }
    case "cache_write": {
      const S = lay[n.inputs[1]!.node]![n.inputs[1]!.index]!.shape[0]!;
      return [read(1), read(2), write(0, S * rowOf(0))];
    }
    case "attention":
    case "attention_decode":
    case "attention_decode_partial": {
      const S = n.op === "attention_decode_partial" ? 1 : lay[n.id]![0]!.shape[0]!;
      const old = n.attrs.window === null ? pos : Math.min(pos, n.attrs.window - 1);
      return [read(0), read(1), read(2), read(3, old * rowOf(1)), read(4, old * rowOf(2)), read(5), write(0), write(1, S * rowOf(1)), write(2, S * rowOf(2))];
    }
    case "selective_scan_chunk_state":
    case "ssd_chunk_state":
    case "scan_state_pass":
    case "selective_scan_chunk_output":
    case "ssd_chunk_output": {
      const m1 = n.op.startsWith("selective_scan");
      const h0 = n.op === "scan_state_pass" ? 2 : m1 ? 9 : 7;
      const hShape = lay[n.inputs[h0]!.node]![n.inputs[h0]!.index]!.shape;
      const nc = chunkCount(lay[n.inputs[0]!.node]![n.inputs[0]!.index]!.shape[0]!, n.attrs.chunk);
      const slots = (count: number) => Math.max(0, count) * slotWords(hShape, n.attrs.chunk);
      if (n.op === "scan_state_pass") return nc < 2 ? [] : [read(0, slots(nc - 1)), read(1), read(2), write(0, slots(nc))];
      if (n.op === "selective_scan_chunk_state" || n.op === "ssd_chunk_state") {
        // Mamba-1: u, dt, dt_proj_w, A_log, B, delta_bias, dt and B norm weights; Mamba-2: x, dt, A_log, B, dt_bias.
        const used = m1 ? [0, 1, 2, 3, 4, 8, 10, 11] : [0, 1, 2, 3, 6];
        return [...used.filter((i) => i < n.inputs.length).map((i) => read(i)), write(0, slots(nc - 1))];
      }
      const last = n.inputs.length - 1;
      return [...n.inputs.flatMap((_, i) => (i === last ? [read(i, nc < 2 ? 0 : slots(nc))] : i === h0 && nc >= 2 ? [] : [read(i)])), write(0), write(1)];
    }
    default:
      return [...n.inputs.map((_, i) => read(i)), ...n.results.map((_, i) => write(i))];
  }
}

export function traffic(g: Graph, lay: readonly (readonly Layout[])[], of: readonly (readonly Storage[])[], ks: readonly KernelInfo[], pos: number): Traffic {
  const weightReads = new Map<string, { base: ValueRef; bytes: number }>();
  let state = 0;
  let other = 0;
  for (const k of ks) {
    for (const a of accesses(g, lay, g.nodes[k.node]!, pos)) {
      const kind = of[a.base.node]![a.base.index]!.kind;
      const key = refKey(a.base);
      if (kind === "weight" || kind === "constant") weightReads.set(key, { base: a.base, bytes: (weightReads.get(key)?.bytes ?? 0) + a.bytes });
      else if (kind === "state") state += a.bytes;
      else other += a.bytes;
    }
  }
  let weights = 0;
  for (const { base, bytes } of weightReads.values()) {
    const size = byteSize(g.nodes[base.node]!.results[base.index]!.dtype, numel(lay[base.node]![base.index]!.shape));
    weights += Math.min(bytes, size);
  }
  return { weightBytes: weights, stateBytes: state, movedBytes: weights + state + other };
}
