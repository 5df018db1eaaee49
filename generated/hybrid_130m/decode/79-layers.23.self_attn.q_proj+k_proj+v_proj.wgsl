// kernel layers.23.self_attn.q_proj+k_proj+v_proj: fused_linear {weights=3, prologue="rmsnorm", eps=0.00001, normGroup=768, bias=false, activation="none", residual=false}
//
// z_i[r, o] = sum_k xn[r, k] * W_i[o, k]   (i < 3)
// y[r, :] = [z_1 | ... | z_n]
// xn[r, k] = x[r, k] / sqrt(mean of x[r, :]^2 over the group of 768 channels holding k + eps) * norm_w[k],  eps = 0.00001
// column segments (start, width, weights): (0, 768, W0), (768, 256, W1), (1024, 256, W2)
//
// operands (element [i, j] is buffer[offset + i * stride0 + j * stride1]):
//   x      [1,768], strides [768, 1] in %595#0
//   W0     [768,768] at offset 768, strides [768, 1], rows in quads of 16-byte units in weight:model.layers.23
//   W1     [256,768] at offset 590592, strides [768, 1], rows in quads of 16-byte units in weight:model.layers.23
//   W2     [256,768] at offset 787200, strides [768, 1], rows in quads of 16-byte units in weight:model.layers.23
//   norm_w [768], strides [1] in weight:model.layers.23
//   y      [1,1280], strides [1280, 1] in %596#0 (written)
//
// threads:
//   invocation: a 1 x 4 register tile of one segment (rows r0 = 1 * rt.., cols 4 * lt..), walking K = 768 in vec4 steps
//   workgroup: 64 col tiles x 1 row tiles (64 invocations); xn of its 1 rows in workgroup memory (3328 bytes with the reduction's)
//   grid: 5 workgroups (flat wg = row block * 5 + col block); 320 col tiles in all
//   the workgroup normalizes its rows once: per row and group, 64 invocations stride over K, a tree reduction sums the statistics, xn goes to workgroup memory; then a barrier
//   edge tiles clamp their loads and skip their stores
//
// from: hybrid-130m.hyb:9:3, hybrid-130m.hyb:12:23

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> W0_W1_W2_norm_w: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

