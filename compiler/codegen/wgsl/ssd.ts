/**
 * The Mamba-2 SSD family: `ssd` (prefill) and `ssd_state_update` (decode, S = 1), one
 * generator with two algorithms, picked by the schedule's `algo`:
 *
 *   dt_t = softplus(dt[t, h] + dt_bias[h]),  A = -exp(A_log[h]),  g = h / (H / G)
 *   s[h, p, :] = exp(dt_t A) s[h, p, :] + (dt_t x[t, h, p]) B[t, g, :]      s = h0 before t = 0
 *   y[t, h, p] = sum_n s[h, p, n] C[t, g, n] + D[h] x[t, h, p],  then the epilogue
 *   (none | y silu(z) | rmsnorm(y silu(z)) w | rmsnorm(y) w silu(z), norm groups of normGroup | P)
 *
 *   algo 0  sequential (ssd-sequential.ts): one invocation per (head, p) row walks all L tokens,
 *           H * P invocations in all. Decode always (2 rows an invocation, the state streamed
 *           through rather than held).
 *   algo 1  chunked (ssd-chunked.ts): the SSD block form, one workgroup per (head, tile of
 *           `ptile` rows) walking chunks of `chunk` tokens, Q x Q and Q x N tiles in workgroup
 *           memory, every phase parallel over a tile's grid.
 * Both compute the same numbers up to rounding (interp runs the chunked form in float64).
 * The chunk-parallel phases ssd_chunk_state / ssd_chunk_output (passes/parallel-scan.ts) run
 * the sequential walk over one chunk each (ssd-sequential.ts), so their schedule is always algo 0.
 *
 * The default (ssdSchedule, DEFAULT_ALGO) is SEQUENTIAL, by measurement (bench/ssd.ts, B5 of
 * performance.md; lavapipe on this loaded 2-core host, H = 24, P = 64, gate epilogue, median ms
 * per call, the best chunked tiles in 32 KiB of workgroup memory):
 *   N = 64,  L = 1024: sequential 379, chunked Q = 8 PT = 64 587 (1.55x), Q = 16 PT = 64 603 (1.59x), Q = 32 PT = 16 973 (2.6x)
 *   N = 128, L = 1024: sequential 387, chunked Q = 8 PT = 32 611 (1.58x), Q = 16 PT = 16 750 (1.94x)
 *   N = 64,  L = 4096: sequential 756, chunked Q = 8 PT = 64 1169 (1.55x), Q = 16 PT = 64 1267 (1.68x)
 *   N = 128, L = 4096: noisy (sequential best 1389, chunked Q = 8 PT = 32 best 2409: 1.7x)
 * The rule was: chunked for prefill where it is no slower than about 1.5x the sequential kernel
 * on lavapipe (a CPU, where the sequential walk's registers beat workgroup memory and barriers
 * are coroutine switches), since on a discrete GPU the sequential kernel exposes only H * P
 * invocations. Even its best tiles miss that bar, and under the WebGPU default 16 KiB that
 * `hybridc build` targets only narrower tiles fit (N = 128: Q = 8, PT = 8), so sequential stays
 * the default for every spec and chunked is a schedule override (`{ algo: 1 }`), tested on
 * every case. No GPU adapter was available to measure the other side.
 */
import { invariant } from "../../diag/diagnostic.ts";
import { byteSize } from "../../ir/types.ts";
import { CodegenError, type KernelLimits, type KernelSpec } from "../kernel.ts";
import type { KernelRequest } from "../request.ts";
import { pow2AtLeast } from "./common.ts";
import { chunkedBytes, emitSsdChunked } from "./ssd-chunked.ts";
import { hasNorm, rowsInOneGroup, ssdOperands, ssdProblem, type SsdOp, type SsdProblem, type SsdSchedule } from "./ssd-parts.ts";
import { emitSsdSequential } from "./ssd-sequential.ts";

export type { SsdOp, SsdProblem, SsdSchedule } from "./ssd-parts.ts";
export { ssdProblem } from "./ssd-parts.ts";

/** Chunk lengths the chunked schedule tries, preferred first (after the widest p tile). */
const CHUNKS = [16, 8] as const;
const MAX_PTILE = 64;

/**
 * Chunk and p tile for the chunked kernel: the widest p tile (PT | P, the norm group | PT,
 * PT <= 64) at which a chunk of CHUNKS fits the workgroup memory, with the first such chunk;
 * null when nothing fits. Measured: the p tile matters most (each of a head's P / PT workgroups
 * recomputes the Q x Q tile: Q = 32 at PT = 16 ran 2.6x slower than Q = 8 at PT = 64), Q = 8 and
 * 16 at PT = 64 within 8% of each other; 16 halves the barriers, so it comes first.
 */
export function chunkedTiles(limits: KernelLimits, p: SsdProblem): { chunk: number; ptile: number } | null {
  const NG = hasNorm(p.epilogue) ? (p.normGroup ?? p.P) : 1;
  const widest = Math.min(p.P, MAX_PTILE);
  const tiles = Array.from({ length: widest }, (_, i) => widest - i).filter((t) => p.P % t === 0 && t % NG === 0);
  for (const ptile of tiles) {
    const chunk = CHUNKS.find((q) => chunkedBytes(p, q, ptile) <= limits.maxComputeWorkgroupStorageSize);
    if (chunk !== undefined) return { chunk, ptile };
  }
  return null;
}

