// kernel layers.9.mixer.in_proj+conv1d: linear_conv_update {weights=1, prologue="rmsnorm", eps=0.00001, normGroup=768, bias=false, activation="none", residual=false, convStart=0, convWidth=1536, convBias=true}
//
// z_i[r, o] = sum_k xn[r, k] * W_i[o, k]   (i < 1)
// y[r, :] = [z_1 | ... | z_n]
// xn[r, k] = x[r, k] / sqrt(mean of x[r, :]^2 over the group of 768 channels holding k + eps) * norm_w[k],  eps = 0.00001
// then columns [0, 1536) = conv channels ch: y = silu(conv_b[ch] + sum_k conv_w[ch, k] * [conv_state[ch, 1:] | z][k]), k < 4;  conv_state'[ch] = [conv_state[ch, 1:] | z] (in place)
// column segments (start, width, weights): (0, 3072, W)
//
// operands (element [i, j] is buffer[offset + i * stride0 + j * stride1]):
//   x          [1,768], strides [768, 1] in %382#0
//   W          [3072,768] at offset 768, strides [768, 1], rows in quads of 16-byte units in weight:backbone.layers.9
//   norm_w     [768], strides [1] in weight:backbone.layers.9
//   y          [1,3072], strides [3072, 1] in %384#0 (written)
//   conv_state [1536,4], strides [4, 1] in state:layers.9.conv
//   conv_w     [1536,4] at offset 2360064, strides [4, 1] in weight:backbone.layers.9
//   conv_b     [1536] at offset 2366208, strides [1] in weight:backbone.layers.9
//   conv_state [1536,4], strides [4, 1] in state:layers.9.conv (written)
//
// threads:
//   invocation: a 1 x 4 register tile of one segment (rows r0 = 1 * rt.., cols 4 * lt..), walking K = 768 in vec4 steps
//   workgroup: 64 col tiles x 1 row tiles (64 invocations); xn of its 1 rows in workgroup memory (3328 bytes with the reduction's)
//   grid: 12 workgroups (flat wg = row block * 12 + col block); 768 col tiles in all
//   the workgroup normalizes its rows once: per row and group, 64 invocations stride over K, a tree reduction sums the statistics, xn goes to workgroup memory; then a barrier
//   edge tiles clamp their loads and skip their stores
//
// from: mamba-130m.hyb:7:3, mamba-130m.hyb:9:17

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> W_norm_w_conv_w_conv_b: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> conv_state: array<vec4<f32>>;

fn silu(v: f32) -> f32 {
  return v / (f32(1.0) + exp(-v));
}

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
  let ct = (wg % 12u) * 64u + lid % 64u;
  let rt = (wg / 12u) * 1u + lid / 64u;
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
        xs[k] = x[(k)] * inv * W_norm_w_conv_w_conv_b[(k)];
      }
    }
  }
  workgroupBarrier();
  if (r0 >= rows || ct >= 768u) { return; }
  {
    let lt = ct;
    let c0 = lt * 4u;
    var acc0_0_0 = f32(0.0);
    var acc0_0_1 = f32(0.0);
    var acc0_0_2 = f32(0.0);
    var acc0_0_3 = f32(0.0);
    for (var k = 0u; k < 192u; k++) {
      let x0 = xs[k];
      let w0_0 = W_norm_w_conv_w_conv_b[192u + ((min(c0, 3068u)) / 4u * 192u + (k)) * 4u + (min(c0, 3068u)) % 4u];
      acc0_0_0 += dot(x0, w0_0);
      let w0_1 = W_norm_w_conv_w_conv_b[192u + ((min(c0, 3068u) + 1u) / 4u * 192u + (k)) * 4u + (min(c0, 3068u) + 1u) % 4u];
      acc0_0_1 += dot(x0, w0_1);
      let w0_2 = W_norm_w_conv_w_conv_b[192u + ((min(c0, 3068u) + 2u) / 4u * 192u + (k)) * 4u + (min(c0, 3068u) + 2u) % 4u];
      acc0_0_2 += dot(x0, w0_2);
      let w0_3 = W_norm_w_conv_w_conv_b[192u + ((min(c0, 3068u) + 3u) / 4u * 192u + (k)) * 4u + (min(c0, 3068u) + 3u) % 4u];
      acc0_0_3 += dot(x0, w0_3);
    }
    {
      let r = r0;
      let c = c0;
      if (r < rows && c < 3072u) { if (c < 1536u) {
      let ch = c;
      let zc = acc0_0_0;
      let sv = conv_state[(ch)];
      let win = vec4<f32>(sv.yzw, zc);
      y[(c)] = silu(W_norm_w_conv_w_conv_b[(2366208u + (ch)) / 4u][(2366208u + (ch)) % 4u] + dot(W_norm_w_conv_w_conv_b[590016u + (ch)], win));
      conv_state[(ch)] = win;
    } else {
      y[(c)] = acc0_0_0;
    } }
    }
    {
      let r = r0;
      let c = c0 + 1u;
      if (r < rows && c < 3072u) { if (c < 1536u) {
      let ch = c;
      let zc = acc0_0_1;
      let sv = conv_state[(ch)];
      let win = vec4<f32>(sv.yzw, zc);
      y[(c)] = silu(W_norm_w_conv_w_conv_b[(2366208u + (ch)) / 4u][(2366208u + (ch)) % 4u] + dot(W_norm_w_conv_w_conv_b[590016u + (ch)], win));
      conv_state[(ch)] = win;
    } else {
      y[(c)] = acc0_0_1;
    } }
    }
    {
      let r = r0;
      let c = c0 + 2u;
      if (r < rows && c < 3072u) { if (c < 1536u) {
      let ch = c;
      let zc = acc0_0_2;
      let sv = conv_state[(ch)];
      let win = vec4<f32>(sv.yzw, zc);
      y[(c)] = silu(W_norm_w_conv_w_conv_b[(2366208u + (ch)) / 4u][(2366208u + (ch)) % 4u] + dot(W_norm_w_conv_w_conv_b[590016u + (ch)], win));
      conv_state[(ch)] = win;
    } else {
      y[(c)] = acc0_0_2;
    } }
    }
    {
      let r = r0;
      let c = c0 + 3u;
      if (r < rows && c < 3072u) { if (c < 1536u) {
      let ch = c;
      let zc = acc0_0_3;
      let sv = conv_state[(ch)];
      let win = vec4<f32>(sv.yzw, zc);
      y[(c)] = silu(W_norm_w_conv_w_conv_b[(2366208u + (ch)) / 4u][(2366208u + (ch)) % 4u] + dot(W_norm_w_conv_w_conv_b[590016u + (ch)], win));
      conv_state[(ch)] = win;
    } else {
      y[(c)] = acc0_0_3;
    } }
    }
  }
}
