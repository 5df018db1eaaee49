// kernel layers.7.feed_forward.gate_proj+up_proj: fused_linear {weights=2, prologue="rmsnorm", eps=0.00001, normGroup=256, bias=false, activation="swiglu", residual=false}
//
// z_i[r, o] = sum_k xn[r, k] * W_i[o, k]   (i < 2)
// y[r, :] = silu(z_1) * z_2
// xn[r, k] = x[r, k] / sqrt(mean of x[r, :]^2 over the group of 256 channels holding k + eps) * norm_w[k],  eps = 0.00001
// column segments (start, width, weights): (0, 1024, W0+W1)
//
// operands (element [i, j] is buffer[offset + i * stride0 + j * stride1]):
//   x      [L,256], strides [256, 1] in %194#0
//   W0     [1024,256] at offset 164352, strides [256, 1], rows in quads of 16-byte units in weight:model.layers.7
//   W1     [1024,256] at offset 426496, strides [256, 1], rows in quads of 16-byte units in weight:model.layers.7
//   norm_w [256] at offset 164096, strides [1] in weight:model.layers.7
//   y      [L,1024], strides [1024, 1] in %195#0 (written)
//
// threads:
//   invocation: a 4 x 2 register tile of one segment (rows r0 = 4 * rt.., cols 2 * lt..), walking K = 256 in vec4 steps
//   workgroup: 16 col tiles x 4 row tiles (64 invocations); no workgroup memory
//   grid: ceil(L / 16) x 32 workgroups (flat wg = row block * 32 + col block); 512 col tiles in all
//   the 16 invocations of a row of tiles split each row's sum of squares over K, the parts meet in workgroup memory (1024 bytes) after one barrier
//   the whole-row 1/rms scales each finished dot product instead of every x
//   edge tiles clamp their loads and skip their stores
//
// from: samba-style.hyb:10:3, samba-style.hyb:12:35

struct Params {
  L: u32,
}

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> W0_W1_norm_w: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

fn silu(v: f32) -> f32 {
  return v / (f32(1.0) + exp(-v));
}

