/**
 * The fused Mamba kernels, in float64, each written from the equations of
 * reference/semantics.md (selective_scan, causal_conv1d, ssd, ssd_state_update), never from the
 * primitive graph it replaces; tests/passes check the two agree.
 */
import type { SsdAttrs } from "../ir/fused-ops.ts";
import { causalConv } from "./conv.ts";
import type { Kernel } from "./kernels.ts";
import { rmsnormInPlace } from "./norms.ts";
import { silu, softplus } from "./scalar.ts";
import type { Tensor } from "./tensor.ts";

/**
 * selective_scan (mamba_ssm selective_scan_ref with delta_bias, delta_softplus, D, z and an
 * initial state), with dt_proj and A = -exp(A_log) inside:
 *   (inner norms: dt_t, B_t, C_t <- rmsnorm(dt_t), rmsnorm(B_t), rmsnorm(C_t))
 *   delta = softplus(dt_proj_w dt_t + bias);  h_t = exp(delta A) h_{t-1} + (delta u_t) B_t
 *   y_t = (sum_n h_t C_t + D u_t) * silu(z_t).  Returns (y, h_{S-1}).
 */
const selectiveScan: Kernel<"selective_scan" | "selective_state_update"> = (ins, a) => {
  const [u, , , , , , , , , h0] = ins;
  const h = Float64Array.from(h0!.data);
  const y = new Float64Array(u!.data.length);
  selectiveScanSteps(ins, a.innerNormEps, 0, u!.shape[0]!, h, y, null);
  return [
    { shape: u!.shape, data: y },
    { shape: h0!.shape, data: h },
  ];
};

/**
 * selective_scan's recurrence over tokens [t0, t1) on the state `h` [Di, N] (updated in place):
 * y's rows t0..t1-1 into `y` when given (the C, D, z operands are then read), sum_t delta_t per
 * channel added into `deltaSums` [Di] when given. The chunk-parallel phases (scan-chunks.ts) run it per chunk.
 */
export function selectiveScanSteps(ins: readonly Tensor[], eps: number | null, t0: number, t1: number, h: Float64Array, y: Float64Array | null, deltaSums: Float64Array | null): void {
  const [u, dt, W, Alog, B, C, D, z, bias, , wdt, wb, wc] = ins;
  const Di = u!.shape[1]!;
  const R = dt!.shape[1]!;
  const N = Alog!.shape[1]!;
  const A = Alog!.data.map((v) => -Math.exp(v));
  for (let t = t0; t < t1; t++) {
    const dtRow = dt!.data.slice(t * R, (t + 1) * R);
    const Bt = B!.data.slice(t * N, (t + 1) * N);
    const Ct = C!.data.slice(t * N, (t + 1) * N);
    if (eps !== null) {
      rmsnormInPlace(dtRow, wdt!.data, eps, R);
      rmsnormInPlace(Bt, wb!.data, eps, N);
      rmsnormInPlace(Ct, wc!.data, eps, N);
    }
    for (let c = 0; c < Di; c++) {
      let proj = 0;
      for (let r = 0; r < R; r++) proj += dtRow[r]! * W!.data[c * R + r]!;
      const delta = softplus(proj + bias!.data[c]!);
      if (deltaSums !== null) deltaSums[c] = deltaSums[c]! + delta;
      const x = u!.data[t * Di + c]!;
      const dx = delta * x;
      let acc = 0;
      for (let n = 0; n < N; n++) {
        const k = c * N + n;
        h[k] = Math.exp(delta * A[k]!) * h[k]! + dx * Bt[n]!;
        acc += h[k]! * Ct[n]!;
      }
      if (y !== null) y[t * Di + c] = (acc + x * D!.data[c]!) * silu(z!.data[t * Di + c]!);
    }
  }
}

/** causal_conv1d with SiLU: y[t, c] = silu(conv(x)[t, c] + bias[c]); state' = the last W inputs. */
const conv1dSilu: Kernel<"conv1d_silu" | "conv1d_silu_update"> = ([x, state, w, bias]) =>
  causalConv(x!, state!, w!, (acc, c) => silu(bias === undefined ? acc : acc + bias.data[c]!));