var<workgroup> xs: array<vec4<f32>, 192u>;

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
  let ct = (wg % 5u) * 64u + lid % 64u;
  let rt = (wg / 5u) * 1u + lid / 64u;
  let r0 = rt * 1u;
  let rows = 1u;
  {
    let r = min(r0, rows - 1u);
    for (var g = 0u; g < 1u; g++) {
      var s = vec4<f32>(0.0);
      for (var k = g * 192u + lid; k < (g + 1u) * 192u; k += 64u) {
        let v = x[(k)];
        s = fma(v, v, s);
      }
      let inv = inverseSqrt(reduce(dot(s, vec4<f32>(1.0)), lid) / 768.0 + 0.00001);
      for (var k = g * 192u + lid; k < (g + 1u) * 192u; k += 64u) {
        xs[k] = x[(k)] * inv * W0_W1_W2_norm_w[(k)];
      }
    }
  }
  workgroupBarrier();
  if (r0 >= rows || ct >= 320u) { return; }
  if (ct < 192u) {
    let lt = ct;
    let c0 = lt * 4u;
    var acc0_0_0 = f32(0.0);
    var acc0_0_1 = f32(0.0);
    var acc0_0_2 = f32(0.0);
    var acc0_0_3 = f32(0.0);
    for (var k = 0u; k < 192u; k++) {
      let x0 = xs[k];
      let w0_0 = W0_W1_W2_norm_w[192u + ((min(c0, 764u)) / 4u * 192u + (k)) * 4u + (min(c0, 764u)) % 4u];
      acc0_0_0 += dot(x0, w0_0);
      let w0_1 = W0_W1_W2_norm_w[192u + ((min(c0, 764u) + 1u) / 4u * 192u + (k)) * 4u + (min(c0, 764u) + 1u) % 4u];
      acc0_0_1 += dot(x0, w0_1);
      let w0_2 = W0_W1_W2_norm_w[192u + ((min(c0, 764u) + 2u) / 4u * 192u + (k)) * 4u + (min(c0, 764u) + 2u) % 4u];
      acc0_0_2 += dot(x0, w0_2);
      let w0_3 = W0_W1_W2_norm_w[192u + ((min(c0, 764u) + 3u) / 4u * 192u + (k)) * 4u + (min(c0, 764u) + 3u) % 4u];
      acc0_0_3 += dot(x0, w0_3);
    }
    {
      let r = r0;
      let c = c0;
      if (r < rows && c < 768u) { y[(c)] = acc0_0_0; }
    }
    {
      let r = r0;
      let c = c0 + 1u;
      if (r < rows && c < 768u) { y[(c)] = acc0_0_1; }
    }
    {
      let r = r0;
      let c = c0 + 2u;
      if (r < rows && c < 768u) { y[(c)] = acc0_0_2; }
    }
    {
      let r = r0;
      let c = c0 + 3u;
      if (r < rows && c < 768u) { y[(c)] = acc0_0_3; }
    }
  }
  else if (ct < 256u) {
    let lt = ct - 192u;
    let c0 = lt * 4u;
    var acc0_0_0 = f32(0.0);
    var acc0_0_1 = f32(0.0);
    var acc0_0_2 = f32(0.0);
    var acc0_0_3 = f32(0.0);
    for (var k = 0u; k < 192u; k++) {
      let x0 = xs[k];
      let w0_0 = W0_W1_W2_norm_w[147648u + ((min(c0, 252u)) / 4u * 192u + (k)) * 4u + (min(c0, 252u)) % 4u];
      acc0_0_0 += dot(x0, w0_0);
      let w0_1 = W0_W1_W2_norm_w[147648u + ((min(c0, 252u) + 1u) / 4u * 192u + (k)) * 4u + (min(c0, 252u) + 1u) % 4u];
      acc0_0_1 += dot(x0, w0_1);
      let w0_2 = W0_W1_W2_norm_w[147648u + ((min(c0, 252u) + 2u) / 4u * 192u + (k)) * 4u + (min(c0, 252u) + 2u) % 4u];
      acc0_0_2 += dot(x0, w0_2);
      let w0_3 = W0_W1_W2_norm_w[147648u + ((min(c0, 252u) + 3u) / 4u * 192u + (k)) * 4u + (min(c0, 252u) + 3u) % 4u];
      acc0_0_3 += dot(x0, w0_3);
    }
    {
      let r = r0;
      let c = c0;
      if (r < rows && c < 256u) { y[(c + 768u)] = acc0_0_0; }
    }
    {
      let r = r0;
      let c = c0 + 1u;
      if (r < rows && c < 256u) { y[(c + 768u)] = acc0_0_1; }
    }
    {
      let r = r0;
      let c = c0 + 2u;
      if (r < rows && c < 256u) { y[(c + 768u)] = acc0_0_2; }
    }
    {
      let r = r0;
      let c = c0 + 3u;
      if (r < rows && c < 256u) { y[(c + 768u)] = acc0_0_3; }
    }
  }
  else {
    let lt = ct - 256u;
    let c0 = lt * 4u;
    var acc0_0_0 = f32(0.0);
    var acc0_0_1 = f32(0.0);
    var acc0_0_2 = f32(0.0);
    var acc0_0_3 = f32(0.0);
    for (var k = 0u; k < 192u; k++) {
      let x0 = xs[k];
      let w0_0 = W0_W1_W2_norm_w[196800u + ((min(c0, 252u)) / 4u * 192u + (k)) * 4u + (min(c0, 252u)) % 4u];
      acc0_0_0 += dot(x0, w0_0);
      let w0_1 = W0_W1_W2_norm_w[196800u + ((min(c0, 252u) + 1u) / 4u * 192u + (k)) * 4u + (min(c0, 252u) + 1u) % 4u];
      acc0_0_1 += dot(x0, w0_1);
      let w0_2 = W0_W1_W2_norm_w[196800u + ((min(c0, 252u) + 2u) / 4u * 192u + (k)) * 4u + (min(c0, 252u) + 2u) % 4u];
      acc0_0_2 += dot(x0, w0_2);
      let w0_3 = W0_W1_W2_norm_w[196800u + ((min(c0, 252u) + 3u) / 4u * 192u + (k)) * 4u + (min(c0, 252u) + 3u) % 4u];
      acc0_0_3 += dot(x0, w0_3);
    }
    {
      let r = r0;
      let c = c0;
      if (r < rows && c < 256u) { y[(c + 1024u)] = acc0_0_0; }
    }
    {
      let r = r0;
      let c = c0 + 1u;
      if (r < rows && c < 256u) { y[(c + 1024u)] = acc0_0_1; }
    }
    {
      let r = r0;
      let c = c0 + 2u;
      if (r < rows && c < 256u) { y[(c + 1024u)] = acc0_0_2; }
    }
    {
      let r = r0;
      let c = c0 + 3u;
      if (r < rows && c < 256u) { y[(c + 1024u)] = acc0_0_3; }
    }
  }
}
