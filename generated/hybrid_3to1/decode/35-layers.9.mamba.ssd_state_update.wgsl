// kernel layers.9.mamba.ssd_state_update: ssd_state_update {epilogue="gate", normGroup=null, eps=null}
//
// dt_t = softplus(dt[t, h] + dt_bias[h]),  A = -exp(A_log[h]),  g = h / (H / G)
// s[h, p, :] = exp(dt_t * A) * s[h, p, :] + (dt_t * x[t, h, p]) * B[t, g, :]
// y[t, h, p] = sum_n s[h, p, n] * C[t, g, n] + D[h] * x[t, h, p];  s written back after the last t (in place)
// out = y * silu(z[t, h, p])
//
// operands (element [i, j] is buffer[offset + i * stride0 + j * stride1]):
//   x       [1,16,32] at offset 512, strides [512, 32, 1] in %305#0
//   dt      [1,16] at offset 1152, strides [1168, 1] in %305#0
//   A_log   [16] at offset 302528, strides [1] in weight:model.layers.9
//   B       [1,1,64] at offset 1024, strides [64, 64, 1] in %305#0
//   C       [1,1,64] at offset 1088, strides [64, 64, 1] in %305#0
//   D       [16] at offset 302592, strides [1] in weight:model.layers.9
//   dt_bias [16] at offset 302464, strides [1] in weight:model.layers.9
//   state   [16,32,64], strides [2048, 64, 1] in state:layers.9.ssm
//   z       [1,16,32], strides [512, 32, 1] in %305#0
//   y       [1,16,32], strides [512, 32, 1] in %316#0 (written)
//   state   [16,32,64], strides [2048, 64, 1] in state:layers.9.ssm (written)
//
// threads:
//   invocation: 2 (head, p) rows p .. p + 1, one time step; each row's state streamed in 16 vec4<f32> (each loaded, updated and stored in turn, N loop unrolled; d_state = 64); dt, B_t and C_t read once for the 2
//   workgroup: 128 rows; grid: 4 workgroups (H * P = 16 * 32)
//
// from: hybrid-3to1.hyb:8:3, hybrid-3to1.hyb:12:17

