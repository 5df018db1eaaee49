// kernel layers.3.mixer.in_proj: fused_linear {weights=1, prologue="rmsnorm", eps=0.00001, normGroup=512, bias=false, activation="none", residual=false}
//
// z_i[r, o] = sum_k xn[r, k] * W_i[o, k]   (i < 1)
// y[r, :] = [z_1 | ... | z_n]
// xn[r, k] = x[r, k] / sqrt(mean of x[r, :]^2 over the group of 512 channels holding k + eps) * norm_w[k],  eps = 0.00001
// column segments (start, width, weights): (0, 2048, W)
//
// operands (element [i, j] is buffer[offset + i * stride0 + j * stride1]):
//   x      [1,512], strides [512, 1] in %181#0
//   W      [2048,512] at offset 512, strides [512, 1] in weight:backbone.layers.3
//   norm_w [512], strides [1] in weight:backbone.layers.3
//   y      [1,2048], strides [2048, 1] in %182#0 (written)
//
// threads:
//   cooperative GEMV: 4 lanes per output column walk K = 512 together in vec4 loads, strided by 4 (adjacent lanes, adjacent memory)
//   workgroup: 16 slots x 4 lanes (64 invocations, lid = slot * 4 + lane); a slot owns 4 column(s) of one segment; 1024 bytes of partial sums
//   grid: 32 workgroups; 512 column tiles in all
//   the workgroup normalizes x once: per group, 64 invocations stride over K, a tree reduction sums the statistics, xn goes to workgroup memory; then a barrier
//   after a barrier, one invocation per output sums its column's 4 partials and stores act(z) (edge slots clamp their loads; out-of-range outputs skip the store)
//
// from: mamba-byte.hyb:9:3, mamba-byte.hyb:11:17

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> W_norm_w: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

var<workgroup> xs: array<vec4<f32>, 128u>;

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

var<workgroup> part: array<f32, 256u>;

fn lanes(at: u32) -> f32 {
  var s = 0.0;
  for (var l = 0u; l < 4u; l++) { s += part[at + l]; }
  return s;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let wg = wid.x + wid.y * nwg.x;
  let slot = lid / 4u;
  let lane = lid % 4u;
  let r0 = 0u;
  let rows = 1u;
  {
    let r = min(r0, rows - 1u);
    for (var g = 0u; g < 1u; g++) {
      var s = vec4<f32>(0.0);
      for (var k = g * 128u + lid; k < (g + 1u) * 128u; k += 64u) {
        let v = x[(k)];
        s = fma(v, v, s);
      }
      let inv = inverseSqrt(reduce(dot(s, vec4<f32>(1.0)), lid) / 512.0 + 0.00001);
      for (var k = g * 128u + lid; k < (g + 1u) * 128u; k += 64u) {
        xs[k] = x[(k)] * inv * W_norm_w[(k)];
      }
    }
  }
  workgroupBarrier();
  {
    let ct = wg * 16u + slot;
    if (ct < 512u) {
      {
        let lt = ct;
        let c0 = lt * 4u;
        var acc0_0 = vec4<f32>(0.0);
        var acc0_1 = vec4<f32>(0.0);
        var acc0_2 = vec4<f32>(0.0);
        var acc0_3 = vec4<f32>(0.0);
        for (var k = lane; k < 128u; k += 4u) {
          let xk = xs[k];
          let w0_0 = W_norm_w[128u + (min(c0, 2047u)) * 128u + (k)];
          acc0_0 = fma(xk, w0_0, acc0_0);
          let w0_1 = W_norm_w[128u + (min(c0 + 1u, 2047u)) * 128u + (k)];
          acc0_1 = fma(xk, w0_1, acc0_1);
          let w0_2 = W_norm_w[128u + (min(c0 + 2u, 2047u)) * 128u + (k)];
          acc0_2 = fma(xk, w0_2, acc0_2);
          let w0_3 = W_norm_w[128u + (min(c0 + 3u, 2047u)) * 128u + (k)];
          acc0_3 = fma(xk, w0_3, acc0_3);
        }
        part[0u + lid] = dot(acc0_0, vec4<f32>(1.0));
        part[64u + lid] = dot(acc0_1, vec4<f32>(1.0));
        part[128u + lid] = dot(acc0_2, vec4<f32>(1.0));
        part[192u + lid] = dot(acc0_3, vec4<f32>(1.0));
      }
    }
  }
  workgroupBarrier();
  for (var f = lid; f < 64u; f += 64u) {
    let ct = wg * 16u + f / 4u;
    let j = f % 4u;
    let at = j * 64u + (f / 4u) * 4u;
    let r = 0u;
    if (ct < 512u) {
      {
        let lt = ct;
        let c = lt * 4u + j;
        if (c < 2048u) { y[(c)] = lanes(at); }
      }
    }
  }
}
