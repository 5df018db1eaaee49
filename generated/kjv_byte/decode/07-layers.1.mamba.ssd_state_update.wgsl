// kernel layers.1.mamba.ssd_state_update: ssd_state_update {epilogue="gate", normGroup=null, eps=null}
//
// dt_t = softplus(dt[t, h] + dt_bias[h]),  A = -exp(A_log[h]),  g = h / (H / G)
// s[h, p, :] = exp(dt_t * A) * s[h, p, :] + (dt_t * x[t, h, p]) * B[t, g, :]
// y[t, h, p] = sum_n s[h, p, n] * C[t, g, n] + D[h] * x[t, h, p];  s written back after the last t (in place)
// out = y * silu(z[t, h, p])
//
// operands (element [i, j] is buffer[offset + i * stride0 + j * stride1]):
//   x       [1,12,32], strides [384, 32, 1] in %88#0
//   dt      [1,12] at offset 896, strides [908, 1] in %83#0
//   A_log   [12] at offset 177152, strides [1] in weight:model.layers.1
//   B       [1,1,64] at offset 384, strides [64, 64, 1] in %88#0
//   C       [1,1,64] at offset 448, strides [64, 64, 1] in %88#0
//   D       [12] at offset 177216, strides [1] in weight:model.layers.1
//   dt_bias [12] at offset 177088, strides [1] in weight:model.layers.1
//   state   [12,32,64], strides [2048, 64, 1] in state:layers.1.ssm
//   z       [1,12,32], strides [384, 32, 1] in %83#0
//   y       [1,12,32], strides [384, 32, 1] in %96#0 (written)
//   state   [12,32,64], strides [2048, 64, 1] in state:layers.1.ssm (written)
//
// threads:
//   invocation: one (head, p) row, all 1 time steps; the row's state in 16 vec4<f32> registers, N loop unrolled (d_state = 64)
//   workgroup: 64 rows; grid: 6 workgroups (H * P = 12 * 32)
//
// from: kjv-byte.hyb:18:3, kjv-byte.hyb:21:18

@group(0) @binding(0) var<storage, read> x_B_C: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> dt_z: array<f32>;
@group(0) @binding(2) var<storage, read> A_log_D_dt_bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> state: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

fn silu(v: f32) -> f32 {
  return v / (f32(1.0) + exp(-v));
}

