// kernel layers.2.mamba.out_proj: fused_linear {weights=1, prologue="none", eps=null, normGroup=null, bias=false, activation="none", residual=true}
//
// z_i[r, o] = sum_k xn[r, k] * W_i[o, k]   (i < 1)
// y[r, :] = [z_1 | ... | z_n] + residual[r, :]
// xn = x
// column segments (start, width, weights): (0, 256, W)
//
// operands (element [i, j] is buffer[offset + i * stride0 + j * stride1]):
//   x        [1,512], strides [512, 1] in %144#0
//   W        [256,512] at offset 306944, strides [512, 1] in weight:model.layers.2
//   residual [1,256], strides [256, 1] in %134#0
//   y        [1,256], strides [256, 1] in %145#0 (written)
//
// threads:
//   invocation: a 1 x 1 register tile of one segment (rows r0 = 1 * rt.., cols 1 * lt..), walking K = 512 in vec4 steps
//   workgroup: 64 col tiles x 1 row tiles (64 invocations); no workgroup memory
//   grid: 4 workgroups (flat wg = row block * 4 + col block); 256 col tiles in all
//   edge tiles clamp their loads and skip their stores
//
// from: samba-style.hyb:8:3, samba-style.hyb:12:17

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> W: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> residual: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let wg = wid.x + wid.y * nwg.x;
  let ct = (wg % 4u) * 64u + lid % 64u;
  let rt = (wg / 4u) * 1u + lid / 64u;
  let r0 = rt * 1u;
  let rows = 1u;
  if (r0 >= rows || ct >= 256u) { return; }
  {
    let lt = ct;
    let c0 = lt * 1u;
    var acc0_0_0 = vec4<f32>(0.0);
    for (var k = 0u; k < 128u; k++) {
      let x0 = x[(k)];
      let w0_0 = W[76736u + (min(c0, 255u)) * 128u + (k)];
      acc0_0_0 = fma(x0, w0_0, acc0_0_0);
    }
    {
      let r = r0;
      let c = c0;
      if (r < rows && c < 256u) { y[(c)] = dot(acc0_0_0, vec4<f32>(1.0)) + residual[(c)]; }
    }
  }
}
