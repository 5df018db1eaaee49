// kernel layers.10.feed_forward.gate_proj+up_proj: fused_linear {weights=2, prologue="rmsnorm", eps=0.00001, normGroup=256, bias=false, activation="swiglu", residual=false}
//
// z_i[r, o] = sum_k xn[r, k] * W_i[o, k]   (i < 2)
// y[r, :] = silu(z_1) * z_2
// xn[r, k] = x[r, k] / sqrt(mean of x[r, :]^2 over the group of 256 channels holding k + eps) * norm_w[k],  eps = 0.00001
// column segments (start, width, weights): (0, 512, W0+W1)
//
// operands (element [i, j] is buffer[offset + i * stride0 + j * stride1]):
//   x      [1,256], strides [256, 1] in %388#0
//   W0     [512,256] at offset 438272, strides [256, 1] in weight:model.layers.10
//   W1     [512,256] at offset 569344, strides [256, 1] in weight:model.layers.10
//   norm_w [256] at offset 438016, strides [1] in weight:model.layers.10
//   y      [1,512], strides [512, 1] in %389#0 (written)
//
// threads:
//   cooperative GEMV: 4 lanes per output column walk K = 256 together in vec4 loads, strided by 4 (adjacent lanes, adjacent memory)
//   workgroup: 16 slots x 4 lanes (64 invocations, lid = slot * 4 + lane); a slot owns 2 column(s) of one segment; 1024 bytes of partial sums
//   grid: 16 workgroups; 256 column tiles in all
//   the workgroup normalizes x once: per group, 64 invocations stride over K, a tree reduction sums the statistics, xn goes to workgroup memory; then a barrier
//   after a barrier, one invocation per output sums its column's 4 partials and stores act(z) (edge slots clamp their loads; out-of-range outputs skip the store)
//
// from: jamba-style.hyb:11:3, jamba-style.hyb:13:23

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
      for (var k = g * 64u + lid; k < (g + 1u) * 64u; k += 64u) {
        let v = x[(k)];
        s = fma(v, v, s);
      }
      let inv = inverseSqrt(reduce(dot(s, vec4<f32>(1.0)), lid) / 256.0 + 0.00001);
      for (var k = g * 64u + lid; k < (g + 1u) * 64u; k += 64u) {
        xs[k] = x[(k)] * inv * W0_W1_norm_w[109504u + (k)];
      }
    }
  }
  workgroupBarrier();
  {
    let ct = wg * 16u + slot;
    if (ct < 256u) {
      {
        let lt = ct;
        let c0 = lt * 2u;
        var acc0_0 = vec4<f32>(0.0);
        var acc0_1 = vec4<f32>(0.0);
        var acc1_0 = vec4<f32>(0.0);
        var acc1_1 = vec4<f32>(0.0);
        for (var k = lane; k < 64u; k += 4u) {
          let xk = xs[k];
          let w0_0 = W0_W1_norm_w[109568u + (min(c0, 511u)) * 64u + (k)];
          acc0_0 = fma(xk, w0_0, acc0_0);
          let w0_1 = W0_W1_norm_w[109568u + (min(c0 + 1u, 511u)) * 64u + (k)];
          acc0_1 = fma(xk, w0_1, acc0_1);
          let w1_0 = W0_W1_norm_w[142336u + (min(c0, 511u)) * 64u + (k)];
          acc1_0 = fma(xk, w1_0, acc1_0);
          let w1_1 = W0_W1_norm_w[142336u + (min(c0 + 1u, 511u)) * 64u + (k)];
          acc1_1 = fma(xk, w1_1, acc1_1);
        }
        part[0u + lid] = dot(acc0_0, vec4<f32>(1.0));
        part[64u + lid] = dot(acc0_1, vec4<f32>(1.0));
        part[128u + lid] = dot(acc1_0, vec4<f32>(1.0));
        part[192u + lid] = dot(acc1_1, vec4<f32>(1.0));
      }
    }
  }
  workgroupBarrier();
  for (var f = lid; f < 32u; f += 64u) {
    let ct = wg * 16u + f / 2u;
    let j = f % 2u;
    let at = j * 64u + (f / 2u) * 4u;
    let r = 0u;
    if (ct < 256u) {
      {
        let lt = ct;
        let c = lt * 2u + j;
        if (c < 512u) { y[(c)] = silu(lanes(at)) * lanes(at + 128u); }
      }
    }
  }
}
