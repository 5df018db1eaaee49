// kernel layers.3.mamba.conv1d: conv1d_silu_update {bias=true}
//
// xe = cat(state, x) along time (state [C, W] oldest first)
// y[t, c] = silu(bias[c] + sum_k w[c, k] * xe[c, t + 1 + k]),  k < W = 4
// state'[c, j] = xe[c, L + j]  (written in place)
//
// operands (element [i, j] is buffer[offset + i * stride0 + j * stride1]):
//   x     [1,512] at offset 384, strides [908, 1] in %106#0
//   state [512,4], strides [4, 1] in state:layers.3.conv
//   w     [512,4] at offset 174528, strides [4, 1] in weight:model.layers.3
//   bias  [512] at offset 176576, strides [1] in weight:model.layers.3
//   y     [1,512], strides [512, 1] in %111#0 (written)
//   state [512,4], strides [4, 1] in state:layers.3.conv (written)
//
// threads:
//   invocation: 4 channels (vec4) x a chunk of 3 tokens; the last 3 inputs in registers
//   workgroup: 64 channel groups; grid: 2 (flat wg = chunk * 2 + channel block)
//   the chunk-0 invocation of a channel alone reads and writes its state row (race-free in place)
//
// from: kjv-byte.hyb:18:3, kjv-byte.hyb:21:29

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> state: array<f32>;
@group(0) @binding(2) var<storage, read> w_bias: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> y: array<vec4<f32>>;

fn silu(v: vec4<f32>) -> vec4<f32> {
  return v / (vec4<f32>(1.0) + exp(-v));
}

fn xe(j: u32, c: u32, cg: u32) -> vec4<f32> {
  if (j < 4u) { return vec4<f32>(state[(c) * 4u + (j)], state[(c + 1u) * 4u + (j)], state[(c + 2u) * 4u + (j)], state[(c + 3u) * 4u + (j)]); }
  return x[96u + (cg)];
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let wg = wid.x + wid.y * nwg.x;
  let cg = (wg % 2u) * 64u + lid;
  let t0 = (wg / 2u) * 3u;
  let L = 1u;
  if (cg >= 128u || t0 >= L) { return; }
  let c = cg * 4u;
  let w0 = vec4<f32>(w_bias[(174528u + (c) * 4u) / 4u][(174528u + (c) * 4u) % 4u], w_bias[(174528u + (c + 1u) * 4u) / 4u][(174528u + (c + 1u) * 4u) % 4u], w_bias[(174528u + (c + 2u) * 4u) / 4u][(174528u + (c + 2u) * 4u) % 4u], w_bias[(174528u + (c + 3u) * 4u) / 4u][(174528u + (c + 3u) * 4u) % 4u]);
  let w1 = vec4<f32>(w_bias[(174528u + (c) * 4u + (1u)) / 4u][(174528u + (c) * 4u + (1u)) % 4u], w_bias[(174528u + (c + 1u) * 4u + (1u)) / 4u][(174528u + (c + 1u) * 4u + (1u)) % 4u], w_bias[(174528u + (c + 2u) * 4u + (1u)) / 4u][(174528u + (c + 2u) * 4u + (1u)) % 4u], w_bias[(174528u + (c + 3u) * 4u + (1u)) / 4u][(174528u + (c + 3u) * 4u + (1u)) % 4u]);
  let w2 = vec4<f32>(w_bias[(174528u + (c) * 4u + (2u)) / 4u][(174528u + (c) * 4u + (2u)) % 4u], w_bias[(174528u + (c + 1u) * 4u + (2u)) / 4u][(174528u + (c + 1u) * 4u + (2u)) % 4u], w_bias[(174528u + (c + 2u) * 4u + (2u)) / 4u][(174528u + (c + 2u) * 4u + (2u)) % 4u], w_bias[(174528u + (c + 3u) * 4u + (2u)) / 4u][(174528u + (c + 3u) * 4u + (2u)) % 4u]);
  let w3 = vec4<f32>(w_bias[(174528u + (c) * 4u + (3u)) / 4u][(174528u + (c) * 4u + (3u)) % 4u], w_bias[(174528u + (c + 1u) * 4u + (3u)) / 4u][(174528u + (c + 1u) * 4u + (3u)) % 4u], w_bias[(174528u + (c + 2u) * 4u + (3u)) / 4u][(174528u + (c + 2u) * 4u + (3u)) % 4u], w_bias[(174528u + (c + 3u) * 4u + (3u)) / 4u][(174528u + (c + 3u) * 4u + (3u)) % 4u]);
  var win0 = xe(t0 + 1u, c, cg);
  var win1 = xe(t0 + 2u, c, cg);
  var win2 = xe(t0 + 3u, c, cg);
  for (var t = t0; t < min(t0 + 3u, L); t++) {
    let xt = x[96u + (cg)];
    y[(cg)] = silu(fma(w3, xt, fma(w2, win2, fma(w1, win1, fma(w0, win0, w_bias[44144u + (cg)])))));
    win0 = win1;
    win1 = win2;
    win2 = xt;
  }
  if (t0 == 0u) {
    let s0 = xe(L + 0u, c, cg);
    let s1 = xe(L + 1u, c, cg);
    let s2 = xe(L + 2u, c, cg);
    let s3 = xe(L + 3u, c, cg);
    state[(c) * 4u] = s0.x;
    state[(c + 1u) * 4u] = s0.y;
    state[(c + 2u) * 4u] = s0.z;
    state[(c + 3u) * 4u] = s0.w;
    state[(c) * 4u + (1u)] = s1.x;
    state[(c + 1u) * 4u + (1u)] = s1.y;
    state[(c + 2u) * 4u + (1u)] = s1.z;
    state[(c + 3u) * 4u + (1u)] = s1.w;
    state[(c) * 4u + (2u)] = s2.x;
    state[(c + 1u) * 4u + (2u)] = s2.y;
    state[(c + 2u) * 4u + (2u)] = s2.z;
    state[(c + 3u) * 4u + (2u)] = s2.w;
    state[(c) * 4u + (3u)] = s3.x;
    state[(c + 1u) * 4u + (3u)] = s3.y;
    state[(c + 2u) * 4u + (3u)] = s3.z;
    state[(c + 3u) * 4u + (3u)] = s3.w;
  }
}
