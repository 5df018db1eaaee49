// kernel layers.1.self_attn.q_proj+k_proj+v_proj: fused_linear {weights=3, prologue="rmsnorm", eps=0.00001, normGroup=256, bias=false, activation="none", residual=false}
//
// z_i[r, o] = sum_k xn[r, k] * W_i[o, k]   (i < 3)
// y[r, :] = [z_1 | ... | z_n]
// xn[r, k] = x[r, k] / sqrt(mean of x[r, :]^2 over the group of 256 channels holding k + eps) * norm_w[k],  eps = 0.00001
// column segments (start, width, weights): (0, 256, W0), (256, 64, W1), (320, 64, W2)
//
// operands (element [i, j] is buffer[offset + i * stride0 + j * stride1]):
//   x      [1,256], strides [256, 1] in %124#0
//   W0     [256,256] at offset 256, strides [256, 1], rows in quads of 16-byte units in weight:model.layers.1
//   W1     [64,256] at offset 65792, strides [256, 1], rows in quads of 16-byte units in weight:model.layers.1
//   W2     [64,256] at offset 82176, strides [256, 1], rows in quads of 16-byte units in weight:model.layers.1
//   norm_w [256], strides [1] in weight:model.layers.1
//   y      [1,384], strides [384, 1] in %125#0 (written)
//
// threads:
//   invocation: a 1 x 4 register tile of one segment (rows r0 = 1 * rt.., cols 4 * lt..), walking K = 256 in vec4 steps
//   workgroup: 64 col tiles x 1 row tiles (64 invocations); xn of its 1 rows in workgroup memory (1280 bytes with the reduction's)
//   grid: 2 workgroups (flat wg = row block * 2 + col block); 96 col tiles in all
//   the workgroup normalizes its rows once: per row and group, 64 invocations stride over K, a tree reduction sums the statistics, xn goes to workgroup memory; then a barrier
//   edge tiles clamp their loads and skip their stores
//
// from: samba-style.hyb:9:3, samba-style.hyb:12:28

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> W0_W1_W2_norm_w: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

var<workgroup> xs: array<vec4<f32>, 64u>;

var<workgroup> red: array<f32, 64u>;

