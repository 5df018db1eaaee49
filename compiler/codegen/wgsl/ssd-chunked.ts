/**
 * The CHUNKED SSD algorithm (schedule algo 1): Mamba-2 prefill in its matmul-shaped form
 * (semantics.md "ssd", interp/mamba.ts ssdChunked). Per head, chunk of Q tokens, a_s = dt_s A,
 * S_i the inclusive in-chunk cumulative sum of a:
 *
 *   M[i, j] = (C_i . B_j) exp(S_i - S_j) dt_j            j <= i, else 0           (Q x Q)
 *   y_i[p]  = sum_j M[i, j] x_j[p] + exp(S_i) (C_i . h_in[p, :]) + D x_i[p],  then the epilogue
 *   h_out   = exp(S_last) h_in + sum_j exp(S_last - S_j) dt_j x_j B_j^T
 *
 * Only non-positive numbers are exponentiated (A < 0, dt >= 0, so S falls along the chunk): S_i - S_j
 * with j <= i, S_last - S_j and S_i. Tokens past L in the last chunk are padded with dt = 0 and
 * x = B = C = 0, so they add nothing and S_last = S[Q - 1] holds for every chunk.
 *
 * Mapping: one workgroup per (head, tile of PT state rows), PT | P; it walks the chunks in order
 * with its state tile h (PT x N) in workgroup memory. Per chunk, four phases, each a strided loop
 * of the workgroup's invocations over a grid, separated by workgroupBarrier (the chunk loop runs
 * to the uniform L, so every barrier is in uniform control flow):
 *   1. stage B, C (Q x N, vec4 over N when 4 | N) and x (Q x PT); invocation 0 computes dt, the
 *      cumulative sum S, exp(S_i) and the state weights exp(S_last - S_j) dt_j (Q serial steps);
 *   2. M over (i, j);
 *   3. y over (i, p): the M x product, the incoming state through C, D x, and the epilogue: none and
 *      gate store y; the norm epilogues keep the chunk's y tile in workgroup memory, and
 *   4. h over (p, n) (rank-Q update), and the norm epilogues normalise the tile's (token, norm group)
 *      rows from workgroup memory (a norm group never straddles a tile: the group divides PT).
 * The M tile is recomputed by each of the head's P / PT workgroups; a larger PT wastes less.
 * Workgroup memory: 4 (2 Q N + PT N + Q PT + Q Q + 4 Q [+ Q PT for the norms]) bytes, under
 * maxComputeWorkgroupStorageSize (ssd.ts picks Q and PT to fit). Same bindings as the
 * sequential kernel. Each workgroup reads and writes only its own state rows, so in place is safe.
 */
import { invariant } from "../../diag/diagnostic.ts";
import { byteSize } from "../../ir/types.ts";
import { kernelHeader } from "../header.ts";
import { buildKernel, CodegenError, type KernelSpec } from "../kernel.ts";
import type { KernelRequest } from "../request.ts";
import { hsum, siluFn, SOFTPLUS, vecType } from "./common.ts";
import { epilogueText, hasNorm, headScalars, type SsdOp, type SsdOperands, type SsdProblem, type SsdSchedule } from "./ssd-parts.ts";
import { f32, lines, u32, wgsl } from "./template.ts";

/** f32 words of workgroup memory the chunked kernel declares for chunk Q and tile PT. */
export function chunkedWords(p: SsdProblem, Q: number, PT: number): number {
  return 2 * Q * p.N + PT * p.N + Q * PT + Q * Q + 4 * Q + (hasNorm(p.epilogue) ? Q * PT : 0);
}

/** Bytes of workgroup memory those words take (f32 arrays). */
export function chunkedBytes(p: SsdProblem, Q: number, PT: number): number {
  return byteSize("f32", chunkedWords(p, Q, PT));
}

