/**
 * Mamba-2 mixer (HF Mamba2Mixer / BambaMixer) as primitive ops, x: [S, d_model].
 * Di = d_inner, H heads of P = headdim channels, G groups, N = d_state, Hg = H / G; head
 * h = g * Hg + j reads group g (= h / Hg), so heads are laid out as [G, Hg].
 *
 *   in_proj(x) = [z (Di) | xBC (Di + 2GN) | dt (H)]
 *   xBC = silu(conv1d_causal(xBC, conv) + conv_bias) = [x (Di) | B (GN) | C (GN)]
 *   dt = softplus(dt + dt_bias);  A = -exp(A_log)                        [S, H], [H]
 *   h_t = exp(dt_t A) * h_{t-1} + (dt_t x_t) B_t^T                        [S, G, Hg, P, N]
 *   y = sum_n h * C + D * x                                              [S, Di]
 *   gated_norm: rmsnorm(y * silu(z)) over groups of norm_group  (norm_before_gate = false)
 *               rmsnorm(y) * silu(z)                             (norm_before_gate = true)
 *   else y * silu(z);   out = out_proj(...)
 */
import type { Mamba2Config } from "../check/model.ts";
import type { ValueRef } from "../ir/graph.ts";
import { proj, type BlockResult, type SublayerCtx } from "./context.ts";

export function lowerMamba2(s: SublayerCtx, cfg: Mamba2Config, x: ValueRef): BlockResult {
  const { b, seq: S } = s;
  const { dInner: Di, heads: H, headdim: P, ngroups: G, dState: N, convDim } = cfg;
  const Hg = H / G;
  const GN = G * N;

  const zxbcdt = proj(s, x, "in_proj", cfg.bias);
  const z = b.slice(zxbcdt, 1, 0, Di);
  const xBC = b.slice(zxbcdt, 1, Di, convDim);
  const dtRaw = b.slice(zxbcdt, 1, Di + convDim, H);

  const [conv, convState] = b.conv1dCausal(xBC, s.state("conv"), b.reshape(s.w("conv1d.weight"), [convDim, cfg.dConv]));
  const xbc = b.silu(cfg.convBias ? b.add(conv, s.w("conv1d.bias")) : conv);
  const xs = b.slice(xbc, 1, 0, Di);
  const B = b.slice(xbc, 1, Di, GN);
  const C = b.slice(xbc, 1, Di + GN, GN);

  const dt = b.softplus(b.add(dtRaw, s.w("dt_bias")));
  const A = b.neg(b.exp(s.w("A_log")));
  const dA = b.broadcastTo(b.reshape(b.exp(b.mul(dt, A)), [S, G, Hg, 1, 1]), [S, G, Hg, P, N]);
  const dtx = b.mul(b.reshape(xs, [S, G, Hg, P]), b.reshape(dt, [S, G, Hg, 1]));
  const dBx = b.mul(b.reshape(dtx, [S, G, Hg, P, 1]), b.reshape(B, [S, G, 1, 1, N]));
  const [h, last] = b.linearRecurrence(dA, dBx, b.reshape(s.state("ssm"), [G, Hg, P, N]), cfg.chunk); // chunk: for fuse-ssd

  const yC = b.reshape(b.reduceSum(b.mul(h, b.reshape(C, [S, G, 1, 1, N])), 4), [S, H, P]);
  const yD = b.add(yC, b.mul(b.reshape(xs, [S, H, P]), b.reshape(s.w("D"), [H, 1])));
  const y = b.reshape(yD, [S, Di]);

  const gate = b.silu(z);
  let gated: ValueRef;
  if (!cfg.gatedNorm) gated = b.mul(y, gate);
  else if (cfg.normBeforeGate) gated = b.mul(b.rmsnorm(y, s.w("norm.weight"), s.eps, cfg.normGroup), gate);
  else gated = b.rmsnorm(b.mul(y, gate), s.w("norm.weight"), s.eps, cfg.normGroup);

  return { out: proj(s, gated, "out_proj", cfg.bias), state: { conv: convState, ssm: b.reshape(last, [H, P, N]) } };
}
