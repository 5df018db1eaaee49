/**
 * The fused attention ops, written from reference/semantics.md (attention, attention_decode,
 * rope) as the flash algorithm a kernel runs, not from the primitive graph it replaces:
 *
 *   q, k = rope(q, pos + s), rope(k, pos + s)        NeoX half-split on the first rotaryDim dims
 *   caches' = caches with rows (pos+s) mod T = k, v  (k after RoPE; the cache is a ring, kv-ring.ts)
 *   for each query s (position p = pos + s) and head h (kv head g = h / (H / Hkv)):
 *     keys t in [lo, p], lo = window ? max(0, p - window + 1) : 0   (W keys including the query)
 *     visited in blocks of BLOCK keys; per block: m' = max(m, max_t s_t), l = l e^(m-m') + sum e^(s_t-m'),
 *     acc = acc e^(m-m') + sum e^(s_t-m') v_t;   o = acc / l
 *
 * Shapes: q [S, H*D], k, v [S, Hkv*D], caches [T, Hkv, D] -> (o [S, H*D], k cache', v cache').
 * Key t is read from row t mod T; the call needs every key its queries see still in the ring
 * (min(pos, window-1) + S <= T), so nothing it writes replaces a key it reads. Rows never
 * written may hold anything: no key maps to them.
 */
import type { Kernel } from "./kernels.ts";
import { ringRowsNeeded } from "../../runtime/artifact/kv-ring.ts";
import { InterpError, type Tensor } from "./tensor.ts";

/** Keys per block of the online softmax (a kernel's tile; any size gives the same result). */
export const ATTENTION_BLOCK = 16;

export const attention: Kernel<"attention" | "attention_decode"> = ([q, k, v, kc, vc, posT], a) => {
  const [S, width] = q!.shape as [number, number];
  const [T, Hkv, D] = kc!.shape as [number, number, number];
  const H = width / D;
  const group = H / Hkv;
  const pos = posT!.data[0]!;
  if (!Number.isInteger(pos) || pos < 0 || ringRowsNeeded(pos, S, a.window) > T) {
    throw new InterpError(`attention of ${S} tokens at ${pos}${a.window === null ? "" : ` with a window of ${a.window}`} needs ${ringRowsNeeded(pos, S, a.window)} rows of a cache of ${T}`);
  }

  const qr = rotate(q!, H, D, pos, a.theta, a.rotaryDim);
  const kr = rotate(k!, Hkv, D, pos, a.theta, a.rotaryDim);
  const kOut = Float64Array.from(kc!.data);
  const vOut = Float64Array.from(vc!.data);
  const row = Hkv * D;
  for (let s = 0; s < S; s++) {
    const r = ((pos + s) % T) * row;
    kOut.set(kr.subarray(s * row, (s + 1) * row), r);
    vOut.set(v!.data.subarray(s * row, (s + 1) * row), r);
  }

  const o = new Float64Array(S * H * D);
  const acc = new Float64Array(D);
  const scores = new Float64Array(ATTENTION_BLOCK);
  for (let s = 0; s < S; s++) {
    const p = pos + s;
    const lo = a.window === null ? 0 : Math.max(0, p - a.window + 1);
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / group);
      const qb = (s * H + h) * D;
      let m = -Infinity;
      let l = 0;
      acc.fill(0);
      for (let b0 = lo - (lo % ATTENTION_BLOCK); b0 <= p; b0 += ATTENTION_BLOCK) {
        const first = Math.max(b0, lo);
        const last = Math.min(b0 + ATTENTION_BLOCK - 1, p);
        let mb = -Infinity;
        for (let t = first; t <= last; t++) {
          const kb = ((t % T) * Hkv + g) * D;
          let dot = 0;
          for (let d = 0; d < D; d++) dot += qr[qb + d]! * kOut[kb + d]!;
          scores[t - first] = dot * a.scale;
          mb = Math.max(mb, dot * a.scale);
        }
        const mNew = Math.max(m, mb);
        const rescale = Math.exp(m - mNew); // 0 on the first block (m = -inf)
        l *= rescale;
        for (let d = 0; d < D; d++) acc[d]! *= rescale;
        for (let t = first; t <= last; t++) {
          const e = Math.exp(scores[t - first]! - mNew);
          l += e;
          const vb = ((t % T) * Hkv + g) * D;
          for (let d = 0; d < D; d++) acc[d]! += e * vOut[vb + d]!;
        }
        m = mNew;
      }
      for (let d = 0; d < D; d++) o[qb + d] = acc[d]! / l;
    }
  }
  return [
    { shape: q!.shape, data: o },
    { shape: kc!.shape, data: kOut },
    { shape: vc!.shape, data: vOut },
  ];
};

