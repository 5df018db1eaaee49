// kernel layers.5.mamba.ssd: ssd {chunk=256, epilogue="gate", normGroup=null, eps=null}
//
// dt_t = softplus(dt[t, h] + dt_bias[h]),  A = -exp(A_log[h]),  g = h / (H / G)
// s[h, p, :] = exp(dt_t * A) * s[h, p, :] + (dt_t * x[t, h, p]) * B[t, g, :]
// y[t, h, p] = sum_n s[h, p, n] * C[t, g, n] + D[h] * x[t, h, p];  s written back after the last t (in place)
// out = y * silu(z[t, h, p])
// sequential over t: the exact recurrence of the chunked SSD form; chunk = 256 does not change the result and is not used
//
// operands (element [i, j] is buffer[offset + i * stride0 + j * stride1]):
//   x       [L,12,32], strides [512, 32, 1] in %142#0
//   dt      [L,12] at offset 896, strides [908, 1] in %137#0
//   A_log   [12] at offset 177152, strides [1] in weight:model.layers.5
//   B       [L,1,64] at offset 384, strides [512, 64, 1] in %142#0
//   C       [L,1,64] at offset 448, strides [512, 64, 1] in %142#0
//   D       [12] at offset 177216, strides [1] in weight:model.layers.5
//   dt_bias [12] at offset 177088, strides [1] in weight:model.layers.5
//   state   [12,32,64], strides [2048, 64, 1] in state:layers.5.ssm
//   z       [L,12,32], strides [908, 32, 1] in %137#0
//   y       [L,12,32], strides [384, 32, 1] in %150#0 (written)
//   state   [12,32,64], strides [2048, 64, 1] in state:layers.5.ssm (written)
//
// threads:
//   invocation: 4 (head, p) rows p .. p + 3, all L time steps; each row's state in 16 vec4<f32> registers, N loop unrolled (d_state = 64); dt, B_t and C_t read once for the 4
//   staged: the B, C rows of 16 tokens at a time in workgroup memory, loaded once by the workgroup (its rows share one group)
//   workgroup: 64 rows; grid: 6 workgroups (H * P = 12 * 32)
//
// from: kjv-byte.hyb:18:3, kjv-byte.hyb:21:39

struct Params {
  L: u32,
}

@group(0) @binding(0) var<storage, read> x_B_C: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> dt_z: array<f32>;
@group(0) @binding(2) var<storage, read> A_log_D_dt_bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> state: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

var<workgroup> b_rows: array<vec4<f32>, 256u>;
var<workgroup> c_rows: array<vec4<f32>, 256u>;

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

