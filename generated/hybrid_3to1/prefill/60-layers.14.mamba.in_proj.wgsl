// kernel layers.14.mamba.in_proj: fused_linear {weights=1, prologue="rmsnorm", eps=0.00001, normGroup=256, bias=false, activation="none", residual=false}
//
// z_i[r, o] = sum_k xn[r, k] * W_i[o, k]   (i < 1)
// y[r, :] = [z_1 | ... | z_n]
// xn[r, k] = x[r, k] / sqrt(mean of x[r, :]^2 over the group of 256 channels holding k + eps) * norm_w[k],  eps = 0.00001
// column segments (start, width, weights): (0, 1168, W)
//
// operands (element [i, j] is buffer[offset + i * stride0 + j * stride1]):
//   x      [L,256], strides [256, 1] in %380#0
//   W      [1168,256] at offset 256, strides [256, 1], rows in quads of 16-byte units in weight:model.layers.14
//   norm_w [256], strides [1] in weight:model.layers.14
//   y      [L,1168], strides [1168, 1] in %381#0 (written)
//
// threads:
//   invocation: a 4 x 4 register tile of one segment (rows r0 = 4 * rt.., cols 4 * lt..), walking K = 256 in vec4 steps
//   workgroup: 16 col tiles x 4 row tiles (64 invocations); no workgroup memory
//   grid: ceil(L / 16) x 19 workgroups (flat wg = row block * 19 + col block); 292 col tiles in all
//   the 16 invocations of a row of tiles split each row's sum of squares over K, the parts meet in workgroup memory (1024 bytes) after one barrier
//   the whole-row 1/rms scales each finished dot product instead of every x
//   edge tiles clamp their loads and skip their stores
//
// from: hybrid-3to1.hyb:8:3, hybrid-3to1.hyb:12:17

struct Params {
  L: u32,
}

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> W_norm_w: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

