/**
 * Fused ops, each written directly from the equations of reference/semantics.md (not from the
 * primitive graph it replaces); the pass property tests check the two agree.
 */
import type { Kernel } from "./kernels.ts";
import { silu, softplus } from "./scalar.ts";

/**
 * selective_scan (mamba_ssm selective_scan_ref with delta_bias, delta_softplus, D, z and an
 * initial state): dt = softplus(delta + bias); h_t = exp(dt A) h_{t-1} + (dt u_t) B_t;
 * y_t = (sum_n h_t C_t + D u_t) * silu(z_t). Returns (y, h_{S-1}).
 */
const selectiveScan: Kernel<"selective_scan" | "selective_state_update"> = ([u, delta, A, B, C, D, z, bias, h0]) => {
  const [S, Di] = u!.shape as [number, number];
  const N = A!.shape[1]!;
  const h = Float64Array.from(h0!.data);
  const y = new Float64Array(S * Di);
  for (let t = 0; t < S; t++)
    for (let c = 0; c < Di; c++) {
      const x = u!.data[t * Di + c]!;
      const dt = softplus(delta!.data[t * Di + c]! + bias!.data[c]!);
      const dtx = dt * x;
      let acc = 0;
      for (let n = 0; n < N; n++) {
        const k = c * N + n;
        h[k] = Math.exp(dt * A!.data[k]!) * h[k]! + dtx * B!.data[t * N + n]!;
        acc += h[k]! * C!.data[t * N + n]!;
      }
      y[t * Di + c] = (acc + x * D!.data[c]!) * silu(z!.data[t * Di + c]!);
    }
  return [
    { shape: u!.shape, data: y },
    { shape: h0!.shape, data: h },
  ];
};

export const FUSED_KERNELS = {
  selective_scan: selectiveScan,
  selective_state_update: selectiveScan,
} satisfies { readonly [K in "selective_scan" | "selective_state_update"]: Kernel<K> };