/**
 * Flash-decoding (split-decode-attention), first half: attention_decode's keys t in [lo, pos] cut
 * into blocks of `block` keys counted from lo; per block b and head h the block's own softmax
 * statistics m = max s_t, l = sum exp(s_t - m) and acc = sum exp(s_t - m) v_t (all 0 for a block
 * past pos), rows [acc | m | l] of partial [blocks, H, D + 2]. Caches as attention_decode writes them.
 */
export const attentionDecodePartial: Kernel<"attention_decode_partial"> = ([q, k, v, kc, vc, posT], a) => {
  const [, width] = q!.shape as [number, number];
  const [T, Hkv, D] = kc!.shape as [number, number, number];
  const H = width / D;
  const group = H / Hkv;
  const pos = posT!.data[0]!;
  if (!Number.isInteger(pos) || pos < 0 || ringRowsNeeded(pos, 1, a.window) > T) {
    throw new InterpError(`decode attention at ${pos}${a.window === null ? "" : ` with a window of ${a.window}`} needs ${ringRowsNeeded(pos, 1, a.window)} rows of a cache of ${T}`);
  }
  const qr = rotate(q!, H, D, pos, a.theta, a.rotaryDim);
  const kr = rotate(k!, Hkv, D, pos, a.theta, a.rotaryDim);
  const row = Hkv * D;
  const kOut = Float64Array.from(kc!.data);
  const vOut = Float64Array.from(vc!.data);
  kOut.set(kr, (pos % T) * row);
  vOut.set(v!.data, (pos % T) * row);
  const lo = a.window === null ? 0 : Math.max(0, pos - a.window + 1);
  const W = D + 2;
  const out = new Float64Array(a.blocks * H * W);
  for (let b = 0; b < a.blocks; b++) {
    const first = lo + b * a.block;
    const last = Math.min(first + a.block - 1, pos);
    if (first > last) continue;
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / group);
      const scores: number[] = [];
      for (let t = first; t <= last; t++) {
        let dot = 0;
        for (let d = 0; d < D; d++) dot += qr[h * D + d]! * kOut[((t % T) * Hkv + g) * D + d]!;
        scores.push(dot * a.scale);
      }
      const m = Math.max(...scores);
      const base = (b * H + h) * W;
      let l = 0;
      scores.forEach((sc, j) => {
        const e = Math.exp(sc - m);
        l += e;
        const vb = (((first + j) % T) * Hkv + g) * D;
        for (let d = 0; d < D; d++) out[base + d]! += e * vOut[vb + d]!;
      });
      out[base + D] = m;
      out[base + D + 1] = l;
    }
  }
  return [
    { shape: [a.blocks, H, W], data: out },
    { shape: kc!.shape, data: kOut },
    { shape: vc!.shape, data: vOut },
  ];
};

/** Flash-decoding, second half: o_h = sum_b e^(m_b - M) acc_b / sum_b e^(m_b - M) l_b over the blocks with l_b > 0. */
export const attentionMerge: Kernel<"attention_merge"> = ([p]) => {
  const [blocks, H, W] = p!.shape as [number, number, number];
  const D = W - 2;
  const o = new Float64Array(H * D);
  for (let h = 0; h < H; h++) {
    let M = -Infinity;
    for (let b = 0; b < blocks; b++) if (p!.data[(b * H + h) * W + D + 1]! > 0) M = Math.max(M, p!.data[(b * H + h) * W + D]!);
    let l = 0;
    for (let b = 0; b < blocks; b++) {
      const base = (b * H + h) * W;
      if (!(p!.data[base + D + 1]! > 0)) continue;
      const f = Math.exp(p!.data[base + D]! - M);
      l += f * p!.data[base + D + 1]!;
      for (let d = 0; d < D; d++) o[h * D + d]! += f * p!.data[base + d]!;
    }
    if (!(l > 0)) throw new InterpError(`attention_merge: head ${h} has no key in any block`);
    for (let d = 0; d < D; d++) o[h * D + d]! /= l;
  }
  return [{ shape: [1, H * D], data: o }];
};

/** x [S, heads*D] with RoPE at positions pos+s on the first r dims of each head (a copy without RoPE). */
function rotate(x: Tensor, heads: number, D: number, pos: number, theta: number | null, r: number | null): Float64Array {
  const y = Float64Array.from(x.data);
  if (theta === null || r === null) return y;
  const S = x.shape[0]!;
  const half = r / 2;
  for (let s = 0; s < S; s++)
    for (let i = 0; i < half; i++) {
      const angle = (pos + s) * Math.pow(theta, (-2 * i) / r);
      const cos = Math.cos(angle);
      const sin = Math.sin(angle);
      for (let h = 0; h < heads; h++) {
        const base = (s * heads + h) * D;
        const u = x.data[base + i]!;
        const w = x.data[base + i + half]!;
        y[base + i] = u * cos - w * sin;
        y[base + i + half] = w * cos + u * sin;
      }
    }
  return y;
}
