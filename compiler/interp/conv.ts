/**
 * The causal depthwise conv shared by the primitive conv1d_causal (kernels.ts) and the fused
 * conv1d_silu (mamba.ts). It lives apart so that mamba.ts need not import kernels.ts, which
 * imports the fused table (fused.ts -> mamba.ts): that loop made `import "mamba.ts"` first fail.
 */
import type { Tensor } from "./tensor.ts";

/**
 * Causal depthwise conv over xe = cat(state, x) along time: xe[c, j] = state[c, j] for j < W,
 * x[j - W, c] after. y[t, c] = post(sum_k w[c, k] * xe[c, t + 1 + k], c): the last W columns
 * ending at token t, so w[c, W-1] multiplies x[t]. state'[c, j] = xe[c, S + j].
 */
export function causalConv(x: Tensor, state: Tensor, w: Tensor, post: (acc: number, c: number) => number): readonly Tensor[] {
  const [S, C] = x.shape as [number, number];
  const W = w.shape[1]!;
  const xe = (c: number, j: number): number => (j < W ? state.data[c * W + j]! : x.data[(j - W) * C + c]!);
  const y = new Float64Array(S * C);
  const st = new Float64Array(C * W);
  for (let c = 0; c < C; c++) {
    for (let t = 0; t < S; t++) {
      let acc = 0;
      for (let k = 0; k < W; k++) acc += w.data[c * W + k]! * xe(c, t + 1 + k);
      y[t * C + c] = post(acc, c);
    }
    for (let j = 0; j < W; j++) st[c * W + j] = xe(c, S + j);
  }
  return [
    { shape: x.shape, data: y },
    { shape: state.shape, data: st },
  ];
}
