// kernel layers.7.mixer.out_proj: fused_linear {weights=1, prologue="none", eps=null, normGroup=null, bias=false, activation="none", residual=true}
//
// z_i[r, o] = sum_k xn[r, k] * W_i[o, k]   (i < 1)
// y[r, :] = [z_1 | ... | z_n] + residual[r, :]
// xn = x
// column segments (start, width, weights): (0, 512, W)
//
// operands (element [i, j] is buffer[offset + i * stride0 + j * stride1]):
//   x        [L,1024], strides [1024, 1] in %235#0
//   W        [512,1024] at offset 1170944, strides [1024, 1], rows in quads of 16-byte units in weight:backbone.layers.7
//   residual [L,512], strides [512, 1] in %225#0
//   y        [L,512], strides [512, 1] in %236#0 (written)
//
// threads:
//   invocation: a 4 x 4 register tile of one segment (rows r0 = 4 * rt.., cols 4 * lt..), walking K = 1024 in vec4 steps
//   workgroup: 16 col tiles x 4 row tiles (64 invocations); no workgroup memory
//   grid: ceil(L / 16) x 8 workgroups (flat wg = row block * 8 + col block); 128 col tiles in all
//   edge tiles clamp their loads and skip their stores
//
// from: mamba-byte.hyb:9:3, mamba-byte.hyb:11:17

