/**
 * The linear family's generator (`linear`, `fused_linear`): the problem (linear.ts), the
 * schedule, then the kernel: the tiled one (linear.ts) or, for decode, the cooperative GEMV
 * (gemv.ts; the choice and its measurements are in linear.ts's header). Kept apart from both
 * so that gemv.ts builds on linear.ts's shared parts without an import cycle.
 */
import type { KernelLimits, KernelSpec } from "../kernel.ts";
import type { KernelRequest } from "../request.ts";
import { emitGemv, gemvSchedule } from "./gemv.ts";
import { emitLinear, linearProblem, tiledSchedule, type LinearOp, type LinearProblem, type LinearSchedule } from "./linear.ts";

/**
 * The decode schedule kind by default (measured on lavapipe: see linear.ts's header). A build for
 * a GPU: cooperative. A build for a CPU: tiled where the tiled schedule stages a norm prologue
 * (its invocations all read xn[k] at the same k, where cooperative lanes read T different k of
 * it; 1.06-1.12x faster on lavapipe), cooperative otherwise (x read from storage).
 */
function decodeKind(tiled: LinearSchedule, gpu: boolean): "tiled" | "coop" {
  return !gpu && tiled.stage === 1 ? "tiled" : "coop";
}
/** The cooperative GEMV's default shape: lanes per column, slots per workgroup, columns per slot (halved for swiglu), lane layout. */
const COOP = { lanes: 4, slots: 16, tileCols: 4, chunked: false } as const;

/**
 * The shape for a GPU (BuildOptions.target `gpu`): a warp of 32 lanes (or, with subgroups, one
 * subgroup) per tile of 2 columns, 4 tiles per workgroup. COOP's 16 tiles of 4 columns a
 * workgroup suit lavapipe's two cores (the staged norm and x's loads amortized over 64 columns),
 * but give mamba-130m's in_proj (3072 columns) 48 workgroups, fewer than an H200's 132
 * multiprocessors; this one gives it 384 workgroups of 4 warps. Not measured on a GPU yet (none
 * was lent); on lavapipe 32 lanes per column ran at 0.1-0.5x of the tiled decode (linear.ts).
 */
const COOP_GPU = { lanes: 32, slots: 4, tileCols: 2, chunked: false } as const;

/**
 * The schedule of `kind` (default: decodeKind's for decode, tiled for prefill); a cooperative one
 * that does not fit stays tiled. With `subgroups` (the request's: the device has the feature and
 * the build uses it) the cooperative GEMV sums its lanes with subgroupAdd (gemv.ts), same shape;
 * with `gpu` it takes COOP_GPU's shape.
 */
export function linearSchedule(limits: KernelLimits, p: LinearProblem, kind?: "tiled" | "coop", subgroups = false, gpu = false): LinearSchedule {
  const tiled = tiledSchedule(limits, p);
  if (p.S === 1 && (kind ?? decodeKind(tiled, gpu)) === "coop") {
    const shape = gpu ? COOP_GPU : COOP;
    const c = gemvSchedule(limits, p, tiled.vec, shape.lanes, shape.slots, p.activation === "swiglu" ? shape.tileCols / 2 : shape.tileCols, shape.chunked);
    if (c) return { ...c, subgroup: subgroups ? 1 : 0 } as LinearSchedule;
  }
  return tiled;
}

export function generateLinear(req: KernelRequest<LinearOp>, limits: KernelLimits, override: Partial<LinearSchedule> = {}): KernelSpec {
  const p = linearProblem(req);
  // Overriding `coop` switches schedule kinds: the other fields default to that kind's. A
  // cooperative schedule the problem cannot take (prefill; workgroup memory) stays tiled.
  const base = linearSchedule(limits, p, override.coop === undefined ? undefined : override.coop > 0 ? "coop" : "tiled", req.subgroups === true, req.gpu === true);
  const { coop, coopChunked, subgroup, ...rest } = override;
  const s = { ...base, ...(base.coop > 0 || coop === undefined ? override : rest) };
  return s.coop > 0 ? emitGemv(req, p, s) : emitLinear(req, p, s);
}