fn reduce(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var h = 32u; h > 0u; h = h >> 1u) {
    if (lid < h) { red[lid] += red[lid + h]; }
    workgroupBarrier();
  }
  let r = red[0u];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let wg = wid.x + wid.y * nwg.x;
  let ct = (wg % 2u) * 64u + lid % 64u;
  let rt = (wg / 2u) * 1u + lid / 64u;
  let r0 = rt * 1u;
  let rows = 1u;
  {
    let r = min(r0, rows - 1u);
    for (var g = 0u; g < 1u; g++) {
      var s = vec4<f32>(0.0);
      for (var k = g * 64u + lid; k < (g + 1u) * 64u; k += 64u) {
        let v = x[(k)];
        s = fma(v, v, s);
      }
      let inv = inverseSqrt(reduce(dot(s, vec4<f32>(1.0)), lid) / 256.0 + 0.00001);
      for (var k = g * 64u + lid; k < (g + 1u) * 64u; k += 64u) {
        xs[k] = x[(k)] * inv * W0_W1_W2_norm_w[(k)];
      }
    }
  }
  workgroupBarrier();
  if (r0 >= rows || ct >= 96u) { return; }
  if (ct < 64u) {
    let lt = ct;
    let c0 = lt * 4u;
    var acc0_0_0 = f32(0.0);
    var acc0_0_1 = f32(0.0);
    var acc0_0_2 = f32(0.0);
    var acc0_0_3 = f32(0.0);
    for (var k = 0u; k < 64u; k++) {
      let x0 = xs[k];
      let w0_0 = W0_W1_W2_norm_w[64u + ((min(c0, 252u)) / 4u * 64u + (k)) * 4u + (min(c0, 252u)) % 4u];
      acc0_0_0 += dot(x0, w0_0);
      let w0_1 = W0_W1_W2_norm_w[64u + ((min(c0, 252u) + 1u) / 4u * 64u + (k)) * 4u + (min(c0, 252u) + 1u) % 4u];
      acc0_0_1 += dot(x0, w0_1);
      let w0_2 = W0_W1_W2_norm_w[64u + ((min(c0, 252u) + 2u) / 4u * 64u + (k)) * 4u + (min(c0, 252u) + 2u) % 4u];
      acc0_0_2 += dot(x0, w0_2);
      let w0_3 = W0_W1_W2_norm_w[64u + ((min(c0, 252u) + 3u) / 4u * 64u + (k)) * 4u + (min(c0, 252u) + 3u) % 4u];
      acc0_0_3 += dot(x0, w0_3);
    }
    {
      let r = r0;
      let c = c0;
      if (r < rows && c < 256u) { y[(c)] = acc0_0_0; }
    }
    {
      let r = r0;
      let c = c0 + 1u;
      if (r < rows && c < 256u) { y[(c)] = acc0_0_1; }
    }
    {
      let r = r0;
      let c = c0 + 2u;
      if (r < rows && c < 256u) { y[(c)] = acc0_0_2; }
    }
    {
      let r = r0;
      let c = c0 + 3u;
      if (r < rows && c < 256u) { y[(c)] = acc0_0_3; }
    }
  }
  else if (ct < 80u) {
    let lt = ct - 64u;
    let c0 = lt * 4u;
    var acc0_0_0 = f32(0.0);
    var acc0_0_1 = f32(0.0);
    var acc0_0_2 = f32(0.0);
    var acc0_0_3 = f32(0.0);
    for (var k = 0u; k < 64u; k++) {
      let x0 = xs[k];
      let w0_0 = W0_W1_W2_norm_w[16448u + ((min(c0, 60u)) / 4u * 64u + (k)) * 4u + (min(c0, 60u)) % 4u];
      acc0_0_0 += dot(x0, w0_0);
      let w0_1 = W0_W1_W2_norm_w[16448u + ((min(c0, 60u) + 1u) / 4u * 64u + (k)) * 4u + (min(c0, 60u) + 1u) % 4u];
      acc0_0_1 += dot(x0, w0_1);
      let w0_2 = W0_W1_W2_norm_w[16448u + ((min(c0, 60u) + 2u) / 4u * 64u + (k)) * 4u + (min(c0, 60u) + 2u) % 4u];
      acc0_0_2 += dot(x0, w0_2);
      let w0_3 = W0_W1_W2_norm_w[16448u + ((min(c0, 60u) + 3u) / 4u * 64u + (k)) * 4u + (min(c0, 60u) + 3u) % 4u];
      acc0_0_3 += dot(x0, w0_3);
    }
    {
      let r = r0;
      let c = c0;
      if (r < rows && c < 64u) { y[(c + 256u)] = acc0_0_0; }
    }
    {
      let r = r0;
      let c = c0 + 1u;
      if (r < rows && c < 64u) { y[(c + 256u)] = acc0_0_1; }
    }
    {
      let r = r0;
      let c = c0 + 2u;
      if (r < rows && c < 64u) { y[(c + 256u)] = acc0_0_2; }
    }
    {
      let r = r0;
      let c = c0 + 3u;
      if (r < rows && c < 64u) { y[(c + 256u)] = acc0_0_3; }
    }
  }
  else {
    let lt = ct - 80u;
    let c0 = lt * 4u;
    var acc0_0_0 = f32(0.0);
    var acc0_0_1 = f32(0.0);
    var acc0_0_2 = f32(0.0);
    var acc0_0_3 = f32(0.0);
    for (var k = 0u; k < 64u; k++) {
      let x0 = xs[k];
      let w0_0 = W0_W1_W2_norm_w[20544u + ((min(c0, 60u)) / 4u * 64u + (k)) * 4u + (min(c0, 60u)) % 4u];
      acc0_0_0 += dot(x0, w0_0);
      let w0_1 = W0_W1_W2_norm_w[20544u + ((min(c0, 60u) + 1u) / 4u * 64u + (k)) * 4u + (min(c0, 60u) + 1u) % 4u];
      acc0_0_1 += dot(x0, w0_1);
      let w0_2 = W0_W1_W2_norm_w[20544u + ((min(c0, 60u) + 2u) / 4u * 64u + (k)) * 4u + (min(c0, 60u) + 2u) % 4u];
      acc0_0_2 += dot(x0, w0_2);
      let w0_3 = W0_W1_W2_norm_w[20544u + ((min(c0, 60u) + 3u) / 4u * 64u + (k)) * 4u + (min(c0, 60u) + 3u) % 4u];
      acc0_0_3 += dot(x0, w0_3);
    }
    {
      let r = r0;
      let c = c0;
      if (r < rows && c < 64u) { y[(c + 320u)] = acc0_0_0; }
    }
    {
      let r = r0;
      let c = c0 + 1u;
      if (r < rows && c < 64u) { y[(c + 320u)] = acc0_0_1; }
    }
    {
      let r = r0;
      let c = c0 + 2u;
      if (r < rows && c < 64u) { y[(c + 320u)] = acc0_0_2; }
    }
    {
      let r = r0;
      let c = c0 + 3u;
      if (r < rows && c < 64u) { y[(c + 320u)] = acc0_0_3; }
    }
  }
}
