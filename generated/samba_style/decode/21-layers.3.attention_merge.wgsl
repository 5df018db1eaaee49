// kernel layers.3.attention_merge: attention_merge
//
// o[h, d] = sum_b e^(m_b - M) acc_b[d] / sum_b e^(m_b - M) l_b over the 4 blocks with l_b > 0, M = their max m_b;  part [4, 4, 64 + 2]
//
// operands (element [i, j] is buffer[offset + i * stride0 + j * stride1]):
//   part [4,4,66], strides [264, 66, 1] in %150#0
//   o    [1,256], strides [256, 1] in %151#0 (written)
//
// threads:
//   invocation: one output (h, d): two passes over 4 blocks; workgroup: 64 invocations over the flat [1, 256] grid
//
// from: samba-style.hyb:9:3, samba-style.hyb:12:28

@group(0) @binding(0) var<storage, read> part: array<f32>;
@group(0) @binding(1) var<storage, read_write> o: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let wg = wid.x + wid.y * nwg.x;
  let f = wg * 64u + lid;
  if (f >= 256u) { return; }
  let ir = f;
  let i1 = ir;
  let h = i1 / 64u;
  let d = i1 % 64u;
  var M = (-3e+38);
  for (var b = 0u; b < 4u; b++) {
    if (part[(b) * 264u + (h) * 66u + (65u)] > 0.0) { M = max(M, part[(b) * 264u + (h) * 66u + (64u)]); }
  }
  var l = 0.0;
  var acc = 0.0;
  for (var b = 0u; b < 4u; b++) {
    let lb = part[(b) * 264u + (h) * 66u + (65u)];
    if (lb > 0.0) {
      let f = exp(part[(b) * 264u + (h) * 66u + (64u)] - M);
      l = fma(f, lb, l);
      acc = fma(f, part[(b) * 264u + (h) * 66u + (d)], acc);
    }
  }
  o[(i1)] = acc / l;
}
