/**
 * The Mamba-2 SSD family: `ssd_chunked` (prefill) and `ssd_state_update` (decode, S = 1), one
 * generator; decode is the same kernel at L = 1 with L baked in.
 *
 *   dt_t = softplus(dt[t, h] + dt_bias[h]),  A = -exp(A_log[h]),  g = h / (H / G)
 *   s[h, p, :] = exp(dt_t A) s[h, p, :] + (dt_t x[t, h, p]) B[t, g, :]      s = h0 before t = 0
 *   y[t, h, p] = sum_n s[h, p, n] C[t, g, n] + D[h] x[t, h, p],  then the epilogue
 *   (none | y silu(z) | rmsnorm(y silu(z)) w | rmsnorm(y) w silu(z), norm groups of normGroup | P)
 *
 * Algorithm: SEQUENTIAL over time. One invocation owns one (head, p) row of the state (N values
 * in registers, vec4 over N when 4 | N) and walks all L tokens; this is exactly the recurrence
 * the chunked SSD form computes (semantics.md "ssd": both agree to 1e-11 in float64), so the
 * attr `chunk` only documents the spec here. A chunked (matmul-shaped) GPU form is a later
 * optimization. The state is read at the start and written at the end by its own invocation,
 * so updating it in place is race-free.
 *
 * Mapping (schedule `perHead`):
 *   0  rows: flat grid over the H * P rows, `workgroup` rows per workgroup (epilogues none, gate);
 *   1  heads: one workgroup per head, its invocations walk the head's P rows (p = lid, lid + WG,
 *      ...), write y (gated for gate_norm, raw for norm_gate), then one storageBarrier, then the
 *      workgroup normalises the head's (token, norm group) rows of y in place. Required by the
 *      norm epilogues, whose groups span several p rows; a single barrier per kernel, not per
 *      token (barriers are coroutine switches on lavapipe).
 * Schedule: vec (vec4 over N when 4 | N), perHead, workgroup, unroll (the N loop unrolled into
 * named registers, or a private array and a loop; alike in speed on lavapipe, the loop is the
 * smaller module and the default when N / vec > 16).
 *
 * Measured on lavapipe (2 shared cores, loaded host), H = 24, P = 64, L = 1024: N = 16 60-75 ms,
 * N = 64 ~370 ms, N = 128 ~700 ms per call; gate_norm per head costs the same as gate by rows.
 */
import { invariant } from "../../diag/diagnostic.ts";
import type { NodeOf } from "../../ir/graph.ts";
import type { SsdEpilogue } from "../../ir/fused-ops.ts";
import type { Dim } from "../../ir/types.ts";
import { kernelHeader } from "../header.ts";
import { buildKernel, CodegenError, type KernelLimits, type KernelSpec, type UniformSpec } from "../kernel.ts";
import { bindOperands, vec4Aligned, type Accessor, type OperandUse } from "../operands.ts";
import type { KernelRequest, OperandView } from "../request.ts";
import { hsum, lengthExpr, pow2AtLeast, range, siluFn, SOFTPLUS, vecType } from "./common.ts";
import { f32, lines, u32, wgsl } from "./template.ts";

export type SsdOp = "ssd_chunked" | "ssd_state_update";

const INPUTS = ["x", "dt", "A_log", "B", "C", "D", "dt_bias", "state", "z", "norm_w"] as const;
type SsdInput = (typeof INPUTS)[number];

export interface SsdProblem {
  readonly S: Dim;
  readonly H: number;
  readonly P: number;
  readonly G: number;
  readonly N: number;
  readonly epilogue: SsdEpilogue;
  /** Channels per norm group and the norm's eps (norm epilogues only). */
  readonly normGroup: number | null;
  readonly eps: number | null;
  /** The chunk attr (prefill), documentation only for this sequential kernel. */
  readonly chunk: number | null;
  readonly ins: Readonly<Partial<Record<SsdInput, OperandView>>>;
  readonly y: OperandView;
  readonly newState: OperandView;
}

