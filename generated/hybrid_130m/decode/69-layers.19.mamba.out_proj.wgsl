// kernel layers.19.mamba.out_proj: fused_linear {weights=1, prologue="rmsnorm", eps=0.00001, normGroup=1536, bias=false, activation="none", residual=true}
//
// z_i[r, o] = sum_k xn[r, k] * W_i[o, k]   (i < 1)
// y[r, :] = [z_1 | ... | z_n] + residual[r, :]
// xn[r, k] = x[r, k] / sqrt(mean of x[r, :]^2 over the group of 1536 channels holding k + eps) * norm_w[k],  eps = 0.00001
// column segments (start, width, weights): (0, 768, W)
//
// operands (element [i, j] is buffer[offset + i * stride0 + j * stride1]):
//   x        [1,1536], strides [1536, 1] in %548#0
//   W        [768,1536] at offset 2585792, strides [1536, 1], rows in quads of 16-byte units in weight:model.layers.19
//   norm_w   [1536] at offset 2584256, strides [1] in weight:model.layers.19
//   residual [1,768], strides [768, 1] in %535#0
//   y        [1,768], strides [768, 1] in %550#0 (written)
//
// threads:
//   invocation: a 1 x 4 register tile of one segment (rows r0 = 1 * rt.., cols 4 * lt..), walking K = 1536 in vec4 steps
//   workgroup: 64 col tiles x 1 row tiles (64 invocations); xn of its 1 rows in workgroup memory (6400 bytes with the reduction's)
//   grid: 3 workgroups (flat wg = row block * 3 + col block); 192 col tiles in all
//   the workgroup normalizes its rows once: per row and group, 64 invocations stride over K, a tree reduction sums the statistics, xn goes to workgroup memory; then a barrier
//   edge tiles clamp their loads and skip their stores
//
// from: hybrid-130m.hyb:8:3, hybrid-130m.hyb:12:17

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> W_norm_w: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> residual: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

var<workgroup> xs: array<vec4<f32>, 384u>;

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
  let ct = (wg % 3u) * 64u + lid % 64u;
  let rt = (wg / 3u) * 1u + lid / 64u;
  let r0 = rt * 1u;
  let rows = 1u;
  {
    let r = min(r0, rows - 1u);
    for (var g = 0u; g < 1u; g++) {
      var s = vec4<f32>(0.0);
      for (var k = g * 384u + lid; k < (g + 1u) * 384u; k += 64u) {
        let v = x[(k)];
        s = fma(v, v, s);
      }
      let inv = inverseSqrt(reduce(dot(s, vec4<f32>(1.0)), lid) / 1536.0 + 0.00001);
      for (var k = g * 384u + lid; k < (g + 1u) * 384u; k += 64u) {
        xs[k] = x[(k)] * inv * W_norm_w[646064u + (k)];
      }
    }
  }
  workgroupBarrier();
  if (r0 >= rows || ct >= 192u) { return; }
  {
    let lt = ct;
    let c0 = lt * 4u;
    var acc0_0_0 = f32(0.0);
    var acc0_0_1 = f32(0.0);
    var acc0_0_2 = f32(0.0);
    var acc0_0_3 = f32(0.0);
    for (var k = 0u; k < 384u; k++) {
      let x0 = xs[k];
      let w0_0 = W_norm_w[646448u + ((min(c0, 764u)) / 4u * 384u + (k)) * 4u + (min(c0, 764u)) % 4u];
      acc0_0_0 += dot(x0, w0_0);
      let w0_1 = W_norm_w[646448u + ((min(c0, 764u) + 1u) / 4u * 384u + (k)) * 4u + (min(c0, 764u) + 1u) % 4u];
      acc0_0_1 += dot(x0, w0_1);
      let w0_2 = W_norm_w[646448u + ((min(c0, 764u) + 2u) / 4u * 384u + (k)) * 4u + (min(c0, 764u) + 2u) % 4u];
      acc0_0_2 += dot(x0, w0_2);
      let w0_3 = W_norm_w[646448u + ((min(c0, 764u) + 3u) / 4u * 384u + (k)) * 4u + (min(c0, 764u) + 3u) % 4u];
      acc0_0_3 += dot(x0, w0_3);
    }
    {
      let r = r0;
      let c = c0;
      if (r < rows && c < 768u) { y[(c)] = acc0_0_0 + residual[(c)]; }
    }
    {
      let r = r0;
      let c = c0 + 1u;
      if (r < rows && c < 768u) { y[(c)] = acc0_0_1 + residual[(c)]; }
    }
    {
      let r = r0;
      let c = c0 + 2u;
      if (r < rows && c < 768u) { y[(c)] = acc0_0_2 + residual[(c)]; }
    }
    {
      let r = r0;
      let c = c0 + 3u;
      if (r < rows && c < 768u) { y[(c)] = acc0_0_3 + residual[(c)]; }
    }
  }
}
