// kernel layers.2.attention: attention {scale=0.17677669529663687, window=256, theta=10000, rotaryDim=32}
//
// q, k <- rope(q, pos + s), rope(k, pos + s): NeoX half-split on the first 32 of 32 dims, theta = 10000
// k cache[(pos + s) mod 2048, g, :] = k[s, g], v cache[(pos + s) mod 2048, g, :] = v[s, g]   (s < L, in place)
// o[s, h] = sum_t softmax_t(0.17677669529663687 * q[s, h] . k_t) v_t,  t in [pos + s - 255, pos + s],  kv head g = h / 1
// keys t < pos from cache row t mod 2048, t >= pos from k, v directly (so no cache row this dispatch writes is read; needs min(pos, W - 1) + S <= 2048)
//
// operands (element [i, j] is buffer[offset + i * stride0 + j * stride1]):
//   q  [L,192], strides [576, 1] in %99#0
//   k  [L,192] at offset 192, strides [576, 1] in %99#0
//   v  [L,192] at offset 384, strides [576, 1] in %99#0
//   kc [2048,6,32], strides [192, 32, 1] in state:layers.2.k
//   vc [2048,6,32], strides [192, 32, 1] in state:layers.2.v
//   o  [L,192], strides [192, 1] in %103#0 (written)
//   kc [2048,6,32], strides [192, 32, 1] in state:layers.2.k (written)
//   vc [2048,6,32], strides [192, 32, 1] in state:layers.2.v (written)
//
// threads:
//   workgroup: 64 queries x 1 query heads of one kv head (H = 6, Hkv = 6, D = 32); grid: ceil(S / 64) * 6, wg = tile * 6 + g
//   invocation: one (query, head); q row and accumulator (32 f32 each) in registers
//   keys: blocks of 16 rows of k and v staged in workgroup memory (4096 bytes); online softmax per block
//
// from: kjv-byte.hyb:19:3, kjv-byte.hyb:21:23

struct Params {
  L: u32,
  pos: u32,
}

@group(0) @binding(0) var<storage, read> q_k_v: array<f32>;
@group(0) @binding(1) var<storage, read_write> kc: array<f32>;
@group(0) @binding(2) var<storage, read_write> vc: array<f32>;
@group(0) @binding(3) var<storage, read_write> o: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

var<workgroup> kt: array<f32, 512u>;
var<workgroup> vt: array<f32, 512u>;

// inv_freq[i] / (2 pi) = theta^(-2i/rotaryDim) / (2 pi) as a 64-bit fixed-point fraction of a turn: (TURN_HI[i] + TURN_LO[i] / 2^32) / 2^32
const TURN_HI = array<u32, 16u>(683565275u, 384397002u, 216162320u, 121557005u, 68356527u, 38439700u, 21616232u, 12155700u, 6835652u, 3843970u, 2161623u, 1215570u, 683565u, 384397u, 216162u, 121557u);
const TURN_LO = array<u32, 16u>(2475755008u, 3958914816u, 95430528u, 2136810816u, 2395059136u, 1254884928u, 9543056u, 2361164736u, 3245983024u, 125488496u, 859947764u, 236116473u, 1183591761u, 12548849u, 1374484965u, 23611647u);

// (cos, sin) of t * inv_freq[i]. The angle is reduced mod 2 pi in exact integer arithmetic (u32
// products wrap, dropping whole turns), so it is accurate to ~2e-7 rad at any position t.
fn rope_cs(t: u32, i: u32) -> vec2<f32> {
  let lo = TURN_LO[i];
  let t1 = t >> 16u;
  let t0 = t & 65535u;
  let l1 = lo >> 16u;
  let l0 = lo & 65535u;
  let carry = t1 * l1 + ((t1 * l0) >> 16u) + ((t0 * l1) >> 16u);
  let turn = t * TURN_HI[i] + carry;
  let r = f32(bitcast<i32>(turn)) * 1.4629180792671596e-9;
  return vec2<f32>(cos(r), sin(r));
}

