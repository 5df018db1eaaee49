/**
 * One generator per kernel family, keyed by the op it computes. The table is checked with
 * `satisfies`, so an op cannot be half-added; ops without an entry have no WGSL yet.
 */
import type { OpName } from "../ir/ops.ts";
import type { KernelLimits, KernelSpec } from "./kernel.ts";
import type { KernelRequest } from "./request.ts";
import { generateConv } from "./wgsl/conv.ts";
import { generateLinear } from "./wgsl/linear.ts";
import { generateScan } from "./wgsl/scan.ts";

/** (request, adapter limits, schedule overrides) -> kernel; the family picks its own schedule. */
export type Generator<K extends OpName> = (req: KernelRequest<K>, limits: KernelLimits, override?: Readonly<Record<string, number>>) => KernelSpec;

export const GENERATORS = {
  linear: generateLinear,
  fused_linear: generateLinear,
  conv1d_silu: generateConv,
  conv1d_silu_update: generateConv,
  selective_scan: generateScan,
  selective_state_update: generateScan,
} as const satisfies { readonly [K in CodegenOp]: Generator<K> };

/** The ops that have a generator. */
export type CodegenOp = "linear" | "fused_linear" | "conv1d_silu" | "conv1d_silu_update" | "selective_scan" | "selective_state_update";

export function hasGenerator(op: OpName): op is CodegenOp {
  return Object.hasOwn(GENERATORS, op);
}
