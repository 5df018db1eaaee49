// kernel layers.11.feed_forward.gate_proj+up_proj: fused_linear {weights=2, prologue="rmsnorm", eps=0.00001, normGroup=256, bias=false, activation="swiglu", residual=false}
//
// z_i[r, o] = sum_k xn[r, k] * W_i[o, k]   (i < 2)
// y[r, :] = silu(z_1) * z_2
// xn[r, k] = x[r, k] / sqrt(mean of x[r, :]^2 over the group of 256 channels holding k + eps) * norm_w[k],  eps = 0.00001
// column segments (start, width, weights): (0, 768, W0+W1)
//
// operands (element [i, j] is buffer[offset + i * stride0 + j * stride1]):
//   x      [1,256], strides [256, 1] in %340#0
//   W0     [768,256] at offset 164352, strides [256, 1], rows in quads of 16-byte units in weight:model.layers.11
//   W1     [768,256] at offset 360960, strides [256, 1], rows in quads of 16-byte units in weight:model.layers.11
//   norm_w [256] at offset 164096, strides [1] in weight:model.layers.11
//   y      [1,768], strides [768, 1] in %341#0 (written)
//
// threads:
//   invocation: a 1 x 2 register tile of one segment (rows r0 = 1 * rt.., cols 2 * lt..), walking K = 256 in vec4 steps
//   workgroup: 64 col tiles x 1 row tiles (64 invocations); xn of its 1 rows in workgroup memory (1280 bytes with the reduction's)
//   grid: 6 workgroups (flat wg = row block * 6 + col block); 384 col tiles in all
//   the workgroup normalizes its rows once: per row and group, 64 invocations stride over K, a tree reduction sums the statistics, xn goes to workgroup memory; then a barrier
//   edge tiles clamp their loads and skip their stores
//
// from: hybrid-3to1.hyb:10:3, hybrid-3to1.hyb:12:30

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> W0_W1_norm_w: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

fn silu(v: f32) -> f32 {
  return v / (f32(1.0) + exp(-v));
}

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
  let ct = (wg % 6u) * 64u + lid % 64u;
  let rt = (wg / 6u) * 1u + lid / 64u;
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
        xs[k] = x[(k)] * inv * W0_W1_norm_w[41024u + (k)];
      }
    }
  }
  workgroupBarrier();
  if (r0 >= rows || ct >= 384u) { return; }
  {
    let lt = ct;
    let c0 = lt * 2u;
    var acc0_0_0 = f32(0.0);
    var acc0_0_1 = f32(0.0);
    var acc1_0_0 = f32(0.0);
    var acc1_0_1 = f32(0.0);
    for (var k = 0u; k < 64u; k++) {
      let x0 = xs[k];
      let w0_0 = W0_W1_norm_w[41088u + ((min(c0, 766u)) / 4u * 64u + (k)) * 4u + (min(c0, 766u)) % 4u];
      acc0_0_0 += dot(x0, w0_0);
      let w0_1 = W0_W1_norm_w[41088u + ((min(c0, 766u) + 1u) / 4u * 64u + (k)) * 4u + (min(c0, 766u) + 1u) % 4u];
      acc0_0_1 += dot(x0, w0_1);
      let w1_0 = W0_W1_norm_w[90240u + ((min(c0, 766u)) / 4u * 64u + (k)) * 4u + (min(c0, 766u)) % 4u];
      acc1_0_0 += dot(x0, w1_0);
      let w1_1 = W0_W1_norm_w[90240u + ((min(c0, 766u) + 1u) / 4u * 64u + (k)) * 4u + (min(c0, 766u) + 1u) % 4u];
      acc1_0_1 += dot(x0, w1_1);
    }
    {
      let r = r0;
      let c = c0;
      if (r < rows && c < 768u) { y[(c)] = silu(acc0_0_0) * acc1_0_0; }
    }
    {
      let r = r0;
      let c = c0 + 1u;
      if (r < rows && c < 768u) { y[(c)] = silu(acc0_0_1) * acc1_0_1; }
    }
  }
}