@group(0) @binding(0) var<storage, read> x_dt_B_C_z: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> A_log_D_dt_bias: array<f32>;
@group(0) @binding(2) var<storage, read_write> state: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

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
  let r = (wg * 64u + lid) * 2u;
  let hi = r / 32u;
  let pi = r % 32u;
  let a_h = -exp(A_log_D_dt_bias[302528u + (hi)]);
  let dt_b = A_log_D_dt_bias[302464u + (hi)];
  let d_h = A_log_D_dt_bias[302592u + (hi)];
  let gi = hi / 16u;
  let L = 1u;
  for (var t = 0u; t < L; t++) {
    let dtv = softplus(x_dt_B_C_z[(1152u + (hi)) / 4u][(1152u + (hi)) % 4u] + dt_b);
    let dA = exp(dtv * a_h);
    let xv_0 = x_dt_B_C_z[(512u + (hi) * 32u + (pi)) / 4u][(512u + (hi) * 32u + (pi)) % 4u];
    let dx_0 = dtv * xv_0;
    let xv_1 = x_dt_B_C_z[(512u + (hi) * 32u + (pi + 1u)) / 4u][(512u + (hi) * 32u + (pi + 1u)) % 4u];
    let dx_1 = dtv * xv_1;
    var acc_0 = vec4<f32>(0.0);
    var acc_1 = vec4<f32>(0.0);
    let b0 = x_dt_B_C_z[256u];
    let c0 = x_dt_B_C_z[272u];
    let s0_0 = fma(vec4<f32>(dA), state[(hi) * 512u + (pi) * 16u], dx_0 * b0);
    state[(hi) * 512u + (pi) * 16u] = s0_0;
    acc_0 = fma(s0_0, c0, acc_0);
    let s0_1 = fma(vec4<f32>(dA), state[(hi) * 512u + (pi + 1u) * 16u], dx_1 * b0);
    state[(hi) * 512u + (pi + 1u) * 16u] = s0_1;
    acc_1 = fma(s0_1, c0, acc_1);
    let b1 = x_dt_B_C_z[256u + (1u)];
    let c1 = x_dt_B_C_z[272u + (1u)];
    let s1_0 = fma(vec4<f32>(dA), state[(hi) * 512u + (pi) * 16u + (1u)], dx_0 * b1);
    state[(hi) * 512u + (pi) * 16u + (1u)] = s1_0;
    acc_0 = fma(s1_0, c1, acc_0);
    let s1_1 = fma(vec4<f32>(dA), state[(hi) * 512u + (pi + 1u) * 16u + (1u)], dx_1 * b1);
    state[(hi) * 512u + (pi + 1u) * 16u + (1u)] = s1_1;
    acc_1 = fma(s1_1, c1, acc_1);
    let b2 = x_dt_B_C_z[256u + (2u)];
    let c2 = x_dt_B_C_z[272u + (2u)];
    let s2_0 = fma(vec4<f32>(dA), state[(hi) * 512u + (pi) * 16u + (2u)], dx_0 * b2);
    state[(hi) * 512u + (pi) * 16u + (2u)] = s2_0;
    acc_0 = fma(s2_0, c2, acc_0);
    let s2_1 = fma(vec4<f32>(dA), state[(hi) * 512u + (pi + 1u) * 16u + (2u)], dx_1 * b2);
    state[(hi) * 512u + (pi + 1u) * 16u + (2u)] = s2_1;
    acc_1 = fma(s2_1, c2, acc_1);
    let b3 = x_dt_B_C_z[256u + (3u)];
    let c3 = x_dt_B_C_z[272u + (3u)];
    let s3_0 = fma(vec4<f32>(dA), state[(hi) * 512u + (pi) * 16u + (3u)], dx_0 * b3);
    state[(hi) * 512u + (pi) * 16u + (3u)] = s3_0;
    acc_0 = fma(s3_0, c3, acc_0);
    let s3_1 = fma(vec4<f32>(dA), state[(hi) * 512u + (pi + 1u) * 16u + (3u)], dx_1 * b3);
    state[(hi) * 512u + (pi + 1u) * 16u + (3u)] = s3_1;
    acc_1 = fma(s3_1, c3, acc_1);
    let b4 = x_dt_B_C_z[256u + (4u)];
    let c4 = x_dt_B_C_z[272u + (4u)];
    let s4_0 = fma(vec4<f32>(dA), state[(hi) * 512u + (pi) * 16u + (4u)], dx_0 * b4);
    state[(hi) * 512u + (pi) * 16u + (4u)] = s4_0;
    acc_0 = fma(s4_0, c4, acc_0);
    let s4_1 = fma(vec4<f32>(dA), state[(hi) * 512u + (pi + 1u) * 16u + (4u)], dx_1 * b4);
    state[(hi) * 512u + (pi + 1u) * 16u + (4u)] = s4_1;
    acc_1 = fma(s4_1, c4, acc_1);
    let b5 = x_dt_B_C_z[256u + (5u)];
    let c5 = x_dt_B_C_z[272u + (5u)];
    let s5_0 = fma(vec4<f32>(dA), state[(hi) * 512u + (pi) * 16u + (5u)], dx_0 * b5);
    state[(hi) * 512u + (pi) * 16u + (5u)] = s5_0;
    acc_0 = fma(s5_0, c5, acc_0);
    let s5_1 = fma(vec4<f32>(dA), state[(hi) * 512u + (pi + 1u) * 16u + (5u)], dx_1 * b5);
    state[(hi) * 512u + (pi + 1u) * 16u + (5u)] = s5_1;
    acc_1 = fma(s5_1, c5, acc_1);
    let b6 = x_dt_B_C_z[256u + (6u)];
    let c6 = x_dt_B_C_z[272u + (6u)];
    let s6_0 = fma(vec4<f32>(dA), state[(hi) * 512u + (pi) * 16u + (6u)], dx_0 * b6);
    state[(hi) * 512u + (pi) * 16u + (6u)] = s6_0;
    acc_0 = fma(s6_0, c6, acc_0);
    let s6_1 = fma(vec4<f32>(dA), state[(hi) * 512u + (pi + 1u) * 16u + (6u)], dx_1 * b6);
    state[(hi) * 512u + (pi + 1u) * 16u + (6u)] = s6_1;
    acc_1 = fma(s6_1, c6, acc_1);
    let b7 = x_dt_B_C_z[256u + (7u)];
    let c7 = x_dt_B_C_z[272u + (7u)];
    let s7_0 = fma(vec4<f32>(dA), state[(hi) * 512u + (pi) * 16u + (7u)], dx_0 * b7);
    state[(hi) * 512u + (pi) * 16u + (7u)] = s7_0;
    acc_0 = fma(s7_0, c7, acc_0);
    let s7_1 = fma(vec4<f32>(dA), state[(hi) * 512u + (pi + 1u) * 16u + (7u)], dx_1 * b7);
    state[(hi) * 512u + (pi + 1u) * 16u + (7u)] = s7_1;
    acc_1 = fma(s7_1, c7, acc_1);
    let b8 = x_dt_B_C_z[256u + (8u)];
    let c8 = x_dt_B_C_z[272u + (8u)];
    let s8_0 = fma(vec4<f32>(dA), state[(hi) * 512u + (pi) * 16u + (8u)], dx_0 * b8);
    state[(hi) * 512u + (pi) * 16u + (8u)] = s8_0;
    acc_0 = fma(s8_0, c8, acc_0);
    let s8_1 = fma(vec4<f32>(dA), state[(hi) * 512u + (pi + 1u) * 16u + (8u)], dx_1 * b8);
    state[(hi) * 512u + (pi + 1u) * 16u + (8u)] = s8_1;
    acc_1 = fma(s8_1, c8, acc_1);
    let b9 = x_dt_B_C_z[256u + (9u)];
    let c9 = x_dt_B_C_z[272u + (9u)];
    let s9_0 = fma(vec4<f32>(dA), state[(hi) * 512u + (pi) * 16u + (9u)], dx_0 * b9);
    state[(hi) * 512u + (pi) * 16u + (9u)] = s9_0;
    acc_0 = fma(s9_0, c9, acc_0);
    let s9_1 = fma(vec4<f32>(dA), state[(hi) * 512u + (pi + 1u) * 16u + (9u)], dx_1 * b9);
    state[(hi) * 512u + (pi + 1u) * 16u + (9u)] = s9_1;
    acc_1 = fma(s9_1, c9, acc_1);
    let b10 = x_dt_B_C_z[256u + (10u)];
    let c10 = x_dt_B_C_z[272u + (10u)];
    let s10_0 = fma(vec4<f32>(dA), state[(hi) * 512u + (pi) * 16u + (10u)], dx_0 * b10);
    state[(hi) * 512u + (pi) * 16u + (10u)] = s10_0;
    acc_0 = fma(s10_0, c10, acc_0);
    let s10_1 = fma(vec4<f32>(dA), state[(hi) * 512u + (pi + 1u) * 16u + (10u)], dx_1 * b10);
    state[(hi) * 512u + (pi + 1u) * 16u + (10u)] = s10_1;
    acc_1 = fma(s10_1, c10, acc_1);
    let b11 = x_dt_B_C_z[256u + (11u)];
    let c11 = x_dt_B_C_z[272u + (11u)];
    let s11_0 = fma(vec4<f32>(dA), state[(hi) * 512u + (pi) * 16u + (11u)], dx_0 * b11);
    state[(hi) * 512u + (pi) * 16u + (11u)] = s11_0;
    acc_0 = fma(s11_0, c11, acc_0);
    let s11_1 = fma(vec4<f32>(dA), state[(hi) * 512u + (pi + 1u) * 16u + (11u)], dx_1 * b11);
    state[(hi) * 512u + (pi + 1u) * 16u + (11u)] = s11_1;
    acc_1 = fma(s11_1, c11, acc_1);
    let b12 = x_dt_B_C_z[256u + (12u)];
    let c12 = x_dt_B_C_z[272u + (12u)];
    let s12_0 = fma(vec4<f32>(dA), state[(hi) * 512u + (pi) * 16u + (12u)], dx_0 * b12);
    state[(hi) * 512u + (pi) * 16u + (12u)] = s12_0;
    acc_0 = fma(s12_0, c12, acc_0);
    let s12_1 = fma(vec4<f32>(dA), state[(hi) * 512u + (pi + 1u) * 16u + (12u)], dx_1 * b12);
    state[(hi) * 512u + (pi + 1u) * 16u + (12u)] = s12_1;
    acc_1 = fma(s12_1, c12, acc_1);
    let b13 = x_dt_B_C_z[256u + (13u)];
    let c13 = x_dt_B_C_z[272u + (13u)];
    let s13_0 = fma(vec4<f32>(dA), state[(hi) * 512u + (pi) * 16u + (13u)], dx_0 * b13);
    state[(hi) * 512u + (pi) * 16u + (13u)] = s13_0;
    acc_0 = fma(s13_0, c13, acc_0);
    let s13_1 = fma(vec4<f32>(dA), state[(hi) * 512u + (pi + 1u) * 16u + (13u)], dx_1 * b13);
    state[(hi) * 512u + (pi + 1u) * 16u + (13u)] = s13_1;
    acc_1 = fma(s13_1, c13, acc_1);
    let b14 = x_dt_B_C_z[256u + (14u)];
    let c14 = x_dt_B_C_z[272u + (14u)];
    let s14_0 = fma(vec4<f32>(dA), state[(hi) * 512u + (pi) * 16u + (14u)], dx_0 * b14);
    state[(hi) * 512u + (pi) * 16u + (14u)] = s14_0;
    acc_0 = fma(s14_0, c14, acc_0);
    let s14_1 = fma(vec4<f32>(dA), state[(hi) * 512u + (pi + 1u) * 16u + (14u)], dx_1 * b14);
    state[(hi) * 512u + (pi + 1u) * 16u + (14u)] = s14_1;
    acc_1 = fma(s14_1, c14, acc_1);
    let b15 = x_dt_B_C_z[256u + (15u)];
    let c15 = x_dt_B_C_z[272u + (15u)];
    let s15_0 = fma(vec4<f32>(dA), state[(hi) * 512u + (pi) * 16u + (15u)], dx_0 * b15);
    state[(hi) * 512u + (pi) * 16u + (15u)] = s15_0;
    acc_0 = fma(s15_0, c15, acc_0);
    let s15_1 = fma(vec4<f32>(dA), state[(hi) * 512u + (pi + 1u) * 16u + (15u)], dx_1 * b15);
    state[(hi) * 512u + (pi + 1u) * 16u + (15u)] = s15_1;
    acc_1 = fma(s15_1, c15, acc_1);
    let yv_0 = dot(acc_0, vec4<f32>(1.0)) + d_h * xv_0;
    let yv_1 = dot(acc_1, vec4<f32>(1.0)) + d_h * xv_1;
    y[(hi) * 32u + (pi)] = yv_0 * silu(x_dt_B_C_z[((hi) * 32u + (pi)) / 4u][((hi) * 32u + (pi)) % 4u]);
    y[(hi) * 32u + (pi + 1u)] = yv_1 * silu(x_dt_B_C_z[((hi) * 32u + (pi + 1u)) / 4u][((hi) * 32u + (pi + 1u)) % 4u]);
  }
}