interface SsdDims {
  readonly S: number;
  readonly H: number;
  readonly P: number;
  readonly G: number;
  readonly N: number;
}

function ssdDims(x: Tensor, B: Tensor): SsdDims {
  const [S, H, P] = x.shape as [number, number, number];
  const [, G, N] = B.shape as [number, number, number];
  return { S, H, P, G, N };
}

/**
 * The epilogue of one (token t, head h): y[t, h, :] (P values, D skip included) in place.
 * Norm groups lie inside the head (normGroup divides P), so one head's values suffice.
 */
function epilogue(a: SsdAttrs, y: Float64Array, z: Tensor | undefined, w: Tensor | undefined, base: number, h: number, P: number): void {
  if (a.epilogue === "none") return;
  const row = y.subarray(base, base + P);
  const gate = (p: number): number => silu(z!.data[base + p]!);
  const weight = w?.data.subarray(h * P, (h + 1) * P);
  switch (a.epilogue) {
    case "gate":
      for (let p = 0; p < P; p++) row[p] = row[p]! * gate(p);
      return;
    case "gate_norm":
      for (let p = 0; p < P; p++) row[p] = row[p]! * gate(p);
      rmsnormInPlace(row, weight!, a.eps!, a.normGroup!);
      return;
    case "norm_gate":
      rmsnormInPlace(row, weight!, a.eps!, a.normGroup!);
      for (let p = 0; p < P; p++) row[p] = row[p]! * gate(p);
      return;
  }
}

/**
 * ssd: the state-space-duality block decomposition (semantics.md "ssd"), per head h
 * (group g = h / (H/G)) and chunk of Q tokens [c0, c1) (the last one shorter):
 *   dt_s = softplus(dt_s + dt_bias),  a_s = dt_s A,  cum_i = sum_{k <= i} a_{c0+k}   (in-chunk)
 *   y_t = sum_{s <= t in chunk} exp(cum_t - cum_s) (C_t . B_s) dt_s x_s  +  exp(cum_t) C_t . h_in  +  D x_t
 *   h_out = exp(cum_last) h_in + sum_s exp(cum_last - cum_s) dt_s x_s B_s^T
 * the intra-chunk part is the Q x Q masked form L o (C B^T), the inter-chunk part passes h along.
 */
const ssdChunked: Kernel<"ssd"> = (ins, a) => {
  const [x, dtRaw, Alog, B, C, D, dtBias, h0, z, w] = ins;
  const { S, H, P, G, N } = ssdDims(x!, B!);
  const Q = a.chunk;
  const state = Float64Array.from(h0!.data);
  const y = new Float64Array(S * H * P);
  const dt = new Float64Array(S);
  const cum = new Float64Array(Q);
  const CB = new Float64Array(Q * Q);
  for (let h = 0; h < H; h++) {
    const g = Math.floor(h / (H / G));
    const A = -Math.exp(Alog!.data[h]!);
    const hs = state.subarray(h * P * N, (h + 1) * P * N);
    for (let t = 0; t < S; t++) dt[t] = softplus(dtRaw!.data[t * H + h]! + dtBias!.data[h]!);
    const xv = (t: number, p: number): number => x!.data[(t * H + h) * P + p]!;
    const bv = (t: number, n: number): number => B!.data[(t * G + g) * N + n]!;
    const cv = (t: number, n: number): number => C!.data[(t * G + g) * N + n]!;
    for (let c0 = 0; c0 < S; c0 += Q) {
      const len = Math.min(Q, S - c0);
      let run = 0;
      for (let i = 0; i < len; i++) cum[i] = run += dt[c0 + i]! * A;
      for (let i = 0; i < len; i++)
        for (let j = 0; j <= i; j++) {
          let cb = 0;
          for (let n = 0; n < N; n++) cb += cv(c0 + i, n) * bv(c0 + j, n);
          CB[i * Q + j] = cb;
        }
      // outputs: intra-chunk (diagonal block) + the incoming state's contribution
      for (let i = 0; i < len; i++) {
        const t = c0 + i;
        const decayIn = Math.exp(cum[i]!);
        for (let p = 0; p < P; p++) {
          let acc = 0;
          for (let j = 0; j <= i; j++) acc += Math.exp(cum[i]! - cum[j]!) * CB[i * Q + j]! * dt[c0 + j]! * xv(c0 + j, p);
          let ch = 0;
          for (let n = 0; n < N; n++) ch += cv(t, n) * hs[p * N + n]!;
          y[(t * H + h) * P + p] = acc + decayIn * ch + D!.data[h]! * xv(t, p);
        }
      }
      // state passing to the next chunk
      const last = cum[len - 1]!;
      const decayAll = Math.exp(last);
      for (let p = 0; p < P; p++)
        for (let n = 0; n < N; n++) {
          let acc = 0;
          for (let j = 0; j < len; j++) acc += Math.exp(last - cum[j]!) * dt[c0 + j]! * xv(c0 + j, p) * bv(c0 + j, n);
          hs[p * N + n] = decayAll * hs[p * N + n]! + acc;
        }
    }
    for (let t = 0; t < S; t++) epilogue(a, y, z, w, (t * H + h) * P, h, P);
  }
  return [
    { shape: x!.shape, data: y },
    { shape: h0!.shape, data: state },
  ];
};