struct Params {
  L: u32,
}

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> W: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> residual: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let wg = wid.x + wid.y * nwg.x;
  let ct = (wg % 8u) * 16u + lid % 16u;
  let rt = (wg / 8u) * 4u + lid / 16u;
  let r0 = rt * 4u;
  let rows = params.L;
  if (r0 >= rows || ct >= 128u) { return; }
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
    for (var k = 0u; k < 256u; k++) {
      let x0 = x[(min(r0, rows - 1u)) * 256u + (k)];
      let x1 = x[(min(r0 + 1u, rows - 1u)) * 256u + (k)];
      let x2 = x[(min(r0 + 2u, rows - 1u)) * 256u + (k)];
      let x3 = x[(min(r0 + 3u, rows - 1u)) * 256u + (k)];
      let w0_0 = W[292736u + ((min(c0, 508u)) / 4u * 256u + (k)) * 4u + (min(c0, 508u)) % 4u];
      acc0_0_0 = fma(x0, w0_0, acc0_0_0);
      acc0_1_0 = fma(x1, w0_0, acc0_1_0);
      acc0_2_0 = fma(x2, w0_0, acc0_2_0);
      acc0_3_0 = fma(x3, w0_0, acc0_3_0);
      let w0_1 = W[292736u + ((min(c0, 508u) + 1u) / 4u * 256u + (k)) * 4u + (min(c0, 508u) + 1u) % 4u];
      acc0_0_1 = fma(x0, w0_1, acc0_0_1);
      acc0_1_1 = fma(x1, w0_1, acc0_1_1);
      acc0_2_1 = fma(x2, w0_1, acc0_2_1);
      acc0_3_1 = fma(x3, w0_1, acc0_3_1);
      let w0_2 = W[292736u + ((min(c0, 508u) + 2u) / 4u * 256u + (k)) * 4u + (min(c0, 508u) + 2u) % 4u];
      acc0_0_2 = fma(x0, w0_2, acc0_0_2);
      acc0_1_2 = fma(x1, w0_2, acc0_1_2);
      acc0_2_2 = fma(x2, w0_2, acc0_2_2);
      acc0_3_2 = fma(x3, w0_2, acc0_3_2);
      let w0_3 = W[292736u + ((min(c0, 508u) + 3u) / 4u * 256u + (k)) * 4u + (min(c0, 508u) + 3u) % 4u];
      acc0_0_3 = fma(x0, w0_3, acc0_0_3);
      acc0_1_3 = fma(x1, w0_3, acc0_1_3);
      acc0_2_3 = fma(x2, w0_3, acc0_2_3);
      acc0_3_3 = fma(x3, w0_3, acc0_3_3);
    }
    {
      let r = r0;
      let c = c0;
      if (r < rows && c < 512u) { y[(r) * 512u + (c)] = dot(acc0_0_0, vec4<f32>(1.0)) + residual[(r) * 512u + (c)]; }
    }
    {
      let r = r0;
      let c = c0 + 1u;
      if (r < rows && c < 512u) { y[(r) * 512u + (c)] = dot(acc0_0_1, vec4<f32>(1.0)) + residual[(r) * 512u + (c)]; }
    }
    {
      let r = r0;
      let c = c0 + 2u;
      if (r < rows && c < 512u) { y[(r) * 512u + (c)] = dot(acc0_0_2, vec4<f32>(1.0)) + residual[(r) * 512u + (c)]; }
    }
    {
      let r = r0;
      let c = c0 + 3u;
      if (r < rows && c < 512u) { y[(r) * 512u + (c)] = dot(acc0_0_3, vec4<f32>(1.0)) + residual[(r) * 512u + (c)]; }
    }
    {
      let r = r0 + 1u;
      let c = c0;
      if (r < rows && c < 512u) { y[(r) * 512u + (c)] = dot(acc0_1_0, vec4<f32>(1.0)) + residual[(r) * 512u + (c)]; }
    }
    {
      let r = r0 + 1u;
      let c = c0 + 1u;
      if (r < rows && c < 512u) { y[(r) * 512u + (c)] = dot(acc0_1_1, vec4<f32>(1.0)) + residual[(r) * 512u + (c)]; }
    }
    {
      let r = r0 + 1u;
      let c = c0 + 2u;
      if (r < rows && c < 512u) { y[(r) * 512u + (c)] = dot(acc0_1_2, vec4<f32>(1.0)) + residual[(r) * 512u + (c)]; }
    }
    {
      let r = r0 + 1u;
      let c = c0 + 3u;
      if (r < rows && c < 512u) { y[(r) * 512u + (c)] = dot(acc0_1_3, vec4<f32>(1.0)) + residual[(r) * 512u + (c)]; }
    }
    {
      let r = r0 + 2u;
      let c = c0;
      if (r < rows && c < 512u) { y[(r) * 512u + (c)] = dot(acc0_2_0, vec4<f32>(1.0)) + residual[(r) * 512u + (c)]; }
    }
    {
      let r = r0 + 2u;
      let c = c0 + 1u;
      if (r < rows && c < 512u) { y[(r) * 512u + (c)] = dot(acc0_2_1, vec4<f32>(1.0)) + residual[(r) * 512u + (c)]; }
    }
    {
      let r = r0 + 2u;
      let c = c0 + 2u;
      if (r < rows && c < 512u) { y[(r) * 512u + (c)] = dot(acc0_2_2, vec4<f32>(1.0)) + residual[(r) * 512u + (c)]; }
    }
    {
      let r = r0 + 2u;
      let c = c0 + 3u;
      if (r < rows && c < 512u) { y[(r) * 512u + (c)] = dot(acc0_2_3, vec4<f32>(1.0)) + residual[(r) * 512u + (c)]; }
    }
    {
      let r = r0 + 3u;
      let c = c0;
      if (r < rows && c < 512u) { y[(r) * 512u + (c)] = dot(acc0_3_0, vec4<f32>(1.0)) + residual[(r) * 512u + (c)]; }
    }
    {
      let r = r0 + 3u;
      let c = c0 + 1u;
      if (r < rows && c < 512u) { y[(r) * 512u + (c)] = dot(acc0_3_1, vec4<f32>(1.0)) + residual[(r) * 512u + (c)]; }
    }
    {
      let r = r0 + 3u;
      let c = c0 + 2u;
      if (r < rows && c < 512u) { y[(r) * 512u + (c)] = dot(acc0_3_2, vec4<f32>(1.0)) + residual[(r) * 512u + (c)]; }
    }
    {
      let r = r0 + 3u;
      let c = c0 + 3u;
      if (r < rows && c < 512u) { y[(r) * 512u + (c)] = dot(acc0_3_3, vec4<f32>(1.0)) + residual[(r) * 512u + (c)]; }
    }
  }
}
