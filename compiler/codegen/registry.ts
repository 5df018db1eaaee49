/**
 * One generator per kernel family, keyed by the op it computes. The table is checked with
 * `satisfies`, so an op cannot be half-added; ops without an entry have no WGSL yet.
 */
import type { BinaryOp, OpName, UnaryOp } from "../ir/ops.ts";
import type { KernelLimits, KernelSpec } from "./kernel.ts";
import type { KernelRequest } from "./request.ts";
import { generateAttention } from "./wgsl/attention.ts";
import { generateAttentionPart } from "./wgsl/attention-parts.ts";
import { generateAttentionMerge, generateAttentionPartial } from "./wgsl/attention-split.ts";
import { generateCacheWrite } from "./wgsl/cache.ts";
import { generateConv } from "./wgsl/conv.ts";
import { generateElementwise } from "./wgsl/elementwise.ts";
import { generateEmbedding } from "./wgsl/embedding.ts";
import { generateLinear } from "./wgsl/linear-family.ts";
import { generateNorm } from "./wgsl/norm.ts";
import { generateRecurrence } from "./wgsl/recurrence.ts";
import { generateReduce } from "./wgsl/reduce.ts";
import { generateRope } from "./wgsl/rope.ts";
import { generateScan } from "./wgsl/scan.ts";
import { generateStatePass } from "./wgsl/scan-state-pass.ts";
import { generateSoftmax } from "./wgsl/softmax.ts";
import { generateSsd } from "./wgsl/ssd.ts";

/** (request, adapter limits, schedule overrides) -> kernel; the family picks its own schedule. */
export type Generator<K extends OpName> = (req: KernelRequest<K>, limits: KernelLimits, override?: Readonly<Record<string, number>>) => KernelSpec;

export const GENERATORS = {
  linear: generateLinear,
  attention: generateAttention,
  attention_decode: generateAttention,
  attention_decode_partial: generateAttentionPartial,
  attention_merge: generateAttentionMerge,
  fused_linear: generateLinear,
  linear_conv_update: generateLinear,
  conv1d_silu: generateConv,
  conv1d_silu_update: generateConv,
  selective_scan: generateScan,
  selective_state_update: generateScan,
  selective_scan_chunk_state: generateScan,
  selective_scan_chunk_output: generateScan,
  scan_state_pass: generateStatePass,
  ssd: generateSsd,
  ssd_state_update: generateSsd,
  ssd_chunk_state: generateSsd,
  ssd_chunk_output: generateSsd,
  embedding: generateEmbedding,
  add_rmsnorm: generateNorm,
  rmsnorm_gated: generateNorm,
  rmsnorm: generateNorm,
  layernorm: generateNorm,
  neg: generateElementwise,
  exp: generateElementwise,
  sigmoid: generateElementwise,
  silu: generateElementwise,
  softplus: generateElementwise,
  relu: generateElementwise,
  gelu: generateElementwise,
  add: generateElementwise,
  mul: generateElementwise,
  reduce_sum: generateReduce,
  conv1d_causal: generateConv,
  linear_recurrence: generateRecurrence,
  rope: generateRope,
  cache_write: generateCacheWrite,
  attn_scores: generateAttentionPart,
  attn_mask: generateAttentionPart,
  attn_values: generateAttentionPart,
  softmax: generateSoftmax,
} as const satisfies { readonly [K in CodegenOp]: Generator<K> };

/** The ops that have a generator. */
export type CodegenOp = "linear" | "attention" | "attention_decode" | "attention_decode_partial" | "attention_merge" | "fused_linear" | "linear_conv_update" | "conv1d_silu" | "conv1d_silu_update" | "selective_scan" | "selective_state_update"
  | "ssd" | "ssd_state_update"
  | "selective_scan_chunk_state" | "selective_scan_chunk_output" | "scan_state_pass" | "ssd_chunk_state" | "ssd_chunk_output"
  | "embedding"
  | "add_rmsnorm"
  | "rmsnorm_gated"
  | "rmsnorm"
  | "layernorm"
  | UnaryOp
  | BinaryOp
  | "reduce_sum"
  | "conv1d_causal"
  | "linear_recurrence"
  | "rope"
  | "cache_write"
  | "attn_scores"
  | "attn_mask"
  | "attn_values"
  | "softmax";

export function hasGenerator(op: OpName): op is CodegenOp {
  return Object.hasOwn(GENERATORS, op);
}
