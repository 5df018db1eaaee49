/**
 * The Mamba-1 scan family: `selective_scan` (prefill) and `selective_state_update` (decode,
 * S = 1), one generator; decode is the same kernel at L = 1 with L baked in.
 *
 *   (inner norms: dt_t, B_t, C_t <- rmsnorm(dt_t) * w_dt, rmsnorm(B_t) * w_B, rmsnorm(C_t) * w_C)
 *   delta = softplus(sum_r dt[t, r] dt_proj_w[c, r] + delta_bias[c]),  A = -exp(A_log[c, :])
 *   h[c, :] = exp(delta A) * h[c, :] + (delta u[t, c]) B[t, :]          h = h0 before t = 0
 *   y[t, c] = (sum_n h[c, n] C[t, n] + D[c] u[t, c]) * silu(z[t, c]);    h0 <- h after t = L-1
 *
 * Algorithm: one invocation per channel walks time; A and h live in registers (N / vec
 * variables, unrolled here so they stay registers), so no [L, Di, N] tensor is ever stored and
 * delta never leaves the invocation. The inner norms' row statistics are recomputed per channel
 * (cheap next to the N-wide update, and they need no second kernel). The state is read at the
 * start and written at the end by its own invocation, so updating it in place is race-free.
 * Schedule: vec (vec4 over d_state when 4 | N), the dt walk (vec4, dt_proj row in registers), workgroup size.
 * A state row beyond the function variables WGSL guarantees (d_state over about 2,000) is a
 * limits problem (HYB5002), not a kernel.
 */
import { invariant } from "../../diag/diagnostic.ts";
import type { NodeOf } from "../../ir/graph.ts";
import { byteSize, type Dim } from "../../ir/types.ts";
import { kernelHeader } from "../header.ts";
import { buildKernel, type KernelLimits, type KernelSpec, type UniformSpec } from "../kernel.ts";
import { bindOperands, vec4Aligned, type Accessor, type OperandUse } from "../operands.ts";
import type { KernelRequest, OperandView } from "../request.ts";
import { checkRegisters, hsum, lengthExpr, pow2AtLeast, range, siluFn, SOFTPLUS, vecType } from "./common.ts";
import { f32, lines, u32, wgsl } from "./template.ts";

export type ScanOp = "selective_scan" | "selective_state_update";

export interface ScanProblem {
  readonly S: Dim;
  readonly Di: number;
  readonly N: number;
  readonly R: number;
  /** The inner norms' eps, or null without them. */
  readonly eps: number | null;
  readonly ins: Readonly<Record<ScanInput, OperandView>>;
  readonly y: OperandView;
  readonly newH: OperandView;
}

const INPUTS = ["u", "dt", "dt_w", "A_log", "B", "C", "D", "z", "dt_bias", "h", "dt_norm_w", "B_norm_w", "C_norm_w"] as const;
type ScanInput = (typeof INPUTS)[number];

export interface ScanSchedule {
  /** d_state lanes per operation: 4 (vec4) or 1. */
  readonly vec: 1 | 4;
  /** Lanes of the dt projection's walk over R: 4 when dt and dt_proj rows are vec4-aligned, else 1. */
  readonly dtVec: 1 | 4;
  /** 1: keep the channel's dt_proj row in registers (R / dtVec of them) instead of re-reading it every step. */
  readonly dtRegisters: 0 | 1;
  readonly workgroup: number;
}

export function scanProblem(req: KernelRequest<ScanOp>): ScanProblem {
  const node = req.node as NodeOf<ScanOp>;
  const ins = Object.fromEntries(req.inputs.map((v, i) => [INPUTS[i]!, v])) as Record<ScanInput, OperandView>;
  const [Di, N] = ins.A_log.shape as [number, number];
  return { S: ins.u.shape[0]!, Di, N, R: ins.dt.shape[1] as number, eps: node.attrs.innerNormEps, ins, y: req.results[0]!, newH: req.results[1]! };
}

