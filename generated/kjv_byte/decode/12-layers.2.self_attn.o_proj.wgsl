// kernel layers.2.self_attn.o_proj: fused_linear {weights=1, prologue="none", eps=null, normGroup=null, bias=false, activation="none", residual=true}
//
// z_i[r, o] = sum_k xn[r, k] * W_i[o, k]   (i < 1)
// y[r, :] = [z_1 | ... | z_n] + residual[r, :]
// xn = x
// column segments (start, width, weights): (0, 192, W)
//
// operands (element [i, j] is buffer[offset + i * stride0 + j * stride1]):
//   x        [1,192], strides [192, 1] in %104#0
//   W        [192,192] at offset 110784, strides [192, 1] in weight:model.layers.2
//   residual [1,192], strides [192, 1] in %98#0
//   y        [1,192], strides [192, 1] in %105#0 (written)
//
// threads:
//   invocation: a 1 x 1 register tile of one segment (rows r0 = 1 * rt.., cols 1 * lt..), walking K = 192 in vec4 steps
//   workgroup: 64 col tiles x 1 row tiles (64 invocations); no workgroup memory
//   grid: 3 workgroups (flat wg = row block * 3 + col block); 192 col tiles in all
//   edge tiles clamp their loads and skip their stores
//
// from: kjv-byte.hyb:18:3, kjv-byte.hyb:20:23

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> W: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> residual: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let wg = wid.x + wid.y * nwg.x;
  let ct = (wg % 3u) * 64u + lid % 64u;
  let rt = (wg / 3u) * 1u + lid / 64u;
  let r0 = rt * 1u;
  let rows = 1u;
  if (r0 >= rows || ct >= 192u) { return; }
  {
    let lt = ct;
    let c0 = lt * 1u;
    var acc0_0_0 = vec4<f32>(0.0);
    for (var k = 0u; k < 48u; k++) {
      let x0 = x[(k)];
      let w0_0 = W[27696u + (min(c0, 191u)) * 48u + (k)];
      acc0_0_0 = fma(x0, w0_0, acc0_0_0);
    }
    {
      let r = r0;
      let c = c0;
      if (r < rows && c < 192u) { y[(c)] = dot(acc0_0_0, vec4<f32>(1.0)) + residual[(c)]; }
    }
  }
}
