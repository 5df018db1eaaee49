// kernel layers.12.attention_decode: attention_decode {scale=0.17677669529663687, window=null, theta=null, rotaryDim=null}
//
// no RoPE
// k cache[(pos + s) mod 2048, g, :] = k[s, g], v cache[(pos + s) mod 2048, g, :] = v[s, g]   (s < 1, in place)
// o[s, h] = sum_t softmax_t(0.17677669529663687 * q[s, h] . k_t) v_t,  t in [0, pos + s],  kv head g = h / 1
// keys t < pos from cache row t mod 2048, t >= pos from k, v directly (so no cache row this dispatch writes is read; needs min(pos, W - 1) + S <= 2048)
//
// operands (element [i, j] is buffer[offset + i * stride0 + j * stride1]):
//   q  [1,256], strides [768, 1] in %403#0
//   k  [1,256] at offset 256, strides [768, 1] in %403#0
//   v  [1,256] at offset 512, strides [768, 1] in %403#0
//   kc [2048,8,32], strides [256, 32, 1] in state:layers.12.k
//   vc [2048,8,32], strides [256, 32, 1] in state:layers.12.v
//   o  [1,256], strides [256, 1] in %407#0 (written)
//   kc [2048,8,32], strides [256, 32, 1] in state:layers.12.k (written)
//   vc [2048,8,32], strides [256, 32, 1] in state:layers.12.v (written)
//
// threads:
//   workgroup: 1 queries x 1 query heads of one kv head (H = 8, Hkv = 8, D = 32); grid: ceil(S / 1) * 8, wg = tile * 8 + g
//   invocation: one (query, head); q row and accumulator (32 f32 each) in registers
//   keys: blocks of 16 rows of k and v staged in workgroup memory (4096 bytes); online softmax per block
//
// from: jamba-style.hyb:10:3, jamba-style.hyb:13:29

struct Params {
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
  return q_k_v[(hb + d)];
}

fn k_rope(s: u32, hb: u32, d: u32, t: u32) -> f32 {
  return q_k_v[256u + (hb + d)];
}

@compute @workgroup_size(1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let wg = wid.x + wid.y * nwg.x;
  let L = 1u;
  let pos = params.pos;
  let tile = wg / 8u;
  let g = wg % 8u;
  let s0 = tile * 1u;
  if (s0 >= L) { return; }
  let qi = lid / 1u;
  let h = g * 1u + lid % 1u;
  let s = s0 + qi;
  let live = s < L;
  let p = pos + s;
  for (var e = lid; e < 32u; e += 1u) {
    let sw = s0 + e / 32u;
    let d = e % 32u;
    if (sw < L) {
      let row = (pos + sw) % 2048u;
      kc[(row) * 256u + (g) * 32u + (d)] = k_rope(sw, g * 32u, d, pos + sw);
      vc[(row) * 256u + (g) * 32u + (d)] = q_k_v[512u + (g * 32u + d)];
    }
  }
  var qv: array<f32, 32u>;
  var acc: array<f32, 32u>;
  var sc: array<f32, 16u>;
  if (live) {
    for (var d = 0u; d < 32u; d++) { qv[d] = q_rope(s, h * 32u, d, p) * 0.17677669529663687; acc[d] = 0.0; }
  }
  var m = (-3e+38);
  var l = 0.0;
  let my_lo = 0u;
  let p_last = pos + min(s0 + 1u, L) - 1u;
  let t_first = 0u;
  for (var t0 = t_first; t0 <= p_last; t0 += 16u) {
    workgroupBarrier();
    for (var e = lid; e < 512u; e += 1u) {
      let t = t0 + e / 32u;
      let d = e % 32u;
      if (t <= p_last) {
        if (t < pos) {
          kt[e] = kc[(t % 2048u) * 256u + (g) * 32u + (d)];
          vt[e] = vc[(t % 2048u) * 256u + (g) * 32u + (d)];
        } else {
          kt[e] = k_rope(t - pos, g * 32u, d, t);
          vt[e] = q_k_v[512u + (g * 32u + d)];
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
          for (var d = 0u; d < 32u; d++) { dot = fma(qv[d], kt[j * 32u + d], dot); }
          sc[j] = dot;
          mb = max(mb, dot);
        }
      }
      let corr = exp(m - mb);
      l *= corr;
      for (var d = 0u; d < 32u; d++) { acc[d] *= corr; }
      for (var j = 0u; j < 16u; j++) {
        let t = t0 + j;
        if (t >= my_lo && t <= p) {
          let w = exp(sc[j] - mb);
          l += w;
          for (var d = 0u; d < 32u; d++) { acc[d] = fma(w, vt[j * 32u + d], acc[d]); }
        }
      }
      m = mb;
    }
  }
  if (live) {
    let inv_l = 1.0 / l;
    for (var d = 0u; d < 32u; d++) { o[(h * 32u + d)] = acc[d] * inv_l; }
  }
}
