/**
 * The optimizer: passes in the order they run, each a pure Graph -> Graph function in its own
 * file. `optimize` runs them top to bottom; `after` sees the graph after each (`--dump-after`).
 *
 * Why this order (which fusion wins where):
 *  1. The scan fusions come first. fuse-selective-scan swallows Mamba-1's dt_proj linear (and the
 *     inner norms) into the scan, so the linear fusions never turn them into kernels of their
 *     own; fuse-ssd decides per layer whether the gated norm fits its epilogue and otherwise
 *     leaves a grouped rmsnorm (or an rmsnorm_gated) behind.
 *  2. fuse-conv-act is independent of the rest (conv1d + bias + SiLU).
 *  3. fuse-linear-epilogue before fuse-add-norm: a residual add whose other operand is a
 *     projection read only by it costs nothing in that projection's epilogue, while add_rmsnorm
 *     would still be a kernel of its own. So on every pre-norm residual block the add goes into
 *     out_proj / o_proj / down_proj and the next norm goes into the next projections' prologue:
 *     a block costs its projections plus its mixer, no add or norm kernels.
 *  4. fuse-add-norm then takes the adds that could not go into an epilogue (the projection's
 *     output has other readers, or there is no projection) together with the norm after them.
 *  5. fuse-norm-prologue last: every norm still standing whose readers are all projections
 *     (including the grouped norm fuse-ssd left and the final norm before the LM head) moves
 *     into them. Running it after fuse-add-norm keeps add_rmsnorm where it fired: there the
 *     norm is already computed once, next to the add, and copying it into every reader as well
 *     would not save a kernel (the add still needs one).
 *  6. fuse-activation-epilogue after the prologue and epilogue fusions: it needs gate and up to
 *     carry their final prologue (one norm, the same weight for both) and their biases (which
 *     act before the activation), and it must see gate and up as two separate projections,
 *     before fuse-parallel-linears could merge them into a plain concatenation. silu(gate) * up
 *     becomes one fused_linear over both weights writing hidden (not 2 * hidden) values; gelu
 *     and relu^2 go into their projection. The MLP is then two kernels: gate/up and down.
 *  7. fuse-parallel-linears last: the projections still reading one input through one prologue
 *     (q, k and v) become one fused_linear, their results slices (views) of its output. It runs
 *     after fuse-attention, whose matcher starts from the separate q, k, v projections, and
 *     after every fusion that adds a part to a single projection, since the merged op takes no
 *     residual and no activation. An attention block is then 5 kernels: norm + qkv, attention,
 *     o_proj + residual, norm + gate/up + SwiGLU, down + residual.
 *  8. fuse-linear-conv (decode) after every linear fusion: it takes the finished in_proj (norm
 *     prologue, bias) as it is and adds the conv step and SiLU to its epilogue (linear_conv_update),
 *     which then takes no further part; a Mamba decode layer is one kernel shorter.
 *  9. split-decode-attention last: a schedule, not a fusion of its own; it cuts each decode
 *     attention over a long cache into a partial kernel per key block and a merge (flash-decoding).
 * 10. parallel-scan, only with `scan: "chunked-parallel"`: a schedule too; it splits each fused
 *     prefill scan (selective_scan, ssd) into per-chunk kernels, so it runs after the scan fusions
 *     have built them (and after everything else, which never matches the split ops).
 *  LayerNorm models get the prologue (fused_linear {prologue=layernorm}); there is no
 *  add_layernorm, so an add + layernorm left over stays two kernels.
 */
import type { Graph } from "../ir/graph.ts";
import { dce } from "./dce.ts";
import { fuseActivationEpilogue } from "./fuse-activation-epilogue.ts";
import { fuseAddNorm } from "./fuse-add-norm.ts";
import { fuseAttention } from "./fuse-attention.ts";
import { fuseConvAct } from "./fuse-conv-act.ts";
import { fuseLinearConv } from "./fuse-linear-conv.ts";
import { fuseLinearEpilogue } from "./fuse-linear-epilogue.ts";
import { fuseNormPrologue } from "./fuse-norm-prologue.ts";
import { fuseParallelLinears } from "./fuse-parallel-linears.ts";
import { fuseSelectiveScan } from "./fuse-selective-scan.ts";
import { fuseSsd } from "./fuse-ssd.ts";
import type { Pass, PassOptions } from "./pass.ts";
import { parallelScan } from "./parallel-scan.ts";
import { splitDecodeAttention } from "./split-decode-attention.ts";

export type { Pass, PassOptions } from "./pass.ts";
export type { ScanAlgorithm } from "./parallel-scan.ts";
export {
  dce,
  fuseActivationEpilogue,
  fuseAddNorm,
  fuseAttention,
  fuseConvAct,
  fuseLinearConv,
  fuseLinearEpilogue,
  fuseNormPrologue,
  fuseParallelLinears,
  fuseSelectiveScan,
  fuseSsd,
  parallelScan,
  splitDecodeAttention,
};

export const PASSES: readonly Pass[] = [
  dce,
  fuseSelectiveScan, // Mamba-1: dt_proj, A = -exp(A_log), inner norms and the gate into the scan
  fuseSsd, // Mamba-2: chunked SSD with the gate / gated norm epilogue where legal
  fuseConvAct, // conv1d + bias + SiLU
  fuseAttention, // rope + cache writes + softmax(QK^T)V of each attention block; independent of the SSM fusions
  fuseLinearEpilogue, // bias and residual adds into the projection that feeds them
  fuseAddNorm, // add + rmsnorm where the add could not go into an epilogue
  fuseNormPrologue, // norms read only by projections into each projection's prologue
  fuseActivationEpilogue, // silu(gate) * up, gelu, relu^2 into the projection epilogue (gate + up: one op)
  fuseParallelLinears, // projections of one input and prologue (q, k, v) -> one op, outputs as slices
  fuseLinearConv, // decode: the conv step and SiLU into the epilogue of the projection that feeds it (Mamba's in_proj)
  splitDecodeAttention, // decode attention over several key blocks -> partial per block + merge (flash-decoding)
  parallelScan, // scan = chunked-parallel only: prefill scans -> per-chunk state, state pass, per-chunk output
];

export interface OptimizeOptions extends PassOptions {
  /** false for `--no-fuse`: run only the passes that are not fusions. Default true. */
  readonly fuse?: boolean;
  /** Called with the graph after each pass (`--dump-after PASS`). */
  readonly after?: (pass: Pass, g: Graph) => void;
}

export function optimize(g: Graph, options: OptimizeOptions = {}): Graph {
  let out = g;
  for (const pass of PASSES) {
    if (pass.fusion && options.fuse === false) continue;
    if (pass.when !== undefined && !pass.when(options)) continue;
    out = pass.run(out);
    options.after?.(pass, out);
  }
  return out;
}
