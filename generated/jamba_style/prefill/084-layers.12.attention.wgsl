// kernel layers.12.attention: attention {scale=0.17677669529663687, window=null, theta=null, rotaryDim=null}
//
// no RoPE
// k cache[(pos + s) mod 2048, g, :] = k[s, g], v cache[(pos + s) mod 2048, g, :] = v[s, g]   (s < L, in place)
// o[s, h] = sum_t softmax_t(0.17677669529663687 * q[s, h] . k_t) v_t,  t in [0, pos + s],  kv head g = h / 1
// keys t < pos from cache row t mod 2048, t >= pos from k, v directly (so no cache row this dispatch writes is read; needs min(pos, W - 1) + S <= 2048)
//
// operands (element [i, j] is buffer[offset + i * stride0 + j * stride1]):
//   q  [L,256], strides [768, 1] in %403#0
//   k  [L,256] at offset 256, strides [768, 1] in %403#0
//   v  [L,256] at offset 512, strides [768, 1] in %403#0
//   kc [2048,8,32], strides [256, 32, 1] in state:layers.12.k
//   vc [2048,8,32], strides [256, 32, 1] in state:layers.12.v
//   o  [L,256], strides [256, 1] in %407#0 (written)
//   kc [2048,8,32], strides [256, 32, 1] in state:layers.12.k (written)
//   vc [2048,8,32], strides [256, 32, 1] in state:layers.12.v (written)
//
// threads:
//   workgroup: 64 queries x 1 query heads of one kv head (H = 8, Hkv = 8, D = 32); grid: ceil(S / 64) * 8, wg = tile * 8 + g
//   invocation: one (query, head); q row and accumulator (32 f32 each) in registers
//   keys: blocks of 16 rows of k and v staged in workgroup memory (4096 bytes); online softmax per block
//
// from: jamba-style.hyb:10:3, jamba-style.hyb:13:29

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

fn q_rope(s: u32, hb: u32, d: u32, t: u32) -> f32 {
  return q_k_v[(s) * 768u + (hb + d)];
}

fn k_rope(s: u32, hb: u32, d: u32, t: u32) -> f32 {
  return q_k_v[256u + (s) * 768u + (hb + d)];
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let wg = wid.x + wid.y * nwg.x;
  let L = params.L;
  let pos = params.pos;
  let tile = wg / 8u;
  let g = wg % 8u;
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
      kc[(row) * 256u + (g) * 32u + (d)] = k_rope(sw, g * 32u, d, pos + sw);
      vc[(row) * 256u + (g) * 32u + (d)] = q_k_v[512u + (sw) * 768u + (g * 32u + d)];
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
  let p_last = pos + min(s0 + 64u, L) - 1u;
  let t_first = 0u;
  for (var t0 = t_first; t0 <= p_last; t0 += 16u) {
    workgroupBarrier();
    for (var e = lid; e < 512u; e += 64u) {
      let t = t0 + e / 32u;
      let d = e % 32u;
      if (t <= p_last) {
        if (t < pos) {
          kt[e] = kc[(t % 2048u) * 256u + (g) * 32u + (d)];
          vt[e] = vc[(t % 2048u) * 256u + (g) * 32u + (d)];
        } else {
          kt[e] = k_rope(t - pos, g * 32u, d, t);
          vt[e] = q_k_v[512u + (t - pos) * 768u + (g * 32u + d)];
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