var<workgroup> ss: array<f32, 256u>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let wg = wid.x + wid.y * nwg.x;
  let ct = (wg % 19u) * 16u + lid % 16u;
  let rt = (wg / 19u) * 4u + lid / 16u;
  let r0 = rt * 4u;
  let rows = params.L;
  {
    let r = min(r0, rows - 1u);
    for (var g = 0u; g < 1u; g++) {
      var s = vec4<f32>(0.0);
      for (var k = g * 64u + lid % 16u; k < (g + 1u) * 64u; k += 16u) { let v = x[(r) * 64u + (k)]; s += v * v; }
      ss[((lid / 16u) * 4u + 0u) * 16u + g * 16u + lid % 16u] = dot(s, vec4<f32>(1.0));
    }
  }
  {
    let r = min(r0 + 1u, rows - 1u);
    for (var g = 0u; g < 1u; g++) {
      var s = vec4<f32>(0.0);
      for (var k = g * 64u + lid % 16u; k < (g + 1u) * 64u; k += 16u) { let v = x[(r) * 64u + (k)]; s += v * v; }
      ss[((lid / 16u) * 4u + 1u) * 16u + g * 16u + lid % 16u] = dot(s, vec4<f32>(1.0));
    }
  }
  {
    let r = min(r0 + 2u, rows - 1u);
    for (var g = 0u; g < 1u; g++) {
      var s = vec4<f32>(0.0);
      for (var k = g * 64u + lid % 16u; k < (g + 1u) * 64u; k += 16u) { let v = x[(r) * 64u + (k)]; s += v * v; }
      ss[((lid / 16u) * 4u + 2u) * 16u + g * 16u + lid % 16u] = dot(s, vec4<f32>(1.0));
    }
  }
  {
    let r = min(r0 + 3u, rows - 1u);
    for (var g = 0u; g < 1u; g++) {
      var s = vec4<f32>(0.0);
      for (var k = g * 64u + lid % 16u; k < (g + 1u) * 64u; k += 16u) { let v = x[(r) * 64u + (k)]; s += v * v; }
      ss[((lid / 16u) * 4u + 3u) * 16u + g * 16u + lid % 16u] = dot(s, vec4<f32>(1.0));
    }
  }
  workgroupBarrier();
  if (r0 >= rows || ct >= 292u) { return; }
  var inv0: array<f32, 1u>;
  for (var g = 0u; g < 1u; g++) {
    var s = 0.0;
    for (var q = 0u; q < 16u; q++) { s += ss[((lid / 16u) * 4u + 0u) * 16u + g * 16u + q]; }
    inv0[g] = inverseSqrt(s / 256.0 + 0.00001);
  }
  var inv1: array<f32, 1u>;
  for (var g = 0u; g < 1u; g++) {
    var s = 0.0;
    for (var q = 0u; q < 16u; q++) { s += ss[((lid / 16u) * 4u + 1u) * 16u + g * 16u + q]; }
    inv1[g] = inverseSqrt(s / 256.0 + 0.00001);
  }
  var inv2: array<f32, 1u>;
  for (var g = 0u; g < 1u; g++) {
    var s = 0.0;
    for (var q = 0u; q < 16u; q++) { s += ss[((lid / 16u) * 4u + 2u) * 16u + g * 16u + q]; }
    inv2[g] = inverseSqrt(s / 256.0 + 0.00001);
  }
  var inv3: array<f32, 1u>;
  for (var g = 0u; g < 1u; g++) {
    var s = 0.0;
    for (var q = 0u; q < 16u; q++) { s += ss[((lid / 16u) * 4u + 3u) * 16u + g * 16u + q]; }
    inv3[g] = inverseSqrt(s / 256.0 + 0.00001);
  }
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
    for (var k = 0u; k < 64u; k++) {
      let x0 = x[(min(r0, rows - 1u)) * 64u + (k)] * W_norm_w[(k)];
      let x1 = x[(min(r0 + 1u, rows - 1u)) * 64u + (k)] * W_norm_w[(k)];
      let x2 = x[(min(r0 + 2u, rows - 1u)) * 64u + (k)] * W_norm_w[(k)];
      let x3 = x[(min(r0 + 3u, rows - 1u)) * 64u + (k)] * W_norm_w[(k)];
      let w0_0 = W_norm_w[64u + ((min(c0, 1164u)) / 4u * 64u + (k)) * 4u + (min(c0, 1164u)) % 4u];
      acc0_0_0 = fma(x0, w0_0, acc0_0_0);
      acc0_1_0 = fma(x1, w0_0, acc0_1_0);
      acc0_2_0 = fma(x2, w0_0, acc0_2_0);
      acc0_3_0 = fma(x3, w0_0, acc0_3_0);
      let w0_1 = W_norm_w[64u + ((min(c0, 1164u) + 1u) / 4u * 64u + (k)) * 4u + (min(c0, 1164u) + 1u) % 4u];
      acc0_0_1 = fma(x0, w0_1, acc0_0_1);
      acc0_1_1 = fma(x1, w0_1, acc0_1_1);
      acc0_2_1 = fma(x2, w0_1, acc0_2_1);
      acc0_3_1 = fma(x3, w0_1, acc0_3_1);
      let w0_2 = W_norm_w[64u + ((min(c0, 1164u) + 2u) / 4u * 64u + (k)) * 4u + (min(c0, 1164u) + 2u) % 4u];
      acc0_0_2 = fma(x0, w0_2, acc0_0_2);
      acc0_1_2 = fma(x1, w0_2, acc0_1_2);
      acc0_2_2 = fma(x2, w0_2, acc0_2_2);
      acc0_3_2 = fma(x3, w0_2, acc0_3_2);
      let w0_3 = W_norm_w[64u + ((min(c0, 1164u) + 3u) / 4u * 64u + (k)) * 4u + (min(c0, 1164u) + 3u) % 4u];
      acc0_0_3 = fma(x0, w0_3, acc0_0_3);
      acc0_1_3 = fma(x1, w0_3, acc0_1_3);
      acc0_2_3 = fma(x2, w0_3, acc0_2_3);
      acc0_3_3 = fma(x3, w0_3, acc0_3_3);
    }
    {
      let r = r0;
      let c = c0;
      if (r < rows && c < 1168u) { y[(r) * 1168u + (c)] = dot(acc0_0_0, vec4<f32>(1.0)) * inv0[0u]; }
    }
    {
      let r = r0;
      let c = c0 + 1u;
      if (r < rows && c < 1168u) { y[(r) * 1168u + (c)] = dot(acc0_0_1, vec4<f32>(1.0)) * inv0[0u]; }
    }
    {
      let r = r0;
      let c = c0 + 2u;
      if (r < rows && c < 1168u) { y[(r) * 1168u + (c)] = dot(acc0_0_2, vec4<f32>(1.0)) * inv0[0u]; }
    }
    {
      let r = r0;
      let c = c0 + 3u;
      if (r < rows && c < 1168u) { y[(r) * 1168u + (c)] = dot(acc0_0_3, vec4<f32>(1.0)) * inv0[0u]; }
    }
    {
      let r = r0 + 1u;
      let c = c0;
      if (r < rows && c < 1168u) { y[(r) * 1168u + (c)] = dot(acc0_1_0, vec4<f32>(1.0)) * inv1[0u]; }
    }
    {
      let r = r0 + 1u;
      let c = c0 + 1u;
      if (r < rows && c < 1168u) { y[(r) * 1168u + (c)] = dot(acc0_1_1, vec4<f32>(1.0)) * inv1[0u]; }
    }
    {
      let r = r0 + 1u;
      let c = c0 + 2u;
      if (r < rows && c < 1168u) { y[(r) * 1168u + (c)] = dot(acc0_1_2, vec4<f32>(1.0)) * inv1[0u]; }
    }
    {
      let r = r0 + 1u;
      let c = c0 + 3u;
      if (r < rows && c < 1168u) { y[(r) * 1168u + (c)] = dot(acc0_1_3, vec4<f32>(1.0)) * inv1[0u]; }
    }
    {
      let r = r0 + 2u;
      let c = c0;
      if (r < rows && c < 1168u) { y[(r) * 1168u + (c)] = dot(acc0_2_0, vec4<f32>(1.0)) * inv2[0u]; }
    }
    {
      let r = r0 + 2u;
      let c = c0 + 1u;
      if (r < rows && c < 1168u) { y[(r) * 1168u + (c)] = dot(acc0_2_1, vec4<f32>(1.0)) * inv2[0u]; }
    }
    {
      let r = r0 + 2u;
      let c = c0 + 2u;
      if (r < rows && c < 1168u) { y[(r) * 1168u + (c)] = dot(acc0_2_2, vec4<f32>(1.0)) * inv2[0u]; }
    }
    {
      let r = r0 + 2u;
      let c = c0 + 3u;
      if (r < rows && c < 1168u) { y[(r) * 1168u + (c)] = dot(acc0_2_3, vec4<f32>(1.0)) * inv2[0u]; }
    }
    {
      let r = r0 + 3u;
      let c = c0;
      if (r < rows && c < 1168u) { y[(r) * 1168u + (c)] = dot(acc0_3_0, vec4<f32>(1.0)) * inv3[0u]; }
    }
    {
      let r = r0 + 3u;
      let c = c0 + 1u;
      if (r < rows && c < 1168u) { y[(r) * 1168u + (c)] = dot(acc0_3_1, vec4<f32>(1.0)) * inv3[0u]; }
    }
    {
      let r = r0 + 3u;
      let c = c0 + 2u;
      if (r < rows && c < 1168u) { y[(r) * 1168u + (c)] = dot(acc0_3_2, vec4<f32>(1.0)) * inv3[0u]; }
    }
    {
      let r = r0 + 3u;
      let c = c0 + 3u;
      if (r < rows && c < 1168u) { y[(r) * 1168u + (c)] = dot(acc0_3_3, vec4<f32>(1.0)) * inv3[0u]; }
    }
  }
}