/**
 * ssd_state_update (semantics.md): dt' = softplus(dt + dt_bias); h' = exp(dt' A) h + dt' x B^T;
 * y = h' C + D x; then the epilogue.
 */
const ssdStateUpdate: Kernel<"ssd_state_update"> = (ins, a) => {
  const [x, , , , , , , h0] = ins;
  const state = Float64Array.from(h0!.data);
  const y = new Float64Array(x!.data.length);
  ssdSteps(ins, a, 0, 1, state, y, null);
  return [
    { shape: x!.shape, data: y },
    { shape: h0!.shape, data: state },
  ];
};

/**
 * The Mamba-2 recurrence token by token over [t0, t1) on `state` [H, P, N] (in place):
 * dt_t = softplus(dt + dt_bias), h = exp(dt_t A) h + dt_t x_t B_t^T, and when `y` is given its
 * rows y_t = h C_t + D x_t with the epilogue; sum_t dt_t per head added into `dtSums` [H] when given.
 * ssd_state_update is one step; the chunk-parallel phases (scan-chunks.ts) run it per chunk.
 */
export function ssdSteps(ins: readonly Tensor[], a: SsdAttrs, t0: number, t1: number, state: Float64Array, y: Float64Array | null, dtSums: Float64Array | null): void {
  const [x, dtRaw, Alog, B, C, D, dtBias, , z, w] = ins;
  const { H, P, G, N } = ssdDims(x!, B!);
  for (let t = t0; t < t1; t++)
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / (H / G));
      const dt = softplus(dtRaw!.data[t * H + h]! + dtBias!.data[h]!);
      if (dtSums !== null) dtSums[h] = dtSums[h]! + dt;
      const dA = Math.exp(dt * -Math.exp(Alog!.data[h]!));
      const bc = (t * G + g) * N;
      for (let p = 0; p < P; p++) {
        const xp = x!.data[(t * H + h) * P + p]!;
        let acc = 0;
        for (let n = 0; n < N; n++) {
          const k = (h * P + p) * N + n;
          state[k] = dA * state[k]! + xp * dt * B!.data[bc + n]!;
          acc += state[k]! * C!.data[bc + n]!;
        }
        if (y !== null) y[(t * H + h) * P + p] = acc + xp * D!.data[h]!;
      }
      if (y !== null) epilogue(a, y, z, w, (t * H + h) * P, h, P);
    }
}

export const MAMBA_KERNELS = {
  selective_scan: selectiveScan,
  selective_state_update: selectiveScan,
  conv1d_silu: conv1dSilu,
  conv1d_silu_update: conv1dSilu,
  ssd: ssdChunked,
  ssd_state_update: ssdStateUpdate,
} satisfies { readonly [K in "selective_scan" | "selective_state_update" | "conv1d_silu" | "conv1d_silu_update" | "ssd" | "ssd_state_update"]: Kernel<K> };