var<workgroup> ss: array<f32, 256u>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let wg = wid.x + wid.y * nwg.x;
  let ct = (wg % 32u) * 16u + lid % 16u;
  let rt = (wg / 32u) * 4u + lid / 16u;
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
  if (r0 >= rows || ct >= 512u) { return; }
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
    let c0 = lt * 2u;
    var acc0_0_0 = vec4<f32>(0.0);
    var acc0_0_1 = vec4<f32>(0.0);
    var acc0_1_0 = vec4<f32>(0.0);
    var acc0_1_1 = vec4<f32>(0.0);
    var acc0_2_0 = vec4<f32>(0.0);
    var acc0_2_1 = vec4<f32>(0.0);
    var acc0_3_0 = vec4<f32>(0.0);
    var acc0_3_1 = vec4<f32>(0.0);
    var acc1_0_0 = vec4<f32>(0.0);
    var acc1_0_1 = vec4<f32>(0.0);
    var acc1_1_0 = vec4<f32>(0.0);
    var acc1_1_1 = vec4<f32>(0.0);
    var acc1_2_0 = vec4<f32>(0.0);
    var acc1_2_1 = vec4<f32>(0.0);
    var acc1_3_0 = vec4<f32>(0.0);
    var acc1_3_1 = vec4<f32>(0.0);
    for (var k = 0u; k < 64u; k++) {
      let x0 = x[(min(r0, rows - 1u)) * 64u + (k)] * W0_W1_norm_w[41024u + (k)];
      let x1 = x[(min(r0 + 1u, rows - 1u)) * 64u + (k)] * W0_W1_norm_w[41024u + (k)];
      let x2 = x[(min(r0 + 2u, rows - 1u)) * 64u + (k)] * W0_W1_norm_w[41024u + (k)];
      let x3 = x[(min(r0 + 3u, rows - 1u)) * 64u + (k)] * W0_W1_norm_w[41024u + (k)];
      let w0_0 = W0_W1_norm_w[41088u + ((min(c0, 1022u)) / 4u * 64u + (k)) * 4u + (min(c0, 1022u)) % 4u];
      acc0_0_0 = fma(x0, w0_0, acc0_0_0);
      acc0_1_0 = fma(x1, w0_0, acc0_1_0);
      acc0_2_0 = fma(x2, w0_0, acc0_2_0);
      acc0_3_0 = fma(x3, w0_0, acc0_3_0);
      let w0_1 = W0_W1_norm_w[41088u + ((min(c0, 1022u) + 1u) / 4u * 64u + (k)) * 4u + (min(c0, 1022u) + 1u) % 4u];
      acc0_0_1 = fma(x0, w0_1, acc0_0_1);
      acc0_1_1 = fma(x1, w0_1, acc0_1_1);
      acc0_2_1 = fma(x2, w0_1, acc0_2_1);
      acc0_3_1 = fma(x3, w0_1, acc0_3_1);
      let w1_0 = W0_W1_norm_w[106624u + ((min(c0, 1022u)) / 4u * 64u + (k)) * 4u + (min(c0, 1022u)) % 4u];
      acc1_0_0 = fma(x0, w1_0, acc1_0_0);
      acc1_1_0 = fma(x1, w1_0, acc1_1_0);
      acc1_2_0 = fma(x2, w1_0, acc1_2_0);
      acc1_3_0 = fma(x3, w1_0, acc1_3_0);
      let w1_1 = W0_W1_norm_w[106624u + ((min(c0, 1022u) + 1u) / 4u * 64u + (k)) * 4u + (min(c0, 1022u) + 1u) % 4u];
      acc1_0_1 = fma(x0, w1_1, acc1_0_1);
      acc1_1_1 = fma(x1, w1_1, acc1_1_1);
      acc1_2_1 = fma(x2, w1_1, acc1_2_1);
      acc1_3_1 = fma(x3, w1_1, acc1_3_1);
    }
    {
      let r = r0;
      let c = c0;
      if (r < rows && c < 1024u) { y[(r) * 1024u + (c)] = silu(dot(acc0_0_0, vec4<f32>(1.0)) * inv0[0u]) * dot(acc1_0_0, vec4<f32>(1.0)) * inv0[0u]; }
    }
    {
      let r = r0;
      let c = c0 + 1u;
      if (r < rows && c < 1024u) { y[(r) * 1024u + (c)] = silu(dot(acc0_0_1, vec4<f32>(1.0)) * inv0[0u]) * dot(acc1_0_1, vec4<f32>(1.0)) * inv0[0u]; }
    }
    {
      let r = r0 + 1u;
      let c = c0;
      if (r < rows && c < 1024u) { y[(r) * 1024u + (c)] = silu(dot(acc0_1_0, vec4<f32>(1.0)) * inv1[0u]) * dot(acc1_1_0, vec4<f32>(1.0)) * inv1[0u]; }
    }
    {
      let r = r0 + 1u;
      let c = c0 + 1u;
      if (r < rows && c < 1024u) { y[(r) * 1024u + (c)] = silu(dot(acc0_1_1, vec4<f32>(1.0)) * inv1[0u]) * dot(acc1_1_1, vec4<f32>(1.0)) * inv1[0u]; }
    }
    {
      let r = r0 + 2u;
      let c = c0;
      if (r < rows && c < 1024u) { y[(r) * 1024u + (c)] = silu(dot(acc0_2_0, vec4<f32>(1.0)) * inv2[0u]) * dot(acc1_2_0, vec4<f32>(1.0)) * inv2[0u]; }
    }
    {
      let r = r0 + 2u;
      let c = c0 + 1u;
      if (r < rows && c < 1024u) { y[(r) * 1024u + (c)] = silu(dot(acc0_2_1, vec4<f32>(1.0)) * inv2[0u]) * dot(acc1_2_1, vec4<f32>(1.0)) * inv2[0u]; }
    }
    {
      let r = r0 + 3u;
      let c = c0;
      if (r < rows && c < 1024u) { y[(r) * 1024u + (c)] = silu(dot(acc0_3_0, vec4<f32>(1.0)) * inv3[0u]) * dot(acc1_3_0, vec4<f32>(1.0)) * inv3[0u]; }
    }
    {
      let r = r0 + 3u;
      let c = c0 + 1u;
      if (r < rows && c < 1024u) { y[(r) * 1024u + (c)] = silu(dot(acc0_3_1, vec4<f32>(1.0)) * inv3[0u]) * dot(acc1_3_1, vec4<f32>(1.0)) * inv3[0u]; }
    }
  }
}
