// kernel layers.11.attention: attention {scale=0.125, window=null, theta=10000, rotaryDim=64}
//
// q, k <- rope(q, pos + s), rope(k, pos + s): NeoX half-split on the first 64 of 64 dims, theta = 10000
// k cache[(pos + s) mod 8192, g, :] = k[s, g], v cache[(pos + s) mod 8192, g, :] = v[s, g]   (s < L, in place)
// o[s, h] = sum_t softmax_t(0.125 * q[s, h] . k_t) v_t,  t in [0, pos + s],  kv head g = h / 3
// keys t < pos from cache row t mod 8192, t >= pos from k, v directly (so no cache row this dispatch writes is read; needs min(pos, W - 1) + S <= 8192)
//
// operands (element [i, j] is buffer[offset + i * stride0 + j * stride1]):
//   q  [L,768], strides [1280, 1] in %437#0
//   k  [L,256] at offset 768, strides [1280, 1] in %437#0
//   v  [L,256] at offset 1024, strides [1280, 1] in %437#0
//   kc [8192,4,64], strides [256, 64, 1] in state:layers.11.k
//   vc [8192,4,64], strides [256, 64, 1] in state:layers.11.v
//   o  [L,768], strides [768, 1] in %441#0 (written)
//   kc [8192,4,64], strides [256, 64, 1] in state:layers.11.k (written)
//   vc [8192,4,64], strides [256, 64, 1] in state:layers.11.v (written)
//
// threads:
//   workgroup: 16 queries x 3 query heads of one kv head (H = 12, Hkv = 4, D = 64); grid: ceil(S / 16) * 4, wg = tile * 4 + g
//   invocation: one (query, head); q row and accumulator (64 f32 each) in registers
//   keys: blocks of 16 rows of k and v staged in workgroup memory (8192 bytes); online softmax per block
//
// from: hybrid-130m.hyb:9:3, hybrid-130m.hyb:12:23

struct Params {
  L: u32,
  pos: u32,
}

@group(0) @binding(0) var<storage, read> q_k_v: array<f32>;
@group(0) @binding(1) var<storage, read_write> kc: array<f32>;
@group(0) @binding(2) var<storage, read_write> vc: array<f32>;
@group(0) @binding(3) var<storage, read_write> o: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

var<workgroup> kt: array<f32, 1024u>;
var<workgroup> vt: array<f32, 1024u>;

// inv_freq[i] / (2 pi) = theta^(-2i/rotaryDim) / (2 pi) as a 64-bit fixed-point fraction of a turn: (TURN_HI[i] + TURN_LO[i] / 2^32) / 2^32
const TURN_HI = array<u32, 32u>(683565275u, 512601641u, 384397002u, 288257086u, 216162320u, 162098872u, 121557005u, 91154894u, 68356527u, 51260164u, 38439700u, 28825708u, 21616232u, 16209887u, 12155700u, 9115489u, 6835652u, 5126016u, 3843970u, 2882570u, 2161623u, 1620988u, 1215570u, 911548u, 683565u, 512601u, 384397u, 288257u, 216162u, 162098u, 121557u, 91154u);
const TURN_LO = array<u32, 32u>(2475755008u, 3674389504u, 3958914816u, 2472941056u, 95430528u, 259980032u, 2136810816u, 2260785024u, 2395059136u, 796935680u, 1254884928u, 2824274480u, 9543056u, 884991456u, 2361164736u, 1944065424u, 3245983024u, 1797680484u, 125488496u, 3718401286u, 859947764u, 3094976254u, 236116473u, 4059877108u, 1183591761u, 2756748426u, 12548849u, 371840128u, 1374484965u, 3745471462u, 23611647u, 3841961547u);

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
  if (d >= 64u) { return q_k_v[(s) * 1280u + (hb + d)]; }
  let i = d % 32u;
  let cs = rope_cs(t, i);
  let u = q_k_v[(s) * 1280u + (hb + i)];
  let w = q_k_v[(s) * 1280u + (hb + i + 32u)];
  return select(w * cs.x + u * cs.y, u * cs.x - w * cs.y, d < 32u);
}

fn k_rope(s: u32, hb: u32, d: u32, t: u32) -> f32 {
  if (d >= 64u) { return q_k_v[768u + (s) * 1280u + (hb + d)]; }
  let i = d % 32u;
  let cs = rope_cs(t, i);
  let u = q_k_v[768u + (s) * 1280u + (hb + i)];
  let w = q_k_v[768u + (s) * 1280u + (hb + i + 32u)];
  return select(w * cs.x + u * cs.y, u * cs.x - w * cs.y, d < 32u);
}

@compute @workgroup_size(48)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let wg = wid.x + wid.y * nwg.x;
  let L = params.L;
  let pos = params.pos;
  let tile = wg / 4u;
  let g = wg % 4u;
  let s0 = tile * 16u;
  if (s0 >= L) { return; }
  let qrow = lid / 1u;
  let part = lid % 1u;
  let d0 = part * 64u;
  let qi = qrow / 3u;
  let h = g * 3u + qrow % 3u;
  let s = s0 + qi;
  let live = s < L;
  let p = pos + s;
  for (var e = lid; e < 1024u; e += 48u) {
    let sw = s0 + e / 64u;
    let d = e % 64u;
    if (sw < L) {
      let row = (pos + sw) % 8192u;
      kc[(row) * 256u + (g) * 64u + (d)] = k_rope(sw, g * 64u, d, pos + sw);
      vc[(row) * 256u + (g) * 64u + (d)] = q_k_v[1024u + (sw) * 1280u + (g * 64u + d)];
    }
  }
  var qv: array<f32, 64u>;
  var acc: array<f32, 64u>;
  var sc: array<f32, 16u>;
  if (live) {
    for (var i = 0u; i < 64u; i++) { qv[i] = q_rope(s, h * 64u, d0 + i, p) * 0.125; acc[i] = 0.0; }
  }
  var m = (-3e+38);
  var l = 0.0;
  let my_lo = 0u;
  let p_last = pos + min(s0 + 16u, L) - 1u;
  let t_first = 0u;
  for (var t0 = t_first; t0 <= p_last; t0 += 16u) {
    workgroupBarrier();
    for (var e = lid; e < 1024u; e += 48u) {
      let t = t0 + e / 64u;
      let d = e % 64u;
      if (t <= p_last) {
        if (t < pos) {
          kt[e] = kc[(t % 8192u) * 256u + (g) * 64u + (d)];
          vt[e] = vc[(t % 8192u) * 256u + (g) * 64u + (d)];
        } else {
          kt[e] = k_rope(t - pos, g * 64u, d, t);
          vt[e] = q_k_v[1024u + (t - pos) * 1280u + (g * 64u + d)];
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
          for (var i = 0u; i < 64u; i++) { dot = fma(qv[i], kt[j * 64u + i], dot); }
          sc[j] = dot;
          mb = max(mb, dot);
        }
      }
      let corr = exp(m - mb);
      l *= corr;
      for (var i = 0u; i < 64u; i++) { acc[i] *= corr; }
      for (var j = 0u; j < 16u; j++) {
        let t = t0 + j;
        if (t >= my_lo && t <= p) {
          let w = exp(sc[j] - mb);
          l += w;
          for (var i = 0u; i < 64u; i++) { acc[i] = fma(w, vt[j * 64u + d0 + i], acc[i]); }
        }
      }
      m = mb;
    }
  }
  if (live) {
    let inv_l = 1.0 / l;
    for (var i = 0u; i < 64u; i++) { o[(s) * 768u + (h * 64u + d0 + i)] = acc[i] * inv_l; }
  }
}