fn softplus(v: f32) -> f32 {
  if (v > 20.0) { return v; }
  let e = exp(v);
  let u = 1.0 + e;
  if (u == 1.0) { return e; }
  return log(u) * (e / (u - 1.0));
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let wg = wid.x + wid.y * nwg.x;
  let r = wg * 64u + lid;
  if (r >= 384u) { return; }
  let hi = r / 32u;
  let pi = r % 32u;
  let a_h = -exp(A_log_D_dt_bias[177152u + (hi)]);
  let dt_b = A_log_D_dt_bias[177088u + (hi)];
  let d_h = A_log_D_dt_bias[177216u + (hi)];
  let gi = hi / 12u;
  let L = 1u;
  var s0 = state[(hi) * 512u + (pi) * 16u];
  var s1 = state[(hi) * 512u + (pi) * 16u + (1u)];
  var s2 = state[(hi) * 512u + (pi) * 16u + (2u)];
  var s3 = state[(hi) * 512u + (pi) * 16u + (3u)];
  var s4 = state[(hi) * 512u + (pi) * 16u + (4u)];
  var s5 = state[(hi) * 512u + (pi) * 16u + (5u)];
  var s6 = state[(hi) * 512u + (pi) * 16u + (6u)];
  var s7 = state[(hi) * 512u + (pi) * 16u + (7u)];
  var s8 = state[(hi) * 512u + (pi) * 16u + (8u)];
  var s9 = state[(hi) * 512u + (pi) * 16u + (9u)];
  var s10 = state[(hi) * 512u + (pi) * 16u + (10u)];
  var s11 = state[(hi) * 512u + (pi) * 16u + (11u)];
  var s12 = state[(hi) * 512u + (pi) * 16u + (12u)];
  var s13 = state[(hi) * 512u + (pi) * 16u + (13u)];
  var s14 = state[(hi) * 512u + (pi) * 16u + (14u)];
  var s15 = state[(hi) * 512u + (pi) * 16u + (15u)];
  for (var t = 0u; t < L; t++) {
    let dtv = softplus(dt_z[896u + (hi)] + dt_b);
    let dA = exp(dtv * a_h);
    let xv = x_B_C[((hi) * 32u + (pi)) / 4u][((hi) * 32u + (pi)) % 4u];
    let dx = dtv * xv;
    var acc = vec4<f32>(0.0);
    s0 = fma(vec4<f32>(dA), s0, dx * x_B_C[96u]);
    acc = fma(s0, x_B_C[112u], acc);
    s1 = fma(vec4<f32>(dA), s1, dx * x_B_C[96u + (1u)]);
    acc = fma(s1, x_B_C[112u + (1u)], acc);
    s2 = fma(vec4<f32>(dA), s2, dx * x_B_C[96u + (2u)]);
    acc = fma(s2, x_B_C[112u + (2u)], acc);
    s3 = fma(vec4<f32>(dA), s3, dx * x_B_C[96u + (3u)]);
    acc = fma(s3, x_B_C[112u + (3u)], acc);
    s4 = fma(vec4<f32>(dA), s4, dx * x_B_C[96u + (4u)]);
    acc = fma(s4, x_B_C[112u + (4u)], acc);
    s5 = fma(vec4<f32>(dA), s5, dx * x_B_C[96u + (5u)]);
    acc = fma(s5, x_B_C[112u + (5u)], acc);
    s6 = fma(vec4<f32>(dA), s6, dx * x_B_C[96u + (6u)]);
    acc = fma(s6, x_B_C[112u + (6u)], acc);
    s7 = fma(vec4<f32>(dA), s7, dx * x_B_C[96u + (7u)]);
    acc = fma(s7, x_B_C[112u + (7u)], acc);
    s8 = fma(vec4<f32>(dA), s8, dx * x_B_C[96u + (8u)]);
    acc = fma(s8, x_B_C[112u + (8u)], acc);
    s9 = fma(vec4<f32>(dA), s9, dx * x_B_C[96u + (9u)]);
    acc = fma(s9, x_B_C[112u + (9u)], acc);
    s10 = fma(vec4<f32>(dA), s10, dx * x_B_C[96u + (10u)]);
    acc = fma(s10, x_B_C[112u + (10u)], acc);
    s11 = fma(vec4<f32>(dA), s11, dx * x_B_C[96u + (11u)]);
    acc = fma(s11, x_B_C[112u + (11u)], acc);
    s12 = fma(vec4<f32>(dA), s12, dx * x_B_C[96u + (12u)]);
    acc = fma(s12, x_B_C[112u + (12u)], acc);
    s13 = fma(vec4<f32>(dA), s13, dx * x_B_C[96u + (13u)]);
    acc = fma(s13, x_B_C[112u + (13u)], acc);
    s14 = fma(vec4<f32>(dA), s14, dx * x_B_C[96u + (14u)]);
    acc = fma(s14, x_B_C[112u + (14u)], acc);
    s15 = fma(vec4<f32>(dA), s15, dx * x_B_C[96u + (15u)]);
    acc = fma(s15, x_B_C[112u + (15u)], acc);
    let yv = dot(acc, vec4<f32>(1.0)) + d_h * xv;
    y[(hi) * 32u + (pi)] = yv * silu(dt_z[(hi) * 32u + (pi)]);
  }
  state[(hi) * 512u + (pi) * 16u] = s0;
  state[(hi) * 512u + (pi) * 16u + (1u)] = s1;
  state[(hi) * 512u + (pi) * 16u + (2u)] = s2;
  state[(hi) * 512u + (pi) * 16u + (3u)] = s3;
  state[(hi) * 512u + (pi) * 16u + (4u)] = s4;
  state[(hi) * 512u + (pi) * 16u + (5u)] = s5;
  state[(hi) * 512u + (pi) * 16u + (6u)] = s6;
  state[(hi) * 512u + (pi) * 16u + (7u)] = s7;
  state[(hi) * 512u + (pi) * 16u + (8u)] = s8;
  state[(hi) * 512u + (pi) * 16u + (9u)] = s9;
  state[(hi) * 512u + (pi) * 16u + (10u)] = s10;
  state[(hi) * 512u + (pi) * 16u + (11u)] = s11;
  state[(hi) * 512u + (pi) * 16u + (12u)] = s12;
  state[(hi) * 512u + (pi) * 16u + (13u)] = s13;
  state[(hi) * 512u + (pi) * 16u + (14u)] = s14;
  state[(hi) * 512u + (pi) * 16u + (15u)] = s15;
}