export function emitSsdChunked(req: KernelRequest<SsdOp>, p: SsdProblem, s: SsdSchedule, o: SsdOperands, storageBytes: number): KernelSpec {
  const { vec, workgroup: WG, chunk: Q, ptile: PT } = s;
  const norm = hasNorm(p.epilogue);
  const NG = p.normGroup ?? p.P;
  invariant(!norm || p.P % NG === 0, "norm group must divide headdim");
  const bad = (why: string): CodegenError => new CodegenError(`${req.node.op}: chunked SSD schedule (chunk ${Q}, ptile ${PT}): ${why}`, req.node.spans);
  if (p.S !== "L") throw bad("decode (S = 1) runs the sequential algorithm");
  if (Q < 1 || PT < 1 || p.P % PT !== 0) throw bad(`the p tile must divide headdim ${p.P}`);
  if (norm && PT % NG !== 0) throw bad(`the norm group (${NG}) must divide the p tile`);
  const bytes = chunkedBytes(p, Q, PT);
  if (bytes > storageBytes) throw bad(`needs ${bytes} bytes of workgroup memory; the adapter allows ${storageBytes}`);

  const V = vecType(vec);
  const NV = p.N / vec;
  const TILES = p.P / PT;
  const { uses, uniforms, ops, inPlace } = o;
  const g = ops.get;
  const out = g(inPlace ? "state" : "new_state");
  const lanes = (name: string, ...ix: string[]): string => (vec === 4 ? g(name).load4(...ix) : g(name).load(...ix));
  const zero = wgsl`${V}(${f32(0)})`;
  const q = u32(Q);
  const pt = u32(PT);
  const nv = u32(NV);
  const wgN = u32(WG);
  /** `for (var k = lid; k < n; k += WG) { body }` */
  const strided = (n: string, body: readonly string[]): string => wgsl`for (var k = lid; k < ${n}; k += ${wgN}) {
${lines(body, 2)}
}`;
  const gated = p.epilogue === "gate" || p.epilogue === "gate_norm";
  const zAt = (): string => g("z").load("t", "hi", "p0 + pp");

  const decls = [
    wgsl`var<workgroup> sB: array<${V}, ${u32(Q * NV)}>;`,
    wgsl`var<workgroup> sC: array<${V}, ${u32(Q * NV)}>;`,
    wgsl`var<workgroup> sH: array<${V}, ${u32(PT * NV)}>;`,
    wgsl`var<workgroup> sX: array<f32, ${u32(Q * PT)}>;`,
    wgsl`var<workgroup> sM: array<f32, ${u32(Q * Q)}>;`,
    // dt, the cumulative sum S, exp(S_i), exp(S_last - S_j) dt_j
    wgsl`var<workgroup> sDt: array<f32, ${q}>;`,
    wgsl`var<workgroup> sCum: array<f32, ${q}>;`,
    wgsl`var<workgroup> sE: array<f32, ${q}>;`,
    wgsl`var<workgroup> sW: array<f32, ${q}>;`,
    norm && wgsl`var<workgroup> sY: array<f32, ${u32(Q * PT)}>;`,
    siluFn("silu", "f32"),
    SOFTPLUS,
  ].filter((d): d is string => typeof d === "string");

  const stage = lines([
    `if (lid == 0u) {`,
    wgsl`  var run = ${f32(0)};`,
    wgsl`  for (var i = 0u; i < ${q}; i++) {`,
    wgsl`    var dtv = ${f32(0)};`,
    `    if (c0 + i < L) { dtv = softplus(${g("dt").load("c0 + i", "hi")} + dt_b); }`,
    `    run = run + dtv * a_h;`,
    `    sDt[i] = dtv;`,
    `    sCum[i] = run;`,
    `  }`,
    wgsl`  for (var i = 0u; i < ${q}; i++) {`,
    `    sE[i] = exp(sCum[i]);`,
    `    sW[i] = exp(run - sCum[i]) * sDt[i];`,
    `  }`,
    `}`,
    strided(wgsl`${u32(Q * NV)}`, [
      wgsl`let t = c0 + k / ${nv};`,
      `var b = ${zero};`,
      `var c = ${zero};`,
      wgsl`if (t < L) { b = ${lanes("B", "t", "gi", wgsl`k % ${nv}`)}; c = ${lanes("C", "t", "gi", wgsl`k % ${nv}`)}; }`,
      `sB[k] = b;`,
      `sC[k] = c;`,
    ]),
    strided(wgsl`${u32(Q * PT)}`, [
      wgsl`let t = c0 + k / ${pt};`,
      wgsl`var v = ${f32(0)};`,
      wgsl`if (t < L) { v = ${g("x").load("t", "hi", wgsl`p0 + k % ${pt}`)}; }`,
      `sX[k] = v;`,
    ]),
    "workgroupBarrier();",
  ]);

  const decay = lines([
    strided(wgsl`${u32(Q * Q)}`, [
      wgsl`let i = k / ${q};`,
      wgsl`let j = k % ${q};`,
      wgsl`var m = ${f32(0)};`,
      `if (j <= i) {`,
      `  var acc = ${zero};`,
      wgsl`  for (var n = 0u; n < ${nv}; n++) { acc = fma(sC[i * ${nv} + n], sB[j * ${nv} + n], acc); }`,
      `  m = ${hsum("acc", vec)} * exp(sCum[i] - sCum[j]) * sDt[j];`,
      `}`,
      `sM[k] = m;`,
    ]),
    "workgroupBarrier();",
  ]);

  // y of (i, pp): stored gated (gate, gate_norm) or raw (none, norm_gate); the norms keep it in sY.
  const yValue = gated ? `yv * silu(${zAt()})` : "yv";
  const output = lines([
    strided(wgsl`${u32(Q * PT)}`, [
      wgsl`let i = k / ${pt};`,
      wgsl`let pp = k % ${pt};`,
      `let t = c0 + i;`,
      wgsl`var acc = ${f32(0)};`,
      wgsl`for (var j = 0u; j <= i; j++) { acc = fma(sM[i * ${q} + j], sX[j * ${pt} + pp], acc); }`,
      `var ch = ${zero};`,
      wgsl`for (var n = 0u; n < ${nv}; n++) { ch = fma(sC[i * ${nv} + n], sH[pp * ${nv} + n], ch); }`,
      `let yv = acc + sE[i] * ${hsum("ch", vec)} + d_h * sX[k];`,
      norm
        ? gated
          ? wgsl`var v = ${f32(0)};\nif (t < L) { v = ${yValue}; }\nsY[k] = v;`
          : `sY[k] = yv;`
        : `if (t < L) { ${g("y").store(yValue, "t", "hi", "p0 + pp")} }`,
    ]),
    "workgroupBarrier();",
  ]);

  const NGR = PT / NG;
  const normed = (): string => {
    const v = wgsl`sY[i * ${pt} + pp] * inv * ${g("norm_w").load("hi", "p0 + pp")}`;
    return p.epilogue === "norm_gate" ? `${v} * silu(${zAt()})` : v;
  };
  const update = lines([
    strided(wgsl`${u32(PT * NV)}`, [
      wgsl`let pp = k / ${nv};`,
      wgsl`let n = k % ${nv};`,
      `var acc = ${zero};`,
      wgsl`for (var j = 0u; j < ${q}; j++) { acc = fma(${V}(sW[j] * sX[j * ${pt} + pp]), sB[j * ${nv} + n], acc); }`,
      wgsl`sH[k] = fma(${V}(sE[${u32(Q - 1)}]), sH[k], acc);`,
    ]),
    norm &&
      strided(wgsl`${u32(Q * NGR)}`, [
        wgsl`let i = k / ${u32(NGR)};`,
        `let t = c0 + i;`,
        wgsl`let q0 = (k % ${u32(NGR)}) * ${u32(NG)};`,
        `if (t < L) {`,
        wgsl`  var ss = ${f32(0)};`,
        wgsl`  for (var pp = q0; pp < q0 + ${u32(NG)}; pp++) { let v = sY[i * ${pt} + pp]; ss = fma(v, v, ss); }`,
        `  let inv = inverseSqrt(ss / ${f32(NG)} + ${f32(p.eps ?? 1)});`,
        wgsl`  for (var pp = q0; pp < q0 + ${u32(NG)}; pp++) { ${g("y").store(normed(), "t", "hi", "p0 + pp")} }`,
        `}`,
      ]),
    "workgroupBarrier();",
  ]);

  const stateIx = ["hi", wgsl`p0 + k / ${nv}`, wgsl`k % ${nv}`];
  const body = lines([
    // wg is uniform, so this return keeps every barrier below in uniform control flow.
    wgsl`let hi = wg / ${u32(TILES)};`,
    wgsl`if (hi >= ${u32(p.H)}) { return; }`,
    wgsl`let p0 = (wg % ${u32(TILES)}) * ${pt};`,
    headScalars(p, o),
    strided(wgsl`${u32(PT * NV)}`, [`sH[k] = ${lanes("state", ...stateIx)};`]),
    // No barrier needed here: phase 3 reads sH only after two barriers.
    wgsl`for (var c0 = 0u; c0 < L; c0 += ${q}) {`,
    lines([stage, decay, output, update], 2),
    `}`,
    strided(wgsl`${u32(PT * NV)}`, [vec === 4 ? out.store4("sH[k]", ...stateIx) : out.store("sH[k]", ...stateIx)]),
  ]);

  const header = kernelHeader(req, uses, {
    math: [
      "dt_t = softplus(dt[t, h] + dt_bias[h]),  A = -exp(A_log[h]),  g = h / (H / G);  per chunk of Q tokens, S_i = sum_{k <= i} dt_k A",
      "M[i, j] = (C_i . B_j) exp(S_i - S_j) dt_j for j <= i;  y_i[p] = sum_j M[i, j] x_j[p] + exp(S_i) C_i . h[p, :] + D[h] x_i[p]",
      `h[p, :] = exp(S_last) h[p, :] + sum_j exp(S_last - S_j) dt_j x_j[p] B_j;  h written back after the last chunk${inPlace ? " (in place)" : ""}`,
      epilogueText(p),
      `chunked over t with Q = ${Q}${p.chunk !== null ? ` (the spec's chunk = ${p.chunk} does not change the result)` : ""}`,
    ],
    threads: [
      `workgroup: one (head, tile of ${PT} of P = ${p.P} rows), ${WG} invocations; grid: H * P / PT = ${p.H * TILES} workgroups`,
      `per chunk: stage B, C (${Q} x ${NV} ${V}), x (${Q} x ${PT}) and invocation 0 the decays; M over ${Q} x ${Q}; y over ${Q} x ${PT}; ` +
        `h over ${PT} x ${NV} ${V}${norm ? `, and the (token, group of ${NG}) rows normalised` : ""}; a workgroupBarrier after each phase`,
      `workgroup memory: ${bytes} bytes; the state tile stays there over all chunks`,
    ],
  });
  return buildKernel({
    name: req.name,
    node: req.node,
    header,
    bindings: ops.bindings,
    uniforms,
    workgroupSize: WG,
    decls,
    body,
    dispatch: { lTile: null, times: p.H * TILES },
    // What this algorithm reads of the schedule (perHead and unroll are the sequential kernel's).
    schedule: { algo: s.algo, vec, workgroup: WG, chunk: Q, ptile: PT },
  });
}
