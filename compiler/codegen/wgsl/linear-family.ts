/**
 * The linear family's generator (`linear`, `fused_linear`): the problem (linear.ts), the
 * schedule, then the kernel: the tiled one (linear.ts) or, for decode by default, the cooperative
 * GEMV (gemv.ts; the choice and its measurements are in linear.ts's header). Kept apart from both
 * so that gemv.ts builds on linear.ts's shared parts without an import cycle.
 */
import type { KernelLimits, KernelSpec } from "../kernel.ts";
import type { KernelRequest } from "../request.ts";
import { emitGemv, gemvSchedule } from "./gemv.ts";
import { emitLinear, linearProblem, tiledSchedule, type LinearOp, type LinearProblem, type LinearSchedule } from "./linear.ts";

/** The decode schedule kind by default (measured on lavapipe: see linear.ts's header). */
const DECODE_KIND: "tiled" | "coop" = "coop";
/** The cooperative GEMV's default shape: lanes per column, slots per workgroup, columns per slot (halved for swiglu), lane layout. */
const COOP = { lanes: 4, slots: 16, tileCols: 4, chunked: false } as const;

/**
 * The schedule of `kind` (default: cooperative for decode, tiled for prefill); a cooperative one
 * that does not fit stays tiled. With `subgroups` (the request's: the device has the feature and
 * the build uses it) the cooperative GEMV sums its lanes with subgroupAdd (gemv.ts), same shape.
 */
export function linearSchedule(limits: KernelLimits, p: LinearProblem, kind?: "tiled" | "coop", subgroups = false): LinearSchedule {
  const tiled = tiledSchedule(limits, p);
  if (p.S === 1 && (kind ?? DECODE_KIND) === "coop") {
    const c = gemvSchedule(limits, p, tiled.vec, COOP.lanes, COOP.slots, p.activation === "swiglu" ? COOP.tileCols / 2 : COOP.tileCols, COOP.chunked);
    if (c) return { ...c, subgroup: subgroups ? 1 : 0 } as LinearSchedule;
  }
  return tiled;
}

export function generateLinear(req: KernelRequest<LinearOp>, limits: KernelLimits, override: Partial<LinearSchedule> = {}): KernelSpec {
  const p = linearProblem(req);
  // Overriding `coop` switches schedule kinds: the other fields default to that kind's. A
  // cooperative schedule the problem cannot take (prefill; workgroup memory) stays tiled.
  const base = linearSchedule(limits, p, override.coop === undefined ? undefined : override.coop > 0 ? "coop" : "tiled", req.subgroups === true);
  const { coop, coopChunked, subgroup, ...rest } = override;
  const s = { ...base, ...(base.coop > 0 || coop === undefined ? override : rest) };
  return s.coop > 0 ? emitGemv(req, p, s) : emitLinear(req, p, s);
}
