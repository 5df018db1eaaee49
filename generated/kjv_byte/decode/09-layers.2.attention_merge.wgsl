// kernel layers.2.attention_merge: attention_merge
//
// o[h, d] = sum_b e^(m_b - M) acc_b[d] / sum_b e^(m_b - M) l_b over the 2 blocks with l_b > 0, M = their max m_b;  part [2, 6, 32 + 2]
//
// operands (element [i, j] is buffer[offset + i * stride0 + j * stride1]):
//   part [2,6,34], strides [204, 34, 1] in %101#0
//   o    [1,192], strides [192, 1] in %102#0 (written)
//
// threads:
//   invocation: one output (h, d): two passes over 2 blocks; workgroup: 64 invocations over the flat [1, 192] grid
//
// from: kjv-byte.hyb:19:3, kjv-byte.hyb:21:23

@group(0) @binding(0) var<storage, read> part: array<f32>;
@group(0) @binding(1) var<storage, read_write> o: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let wg = wid.x + wid.y * nwg.x;
  let f = wg * 64u + lid;
  if (f >= 192u) { return; }
  let ir = f;
  let i1 = ir;
  let h = i1 / 32u;
  let d = i1 % 32u;
  var M = (-3e+38);
  for (var b = 0u; b < 2u; b++) {
    if (part[(b) * 204u + (h) * 34u + (33u)] > 0.0) { M = max(M, part[(b) * 204u + (h) * 34u + (32u)]); }
  }
  var l = 0.0;
  var acc = 0.0;
  for (var b = 0u; b < 2u; b++) {
    let lb = part[(b) * 204u + (h) * 34u + (33u)];
    if (lb > 0.0) {
      let f = exp(part[(b) * 204u + (h) * 34u + (32u)] - M);
      l = fma(f, lb, l);
      acc = fma(f, part[(b) * 204u + (h) * 34u + (d)], acc);
    }
  }
  o[(i1)] = acc / l;
}
