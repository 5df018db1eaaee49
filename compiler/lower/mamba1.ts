/**
 * Mamba-1 mixer (HF MambaMixer / JambaMambaMixer) as primitive ops, x: [S, d_model].
 *
 *   xz = in_proj(x) = [x | z]               x, z: [S, Di]
 *   x  = silu(conv1d_causal(x, conv) + conv_bias)
 *   x_proj(x) = [dt (R) | B (N) | C (N)]    (inner_norms: RMSNorm each of dt, B, C)
 *   delta = softplus(dt_proj.weight dt + dt_proj.bias)          [S, Di]
 *   A = -exp(A_log)                                               [Di, N]
 *   h_t = exp(delta_t A) * h_{t-1} + (delta_t x_t) B_t            [S, Di, N], h_{-1} = ssm state
 *   y = sum_n h * C + D * x;  out = out_proj(y * silu(z))
 *
 * The (S, Di, N) tensors dA and dBx are what fuse-selective-scan removes.
 */
import type { Mamba1Config } from "../check/model.ts";
import type { ValueRef } from "../ir/graph.ts";
import { proj, type BlockResult, type SublayerCtx } from "./context.ts";

export function lowerMamba1(s: SublayerCtx, cfg: Mamba1Config, x: ValueRef): BlockResult {
  const { b, seq: S } = s;
  const Di = cfg.dInner;
  const N = cfg.dState;
  const R = cfg.dtRank;

  const xz = proj(s, x, "in_proj", cfg.bias);
  const xin = b.slice(xz, 1, 0, Di);
  const z = b.slice(xz, 1, Di, Di);

  const [conv, convState] = b.conv1dCausal(xin, s.state("conv"), b.reshape(s.w("conv1d.weight"), [Di, cfg.dConv]));
  const xc = b.silu(cfg.convBias ? b.add(conv, s.w("conv1d.bias")) : conv);

  const dbc = b.linear(xc, s.w("x_proj.weight"));
  let dt = b.slice(dbc, 1, 0, R);
  let B = b.slice(dbc, 1, R, N);
  let C = b.slice(dbc, 1, R + N, N);
  if (cfg.innerNorms) {
    dt = b.rmsnorm(dt, s.w("dt_layernorm.weight"), s.eps);
    B = b.rmsnorm(B, s.w("b_layernorm.weight"), s.eps);
    C = b.rmsnorm(C, s.w("c_layernorm.weight"), s.eps);
  }

  const delta = b.softplus(b.add(b.linear(dt, s.w("dt_proj.weight")), s.w("dt_proj.bias")));
  const A = b.neg(b.exp(s.w("A_log")));
  const dA = b.exp(b.mul(b.reshape(delta, [S, Di, 1]), A));
  const dBx = b.mul(b.reshape(b.mul(delta, xc), [S, Di, 1]), b.reshape(B, [S, 1, N]));
  const [h, ssmState] = b.linearRecurrence(dA, dBx, s.state("ssm"));

  const yC = b.reduceSum(b.mul(h, b.reshape(C, [S, 1, N])), 2);
  const y = b.mul(b.add(yC, b.mul(xc, s.w("D"))), b.silu(z));
  return { out: proj(s, y, "out_proj", cfg.bias), state: { conv: convState, ssm: ssmState } };
}