export function scanSchedule(limits: KernelLimits, p: ScanProblem): ScanSchedule {
  const wg = Math.min(64, limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX);
  const dtRows = [p.ins.dt, p.ins.dt_w, ...(p.eps === null ? [] : [p.ins.dt_norm_w])];
  const dtVec = dtRows.every(vec4Aligned) ? 4 : 1;
  return { vec: p.N % 4 === 0 ? 4 : 1, dtVec, dtRegisters: p.R / dtVec <= 32 ? 1 : 0, workgroup: Math.min(wg, pow2AtLeast(p.Di)) };
}

export function emitScan(req: KernelRequest<ScanOp>, p: ScanProblem, s: ScanSchedule): KernelSpec {
  const { vec, dtVec, dtRegisters, workgroup: WG } = s;
  // The state row (N values) lives in `var` registers, beside a few vectors (proj, acc, norms' sums).
  checkRegisters(req.node.op, `the state row of d_state = ${p.N} values in registers`, byteSize("f32", p.N + 4 * 4), req.node.spans);
  invariant(vec === 1 || p.N % 4 === 0, "vec4 scan needs 4 | d_state");
  invariant(dtVec === 1 || p.R % 4 === 0, "a vec4 dt walk needs 4 | dt_rank");
  const V = vecType(vec);
  const NV = p.N / vec;
  const inPlace = p.newH.buffer.key === p.ins.h.buffer.key;
  const norms = p.eps !== null;
  // d_state-wide operands go vec4 where their rows are aligned; the rest are read per element.
  const wide = (v: OperandView): boolean => vec === 4 && vec4Aligned(v);
  const use = (name: ScanInput, vec4 = false): OperandUse => ({ name, view: p.ins[name], write: false, vec4 });
  const uses: OperandUse[] = [
    use("u"),
    use("dt", dtVec === 4),
    use("dt_w", dtVec === 4),
    use("A_log", wide(p.ins.A_log)),
    use("B", wide(p.ins.B)),
    use("C", wide(p.ins.C)),
    use("D"),
    use("z"),
    use("dt_bias"),
    use("h", wide(p.ins.h) && wide(p.newH)),
    ...(norms ? [use("dt_norm_w", dtVec === 4), use("B_norm_w", wide(p.ins.B_norm_w)), use("C_norm_w", wide(p.ins.C_norm_w))] : []),
    { name: "y", view: p.y, write: true, vec4: false },
    { name: inPlace ? "h" : "new_h", view: p.newH, write: true, vec4: wide(p.ins.h) && wide(p.newH) },
  ];
  const uniforms: UniformSpec = { fields: p.S === "L" ? ["L"] : [] };
  const ops = bindOperands(uses, uniforms);
  const g = ops.get;
  const load = (w: 1 | 4, a: Accessor, ...ix: string[]): string => (w === 4 ? a.load4(...ix) : a.load(...ix));
  const lanes = (a: Accessor, ...ix: string[]): string => load(vec, a, ...ix);
  const j = (k: number): string => wgsl`${u32(k)}`;
  const zero = wgsl`${V}(${f32(0)})`;

  // The inner norms' scale of row t of dt (R values) and of B, C (N values each), walked w lanes at a time.
  const rowScale = (name: string, a: Accessor, n: number, w: 1 | 4): string => {
    return wgsl`var ${name}_q = ${vecType(w)}(${f32(0)});
for (var k = 0u; k < ${u32(n / w)}; k++) { let v = ${load(w, a, "t", "k")}; ${name}_q = fma(v, v, ${name}_q); }
let ${name}_s = inverseSqrt(${hsum(`${name}_q`, w)} / ${f32(n)} + ${f32(p.eps ?? 1)});`;
  };
  const dtTerm = (r: string): string => {
    const dt = load(dtVec, g("dt"), "t", r);
    return norms ? `${dt} * dt_s * ${load(dtVec, g("dt_norm_w"), r)}` : dt;
  };
  const RV = p.R / dtVec;
  const bc = (name: "B" | "C", k: number): string => {
    const raw = lanes(g(name), "t", j(k));
    return norms ? `${raw} * ${name}_s * ${lanes(g(`${name}_norm_w`), j(k))}` : raw;
  };

  const body = lines([
    wgsl`let c = wg * ${u32(WG)} + lid;`,
    wgsl`if (c >= ${u32(p.Di)}) { return; }`,
    wgsl`let L = ${lengthExpr(p.S)};`,
    range(NV).map((k) => `let a${k} = -exp(${lanes(g("A_log"), "c", j(k))});\nvar s${k} = ${lanes(g("h"), "c", j(k))};`).join("\n"),
    `let d_skip = ${g("D").load("c")};`,
    `let dt_b = ${g("dt_bias").load("c")};`,
    dtRegisters === 1 && range(RV).map((r) => `let dw${r} = ${load(dtVec, g("dt_w"), "c", j(r))};`).join("\n"),
    wgsl`for (var t = 0u; t < L; t++) {
${lines(
  [
    norms && [rowScale("dt", g("dt"), p.R, dtVec), rowScale("B", g("B"), p.N, vec), rowScale("C", g("C"), p.N, vec)].join("\n"),
    wgsl`var proj = ${vecType(dtVec)}(${f32(0)});`,
    dtRegisters === 1
      ? range(RV)
          .map((r) => `proj = fma(${dtTerm(j(r))}, dw${r}, proj);`)
          .join("\n")
      : wgsl`for (var r = 0u; r < ${u32(RV)}; r++) { proj = fma(${dtTerm("r")}, ${load(dtVec, g("dt_w"), "c", "r")}, proj); }`,
    wgsl`let delta = softplus(${hsum("proj", dtVec)} + dt_b);
let uv = ${g("u").load("t", "c")};
let dx = delta * uv;
var acc = ${zero};`,
    range(NV)
      .map((k) => `s${k} = fma(exp(delta * a${k}), s${k}, dx * ${bc("B", k)});\nacc = fma(s${k}, ${bc("C", k)}, acc);`)
      .join("\n"),
    g("y").store(`(${hsum("acc", vec)} + d_skip * uv) * silu(${g("z").load("t", "c")})`, "t", "c"),
  ],
  2,
)}
}`,
    range(NV)
      .map((k) => {
        const out = g(inPlace ? "h" : "new_h");
        return vec === 4 ? out.store4(`s${k}`, "c", j(k)) : out.store(`s${k}`, "c", j(k));
      })
      .join("\n"),
  ]);
  const header = kernelHeader(req, uses, {
    math: [
      ...(norms ? [`dt_t, B_t, C_t <- rmsnorm(dt_t) * dt_norm_w, rmsnorm(B_t) * B_norm_w, rmsnorm(C_t) * C_norm_w,  eps = ${p.eps}`] : []),
      "delta = softplus(sum_r dt[t, r] * dt_w[c, r] + dt_bias[c]),  A = -exp(A_log[c, :])",
      "h[c, :] = exp(delta * A) * h[c, :] + (delta * u[t, c]) * B[t, :]",
      `y[t, c] = (sum_n h[c, n] * C[t, n] + D[c] * u[t, c]) * silu(z[t, c]);  h written back after the last t${inPlace ? " (in place)" : ""}`,
    ],
    threads: [
      `invocation: one channel c, all ${p.S === "L" ? "L" : p.S} time steps; A and h in ${NV} ${V} registers (d_state = ${p.N})`,
      `dt projection: R = ${p.R} in ${dtVec === 4 ? "vec4" : "scalar"} steps, dt_w row ${dtRegisters === 1 ? "in registers" : "re-read each step"}`,
      `workgroup: ${WG} channels; grid: ${Math.ceil(p.Di / WG)} workgroups (Di = ${p.Di})`,
    ],
  });
  const times = Math.ceil(p.Di / WG);
  return buildKernel({
    name: req.name,
    node: req.node,
    header,
    bindings: ops.bindings,
    uniforms,
    workgroupSize: WG,
    decls: [siluFn("silu", "f32"), SOFTPLUS],
    body,
    dispatch: { lTile: null, times },
    schedule: s,
  });
}

export function generateScan(req: KernelRequest<ScanOp>, limits: KernelLimits, override: Partial<ScanSchedule> = {}): KernelSpec {
  const p = scanProblem(req);
  return emitScan(req, p, { ...scanSchedule(limits, p), ...override });
}
