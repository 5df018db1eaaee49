// kernel layers.23.attention_decode_partial: attention_decode_partial {scale=0.125, window=null, theta=10000, rotaryDim=64, block=128, blocks=64}
//
// q, k <- rope(q, pos), rope(k, pos): NeoX half-split on the first 64 of 64 dims, theta = 10000
// k cache[pos mod 8192, g, :] = k[g], v cache[pos mod 8192, g, :] = v[g] (in place)
// part[b, h] = [acc | m | l] of the keys t in [lo + 128 b, lo + 128 (b + 1)), t <= pos, lo = 0: s_t = 0.125 q_h . k_t, m = max s_t, l = sum exp(s_t - m), acc = sum exp(s_t - m) v_t; zeros when empty
//
// operands (element [i, j] is buffer[offset + i * stride0 + j * stride1]):
//   q    [1,768], strides [1280, 1] in %596#0
//   k    [1,256] at offset 768, strides [1280, 1] in %596#0
//   v    [1,256] at offset 1024, strides [1280, 1] in %596#0
//   kc   [8192,4,64], strides [256, 64, 1] in state:layers.23.k
//   vc   [8192,4,64], strides [256, 64, 1] in state:layers.23.v
//   part [64,12,66], strides [792, 66, 1] in %600#0 (written)
//   kc   [8192,4,64], strides [256, 64, 1] in state:layers.23.k (written)
//   vc   [8192,4,64], strides [256, 64, 1] in state:layers.23.v (written)
//
// threads:
//   workgroup: one (key block b, kv head g) of 64 x 4, 64 invocations; the 3 query heads of g share the block's keys
//   phases: q rows and scores (head, key) into workgroup memory; m, l and the weights per head; acc per (head, dim)
//
// from: hybrid-130m.hyb:9:3, hybrid-130m.hyb:12:23

struct Params {
  pos: u32,
}

@group(0) @binding(0) var<storage, read> q_k_v: array<f32>;
@group(0) @binding(1) var<storage, read_write> kc: array<f32>;
@group(0) @binding(2) var<storage, read_write> vc: array<f32>;
@group(0) @binding(3) var<storage, read_write> part: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

var<workgroup> qs: array<f32, 192u>;
var<workgroup> sc: array<f32, 384u>;
var<workgroup> ml: array<f32, 6u>;
var<workgroup> kv_new: array<f32, 128u>;

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

fn q_rope(hb: u32, d: u32, t: u32) -> f32 {
  if (d >= 64u) { return q_k_v[(hb + d)]; }
  let i = d % 32u;
  let cs = rope_cs(t, i);
  let u = q_k_v[(hb + i)];
  let w = q_k_v[(hb + i + 32u)];
  return select(w * cs.x + u * cs.y, u * cs.x - w * cs.y, d < 32u);
}

fn k_rope(hb: u32, d: u32, t: u32) -> f32 {
  if (d >= 64u) { return q_k_v[768u + (hb + d)]; }
  let i = d % 32u;
  let cs = rope_cs(t, i);
  let u = q_k_v[768u + (hb + i)];
  let w = q_k_v[768u + (hb + i + 32u)];
  return select(w * cs.x + u * cs.y, u * cs.x - w * cs.y, d < 32u);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let wg = wid.x + wid.y * nwg.x;
  let pos = params.pos;
  let b = wg / 4u;
  let g = wg % 4u;
  let first = 0u + b * 128u;
  let n = select(0u, min(pos + 1u - first, 128u), first <= pos);
  if (b == 0u) {
    for (var d = lid; d < 64u; d += 64u) {
      kc[(pos % 8192u) * 256u + (g) * 64u + (d)] = k_rope(g * 64u, d, pos);
      vc[(pos % 8192u) * 256u + (g) * 64u + (d)] = q_k_v[1024u + (g * 64u + d)];
    }

  }
  if (n == 0u) {
    for (var e = lid; e < 198u; e += 64u) { part[(b) * 792u + (g * 3u + e / 66u) * 66u + (e % 66u)] = 0.0; }
    return;
  }
  for (var e = lid; e < 192u; e += 64u) {
    let d = e % 64u;
    qs[e] = q_rope((g * 3u + e / 64u) * 64u, d, pos) * 0.125;
  }
  for (var d = lid; d < 64u; d += 64u) {
    kv_new[d] = k_rope(g * 64u, d, pos);
    kv_new[64u + d] = q_k_v[1024u + (g * 64u + d)];
  }
  workgroupBarrier();
  for (var e = lid; e < 384u; e += 64u) {
    let j = e % 128u;
    if (j < n) {
      let t = first + j;
      let qb = (e / 128u) * 64u;
      var dot = 0.0;
      if (t == pos) {
        for (var d = 0u; d < 64u; d++) { dot = fma(qs[qb + d], kv_new[d], dot); }
      } else {
        for (var d = 0u; d < 64u; d++) { dot = fma(qs[qb + d], kc[(t % 8192u) * 256u + (g) * 64u + (d)], dot); }
      }
      sc[e] = dot;
    }
  }
  workgroupBarrier();
  if (lid < 3u) {
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
  for (var e = lid; e < 192u; e += 64u) {
    let hh = e / 64u;
    let d = e % 64u;
    let sb = hh * 128u;
    var acc = 0.0;
    for (var j = 0u; j < n; j++) {
      let t = first + j;
      if (t != pos) { acc = fma(sc[sb + j], vc[(t % 8192u) * 256u + (g) * 64u + (d)], acc); }
    }
    // The new row, when it is in this block: it is the block's last key (t = pos, the newest).
    if (first + n == pos + 1u) { acc = fma(sc[sb + n - 1u], kv_new[64u + d], acc); }
    let h = g * 3u + hh;
    part[(b) * 792u + (h) * 66u + (d)] = acc;
    if (d == 0u) {
      part[(b) * 792u + (h) * 66u + (64u)] = ml[2u * hh];
      part[(b) * 792u + (h) * 66u + (65u)] = ml[2u * hh + 1u];
    }
  }
}
