// kernel layers.2.mamba.x_proj: linear
//
// z_i[r, o] = sum_k xn[r, k] * W_i[o, k]   (i < 1)
// y[r, :] = [z_1 | ... | z_n]
// xn = x
// column segments (start, width, weights): (0, 48, W)
//
// operands (element [i, j] is buffer[offset + i * stride0 + j * stride1]):
//   x [L,512], strides [512, 1] in %138#0
//   W [48,512] at offset 264960, strides [512, 1], rows in quads of 16-byte units in weight:model.layers.2
//   y [L,48], strides [48, 1] in %139#0 (written)
//
// threads:
//   invocation: a 4 x 4 register tile of one segment (rows r0 = 4 * rt.., cols 4 * lt..), walking K = 512 in vec4 steps
//   workgroup: 16 col tiles x 4 row tiles (64 invocations); no workgroup memory
//   grid: ceil(L / 16) x 1 workgroups (flat wg = row block * 1 + col block); 12 col tiles in all
//   edge tiles clamp their loads and skip their stores
//
// from: samba-style.hyb:8:3, samba-style.hyb:12:17

struct Params {
  L: u32,
}

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> W: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let wg = wid.x + wid.y * nwg.x;
  let ct = (wg % 1u) * 16u + lid % 16u;
  let rt = (wg / 1u) * 4u + lid / 16u;
  let r0 = rt * 4u;
  let rows = params.L;
  if (r0 >= rows || ct >= 12u) { return; }
  {
    let lt = ct;
    let c0 = lt * 4u;
    var acc0_0_0 = vec4<f32>(0.0);
    var acc0_0_1 = vec4<f32>(0.0);
    var acc0_0_2 = vec4<f32>(0.0);
    var acc0_0_3 = vec4<f32>(0.0);
    var acc0_1_0 = vec4<f32>(0.0);
    var acc0_1_1 = vec4<f32>(0.0);
    var acc0_1_2 = vec4<f32>(0.0);
    var acc0_1_3 = vec4<f32>(0.0);
    var acc0_2_0 = vec4<f32>(0.0);
    var acc0_2_1 = vec4<f32>(0.0);
    var acc0_2_2 = vec4<f32>(0.0);
    var acc0_2_3 = vec4<f32>(0.0);
    var acc0_3_0 = vec4<f32>(0.0);
    var acc0_3_1 = vec4<f32>(0.0);
    var acc0_3_2 = vec4<f32>(0.0);
    var acc0_3_3 = vec4<f32>(0.0);
    for (var k = 0u; k < 128u; k++) {
      let x0 = x[(min(r0, rows - 1u)) * 128u + (k)];
      let x1 = x[(min(r0 + 1u, rows - 1u)) * 128u + (k)];
      let x2 = x[(min(r0 + 2u, rows - 1u)) * 128u + (k)];
      let x3 = x[(min(r0 + 3u, rows - 1u)) * 128u + (k)];
      let w0_0 = W[66240u + ((min(c0, 44u)) / 4u * 128u + (k)) * 4u + (min(c0, 44u)) % 4u];
      acc0_0_0 = fma(x0, w0_0, acc0_0_0);
      acc0_1_0 = fma(x1, w0_0, acc0_1_0);
      acc0_2_0 = fma(x2, w0_0, acc0_2_0);
      acc0_3_0 = fma(x3, w0_0, acc0_3_0);
      let w0_1 = W[66240u + ((min(c0, 44u) + 1u) / 4u * 128u + (k)) * 4u + (min(c0, 44u) + 1u) % 4u];
      acc0_0_1 = fma(x0, w0_1, acc0_0_1);
      acc0_1_1 = fma(x1, w0_1, acc0_1_1);
      acc0_2_1 = fma(x2, w0_1, acc0_2_1);
      acc0_3_1 = fma(x3, w0_1, acc0_3_1);
      let w0_2 = W[66240u + ((min(c0, 44u) + 2u) / 4u * 128u + (k)) * 4u + (min(c0, 44u) + 2u) % 4u];
      acc0_0_2 = fma(x0, w0_2, acc0_0_2);
      acc0_1_2 = fma(x1, w0_2, acc0_1_2);
      acc0_2_2 = fma(x2, w0_2, acc0_2_2);
      acc0_3_2 = fma(x3, w0_2, acc0_3_2);
      let w0_3 = W[66240u + ((min(c0, 44u) + 3u) / 4u * 128u + (k)) * 4u + (min(c0, 44u) + 3u) % 4u];
      acc0_0_3 = fma(x0, w0_3, acc0_0_3);
      acc0_1_3 = fma(x1, w0_3, acc0_1_3);
      acc0_2_3 = fma(x2, w0_3, acc0_2_3);
      acc0_3_3 = fma(x3, w0_3, acc0_3_3);
    }
    {
      let r = r0;
      let c = c0;
      if (r < rows && c < 48u) { y[(r) * 48u + (c)] = dot(acc0_0_0, vec4<f32>(1.0)); }
    }
    {
      let r = r0;
      let c = c0 + 1u;
      if (r < rows && c < 48u) { y[(r) * 48u + (c)] = dot(acc0_0_1, vec4<f32>(1.0)); }
    }
    {
      let r = r0;
      let c = c0 + 2u;
      if (r < rows && c < 48u) { y[(r) * 48u + (c)] = dot(acc0_0_2, vec4<f32>(1.0)); }
    }
    {
      let r = r0;
      let c = c0 + 3u;
      if (r < rows && c < 48u) { y[(r) * 48u + (c)] = dot(acc0_0_3, vec4<f32>(1.0)); }
    }
    {
      let r = r0 + 1u;
      let c = c0;
      if (r < rows && c < 48u) { y[(r) * 48u + (c)] = dot(acc0_1_0, vec4<f32>(1.0)); }
    }
    {
      let r = r0 + 1u;
      let c = c0 + 1u;
      if (r < rows && c < 48u) { y[(r) * 48u + (c)] = dot(acc0_1_1, vec4<f32>(1.0)); }
    }
    {
      let r = r0 + 1u;
      let c = c0 + 2u;
      if (r < rows && c < 48u) { y[(r) * 48u + (c)] = dot(acc0_1_2, vec4<f32>(1.0)); }
    }
    {
      let r = r0 + 1u;
      let c = c0 + 3u;
      if (r < rows && c < 48u) { y[(r) * 48u + (c)] = dot(acc0_1_3, vec4<f32>(1.0)); }
    }
    {
      let r = r0 + 2u;
      let c = c0;
      if (r < rows && c < 48u) { y[(r) * 48u + (c)] = dot(acc0_2_0, vec4<f32>(1.0)); }
    }
    {
      let r = r0 + 2u;
      let c = c0 + 1u;
      if (r < rows && c < 48u) { y[(r) * 48u + (c)] = dot(acc0_2_1, vec4<f32>(1.0)); }
    }
    {
      let r = r0 + 2u;
      let c = c0 + 2u;
      if (r < rows && c < 48u) { y[(r) * 48u + (c)] = dot(acc0_2_2, vec4<f32>(1.0)); }
    }
    {
      let r = r0 + 2u;
      let c = c0 + 3u;
      if (r < rows && c < 48u) { y[(r) * 48u + (c)] = dot(acc0_2_3, vec4<f32>(1.0)); }
    }
    {
      let r = r0 + 3u;
      let c = c0;
      if (r < rows && c < 48u) { y[(r) * 48u + (c)] = dot(acc0_3_0, vec4<f32>(1.0)); }
    }
    {
      let r = r0 + 3u;
      let c = c0 + 1u;
      if (r < rows && c < 48u) { y[(r) * 48u + (c)] = dot(acc0_3_1, vec4<f32>(1.0)); }
    }
    {
      let r = r0 + 3u;
      let c = c0 + 2u;
      if (r < rows && c < 48u) { y[(r) * 48u + (c)] = dot(acc0_3_2, vec4<f32>(1.0)); }
    }
    {
      let r = r0 + 3u;
      let c = c0 + 3u;
      if (r < rows && c < 48u) { y[(r) * 48u + (c)] = dot(acc0_3_3, vec4<f32>(1.0)); }
    }
  }
}