export interface SsdSchedule {
  /** d_state lanes per operation: 4 (vec4) or 1. */
  readonly vec: 1 | 4;
  /** 1: one workgroup per head (needed by the norm epilogues); 0: a flat grid over rows. */
  readonly perHead: 0 | 1;
  readonly workgroup: number;
  /** 1: the state row in NV named registers, the N loop unrolled; 0: a private array and a loop. */
  readonly unroll: 0 | 1;
}

const hasNorm = (e: SsdEpilogue): boolean => e === "gate_norm" || e === "norm_gate";

export function ssdProblem(req: KernelRequest<SsdOp>): SsdProblem {
  const node = req.node as NodeOf<SsdOp>;
  const a = node.attrs;
  const ins: Partial<Record<SsdInput, OperandView>> = {};
  req.inputs.forEach((v, i) => (ins[INPUTS[i]!] = v));
  const [S, H, P] = ins.x!.shape as [Dim, number, number];
  const [, G, N] = ins.B!.shape as [Dim, number, number];
  const chunk = "chunk" in a ? (a as { chunk: number }).chunk : null;
  return { S, H, P, G, N, epilogue: a.epilogue, normGroup: a.normGroup, eps: a.eps, chunk, ins, y: req.results[0]!, newState: req.results[1]! };
}

export function ssdSchedule(limits: KernelLimits, p: SsdProblem): SsdSchedule {
  const wgMax = Math.min(limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX);
  const vec = p.N % 4 === 0 ? 4 : 1;
  // Unrolled named registers or a private array with a loop ran alike on lavapipe (N = 16..128,
  // L = 1024); the loop keeps the module 3x smaller for wide states.
  const unroll = p.N / vec <= 16 ? 1 : 0;
  if (hasNorm(p.epilogue)) return { vec, perHead: 1, workgroup: Math.min(wgMax, 256, pow2AtLeast(p.P)), unroll };
  return { vec, perHead: 0, workgroup: Math.min(wgMax, 64, pow2AtLeast(p.H * p.P)), unroll };
}

