// kernel layers.11.mamba.in_proj+conv1d: linear_conv_update {weights=1, prologue="rmsnorm", eps=0.00001, normGroup=256, bias=false, activation="none", residual=false, convStart=0, convWidth=512, convBias=true}
//
// z_i[r, o] = sum_k xn[r, k] * W_i[o, k]   (i < 1)
// y[r, :] = [z_1 | ... | z_n]
// xn[r, k] = x[r, k] / sqrt(mean of x[r, :]^2 over the group of 256 channels holding k + eps) * norm_w[k],  eps = 0.00001
// then columns [0, 512) = conv channels ch: y = silu(conv_b[ch] + sum_k conv_w[ch, k] * [conv_state[ch, 1:] | z][k]), k < 4;  conv_state'[ch] = [conv_state[ch, 1:] | z] (in place)
// column segments (start, width, weights): (0, 1024, W)
//
// operands (element [i, j] is buffer[offset + i * stride0 + j * stride1]):
//   x          [1,256], strides [256, 1] in %380#0
//   W          [1024,256] at offset 256, strides [256, 1], rows in quads of 16-byte units in weight:model.layers.11
//   norm_w     [256], strides [1] in weight:model.layers.11
//   y          [1,1024], strides [1024, 1] in %382#0 (written)
//   conv_state [512,4], strides [4, 1] in state:layers.11.conv
//   conv_w     [512,4] at offset 262400, strides [4, 1] in weight:model.layers.11
//   conv_b     [512] at offset 264448, strides [1] in weight:model.layers.11
//   conv_state [512,4], strides [4, 1] in state:layers.11.conv (written)
//
// threads:
//   invocation: a 1 x 4 register tile of one segment (rows r0 = 1 * rt.., cols 4 * lt..), walking K = 256 in vec4 steps
//   workgroup: 64 col tiles x 1 row tiles (64 invocations); xn of its 1 rows in workgroup memory (1280 bytes with the reduction's)
//   grid: 4 workgroups (flat wg = row block * 4 + col block); 256 col tiles in all
//   the workgroup normalizes its rows once: per row and group, 64 invocations stride over K, a tree reduction sums the statistics, xn goes to workgroup memory; then a barrier
//   edge tiles clamp their loads and skip their stores
//
// from: jamba-style.hyb:9:3, jamba-style.hyb:13:17

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> W_norm_w_conv_w_conv_b: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> conv_state: array<vec4<f32>>;

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
  let ct = (wg % 4u) * 64u + lid % 64u;
  let rt = (wg / 4u) * 1u + lid / 64u;
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
        xs[k] = x[(k)] * inv * W_norm_w_conv_w_conv_b[(k)];
      }
    }
  }
  workgroupBarrier();
  if (r0 >= rows || ct >= 256u) { return; }
  {
    let lt = ct;
    let c0 = lt * 4u;
    var acc0_0_0 = f32(0.0);
    var acc0_0_1 = f32(0.0);
    var acc0_0_2 = f32(0.0);
    var acc0_0_3 = f32(0.0);
    for (var k = 0u; k < 64u; k++) {
      let x0 = xs[k];
      let w0_0 = W_norm_w_conv_w_conv_b[64u + ((min(c0, 1020u)) / 4u * 64u + (k)) * 4u + (min(c0, 1020u)) % 4u];
      acc0_0_0 += dot(x0, w0_0);
      let w0_1 = W_norm_w_conv_w_conv_b[64u + ((min(c0, 1020u) + 1u) / 4u * 64u + (k)) * 4u + (min(c0, 1020u) + 1u) % 4u];
      acc0_0_1 += dot(x0, w0_1);
      let w0_2 = W_norm_w_conv_w_conv_b[64u + ((min(c0, 1020u) + 2u) / 4u * 64u + (k)) * 4u + (min(c0, 1020u) + 2u) % 4u];
      acc0_0_2 += dot(x0, w0_2);
      let w0_3 = W_norm_w_conv_w_conv_b[64u + ((min(c0, 1020u) + 3u) / 4u * 64u + (k)) * 4u + (min(c0, 1020u) + 3u) % 4u];
      acc0_0_3 += dot(x0, w0_3);
    }
    {
      let r = r0;
      let c = c0;
      if (r < rows && c < 1024u) { if (c < 512u) {
      let ch = c;
      let zc = acc0_0_0;
      let sv = conv_state[(ch)];
      let win = vec4<f32>(sv.yzw, zc);
      y[(c)] = silu(W_norm_w_conv_w_conv_b[(264448u + (ch)) / 4u][(264448u + (ch)) % 4u] + dot(W_norm_w_conv_w_conv_b[65600u + (ch)], win));
      conv_state[(ch)] = win;
    } else {
      y[(c)] = acc0_0_0;
    } }
    }
    {
      let r = r0;
      let c = c0 + 1u;
      if (r < rows && c < 1024u) { if (c < 512u) {
      let ch = c;
      let zc = acc0_0_1;
      let sv = conv_state[(ch)];
      let win = vec4<f32>(sv.yzw, zc);
      y[(c)] = silu(W_norm_w_conv_w_conv_b[(264448u + (ch)) / 4u][(264448u + (ch)) % 4u] + dot(W_norm_w_conv_w_conv_b[65600u + (ch)], win));
      conv_state[(ch)] = win;
    } else {
      y[(c)] = acc0_0_1;
    } }
    }
    {
      let r = r0;
      let c = c0 + 2u;
      if (r < rows && c < 1024u) { if (c < 512u) {
      let ch = c;
      let zc = acc0_0_2;
      let sv = conv_state[(ch)];
      let win = vec4<f32>(sv.yzw, zc);
      y[(c)] = silu(W_norm_w_conv_w_conv_b[(264448u + (ch)) / 4u][(264448u + (ch)) % 4u] + dot(W_norm_w_conv_w_conv_b[65600u + (ch)], win));
      conv_state[(ch)] = win;
    } else {
      y[(c)] = acc0_0_2;
    } }
    }
    {
      let r = r0;
      let c = c0 + 3u;
      if (r < rows && c < 1024u) { if (c < 512u) {
      let ch = c;
      let zc = acc0_0_3;
      let sv = conv_state[(ch)];
      let win = vec4<f32>(sv.yzw, zc);
      y[(c)] = silu(W_norm_w_conv_w_conv_b[(264448u + (ch)) / 4u][(264448u + (ch)) % 4u] + dot(W_norm_w_conv_w_conv_b[65600u + (ch)], win));
      conv_state[(ch)] = win;
    } else {
      y[(c)] = acc0_0_3;
    } }
    }
  }
}
