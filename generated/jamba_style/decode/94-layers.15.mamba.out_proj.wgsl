// kernel layers.15.mamba.out_proj: fused_linear {weights=1, prologue="none", eps=null, normGroup=null, bias=false, activation="none", residual=true}
//
// z_i[r, o] = sum_k xn[r, k] * W_i[o, k]   (i < 1)
// y[r, :] = [z_1 | ... | z_n] + residual[r, :]
// xn = x
// column segments (start, width, weights): (0, 256, W)
//
// operands (element [i, j] is buffer[offset + i * stride0 + j * stride1]):
//   x        [1,512], strides [512, 1] in %434#0
//   W        [256,512] at offset 306944, strides [512, 1], rows in quads of 16-byte units in weight:model.layers.15
//   residual [1,256], strides [256, 1] in %425#0
//   y        [1,256], strides [256, 1] in %435#0 (written)
//
// threads:
//   cooperative GEMV: 4 lanes per output column walk K = 512 together in vec4 loads, strided by 4 (adjacent lanes, adjacent memory)
//   workgroup: 16 slots x 4 lanes (64 invocations, lid = slot * 4 + lane); a slot owns 4 column(s) of one segment; 1024 bytes of partial sums
//   grid: 4 workgroups; 64 column tiles in all
//   after a barrier, one invocation per output sums its column's 4 partials and stores act(z) (edge slots clamp their loads; out-of-range outputs skip the store)
//
// from: jamba-style.hyb:9:3, jamba-style.hyb:13:17

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> W: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> residual: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

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
  {
    let ct = wg * 16u + slot;
    if (ct < 64u) {
      {
        let lt = ct;
        let c0 = lt * 4u;
        var acc0_0 = f32(0.0);
        var acc0_1 = f32(0.0);
        var acc0_2 = f32(0.0);
        var acc0_3 = f32(0.0);
        for (var k = lane; k < 128u; k += 4u) {
          let xk = x[(k)];
          let w0_0 = W[76736u + ((min(c0, 252u)) / 4u * 128u + (k)) * 4u + (min(c0, 252u)) % 4u];
          acc0_0 += dot(xk, w0_0);
          let w0_1 = W[76736u + ((min(c0, 252u) + 1u) / 4u * 128u + (k)) * 4u + (min(c0, 252u) + 1u) % 4u];
          acc0_1 += dot(xk, w0_1);
          let w0_2 = W[76736u + ((min(c0, 252u) + 2u) / 4u * 128u + (k)) * 4u + (min(c0, 252u) + 2u) % 4u];
          acc0_2 += dot(xk, w0_2);
          let w0_3 = W[76736u + ((min(c0, 252u) + 3u) / 4u * 128u + (k)) * 4u + (min(c0, 252u) + 3u) % 4u];
          acc0_3 += dot(xk, w0_3);
        }
        part[0u + lid] = acc0_0;
        part[64u + lid] = acc0_1;
        part[128u + lid] = acc0_2;
        part[192u + lid] = acc0_3;
      }
    }
  }
  workgroupBarrier();
  for (var f = lid; f < 64u; f += 64u) {
    let ct = wg * 16u + f / 4u;
    let j = f % 4u;
    let at = j * 64u + (f / 4u) * 4u;
    let r = 0u;
    if (ct < 64u) {
      {
        let lt = ct;
        let c = lt * 4u + j;
        if (c < 256u) { y[(c)] = lanes(at) + residual[(c)]; }
      }
    }
  }
}
