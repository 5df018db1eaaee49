// kernel layers.3.attention_decode_partial: attention_decode_partial {scale=0.17677669529663687, window=null, theta=10000, rotaryDim=32, block=128, blocks=32}
//
// q, k <- rope(q, pos), rope(k, pos): NeoX half-split on the first 32 of 32 dims, theta = 10000
// k cache[pos mod 4096, g, :] = k[g], v cache[pos mod 4096, g, :] = v[g] (in place)
// part[b, h] = [acc | m | l] of the keys t in [lo + 128 b, lo + 128 (b + 1)), t <= pos, lo = 0: s_t = 0.17677669529663687 q_h . k_t, m = max s_t, l = sum exp(s_t - m), acc = sum exp(s_t - m) v_t; zeros when empty
//
// operands (element [i, j] is buffer[offset + i * stride0 + j * stride1]):
//   q    [1,256], strides [384, 1] in %226#0
//   k    [1,64] at offset 256, strides [384, 1] in %226#0
//   v    [1,64] at offset 320, strides [384, 1] in %226#0
//   kc   [4096,2,32], strides [64, 32, 1] in state:layers.3.k
//   vc   [4096,2,32], strides [64, 32, 1] in state:layers.3.v
//   part [32,8,34], strides [272, 34, 1] in %230#0 (written)
//   kc   [4096,2,32], strides [64, 32, 1] in state:layers.3.k (written)
//   vc   [4096,2,32], strides [64, 32, 1] in state:layers.3.v (written)
//
// threads:
//   workgroup: one (key block b, kv head g) of 32 x 2, 64 invocations; the 4 query heads of g share the block's keys
//   phases: q rows and scores (head, key) into workgroup memory; m, l and the weights per head; acc per (head, dim)
//
// from: hybrid-3to1.hyb:9:3, hybrid-3to1.hyb:12:23

struct Params {
  pos: u32,
}

@group(0) @binding(0) var<storage, read> q_k_v: array<f32>;
@group(0) @binding(1) var<storage, read_write> kc: array<f32>;
@group(0) @binding(2) var<storage, read_write> vc: array<f32>;
@group(0) @binding(3) var<storage, read_write> part: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

var<workgroup> qs: array<f32, 128u>;
var<workgroup> sc: array<f32, 512u>;
var<workgroup> ml: array<f32, 8u>;
var<workgroup> kv_new: array<f32, 64u>;

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

fn q_rope(hb: u32, d: u32, t: u32) -> f32 {
  if (d >= 32u) { return q_k_v[(hb + d)]; }
  let i = d % 16u;
  let cs = rope_cs(t, i);
  let u = q_k_v[(hb + i)];
  let w = q_k_v[(hb + i + 16u)];
  return select(w * cs.x + u * cs.y, u * cs.x - w * cs.y, d < 16u);
}

fn k_rope(hb: u32, d: u32, t: u32) -> f32 {
  if (d >= 32u) { return q_k_v[256u + (hb + d)]; }
  let i = d % 16u;
  let cs = rope_cs(t, i);
  let u = q_k_v[256u + (hb + i)];
  let w = q_k_v[256u + (hb + i + 16u)];
  return select(w * cs.x + u * cs.y, u * cs.x - w * cs.y, d < 16u);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let wg = wid.x + wid.y * nwg.x;
  let pos = params.pos;
  let b = wg / 2u;
  let g = wg % 2u;
  let first = 0u + b * 128u;
  let n = select(0u, min(pos + 1u - first, 128u), first <= pos);
  if (b == 0u) {
    for (var d = lid; d < 32u; d += 64u) {
      kc[(pos % 4096u) * 64u + (g) * 32u + (d)] = k_rope(g * 32u, d, pos);
      vc[(pos % 4096u) * 64u + (g) * 32u + (d)] = q_k_v[320u + (g * 32u + d)];
    }

  }
  if (n == 0u) {
    for (var e = lid; e < 136u; e += 64u) { part[(b) * 272u + (g * 4u + e / 34u) * 34u + (e % 34u)] = 0.0; }
    return;
  }
  for (var e = lid; e < 128u; e += 64u) {
    let d = e % 32u;
    qs[e] = q_rope((g * 4u + e / 32u) * 32u, d, pos) * 0.17677669529663687;
  }
  for (var d = lid; d < 32u; d += 64u) {
    kv_new[d] = k_rope(g * 32u, d, pos);
    kv_new[32u + d] = q_k_v[320u + (g * 32u + d)];
  }
  workgroupBarrier();
  for (var e = lid; e < 512u; e += 64u) {
    let j = e % 128u;
    if (j < n) {
      let t = first + j;
      let qb = (e / 128u) * 32u;
      var dot = 0.0;
      if (t == pos) {
        for (var d = 0u; d < 32u; d++) { dot = fma(qs[qb + d], kv_new[d], dot); }
      } else {
        for (var d = 0u; d < 32u; d++) { dot = fma(qs[qb + d], kc[(t % 4096u) * 64u + (g) * 32u + (d)], dot); }
      }
      sc[e] = dot;
    }
  }
  workgroupBarrier();
  if (lid < 4u) {
    let sb = lid * 128u;
    var m = sc[sb];
    for (var j = 1u; j < n; j++) { m = max(m, sc[sb + j]); }
    var l = 0.0;
    for (var j = 0u; j < n; j++) {
      let w = exp(sc[sb + j] - m);
      sc[sb + j] = w;
      l += w;
    }
    ml[2u * lid] = m;
    ml[2u * lid + 1u] = l;
  }
  workgroupBarrier();
  for (var e = lid; e < 128u; e += 64u) {
    let hh = e / 32u;
    let d = e % 32u;
    let sb = hh * 128u;
    var acc = 0.0;
    for (var j = 0u; j < n; j++) {
      let t = first + j;
      if (t != pos) { acc = fma(sc[sb + j], vc[(t % 4096u) * 64u + (g) * 32u + (d)], acc); }
    }
    // The new row, when it is in this block: it is the block's last key (t = pos, the newest).
    if (first + n == pos + 1u) { acc = fma(sc[sb + n - 1u], kv_new[32u + d], acc); }
    let h = g * 4u + hh;
    part[(b) * 272u + (h) * 34u + (d)] = acc;
    if (d == 0u) {
      part[(b) * 272u + (h) * 34u + (32u)] = ml[2u * hh];
      part[(b) * 272u + (h) * 34u + (33u)] = ml[2u * hh + 1u];
    }
  }
}
