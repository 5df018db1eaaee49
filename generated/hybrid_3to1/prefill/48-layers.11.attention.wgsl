// kernel layers.11.attention: attention {scale=0.17677669529663687, window=null, theta=10000, rotaryDim=32}
//
// q, k <- rope(q, pos + s), rope(k, pos + s): NeoX half-split on the first 32 of 32 dims, theta = 10000
// k cache[(pos + s) mod 4096, g, :] = k[s, g], v cache[(pos + s) mod 4096, g, :] = v[s, g]   (s < L, in place)
// o[s, h] = sum_t softmax_t(0.17677669529663687 * q[s, h] . k_t) v_t,  t in [0, pos + s],  kv head g = h / 4
// keys t < pos from cache row t mod 4096, t >= pos from k, v directly (so no cache row this dispatch writes is read; needs min(pos, W - 1) + S <= 4096)
//
// operands (element [i, j] is buffer[offset + i * stride0 + j * stride1]):
//   q  [L,256], strides [384, 1] in %341#0
//   k  [L,64] at offset 256, strides [384, 1] in %341#0
//   v  [L,64] at offset 320, strides [384, 1] in %341#0
//   kc [4096,2,32], strides [64, 32, 1] in state:layers.11.k
//   vc [4096,2,32], strides [64, 32, 1] in state:layers.11.v
//   o  [L,256], strides [256, 1] in %345#0 (written)
//   kc [4096,2,32], strides [64, 32, 1] in state:layers.11.k (written)
//   vc [4096,2,32], strides [64, 32, 1] in state:layers.11.v (written)
//
// threads:
//   workgroup: 16 queries x 4 query heads of one kv head (H = 8, Hkv = 2, D = 32); grid: ceil(S / 16) * 2, wg = tile * 2 + g
//   invocation: one (query, head); q row and accumulator (32 f32 each) in registers
//   keys: blocks of 16 rows of k and v staged in workgroup memory (4096 bytes); online softmax per block
//
// from: hybrid-3to1.hyb:9:3, hybrid-3to1.hyb:12:23

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
  if (d >= 32u) { return q_k_v[(s) * 384u + (hb + d)]; }
  let i = d % 16u;
  let cs = rope_cs(t, i);
  let u = q_k_v[(s) * 384u + (hb + i)];
  let w = q_k_v[(s) * 384u + (hb + i + 16u)];
  return select(w * cs.x + u * cs.y, u * cs.x - w * cs.y, d < 16u);
}

fn k_rope(s: u32, hb: u32, d: u32, t: u32) -> f32 {
  if (d >= 32u) { return q_k_v[256u + (s) * 384u + (hb + d)]; }
  let i = d % 16u;
  let cs = rope_cs(t, i);
  let u = q_k_v[256u + (s) * 384u + (hb + i)];
  let w = q_k_v[256u + (s) * 384u + (hb + i + 16u)];
  return select(w * cs.x + u * cs.y, u * cs.x - w * cs.y, d < 16u);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let wg = wid.x + wid.y * nwg.x;
  let L = params.L;
  let pos = params.pos;
  let tile = wg / 2u;
  let g = wg % 2u;
  let s0 = tile * 16u;
  if (s0 >= L) { return; }
  let qrow = lid / 1u;
  let part = lid % 1u;
  let d0 = part * 32u;
  let qi = qrow / 4u;
  let h = g * 4u + qrow % 4u;
  let s = s0 + qi;
  let live = s < L;
  let p = pos + s;
  for (var e = lid; e < 512u; e += 64u) {
    let sw = s0 + e / 32u;
    let d = e % 32u;
    if (sw < L) {
      let row = (pos + sw) % 4096u;
      kc[(row) * 64u + (g) * 32u + (d)] = k_rope(sw, g * 32u, d, pos + sw);
      vc[(row) * 64u + (g) * 32u + (d)] = q_k_v[320u + (sw) * 384u + (g * 32u + d)];
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
  let my_lo = 0u;
  let p_last = pos + min(s0 + 16u, L) - 1u;
  let t_first = 0u;
  for (var t0 = t_first; t0 <= p_last; t0 += 16u) {
    workgroupBarrier();
    for (var e = lid; e < 512u; e += 64u) {
      let t = t0 + e / 32u;
      let d = e % 32u;
      if (t <= p_last) {
        if (t < pos) {
          kt[e] = kc[(t % 4096u) * 64u + (g) * 32u + (d)];
          vt[e] = vc[(t % 4096u) * 64u + (g) * 32u + (d)];
        } else {
          kt[e] = k_rope(t - pos, g * 32u, d, t);
          vt[e] = q_k_v[320u + (t - pos) * 384u + (g * 32u + d)];
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
    for (var i = 0u; i < 32u; i++) { o[(s) * 256u + (h * 32u + d0 + i)] = acc[i] * inv_l; }
  }
}
