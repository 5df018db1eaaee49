// kernel embed_tokens: embedding
//
// y[s, :] = table[ids[s], :]  (ids clamped to V - 1)
// V = 256, D = 256
//
// operands (element [i, j] is buffer[offset + i * stride0 + j * stride1]):
//   ids   [1], strides [1] in input:tokens
//   table [256,256], strides [256, 1], rows in quads of 16-byte units in weight:model.embed_tokens.weight
//   y     [1,256], strides [256, 1] in %112#0 (written)
//
// threads:
//   invocation: one token x a vec4 of 4 columns; workgroup: 64 invocations over the flat [S, 64] grid
//
// from: samba-style.hyb:3:1

@group(0) @binding(0) var<storage, read> ids: array<i32>;
@group(0) @binding(1) var<storage, read> table: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<vec4<f32>>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let wg = wid.x + wid.y * nwg.x;
  let f = wg * 64u + lid;
  if (f >= 64u) { return; }
  let ir = f;
  let i1 = ir;
  let row = min(u32(ids[0u]), 255u);
  y[(i1)] = table[((row) / 4u * 64u + (i1)) * 4u + (row) % 4u];
}
