// kernel layers.0.mamba.ssd_state_update: ssd_state_update {epilogue="gate", normGroup=null, eps=null}
//
// dt_t = softplus(dt[t, h] + dt_bias[h]),  A = -exp(A_log[h]),  g = h / (H / G)
// s[h, p, :] = exp(dt_t * A) * s[h, p, :] + (dt_t * x[t, h, p]) * B[t, g, :]
// y[t, h, p] = sum_n s[h, p, n] * C[t, g, n] + D[h] * x[t, h, p];  s written back after the last t (in place)
// out = y * silu(z[t, h, p])
//
// operands (element [i, j] is buffer[offset + i * stride0 + j * stride1]):
//   x       [1,24,64] at offset 1536, strides [1536, 64, 1] in %270#0
//   dt      [1,24] at offset 3328, strides [3352, 1] in %270#0
//   A_log   [24] at offset 2584128, strides [1] in weight:model.layers.0
//   B       [1,1,128] at offset 3072, strides [128, 128, 1] in %270#0
//   C       [1,1,128] at offset 3200, strides [128, 128, 1] in %270#0
//   D       [24] at offset 2584192, strides [1] in weight:model.layers.0
//   dt_bias [24] at offset 2584064, strides [1] in weight:model.layers.0
//   state   [24,64,128], strides [8192, 128, 1] in state:layers.0.ssm
//   z       [1,24,64], strides [1536, 64, 1] in %270#0
//   y       [1,24,64], strides [1536, 64, 1] in %281#0 (written)
//   state   [24,64,128], strides [8192, 128, 1] in state:layers.0.ssm (written)
//
// threads:
//   invocation: 2 (head, p) rows p .. p + 1, one time step; each row's state streamed in 32 vec4<f32> (each loaded, updated and stored in turn; d_state = 128); dt, B_t and C_t read once for the 2
//   workgroup: 128 rows; grid: 12 workgroups (H * P = 24 * 64)
//
// from: hybrid-130m.hyb:8:3, hybrid-130m.hyb:12:17

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
  let hi = r / 64u;
  let pi = r % 64u;
  let a_h = -exp(A_log_D_dt_bias[2584128u + (hi)]);
  let dt_b = A_log_D_dt_bias[2584064u + (hi)];
  let d_h = A_log_D_dt_bias[2584192u + (hi)];
  let gi = hi / 24u;
  let L = 1u;
  for (var t = 0u; t < L; t++) {
    let dtv = softplus(x_dt_B_C_z[(3328u + (hi)) / 4u][(3328u + (hi)) % 4u] + dt_b);
    let dA = exp(dtv * a_h);
    let xv_0 = x_dt_B_C_z[(1536u + (hi) * 64u + (pi)) / 4u][(1536u + (hi) * 64u + (pi)) % 4u];
    let dx_0 = dtv * xv_0;
    let xv_1 = x_dt_B_C_z[(1536u + (hi) * 64u + (pi + 1u)) / 4u][(1536u + (hi) * 64u + (pi + 1u)) % 4u];
    let dx_1 = dtv * xv_1;
    var acc_0 = vec4<f32>(0.0);
    var acc_1 = vec4<f32>(0.0);
    for (var k = 0u; k < 32u; k++) {
      let bk = x_dt_B_C_z[768u + (k)];
      let ck = x_dt_B_C_z[800u + (k)];
      let sk_0 = fma(vec4<f32>(dA), state[(hi) * 2048u + (pi) * 32u + (k)], dx_0 * bk);
      state[(hi) * 2048u + (pi) * 32u + (k)] = sk_0;
      acc_0 = fma(sk_0, ck, acc_0);
      let sk_1 = fma(vec4<f32>(dA), state[(hi) * 2048u + (pi + 1u) * 32u + (k)], dx_1 * bk);
      state[(hi) * 2048u + (pi + 1u) * 32u + (k)] = sk_1;
      acc_1 = fma(sk_1, ck, acc_1);
    }
    let yv_0 = dot(acc_0, vec4<f32>(1.0)) + d_h * xv_0;
    let yv_1 = dot(acc_1, vec4<f32>(1.0)) + d_h * xv_1;
    y[(hi) * 64u + (pi)] = yv_0 * silu(x_dt_B_C_z[((hi) * 64u + (pi)) / 4u][((hi) * 64u + (pi)) % 4u]);
    y[(hi) * 64u + (pi + 1u)] = yv_1 * silu(x_dt_B_C_z[((hi) * 64u + (pi + 1u)) / 4u][((hi) * 64u + (pi + 1u)) % 4u]);
  }
}
