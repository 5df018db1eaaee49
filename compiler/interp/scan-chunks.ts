/**
 * The chunk-parallel phases of selective_scan and ssd (ir/chunk-ops.ts has the slot layout and
 * why h0 is copied), in float64: each chunk runs the plain recurrence of mamba.ts
 * (selectiveScanSteps, ssdSteps) from the state the phases give it, so composing the three
 * equals the unsplit op up to rounding (tests/codegen/scan-parallel.test.ts, 1e-12).
 * Words of the slots tensor that no slot uses stay 0.
 */
import { chunkCount, slotWords } from "../ir/chunk-ops.ts";
import type { Kernel } from "./kernels.ts";
import { selectiveScanSteps, ssdSteps } from "./mamba.ts";
import type { Tensor } from "./tensor.ts";

type Steps = (ins: readonly Tensor[], t0: number, t1: number, h: Float64Array, y: Float64Array | null, sums: Float64Array | null) => void;

/** Phase 1: slot c = [end state of chunk c from zero | sum of dt per state row] for c < nc - 1. */
function chunkState(ins: readonly Tensor[], h0: Tensor, S: number, Q: number, out: readonly number[], steps: Steps): Tensor[] {
  const slots = new Float64Array(out[0]! * out[1]!);
  const W = slotWords(h0.shape, Q);
  const E = h0.data.length;
  for (let c = 0; c + 1 < chunkCount(S, Q); c++) {
    const h = slots.subarray(c * W, c * W + E);
    steps(ins, c * Q, (c + 1) * Q, h, null, slots.subarray(c * W + E, c * W + E + h0.shape[0]!));
  }
  return [{ shape: out, data: slots }];
}

/** Phase 3: each chunk from its incoming state (slot c, or h0 when there is one chunk); y and the final state. */
function chunkOutput(ins: readonly Tensor[], h0: Tensor, inc: Tensor, S: number, Q: number, yLength: number, steps: Steps): Tensor[] {
  const W = slotWords(h0.shape, Q);
  const E = h0.data.length;
  const nc = chunkCount(S, Q);
  const y = new Float64Array(yLength);
  let h = Float64Array.from(h0.data);
  for (let c = 0; c < nc; c++) {
    h = nc === 1 ? h : Float64Array.from(inc.data.subarray(c * W, c * W + E));
    steps(ins, c * Q, Math.min(S, (c + 1) * Q), h, y, null);
  }
  return [
    { shape: ins[0]!.shape, data: y },
    { shape: h0.shape, data: h },
  ];
}

const scanSteps =
  (eps: number | null): Steps =>
  (ins, t0, t1, h, y, sums) =>
    selectiveScanSteps(ins, eps, t0, t1, h, y, sums);

const selectiveScanChunkState: Kernel<"selective_scan_chunk_state"> = (ins, a, ctx) => chunkState(ins, ins[9]!, ins[0]!.shape[0]!, a.chunk, ctx.out[0]!, scanSteps(a.innerNormEps));

const selectiveScanChunkOutput: Kernel<"selective_scan_chunk_output"> = (ins, a) =>
  chunkOutput(ins.slice(0, -1), ins[9]!, ins[ins.length - 1]!, ins[0]!.shape[0]!, a.chunk, ins[0]!.data.length, scanSteps(a.innerNormEps));

const ssdChunkState: Kernel<"ssd_chunk_state"> = (ins, a, ctx) =>
  chunkState(ins, ins[7]!, ins[0]!.shape[0]!, a.chunk, ctx.out[0]!, (i, t0, t1, h, y, sums) => ssdSteps(i, a, t0, t1, h, y, sums));

const ssdChunkOutput: Kernel<"ssd_chunk_output"> = (ins, a) =>
  chunkOutput(ins.slice(0, -1), ins[7]!, ins[ins.length - 1]!, ins[0]!.shape[0]!, a.chunk, ins[0]!.data.length, (i, t0, t1, h, y, sums) => ssdSteps(i, a, t0, t1, h, y, sums));

/** Phase 2: inc_0 = h0, inc_{c+1} = exp(A sum_c) inc_c + loc_c, per state element; nothing when nc = 1. */
const scanStatePass: Kernel<"scan_state_pass"> = ([loc, Alog, h0], a, ctx) => {
  const Q = a.chunk;
  const S = loc!.shape[0]!;
  const nc = chunkCount(S, Q);
  const inc = new Float64Array(ctx.out[0]![0]! * ctx.out[0]![1]!);
  const W = slotWords(h0!.shape, Q);
  const E = h0!.data.length;
  const rowLength = E / h0!.shape[0]!;
  const perElement = Alog!.data.length === E;
  if (nc >= 2) {
    for (let e = 0; e < E; e++) {
      const row = Math.floor(e / rowLength);
      const A = -Math.exp(Alog!.data[perElement ? e : row]!);
      let run = h0!.data[e]!;
      for (let c = 0; c + 1 < nc; c++) {
        inc[c * W + e] = run;
        run = Math.exp(A * loc!.data[c * W + E + row]!) * run + loc!.data[c * W + e]!;
      }
      inc[(nc - 1) * W + e] = run;
    }
  }
  return [{ shape: ctx.out[0]!, data: inc }];
};

export const SCAN_CHUNK_KERNELS = {
  selective_scan_chunk_state: selectiveScanChunkState,
  selective_scan_chunk_output: selectiveScanChunkOutput,
  ssd_chunk_state: ssdChunkState,
  ssd_chunk_output: ssdChunkOutput,
  scan_state_pass: scanStatePass,
} satisfies {
  readonly [K in "selective_scan_chunk_state" | "selective_scan_chunk_output" | "ssd_chunk_state" | "ssd_chunk_output" | "scan_state_pass"]: Kernel<K>;
};
