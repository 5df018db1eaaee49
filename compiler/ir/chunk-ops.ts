/**
 * The chunk-parallel form of the two prefill scans (passes/parallel-scan.ts creates it): one
 * `selective_scan` (Mamba-1) or `ssd` (Mamba-2) becomes three ops over chunks of Q = `chunk`
 * tokens, chunk c holding tokens [cQ, min(L, (c + 1)Q)), nc = ceil(L / Q) chunks:
 *
 *   %loc   = *_chunk_state(<the scan's operands>) {chunk}     chunk c's end state from a zero state,
 *                                                            and sum_t dt_t, for c < nc - 1
 *   %inc   = scan_state_pass(%loc, %A_log, %h0) {chunk}       inc_0 = h0, inc_{c+1} = decay_c inc_c + loc_c
 *   %y, %h = *_chunk_output(<the scan's operands>, %inc) {chunk}   each chunk from its incoming state
 *
 * which equals the scan (interp checks to 1e-12): a linear recurrence h_t = a_t h_{t-1} + b_t
 * splits at chunk edges, h_end(c) = (prod_{t in c} a_t) h_in(c) + loc_c, and both scans' a_t is
 * exp(dt_t A), so the chunk's decay is exp(A sum_{t in c} dt_t).
 *
 * SLOTS. The IR has no ceil(L / Q) dim, so per-chunk data lives in a tensor [S, F]: slots of
 * `slotWords` contiguous words, slot c at word c * slotWords. A slot holds the chunk's state
 * (numel(h0) words, h0's layout) then one sum of dt per state row (h0's first axis: Di for
 * Mamba-1, H for Mamba-2), padded to a multiple of 2Q words, so that both widths are integers:
 *   loc  [S, slotWords / Q]        floor(S / Q) slots >= nc - 1, the chunks with a local state;
 *   inc  [S, slotWords / (Q / 2)]  floor(2S / Q) slots (a multiple of 4 words per row: vec4 reads),
 *        at least nc whenever nc >= 2 (S = mQ + r, m >= 1: 2m + floor(2r / Q) >= ceil(S / Q)),
 * so the state pass can give every chunk, chunk 0 included, its incoming state in a slot. With
 * nc = 1 there may be no slot at all; then the output op reads h0 itself.
 *
 * WHY h0 IS COPIED. The state is updated in place (h0 and the final state share a buffer). Were
 * chunk 0 to read h0 from the state buffer while the last chunk writes the final state into it,
 * the two would race within the output kernel. So for nc >= 2 the output op reads only slots,
 * and only for nc = 1 (one chunk, one invocation per row that reads its row before writing it,
 * as the sequential kernel does) does it read h0.
 */
import { selectiveScanInfer, ssdInfer, type SsdAttrs } from "./fused-ops.ts";
import type { OpDef } from "./ops.ts";
import { computed, expectInt, expectRank, expectShape, expectStaticDim, fail } from "./shape.ts";
import { numel, type Dim, type Shape, type TensorType } from "./types.ts";

export interface ChunkOpAttrs {
  /** Mamba-1, phase 1: operands and innerNormEps as selective_scan's; chunk = Q. */
  selective_scan_chunk_state: {
    readonly innerNormEps: number | null;
    readonly chunk: number;
  };
  /** Mamba-1, phase 3: selective_scan's operands, then the incoming states. */
  selective_scan_chunk_output: {
    readonly innerNormEps: number | null;
    readonly chunk: number;
  };
  /** Mamba-2, phase 1: operands and attrs as ssd's (the epilogue is not used); chunk = Q. */
  ssd_chunk_state: SsdAttrs & { readonly chunk: number };
  /** Mamba-2, phase 3: ssd's operands, then the incoming states. */
  ssd_chunk_output: SsdAttrs & { readonly chunk: number };
  /** Phase 2 of both. */
  scan_state_pass: { readonly chunk: number };
}

/** Words per slot: the state, one dt sum per state row, padded to a multiple of 2Q. */
export function slotWords(stateShape: readonly number[], chunk: number): number {
  const words = numel(stateShape) + stateShape[0]!;
  return Math.ceil(words / (2 * chunk)) * (2 * chunk);
}

/** F of the slots tensor [S, F]: the local states' (`loc`, Q rows per slot) or the incoming states' (`inc`, Q / 2 rows per slot). */
export function slotsWidth(stateShape: readonly number[], chunk: number, which: "loc" | "inc"): number {
  return slotWords(stateShape, chunk) / (which === "loc" ? chunk : chunk / 2);
}

/** Chunks of a sequence of S tokens. */
export function chunkCount(S: number, chunk: number): number {
  return Math.ceil(S / chunk);
}

function expectChunk(chunk: unknown): number {
  const q = expectInt(chunk, 2, "chunk");
  if (q % 2 !== 0) fail(`chunk ${q} must be even (the slots tensor holds a slot per chunk / 2 tokens)`);
  return q;
}

function staticShape(t: TensorType, what: string): number[] {
  return t.shape.map((d, i) => expectStaticDim(d, `${what} dim ${i}`));
}

