/**
 * Fused ops, each written directly from the equations of reference/semantics.md (not from the
 * primitive graph it replaces); the pass property tests check the two agree.
 */
import { attention, attentionDecodePartial, attentionMerge } from "./attention.ts";
import type { Kernel } from "./kernels.ts";
import { MAMBA_KERNELS } from "./mamba.ts";
import { NORM_KERNELS } from "./norms.ts";
import { SCAN_CHUNK_KERNELS } from "./scan-chunks.ts";

export const FUSED_KERNELS = {
  ...MAMBA_KERNELS, // selective_scan, conv1d_silu, ssd, ... (mamba.ts)
  ...NORM_KERNELS, // rmsnorm_gated, add_rmsnorm, fused_linear, linear_conv_update (norms.ts)
  ...SCAN_CHUNK_KERNELS, // the chunk-parallel scan phases (scan-chunks.ts)
  attention,
  attention_decode: attention,
  attention_decode_partial: attentionDecodePartial,
  attention_merge: attentionMerge,
} satisfies {
  readonly [K in keyof typeof MAMBA_KERNELS | keyof typeof NORM_KERNELS | keyof typeof SCAN_CHUNK_KERNELS | "attention" | "attention_decode" | "attention_decode_partial" | "attention_merge"]: Kernel<K>;
};