/**
 * The algorithm every problem gets by default: sequential, by the measurements above (decode has
 * one token, nothing to chunk, and must stay sequential). The chunked kernel is chosen by a
 * schedule override (`{ algo: 1 }`, optionally with chunk, ptile, workgroup).
 */
export const DEFAULT_ALGO: 0 | 1 = 0;

/**
 * The sequential prefill walk's rows per invocation (at most MAX_ROWS, and at most STATE_VALUES
 * state values each), its workgroup, and the tokens of B, C staged at a time. On lavapipe, a
 * mamba2-130m layer's walk (N = 128, P = 64, L = 512): 1 row 217 ms, 1 row staged 163, 2 rows
 * staged 100, 4 rows staged 63, 8 rows staged 78 ms (interleaved medians); but on a cold shader
 * cache the pipeline took 18 s to compile with 1 row, 27 s with 2, 84 s with 4 and 273 s with 8,
 * so N = 128 gets 2 rows.
 */
const MAX_ROWS = 4;
/**
 * Decode's rows per invocation: mamba2-130m's update (N = 128, P = 64) on lavapipe, the state
 * streamed, interleaved medians over 41-81 rounds in three runs: 2 rows 0.89-0.94x the time of 1;
 * 4 and 8 rows within the noise of 2.
 */
const DECODE_ROWS = 2;
const STATE_VALUES = 256;
const ROWS_WORKGROUP = 16;
const STAGE = 16;

/** The schedule for `algo`; the chunked fields (chunk, ptile) are filled either way. */
export function ssdSchedule(limits: KernelLimits, p: SsdProblem, algo: 0 | 1 = DEFAULT_ALGO): SsdSchedule {
  const wgMax = Math.min(limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX);
  const vec = p.N % 4 === 0 ? 4 : 1;
  // Unrolled named registers or a private array with a loop ran alike on lavapipe (N = 16..128,
  // L = 1024); the loop keeps the module 3x smaller for wide states.
  const unroll = p.N / vec <= 16 ? 1 : 0;
  // Where nothing fits, emitting algo 1 reports the workgroup memory it would need.
  const tiles = chunkedTiles(limits, p) ?? { chunk: 8, ptile: p.P };
  const base = { vec, unroll, ...tiles, rows: 1, stage: 0 } as const;
  // Chunked: 64 invocations ran 5-10% faster than 128 on lavapipe.
  if (algo === 1 && p.phase === "whole") return { ...base, algo, perHead: 1, workgroup: Math.min(wgMax, 64) };
  if (p.phase !== "whole") algo = 0;
  if (hasNorm(p.epilogue) && p.phase !== "chunk_state") return { ...base, algo, perHead: 1, workgroup: Math.min(wgMax, 256, pow2AtLeast(p.P)) };
  if (p.phase !== "whole") return { ...base, algo, perHead: 0, workgroup: Math.min(wgMax, 64, pow2AtLeast(p.H * p.P)) };
  // Decode (one token, the state streamed): DECODE_ROWS rows per invocation read B and C once for both.
  if (p.S !== "L") {
    const rows = p.P % DECODE_ROWS === 0 ? DECODE_ROWS : 1;
    return { ...base, algo, perHead: 0, rows, workgroup: Math.min(wgMax, 64, pow2AtLeast(Math.ceil((p.H * p.P) / rows))) };
  }
  // The prefill walk (the sequential kernels are chosen for small devices, build.ts scanFor):
  // several rows per invocation, at most STATE_VALUES state values each, and B, C staged when the
  // workgroup's rows lie in one group.
  let rows = Math.max(1, Math.min(MAX_ROWS, Math.floor(STATE_VALUES / p.N)));
  while (p.P % rows !== 0) rows--;
  const workgroup = Math.min(wgMax, ROWS_WORKGROUP, pow2AtLeast(Math.ceil((p.H * p.P) / rows)));
  const stage = rowsInOneGroup(p, workgroup, rows) ? Math.min(STAGE, Math.floor(limits.maxComputeWorkgroupStorageSize / byteSize("f32", 2 * p.N))) : 0;
  return { ...base, algo, perHead: 0, workgroup, rows, stage };
}

export function emitSsd(req: KernelRequest<SsdOp>, p: SsdProblem, s: SsdSchedule, limits: KernelLimits): KernelSpec {
  invariant(s.vec === 1 || p.N % 4 === 0, "vec4 SSD needs 4 | d_state");
  const o = ssdOperands(p, s.vec);
  if (s.algo === 1 && p.phase !== "whole") throw new CodegenError(`${req.node.op}: a chunk-parallel phase runs the sequential walk (algo 0)`, req.node.spans);
  return s.algo === 1 ? emitSsdChunked(req, p, s, o, limits.maxComputeWorkgroupStorageSize) : emitSsdSequential(req, p, s, o);
}

export function generateSsd(req: KernelRequest<SsdOp>, limits: KernelLimits, override: Partial<SsdSchedule> = {}): KernelSpec {
  const p = ssdProblem(req);
  const s = { ...ssdSchedule(limits, p, override.algo), ...override };
  // The defaults' rows and staging belong to the default grid: a per-head grid, another workgroup
  // or rows that split a group's rows over workgroups take them only when asked.
  const rows = override.rows ?? (s.perHead === 0 ? s.rows : 1);
  const stage = override.stage ?? (s.perHead === 0 && rowsInOneGroup(p, s.workgroup, rows) ? s.stage : 0);
  return emitSsd(req, p, { ...s, rows, stage }, limits);
}