function slotsType(like: TensorType, S: Dim, h0: TensorType, chunk: number, which: "loc" | "inc"): TensorType {
  return computed(like, [S, slotsWidth(staticShape(h0, "h0"), chunk, which)]);
}

function expectSlots(slots: TensorType, S: Dim, h0: TensorType, chunk: number, which: "loc" | "inc"): void {
  expectShape(slots, [S, slotsWidth(staticShape(h0, "h0"), chunk, which)], which === "loc" ? "local states" : "incoming states");
}

type ScanAttrs = {
  readonly innerNormEps: number | null;
  readonly chunk: number;
};

function scanPhase<K extends "selective_scan_chunk_state" | "selective_scan_chunk_output">(doc: string, output: boolean): OpDef<K> {
  const extra = output ? 1 : 0;
  return {
    kind: "sequence",
    arity: (a) => (a.innerNormEps === null ? 10 : 13) + extra,
    attrs: ["innerNormEps", "chunk"],
    doc,
    infer: (ins, a: ScanAttrs) => {
      const q = expectChunk(a.chunk);
      const scan = ins.slice(0, ins.length - extra);
      const [y, h] = selectiveScanInfer(scan, a, false);
      const S = y!.shape[0]!;
      if (!output) return [slotsType(y!, S, h!, q, "loc")];
      expectSlots(ins[ins.length - 1]!, S, h!, q, "inc");
      return [y!, h!];
    },
  };
}

function ssdPhase<K extends "ssd_chunk_state" | "ssd_chunk_output">(doc: string, output: boolean): OpDef<K> {
  const extra = output ? 1 : 0;
  return {
    kind: "sequence",
    arity: (a) => 8 + (a.epilogue === "none" ? 0 : a.epilogue === "gate" ? 1 : 2) + extra,
    attrs: ["chunk", "epilogue", "normGroup", "eps"],
    doc,
    infer: (ins, a: SsdAttrs & { readonly chunk: number }) => {
      const q = expectChunk(a.chunk);
      const [y, h] = ssdInfer(ins.slice(0, ins.length - extra), a, false);
      const S = y!.shape[0]!;
      if (!output) return [slotsType(y!, S, h!, q, "loc")];
      expectSlots(ins[ins.length - 1]!, S, h!, q, "inc");
      return [y!, h!];
    },
  };
}

const CHUNK_OPS_TABLE = {
  selective_scan_chunk_state: scanPhase(
    "selective_scan's chunks c < nc - 1 of `chunk` tokens, each from a zero state: slot c = [h_end(c) [Di, N] | sum_t delta_t [Di] | pad];  " +
      "selective_scan's operands -> loc [S, F] (chunk-ops.ts)",
    false,
  ),
  selective_scan_chunk_output: scanPhase(
    "selective_scan chunk by chunk, chunk c from its incoming state (slot c of `inc` when nc >= 2, h0 when nc = 1): y, and the final state;  " +
      "selective_scan's operands, inc [S, 2F] -> (y [S, Di], h [Di, N])",
    true,
  ),
  ssd_chunk_state: ssdPhase(
    "ssd's recurrence over chunks c < nc - 1 of `chunk` tokens, each from a zero state: slot c = [h_end(c) [H, P, N] | sum_t dt_t [H] | pad];  " +
      "ssd's operands -> loc [S, F] (chunk-ops.ts)",
    false,
  ),
  ssd_chunk_output: ssdPhase(
    "ssd chunk by chunk, chunk c from its incoming state (slot c of `inc` when nc >= 2, h0 when nc = 1), with the epilogue; y and the final state;  " +
      "ssd's operands, inc [S, 2F] -> (y [S, H, P], h [H, P, N])",
    true,
  ),
  scan_state_pass: {
    kind: "sequence",
    arity: 3,
    attrs: ["chunk"],
    doc:
      "when nc >= 2: inc_0 = h0, inc_{c+1} = exp(A sum_dt_c) inc_c + loc_c for c < nc - 1, A = -exp(A_log) per state element " +
      "(A_log shaped as h0, or one per state row);  loc [S, F], A_log, h0 [R, ...] -> inc [S, 2F] (chunk-ops.ts; nothing when nc = 1)",
    infer: ([loc, Alog, h0], a) => {
      const q = expectChunk(a.chunk);
      expectRank(loc!, 2, "slots");
      const shape: Shape = h0!.shape;
      staticShape(h0!, "h0");
      if (!(Alog!.shape.length === 1 ? Alog!.shape[0] === shape[0] : Alog!.shape.length === shape.length && Alog!.shape.every((d, i) => d === shape[i]))) {
        fail(`A_log [${Alog!.shape.join(",")}] is neither h0's shape nor one value per state row`);
      }
      expectSlots(loc!, loc!.shape[0]!, h0!, q, "loc");
      return [slotsType(loc!, loc!.shape[0]!, h0!, q, "inc")];
    },
  },
} as const satisfies { readonly [K in keyof ChunkOpAttrs]: OpDef<K> };

export const CHUNK_OPS: { readonly [K in keyof ChunkOpAttrs]: OpDef<K> } = CHUNK_OPS_TABLE;