export function emitSsd(req: KernelRequest<SsdOp>, p: SsdProblem, s: SsdSchedule): KernelSpec {
  const { vec, perHead, workgroup: WG } = s;
  const unroll = s.unroll === 1;
  invariant(vec === 1 || p.N % 4 === 0, "vec4 SSD needs 4 | d_state");
  const norm = hasNorm(p.epilogue);
  if (norm && perHead !== 1) throw new CodegenError(`${req.node.op}: the ${p.epilogue} epilogue needs one workgroup per head (perHead = 1)`, req.node.spans);
  const NG = p.normGroup ?? p.P;
  invariant(!norm || p.P % NG === 0, "norm group must divide headdim");
  const V = vecType(vec);
  const NV = p.N / vec;
  const HPG = p.H / p.G;
  const inPlace = p.newState.buffer.key === p.ins.state!.buffer.key;
  const wide = (v: OperandView): boolean => vec === 4 && vec4Aligned(v);
  const stateVec = wide(p.ins.state!) && wide(p.newState);
  const use = (name: SsdInput, vec4 = false): OperandUse => ({ name, view: p.ins[name]!, write: false, vec4 });
  const uses: OperandUse[] = [
    // x is read one element per row, but as a vec4 use (component loads) it lets B and C, views
    // of the same xBC buffer, share a vec4 binding and load whole vec4s.
    use("x", wide(p.ins.x!)),
    use("dt"),
    use("A_log"),
    use("B", wide(p.ins.B!)),
    use("C", wide(p.ins.C!)),
    use("D"),
    use("dt_bias"),
    use("state", stateVec),
    ...(p.epilogue !== "none" ? [use("z")] : []),
    ...(norm ? [use("norm_w")] : []),
    { name: "y", view: p.y, write: true, vec4: false },
    { name: inPlace ? "state" : "new_state", view: p.newState, write: true, vec4: stateVec },
  ];
  const uniforms: UniformSpec = { fields: p.S === "L" ? ["L"] : [] };
  const ops = bindOperands(uses, uniforms);
  const g = ops.get;
  const lanes = (a: Accessor, ...ix: string[]): string => (vec === 4 ? a.load4(...ix) : a.load(...ix));
  const j = (k: number): string => wgsl`${u32(k)}`;
  const out = g(inPlace ? "state" : "new_state");

  // What the recurrence stores per (t, row): y silu(z) for gate and gate_norm (normalised later),
  // plain y for none and norm_gate (gated after the norm).
  const gated = p.epilogue === "gate" || p.epilogue === "gate_norm";
  const yValue = gated ? `yv * silu(${g("z").load("t", "hi", "pi")})` : "yv";

  // The recurrence of one row (hi, pi): state in registers, all tokens, state written back.
  const row = lines([
    unroll
      ? range(NV)
          .map((k) => `var s${k} = ${lanes(g("state"), "hi", "pi", j(k))};`)
          .join("\n")
      : wgsl`var st: array<${V}, ${u32(NV)}>;
for (var k = 0u; k < ${u32(NV)}; k++) { st[k] = ${lanes(g("state"), "hi", "pi", "k")}; }`,
    wgsl`for (var t = 0u; t < L; t++) {
${lines(
  [
    `let dtv = softplus(${g("dt").load("t", "hi")} + dt_b);`,
    `let dA = exp(dtv * a_h);`,
    `let xv = ${g("x").load("t", "hi", "pi")};`,
    `let dx = dtv * xv;`,
    wgsl`var acc = ${V}(${f32(0)});`,
    unroll
      ? range(NV)
          .map((k) => `s${k} = fma(${V}(dA), s${k}, dx * ${lanes(g("B"), "t", "gi", j(k))});\nacc = fma(s${k}, ${lanes(g("C"), "t", "gi", j(k))}, acc);`)
          .join("\n")
      : wgsl`for (var k = 0u; k < ${u32(NV)}; k++) {
  let sk = fma(${V}(dA), st[k], dx * ${lanes(g("B"), "t", "gi", "k")});
  st[k] = sk;
  acc = fma(sk, ${lanes(g("C"), "t", "gi", "k")}, acc);
}`,
    `let yv = ${hsum("acc", vec)} + d_h * xv;`,
    g("y").store(yValue, "t", "hi", "pi"),
  ],
  2,
)}
}`,
    unroll
      ? range(NV)
          .map((k) => (stateVec ? out.store4(`s${k}`, "hi", "pi", j(k)) : out.store(`s${k}`, "hi", "pi", j(k))))
          .join("\n")
      : wgsl`for (var k = 0u; k < ${u32(NV)}; k++) {
${lines([stateVec ? out.store4("st[k]", "hi", "pi", "k") : out.store("st[k]", "hi", "pi", "k")], 2)}
}`,
  ]);

  const perHeadScalars = lines([
    `let a_h = -exp(${g("A_log").load("hi")});`,
    `let dt_b = ${g("dt_bias").load("hi")};`,
    `let d_h = ${g("D").load("hi")};`,
    wgsl`let gi = hi / ${u32(HPG)};`,
    wgsl`let L = ${lengthExpr(p.S)};`,
  ]);

  let body: string;
  if (perHead === 0) {
    body = lines([
      wgsl`let r = wg * ${u32(WG)} + lid;`,
      wgsl`if (r >= ${u32(p.H * p.P)}) { return; }`,
      wgsl`let hi = r / ${u32(p.P)};`,
      wgsl`let pi = r % ${u32(p.P)};`,
      perHeadScalars,
      row,
    ]);
  } else {
    const NGR = p.P / NG;
    const yAt = (i: string): string => g("y").load("t", "hi", i);
    const normed = (i: string): string => {
      const v = `${yAt(i)} * inv * ${g("norm_w").load("hi", i)}`;
      return p.epilogue === "norm_gate" ? `${v} * silu(${g("z").load("t", "hi", i)})` : v;
    };
    body = lines([
      // wg is uniform, so this return keeps the barrier below in uniform control flow.
      wgsl`let hi = wg;`,
      wgsl`if (hi >= ${u32(p.H)}) { return; }`,
      perHeadScalars,
      wgsl`for (var pi = lid; pi < ${u32(p.P)}; pi += ${u32(WG)}) {
${lines([row], 2)}
}`,
      norm && "storageBarrier();",
      norm &&
        wgsl`for (var k = lid; k < L * ${u32(NGR)}; k += ${u32(WG)}) {
  let t = k / ${u32(NGR)};
  let q0 = (k % ${u32(NGR)}) * ${u32(NG)};
  var ss = ${f32(0)};
  for (var i = q0; i < q0 + ${u32(NG)}; i++) { let v = ${yAt("i")}; ss = fma(v, v, ss); }
  let inv = inverseSqrt(ss / ${f32(NG)} + ${f32(p.eps ?? 1)});
  for (var i = q0; i < q0 + ${u32(NG)}; i++) { ${g("y").store(normed("i"), "t", "hi", "i")} }
}`,
    ]);
  }

  const epilogueMath: Record<SsdEpilogue, string> = {
    none: "out = y",
    gate: "out = y * silu(z[t, h, p])",
    gate_norm: `out = rmsnorm(y * silu(z)) * norm_w[h, p] over groups of ${NG} of the head's P channels, eps = ${p.eps}`,
    norm_gate: `out = rmsnorm(y) * norm_w[h, p] * silu(z) over groups of ${NG} of the head's P channels, eps = ${p.eps}`,
  };
  const T = p.S === "L" ? "L" : String(p.S);
  const header = kernelHeader(req, uses, {
    math: [
      "dt_t = softplus(dt[t, h] + dt_bias[h]),  A = -exp(A_log[h]),  g = h / (H / G)",
      "s[h, p, :] = exp(dt_t * A) * s[h, p, :] + (dt_t * x[t, h, p]) * B[t, g, :]",
      `y[t, h, p] = sum_n s[h, p, n] * C[t, g, n] + D[h] * x[t, h, p];  s written back after the last t${inPlace ? " (in place)" : ""}`,
      epilogueMath[p.epilogue],
      ...(p.chunk !== null ? [`sequential over t: the exact recurrence of the chunked SSD form; chunk = ${p.chunk} does not change the result and is not used`] : []),
    ],
    threads: [
      `invocation: one (head, p) row, all ${T} time steps; the row's state in ${NV} ${V} ${unroll ? "registers, N loop unrolled" : "(a private array, N loop)"} (d_state = ${p.N})`,
      perHead === 0
        ? `workgroup: ${WG} rows; grid: ${Math.ceil((p.H * p.P) / WG)} workgroups (H * P = ${p.H} * ${p.P})`
        : `workgroup: one head (H = ${p.H} workgroups of ${WG}), rows p = lid, lid + ${WG}, ... of P = ${p.P}; ` +
          `then storageBarrier and the workgroup normalises the head's ${T} * ${p.P / NG} (token, group) rows of y in place`,
    ],
  });
  const times = perHead === 0 ? Math.ceil((p.H * p.P) / WG) : p.H;
  const decls = [siluFn("silu", "f32"), SOFTPLUS];
  return buildKernel({
    name: req.name,
    node: req.node,
    header,
    bindings: ops.bindings,
    uniforms,
    workgroupSize: WG,
    decls,
    body,
    dispatch: { lTile: null, times },
    schedule: s,
  });
}

export function generateSsd(req: KernelRequest<SsdOp>, limits: KernelLimits, override: Partial<SsdSchedule> = {}): KernelSpec {
  const p = ssdProblem(req);
  return emitSsd(req, p, { ...ssdSchedule(limits, p), ...override });
}