@compute @workgroup_size(16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let wg = wid.x + wid.y * nwg.x;
  let r = (wg * 16u + lid) * 4u;
  let hi = r / 32u;
  let pi = r % 32u;
  let a_h = -exp(A_log_D_dt_bias[177152u + (hi)]);
  let dt_b = A_log_D_dt_bias[177088u + (hi)];
  let d_h = A_log_D_dt_bias[177216u + (hi)];
  let gi = hi / 12u;
  let L = params.L;
  var s0_0 = state[(hi) * 512u + (pi) * 16u];
  var s1_0 = state[(hi) * 512u + (pi) * 16u + (1u)];
  var s2_0 = state[(hi) * 512u + (pi) * 16u + (2u)];
  var s3_0 = state[(hi) * 512u + (pi) * 16u + (3u)];
  var s4_0 = state[(hi) * 512u + (pi) * 16u + (4u)];
  var s5_0 = state[(hi) * 512u + (pi) * 16u + (5u)];
  var s6_0 = state[(hi) * 512u + (pi) * 16u + (6u)];
  var s7_0 = state[(hi) * 512u + (pi) * 16u + (7u)];
  var s8_0 = state[(hi) * 512u + (pi) * 16u + (8u)];
  var s9_0 = state[(hi) * 512u + (pi) * 16u + (9u)];
  var s10_0 = state[(hi) * 512u + (pi) * 16u + (10u)];
  var s11_0 = state[(hi) * 512u + (pi) * 16u + (11u)];
  var s12_0 = state[(hi) * 512u + (pi) * 16u + (12u)];
  var s13_0 = state[(hi) * 512u + (pi) * 16u + (13u)];
  var s14_0 = state[(hi) * 512u + (pi) * 16u + (14u)];
  var s15_0 = state[(hi) * 512u + (pi) * 16u + (15u)];
  var s0_1 = state[(hi) * 512u + (pi + 1u) * 16u];
  var s1_1 = state[(hi) * 512u + (pi + 1u) * 16u + (1u)];
  var s2_1 = state[(hi) * 512u + (pi + 1u) * 16u + (2u)];
  var s3_1 = state[(hi) * 512u + (pi + 1u) * 16u + (3u)];
  var s4_1 = state[(hi) * 512u + (pi + 1u) * 16u + (4u)];
  var s5_1 = state[(hi) * 512u + (pi + 1u) * 16u + (5u)];
  var s6_1 = state[(hi) * 512u + (pi + 1u) * 16u + (6u)];
  var s7_1 = state[(hi) * 512u + (pi + 1u) * 16u + (7u)];
  var s8_1 = state[(hi) * 512u + (pi + 1u) * 16u + (8u)];
  var s9_1 = state[(hi) * 512u + (pi + 1u) * 16u + (9u)];
  var s10_1 = state[(hi) * 512u + (pi + 1u) * 16u + (10u)];
  var s11_1 = state[(hi) * 512u + (pi + 1u) * 16u + (11u)];
  var s12_1 = state[(hi) * 512u + (pi + 1u) * 16u + (12u)];
  var s13_1 = state[(hi) * 512u + (pi + 1u) * 16u + (13u)];
  var s14_1 = state[(hi) * 512u + (pi + 1u) * 16u + (14u)];
  var s15_1 = state[(hi) * 512u + (pi + 1u) * 16u + (15u)];
  var s0_2 = state[(hi) * 512u + (pi + 2u) * 16u];
  var s1_2 = state[(hi) * 512u + (pi + 2u) * 16u + (1u)];
  var s2_2 = state[(hi) * 512u + (pi + 2u) * 16u + (2u)];
  var s3_2 = state[(hi) * 512u + (pi + 2u) * 16u + (3u)];
  var s4_2 = state[(hi) * 512u + (pi + 2u) * 16u + (4u)];
  var s5_2 = state[(hi) * 512u + (pi + 2u) * 16u + (5u)];
  var s6_2 = state[(hi) * 512u + (pi + 2u) * 16u + (6u)];
  var s7_2 = state[(hi) * 512u + (pi + 2u) * 16u + (7u)];
  var s8_2 = state[(hi) * 512u + (pi + 2u) * 16u + (8u)];
  var s9_2 = state[(hi) * 512u + (pi + 2u) * 16u + (9u)];
  var s10_2 = state[(hi) * 512u + (pi + 2u) * 16u + (10u)];
  var s11_2 = state[(hi) * 512u + (pi + 2u) * 16u + (11u)];
  var s12_2 = state[(hi) * 512u + (pi + 2u) * 16u + (12u)];
  var s13_2 = state[(hi) * 512u + (pi + 2u) * 16u + (13u)];
  var s14_2 = state[(hi) * 512u + (pi + 2u) * 16u + (14u)];
  var s15_2 = state[(hi) * 512u + (pi + 2u) * 16u + (15u)];
  var s0_3 = state[(hi) * 512u + (pi + 3u) * 16u];
  var s1_3 = state[(hi) * 512u + (pi + 3u) * 16u + (1u)];
  var s2_3 = state[(hi) * 512u + (pi + 3u) * 16u + (2u)];
  var s3_3 = state[(hi) * 512u + (pi + 3u) * 16u + (3u)];
  var s4_3 = state[(hi) * 512u + (pi + 3u) * 16u + (4u)];
  var s5_3 = state[(hi) * 512u + (pi + 3u) * 16u + (5u)];
  var s6_3 = state[(hi) * 512u + (pi + 3u) * 16u + (6u)];
  var s7_3 = state[(hi) * 512u + (pi + 3u) * 16u + (7u)];
  var s8_3 = state[(hi) * 512u + (pi + 3u) * 16u + (8u)];
  var s9_3 = state[(hi) * 512u + (pi + 3u) * 16u + (9u)];
  var s10_3 = state[(hi) * 512u + (pi + 3u) * 16u + (10u)];
  var s11_3 = state[(hi) * 512u + (pi + 3u) * 16u + (11u)];
  var s12_3 = state[(hi) * 512u + (pi + 3u) * 16u + (12u)];
  var s13_3 = state[(hi) * 512u + (pi + 3u) * 16u + (13u)];
  var s14_3 = state[(hi) * 512u + (pi + 3u) * 16u + (14u)];
  var s15_3 = state[(hi) * 512u + (pi + 3u) * 16u + (15u)];
  for (var t0 = 0u; t0 < L; t0 += 16u) {
    let nt = min(16u, L - t0);
    for (var i = lid; i < nt * 16u; i += 16u) { b_rows[i] = x_B_C[96u + (t0 + i / 16u) * 128u + (i % 16u)]; }
    for (var i = lid; i < nt * 16u; i += 16u) { c_rows[i] = x_B_C[112u + (t0 + i / 16u) * 128u + (i % 16u)]; }
    workgroupBarrier();
    for (var tt = 0u; tt < nt; tt++) {
      let t = t0 + tt;
      let dtv = softplus(dt_z[896u + (t) * 908u + (hi)] + dt_b);
      let dA = exp(dtv * a_h);
      let xv_0 = x_B_C[((t) * 512u + (hi) * 32u + (pi)) / 4u][((t) * 512u + (hi) * 32u + (pi)) % 4u];
      let dx_0 = dtv * xv_0;
      let xv_1 = x_B_C[((t) * 512u + (hi) * 32u + (pi + 1u)) / 4u][((t) * 512u + (hi) * 32u + (pi + 1u)) % 4u];
      let dx_1 = dtv * xv_1;
      let xv_2 = x_B_C[((t) * 512u + (hi) * 32u + (pi + 2u)) / 4u][((t) * 512u + (hi) * 32u + (pi + 2u)) % 4u];
      let dx_2 = dtv * xv_2;
      let xv_3 = x_B_C[((t) * 512u + (hi) * 32u + (pi + 3u)) / 4u][((t) * 512u + (hi) * 32u + (pi + 3u)) % 4u];
      let dx_3 = dtv * xv_3;
      var acc_0 = vec4<f32>(0.0);
      var acc_1 = vec4<f32>(0.0);
      var acc_2 = vec4<f32>(0.0);
      var acc_3 = vec4<f32>(0.0);
      let b0 = b_rows[tt * 16u + 0u];
      let c0 = c_rows[tt * 16u + 0u];
      s0_0 = fma(vec4<f32>(dA), s0_0, dx_0 * b0);
      acc_0 = fma(s0_0, c0, acc_0);
      s0_1 = fma(vec4<f32>(dA), s0_1, dx_1 * b0);
      acc_1 = fma(s0_1, c0, acc_1);
      s0_2 = fma(vec4<f32>(dA), s0_2, dx_2 * b0);
      acc_2 = fma(s0_2, c0, acc_2);
      s0_3 = fma(vec4<f32>(dA), s0_3, dx_3 * b0);
      acc_3 = fma(s0_3, c0, acc_3);
      let b1 = b_rows[tt * 16u + 1u];
      let c1 = c_rows[tt * 16u + 1u];
      s1_0 = fma(vec4<f32>(dA), s1_0, dx_0 * b1);
      acc_0 = fma(s1_0, c1, acc_0);
      s1_1 = fma(vec4<f32>(dA), s1_1, dx_1 * b1);
      acc_1 = fma(s1_1, c1, acc_1);
      s1_2 = fma(vec4<f32>(dA), s1_2, dx_2 * b1);
      acc_2 = fma(s1_2, c1, acc_2);
      s1_3 = fma(vec4<f32>(dA), s1_3, dx_3 * b1);
      acc_3 = fma(s1_3, c1, acc_3);
      let b2 = b_rows[tt * 16u + 2u];
      let c2 = c_rows[tt * 16u + 2u];
      s2_0 = fma(vec4<f32>(dA), s2_0, dx_0 * b2);
      acc_0 = fma(s2_0, c2, acc_0);
      s2_1 = fma(vec4<f32>(dA), s2_1, dx_1 * b2);
      acc_1 = fma(s2_1, c2, acc_1);
      s2_2 = fma(vec4<f32>(dA), s2_2, dx_2 * b2);
      acc_2 = fma(s2_2, c2, acc_2);
      s2_3 = fma(vec4<f32>(dA), s2_3, dx_3 * b2);
      acc_3 = fma(s2_3, c2, acc_3);
      let b3 = b_rows[tt * 16u + 3u];
      let c3 = c_rows[tt * 16u + 3u];
      s3_0 = fma(vec4<f32>(dA), s3_0, dx_0 * b3);
      acc_0 = fma(s3_0, c3, acc_0);
      s3_1 = fma(vec4<f32>(dA), s3_1, dx_1 * b3);
      acc_1 = fma(s3_1, c3, acc_1);
      s3_2 = fma(vec4<f32>(dA), s3_2, dx_2 * b3);
      acc_2 = fma(s3_2, c3, acc_2);
      s3_3 = fma(vec4<f32>(dA), s3_3, dx_3 * b3);
      acc_3 = fma(s3_3, c3, acc_3);
      let b4 = b_rows[tt * 16u + 4u];
      let c4 = c_rows[tt * 16u + 4u];
      s4_0 = fma(vec4<f32>(dA), s4_0, dx_0 * b4);
      acc_0 = fma(s4_0, c4, acc_0);
      s4_1 = fma(vec4<f32>(dA), s4_1, dx_1 * b4);
      acc_1 = fma(s4_1, c4, acc_1);
      s4_2 = fma(vec4<f32>(dA), s4_2, dx_2 * b4);
      acc_2 = fma(s4_2, c4, acc_2);
      s4_3 = fma(vec4<f32>(dA), s4_3, dx_3 * b4);
      acc_3 = fma(s4_3, c4, acc_3);
      let b5 = b_rows[tt * 16u + 5u];
      let c5 = c_rows[tt * 16u + 5u];
      s5_0 = fma(vec4<f32>(dA), s5_0, dx_0 * b5);
      acc_0 = fma(s5_0, c5, acc_0);
      s5_1 = fma(vec4<f32>(dA), s5_1, dx_1 * b5);
      acc_1 = fma(s5_1, c5, acc_1);
      s5_2 = fma(vec4<f32>(dA), s5_2, dx_2 * b5);
      acc_2 = fma(s5_2, c5, acc_2);
      s5_3 = fma(vec4<f32>(dA), s5_3, dx_3 * b5);
      acc_3 = fma(s5_3, c5, acc_3);
      let b6 = b_rows[tt * 16u + 6u];
      let c6 = c_rows[tt * 16u + 6u];
      s6_0 = fma(vec4<f32>(dA), s6_0, dx_0 * b6);
      acc_0 = fma(s6_0, c6, acc_0);
      s6_1 = fma(vec4<f32>(dA), s6_1, dx_1 * b6);
      acc_1 = fma(s6_1, c6, acc_1);
      s6_2 = fma(vec4<f32>(dA), s6_2, dx_2 * b6);
      acc_2 = fma(s6_2, c6, acc_2);
      s6_3 = fma(vec4<f32>(dA), s6_3, dx_3 * b6);
      acc_3 = fma(s6_3, c6, acc_3);
      let b7 = b_rows[tt * 16u + 7u];
      let c7 = c_rows[tt * 16u + 7u];
      s7_0 = fma(vec4<f32>(dA), s7_0, dx_0 * b7);
      acc_0 = fma(s7_0, c7, acc_0);
      s7_1 = fma(vec4<f32>(dA), s7_1, dx_1 * b7);
      acc_1 = fma(s7_1, c7, acc_1);
      s7_2 = fma(vec4<f32>(dA), s7_2, dx_2 * b7);
      acc_2 = fma(s7_2, c7, acc_2);
      s7_3 = fma(vec4<f32>(dA), s7_3, dx_3 * b7);
      acc_3 = fma(s7_3, c7, acc_3);
      let b8 = b_rows[tt * 16u + 8u];
      let c8 = c_rows[tt * 16u + 8u];
      s8_0 = fma(vec4<f32>(dA), s8_0, dx_0 * b8);
      acc_0 = fma(s8_0, c8, acc_0);
      s8_1 = fma(vec4<f32>(dA), s8_1, dx_1 * b8);
      acc_1 = fma(s8_1, c8, acc_1);
      s8_2 = fma(vec4<f32>(dA), s8_2, dx_2 * b8);
      acc_2 = fma(s8_2, c8, acc_2);
      s8_3 = fma(vec4<f32>(dA), s8_3, dx_3 * b8);
      acc_3 = fma(s8_3, c8, acc_3);
      let b9 = b_rows[tt * 16u + 9u];
      let c9 = c_rows[tt * 16u + 9u];
      s9_0 = fma(vec4<f32>(dA), s9_0, dx_0 * b9);
      acc_0 = fma(s9_0, c9, acc_0);
      s9_1 = fma(vec4<f32>(dA), s9_1, dx_1 * b9);
      acc_1 = fma(s9_1, c9, acc_1);
      s9_2 = fma(vec4<f32>(dA), s9_2, dx_2 * b9);
      acc_2 = fma(s9_2, c9, acc_2);
      s9_3 = fma(vec4<f32>(dA), s9_3, dx_3 * b9);
      acc_3 = fma(s9_3, c9, acc_3);
      let b10 = b_rows[tt * 16u + 10u];
      let c10 = c_rows[tt * 16u + 10u];
      s10_0 = fma(vec4<f32>(dA), s10_0, dx_0 * b10);
      acc_0 = fma(s10_0, c10, acc_0);
      s10_1 = fma(vec4<f32>(dA), s10_1, dx_1 * b10);
      acc_1 = fma(s10_1, c10, acc_1);
      s10_2 = fma(vec4<f32>(dA), s10_2, dx_2 * b10);
      acc_2 = fma(s10_2, c10, acc_2);
      s10_3 = fma(vec4<f32>(dA), s10_3, dx_3 * b10);
      acc_3 = fma(s10_3, c10, acc_3);
      let b11 = b_rows[tt * 16u + 11u];
      let c11 = c_rows[tt * 16u + 11u];
      s11_0 = fma(vec4<f32>(dA), s11_0, dx_0 * b11);
      acc_0 = fma(s11_0, c11, acc_0);
      s11_1 = fma(vec4<f32>(dA), s11_1, dx_1 * b11);
      acc_1 = fma(s11_1, c11, acc_1);
      s11_2 = fma(vec4<f32>(dA), s11_2, dx_2 * b11);
      acc_2 = fma(s11_2, c11, acc_2);
      s11_3 = fma(vec4<f32>(dA), s11_3, dx_3 * b11);
      acc_3 = fma(s11_3, c11, acc_3);
      let b12 = b_rows[tt * 16u + 12u];
      let c12 = c_rows[tt * 16u + 12u];
      s12_0 = fma(vec4<f32>(dA), s12_0, dx_0 * b12);
      acc_0 = fma(s12_0, c12, acc_0);
      s12_1 = fma(vec4<f32>(dA), s12_1, dx_1 * b12);
      acc_1 = fma(s12_1, c12, acc_1);
      s12_2 = fma(vec4<f32>(dA), s12_2, dx_2 * b12);
      acc_2 = fma(s12_2, c12, acc_2);
      s12_3 = fma(vec4<f32>(dA), s12_3, dx_3 * b12);
      acc_3 = fma(s12_3, c12, acc_3);
      let b13 = b_rows[tt * 16u + 13u];
      let c13 = c_rows[tt * 16u + 13u];
      s13_0 = fma(vec4<f32>(dA), s13_0, dx_0 * b13);
      acc_0 = fma(s13_0, c13, acc_0);
      s13_1 = fma(vec4<f32>(dA), s13_1, dx_1 * b13);
      acc_1 = fma(s13_1, c13, acc_1);
      s13_2 = fma(vec4<f32>(dA), s13_2, dx_2 * b13);
      acc_2 = fma(s13_2, c13, acc_2);
      s13_3 = fma(vec4<f32>(dA), s13_3, dx_3 * b13);
      acc_3 = fma(s13_3, c13, acc_3);
      let b14 = b_rows[tt * 16u + 14u];
      let c14 = c_rows[tt * 16u + 14u];
      s14_0 = fma(vec4<f32>(dA), s14_0, dx_0 * b14);
      acc_0 = fma(s14_0, c14, acc_0);
      s14_1 = fma(vec4<f32>(dA), s14_1, dx_1 * b14);
      acc_1 = fma(s14_1, c14, acc_1);
      s14_2 = fma(vec4<f32>(dA), s14_2, dx_2 * b14);
      acc_2 = fma(s14_2, c14, acc_2);
      s14_3 = fma(vec4<f32>(dA), s14_3, dx_3 * b14);
      acc_3 = fma(s14_3, c14, acc_3);
      let b15 = b_rows[tt * 16u + 15u];
      let c15 = c_rows[tt * 16u + 15u];
      s15_0 = fma(vec4<f32>(dA), s15_0, dx_0 * b15);
      acc_0 = fma(s15_0, c15, acc_0);
      s15_1 = fma(vec4<f32>(dA), s15_1, dx_1 * b15);
      acc_1 = fma(s15_1, c15, acc_1);
      s15_2 = fma(vec4<f32>(dA), s15_2, dx_2 * b15);
      acc_2 = fma(s15_2, c15, acc_2);
      s15_3 = fma(vec4<f32>(dA), s15_3, dx_3 * b15);
      acc_3 = fma(s15_3, c15, acc_3);
      let yv_0 = dot(acc_0, vec4<f32>(1.0)) + d_h * xv_0;
      let yv_1 = dot(acc_1, vec4<f32>(1.0)) + d_h * xv_1;
      let yv_2 = dot(acc_2, vec4<f32>(1.0)) + d_h * xv_2;
      let yv_3 = dot(acc_3, vec4<f32>(1.0)) + d_h * xv_3;
      y[(t) * 384u + (hi) * 32u + (pi)] = yv_0 * silu(dt_z[(t) * 908u + (hi) * 32u + (pi)]);
      y[(t) * 384u + (hi) * 32u + (pi + 1u)] = yv_1 * silu(dt_z[(t) * 908u + (hi) * 32u + (pi + 1u)]);
      y[(t) * 384u + (hi) * 32u + (pi + 2u)] = yv_2 * silu(dt_z[(t) * 908u + (hi) * 32u + (pi + 2u)]);
      y[(t) * 384u + (hi) * 32u + (pi + 3u)] = yv_3 * silu(dt_z[(t) * 908u + (hi) * 32u + (pi + 3u)]);
    }
    workgroupBarrier();
  }
  state[(hi) * 512u + (pi) * 16u] = s0_0;
  state[(hi) * 512u + (pi) * 16u + (1u)] = s1_0;
  state[(hi) * 512u + (pi) * 16u + (2u)] = s2_0;
  state[(hi) * 512u + (pi) * 16u + (3u)] = s3_0;
  state[(hi) * 512u + (pi) * 16u + (4u)] = s4_0;
  state[(hi) * 512u + (pi) * 16u + (5u)] = s5_0;
  state[(hi) * 512u + (pi) * 16u + (6u)] = s6_0;
  state[(hi) * 512u + (pi) * 16u + (7u)] = s7_0;
  state[(hi) * 512u + (pi) * 16u + (8u)] = s8_0;
  state[(hi) * 512u + (pi) * 16u + (9u)] = s9_0;
  state[(hi) * 512u + (pi) * 16u + (10u)] = s10_0;
  state[(hi) * 512u + (pi) * 16u + (11u)] = s11_0;
  state[(hi) * 512u + (pi) * 16u + (12u)] = s12_0;
  state[(hi) * 512u + (pi) * 16u + (13u)] = s13_0;
  state[(hi) * 512u + (pi) * 16u + (14u)] = s14_0;
  state[(hi) * 512u + (pi) * 16u + (15u)] = s15_0;
  state[(hi) * 512u + (pi + 1u) * 16u] = s0_1;
  state[(hi) * 512u + (pi + 1u) * 16u + (1u)] = s1_1;
  state[(hi) * 512u + (pi + 1u) * 16u + (2u)] = s2_1;
  state[(hi) * 512u + (pi + 1u) * 16u + (3u)] = s3_1;
  state[(hi) * 512u + (pi + 1u) * 16u + (4u)] = s4_1;
  state[(hi) * 512u + (pi + 1u) * 16u + (5u)] = s5_1;
  state[(hi) * 512u + (pi + 1u) * 16u + (6u)] = s6_1;
  state[(hi) * 512u + (pi + 1u) * 16u + (7u)] = s7_1;
  state[(hi) * 512u + (pi + 1u) * 16u + (8u)] = s8_1;
  state[(hi) * 512u + (pi + 1u) * 16u + (9u)] = s9_1;
  state[(hi) * 512u + (pi + 1u) * 16u + (10u)] = s10_1;
  state[(hi) * 512u + (pi + 1u) * 16u + (11u)] = s11_1;
  state[(hi) * 512u + (pi + 1u) * 16u + (12u)] = s12_1;
  state[(hi) * 512u + (pi + 1u) * 16u + (13u)] = s13_1;
  state[(hi) * 512u + (pi + 1u) * 16u + (14u)] = s14_1;
  state[(hi) * 512u + (pi + 1u) * 16u + (15u)] = s15_1;
  state[(hi) * 512u + (pi + 2u) * 16u] = s0_2;
  state[(hi) * 512u + (pi + 2u) * 16u + (1u)] = s1_2;
  state[(hi) * 512u + (pi + 2u) * 16u + (2u)] = s2_2;
  state[(hi) * 512u + (pi + 2u) * 16u + (3u)] = s3_2;
  state[(hi) * 512u + (pi + 2u) * 16u + (4u)] = s4_2;
  state[(hi) * 512u + (pi + 2u) * 16u + (5u)] = s5_2;
  state[(hi) * 512u + (pi + 2u) * 16u + (6u)] = s6_2;
  state[(hi) * 512u + (pi + 2u) * 16u + (7u)] = s7_2;
  state[(hi) * 512u + (pi + 2u) * 16u + (8u)] = s8_2;
  state[(hi) * 512u + (pi + 2u) * 16u + (9u)] = s9_2;
  state[(hi) * 512u + (pi + 2u) * 16u + (10u)] = s10_2;
  state[(hi) * 512u + (pi + 2u) * 16u + (11u)] = s11_2;
  state[(hi) * 512u + (pi + 2u) * 16u + (12u)] = s12_2;
  state[(hi) * 512u + (pi + 2u) * 16u + (13u)] = s13_2;
  state[(hi) * 512u + (pi + 2u) * 16u + (14u)] = s14_2;
  state[(hi) * 512u + (pi + 2u) * 16u + (15u)] = s15_2;
  state[(hi) * 512u + (pi + 3u) * 16u] = s0_3;
  state[(hi) * 512u + (pi + 3u) * 16u + (1u)] = s1_3;
  state[(hi) * 512u + (pi + 3u) * 16u + (2u)] = s2_3;
  state[(hi) * 512u + (pi + 3u) * 16u + (3u)] = s3_3;
  state[(hi) * 512u + (pi + 3u) * 16u + (4u)] = s4_3;
  state[(hi) * 512u + (pi + 3u) * 16u + (5u)] = s5_3;
  state[(hi) * 512u + (pi + 3u) * 16u + (6u)] = s6_3;
  state[(hi) * 512u + (pi + 3u) * 16u + (7u)] = s7_3;
  state[(hi) * 512u + (pi + 3u) * 16u + (8u)] = s8_3;
  state[(hi) * 512u + (pi + 3u) * 16u + (9u)] = s9_3;
  state[(hi) * 512u + (pi + 3u) * 16u + (10u)] = s10_3;
  state[(hi) * 512u + (pi + 3u) * 16u + (11u)] = s11_3;
  state[(hi) * 512u + (pi + 3u) * 16u + (12u)] = s12_3;
  state[(hi) * 512u + (pi + 3u) * 16u + (13u)] = s13_3;
  state[(hi) * 512u + (pi + 3u) * 16u + (14u)] = s14_3;
  state[(hi) * 512u + (pi + 3u) * 16u + (15u)] = s15_3;
}
