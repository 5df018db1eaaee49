// kernel layers.15.mixer.x_proj: linear
//
// z_i[r, o] = sum_k xn[r, k] * W_i[o, k]   (i < 1)
// y[r, :] = [z_1 | ... | z_n]
// xn = x
// column segments (start, width, weights): (0, 80, W)
//
// operands (element [i, j] is buffer[offset + i * stride0 + j * stride1]):
//   x [1,1536], strides [1536, 1] in %462#0
//   W [80,1536] at offset 2367744, strides [1536, 1] in weight:backbone.layers.15
//   y [1,80], strides [80, 1] in %463#0 (written)
//
// threads:
//   invocation: a 1 x 1 register tile of one segment (rows r0 = 1 * rt.., cols 1 * lt..), walking K = 1536 in vec4 steps
//   workgroup: 64 col tiles x 1 row tiles (64 invocations); no workgroup memory
//   grid: 2 workgroups (flat wg = row block * 2 + col block); 80 col tiles in all
//   edge tiles clamp their loads and skip their stores
//
// from: mamba-130m.hyb:7:3, mamba-130m.hyb:9:17

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> W: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let wg = wid.x + wid.y * nwg.x;
  let ct = (wg % 2u) * 64u + lid % 64u;
  let rt = (wg / 2u) * 1u + lid / 64u;
  let r0 = rt * 1u;
  let rows = 1u;
  if (r0 >= rows || ct >= 80u) { return; }
  {
    let lt = ct;
    let c0 = lt * 1u;
    var acc0_0_0 = vec4<f32>(0.0);
    for (var k = 0u; k < 384u; k++) {
      let x0 = x[(k)];
      let w0_0 = W[591936u + (min(c0, 79u)) * 384u + (k)];
      acc0_0_0 = fma(x0, w0_0, acc0_0_0);
    }
    {
      let r = r0;
      let c = c0;
      if (r < rows && c < 80u) { y[(c)] = dot(acc0_0_0, vec4<f32>(1.0)); }
    }
  }
}
