// kernel layers.4.attention_decode_partial: attention_decode_partial {scale=0.17677669529663687, window=null, theta=null, rotaryDim=null, block=128, blocks=16}
//
// no RoPE
// k cache[pos mod 2048, g, :] = k[g], v cache[pos mod 2048, g, :] = v[g] (in place)
// part[b, h] = [acc | m | l] of the keys t in [lo + 128 b, lo + 128 (b + 1)), t <= pos, lo = 0: s_t = 0.17677669529663687 q_h . k_t, m = max s_t, l = sum exp(s_t - m), acc = sum exp(s_t - m) v_t; zeros when empty
//
// operands (element [i, j] is buffer[offset + i * stride0 + j * stride1]):
//   q    [1,256], strides [768, 1] in %300#0
//   k    [1,256] at offset 256, strides [768, 1] in %300#0
//   v    [1,256] at offset 512, strides [768, 1] in %300#0
//   kc   [2048,8,32], strides [256, 32, 1] in state:layers.4.k
//   vc   [2048,8,32], strides [256, 32, 1] in state:layers.4.v
//   part [16,8,34], strides [272, 34, 1] in %304#0 (written)
//   kc   [2048,8,32], strides [256, 32, 1] in state:layers.4.k (written)
//   vc   [2048,8,32], strides [256, 32, 1] in state:layers.4.v (written)
//
// threads:
//   workgroup: one (key block b, kv head g) of 16 x 8, 64 invocations; the 1 query heads of g share the block's keys
//   phases: q rows and scores (head, key) into workgroup memory; m, l and the weights per head; acc per (head, dim)
//
// from: jamba-style.hyb:10:3, jamba-style.hyb:13:29

struct Params {
  pos: u32,
}

@group(0) @binding(0) var<storage, read> q_k_v: array<f32>;
@group(0) @binding(1) var<storage, read_write> kc: array<f32>;
@group(0) @binding(2) var<storage, read_write> vc: array<f32>;
@group(0) @binding(3) var<storage, read_write> part: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

var<workgroup> qs: array<f32, 32u>;
var<workgroup> sc: array<f32, 128u>;
var<workgroup> ml: array<f32, 2u>;
var<workgroup> kv_new: array<f32, 64u>;

fn q_rope(hb: u32, d: u32, t: u32) -> f32 {
  return q_k_v[(hb + d)];
}

fn k_rope(hb: u32, d: u32, t: u32) -> f32 {
  return q_k_v[256u + (hb + d)];
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let wg = wid.x + wid.y * nwg.x;
  let pos = params.pos;
  let b = wg / 8u;
  let g = wg % 8u;
  let first = 0u + b * 128u;
  let n = select(0u, min(pos + 1u - first, 128u), first <= pos);
  if (b == 0u) {
    for (var d = lid; d < 32u; d += 64u) {
      kc[(pos % 2048u) * 256u + (g) * 32u + (d)] = k_rope(g * 32u, d, pos);
      vc[(pos % 2048u) * 256u + (g) * 32u + (d)] = q_k_v[512u + (g * 32u + d)];
    }

  }
  if (n == 0u) {
    for (var e = lid; e < 34u; e += 64u) { part[(b) * 272u + (g * 1u + e / 34u) * 34u + (e % 34u)] = 0.0; }
    return;
  }
  for (var e = lid; e < 32u; e += 64u) {
    let d = e % 32u;
    qs[e] = q_rope((g * 1u + e / 32u) * 32u, d, pos) * 0.17677669529663687;
  }
  for (var d = lid; d < 32u; d += 64u) {
    kv_new[d] = k_rope(g * 32u, d, pos);
    kv_new[32u + d] = q_k_v[512u + (g * 32u + d)];
  }
  workgroupBarrier();
  for (var e = lid; e < 128u; e += 64u) {
    let j = e % 128u;
    if (j < n) {
      let t = first + j;
      let qb = (e / 128u) * 32u;
      var dot = 0.0;
      if (t == pos) {
        for (var d = 0u; d < 32u; d++) { dot = fma(qs[qb + d], kv_new[d], dot); }
      } else {
        for (var d = 0u; d < 32u; d++) { dot = fma(qs[qb + d], kc[(t % 2048u) * 256u + (g) * 32u + (d)], dot); }
      }
      sc[e] = dot;
    }
  }
  workgroupBarrier();
  if (lid < 1u) {
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
  for (var e = lid; e < 32u; e += 64u) {
    let hh = e / 32u;
    let d = e % 32u;
    let sb = hh * 128u;
    var acc = 0.0;
    for (var j = 0u; j < n; j++) {
      let t = first + j;
      if (t != pos) { acc = fma(sc[sb + j], vc[(t % 2048u) * 256u + (g) * 32u + (d)], acc); }
    }
    // The new row, when it is in this block: it is the block's last key (t = pos, the newest).
    if (first + n == pos + 1u) { acc = fma(sc[sb + n - 1u], kv_new[32u + d], acc); }
    let h = g * 1u + hh;
    part[(b) * 272u + (h) * 34u + (d)] = acc;
    if (d == 0u) {
      part[(b) * 272u + (h) * 34u + (32u)] = ml[2u * hh];
      part[(b) * 272u + (h) * 34u + (33u)] = ml[2u * hh + 1u];
    }
  }
}