fn q_rope(s: u32, hb: u32, d: u32, t: u32) -> f32 {
  if (d >= 32u) { return q_k_v[(s) * 576u + (hb + d)]; }
  let i = d % 16u;
  let cs = rope_cs(t, i);
  let u = q_k_v[(s) * 576u + (hb + i)];
  let w = q_k_v[(s) * 576u + (hb + i + 16u)];
  return select(w * cs.x + u * cs.y, u * cs.x - w * cs.y, d < 16u);
}

fn k_rope(s: u32, hb: u32, d: u32, t: u32) -> f32 {
  if (d >= 32u) { return q_k_v[192u + (s) * 576u + (hb + d)]; }
  let i = d % 16u;
  let cs = rope_cs(t, i);
  let u = q_k_v[192u + (s) * 576u + (hb + i)];
  let w = q_k_v[192u + (s) * 576u + (hb + i + 16u)];
  return select(w * cs.x + u * cs.y, u * cs.x - w * cs.y, d < 16u);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let wg = wid.x + wid.y * nwg.x;
  let L = params.L;
  let pos = params.pos;
  let tile = wg / 6u;
  let g = wg % 6u;
  let s0 = tile * 64u;
  if (s0 >= L) { return; }
  let qrow = lid / 1u;
  let part = lid % 1u;
  let d0 = part * 32u;
  let qi = qrow / 1u;
  let h = g * 1u + qrow % 1u;
  let s = s0 + qi;
  let live = s < L;
  let p = pos + s;
  for (var e = lid; e < 2048u; e += 64u) {
    let sw = s0 + e / 32u;
    let d = e % 32u;
    if (sw < L) {
      let row = (pos + sw) % 2048u;
      kc[(row) * 192u + (g) * 32u + (d)] = k_rope(sw, g * 32u, d, pos + sw);
      vc[(row) * 192u + (g) * 32u + (d)] = q_k_v[384u + (sw) * 576u + (g * 32u + d)];
    }
  }
  var qv: array<f32, 32u>;
  var acc: array<f32, 32u>;
  var sc: array<f32, 16u>;
  if (live) {
    for (var i = 0u; i < 32u; i++) { qv[i] = q_rope(s, h * 32u, d0 + i, p) * 0.17677669529663687; acc[i] = 0.0; }
  }
  var m = (-3e+38);
  var l = 0.0;
  let my_lo = select(0u, p + 1u - 256u, p + 1u >= 256u);
  let p_last = pos + min(s0 + 64u, L) - 1u;
  let t_first = select(0u, pos + s0 + 1u - 256u, pos + s0 + 1u >= 256u);
  for (var t0 = t_first; t0 <= p_last; t0 += 16u) {
    workgroupBarrier();
    for (var e = lid; e < 512u; e += 64u) {
      let t = t0 + e / 32u;
      let d = e % 32u;
      if (t <= p_last) {
        if (t < pos) {
          kt[e] = kc[(t % 2048u) * 192u + (g) * 32u + (d)];
          vt[e] = vc[(t % 2048u) * 192u + (g) * 32u + (d)];
        } else {
          kt[e] = k_rope(t - pos, g * 32u, d, t);
          vt[e] = q_k_v[384u + (t - pos) * 576u + (g * 32u + d)];
        }
      }
    }
    workgroupBarrier();

    if (live) {
      var mb = m;
      for (var j = 0u; j < 16u; j++) {
        let t = t0 + j;
        if (t >= my_lo && t <= p) {
          var dot = 0.0;
          for (var i = 0u; i < 32u; i++) { dot = fma(qv[i], kt[j * 32u + i], dot); }
          sc[j] = dot;
          mb = max(mb, dot);
        }
      }
      let corr = exp(m - mb);
      l *= corr;
      for (var i = 0u; i < 32u; i++) { acc[i] *= corr; }
      for (var j = 0u; j < 16u; j++) {
        let t = t0 + j;
        if (t >= my_lo && t <= p) {
          let w = exp(sc[j] - mb);
          l += w;
          for (var i = 0u; i < 32u; i++) { acc[i] = fma(w, vt[j * 32u + d0 + i], acc[i]); }
        }
      }
      m = mb;
    }
  }
  if (live) {
    let inv_l = 1.0 / l;
    for (var i = 0u; i < 32u; i++) { o[(s) * 192u + (h * 32u + d0 + i)] = acc[i] * inv_l; }
  }
}
