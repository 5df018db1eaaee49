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
 *
 * The chunk-parallel phases (ir/chunk-ops.ts, passes/parallel-scan.ts) are the same walk over one
 * chunk of Q tokens, one invocation per (chunk, channel), nc = ceil(L / Q) chunks:
 *   selective_scan_chunk_state   from a zero state, chunks c < nc - 1; no y; the end state and
 *                                sum_t delta_t into slot c of the slots tensor
 *   selective_scan_chunk_output  from slot c (h0 when nc = 1: then one chunk, the sequential
 *                                kernel's race-free in-place update); y; the last chunk writes h
 * (scan_state_pass, between them, is wgsl/scan-state-pass.ts.)
 */
import { invariant } from "../../diag/diagnostic.ts";
import type { NodeOf } from "../../ir/graph.ts";
import { slotWords } from "../../ir/chunk-ops.ts";
import { byteSize, type Dim } from "../../ir/types.ts";
import { kernelHeader } from "../header.ts";
import { buildKernel, type KernelLimits, type KernelSpec, type UniformSpec } from "../kernel.ts";
import { bindOperands, vec4Aligned, type Accessor, type OperandUse } from "../operands.ts";
import type { KernelRequest, OperandView } from "../request.ts";
import { checkRegisters, hsum, lengthExpr, pow2AtLeast, range, siluFn, SOFTPLUS, vecType } from "./common.ts";
import { f32, lines, u32, wgsl } from "./template.ts";

export type ScanOp = "selective_scan" | "selective_state_update" | "selective_scan_chunk_state" | "selective_scan_chunk_output";

/** Which walk: all tokens (the fused scan, decode), or one chunk (the chunk-parallel phases). */
export type ScanPhase = "whole" | "chunk_state" | "chunk_output";

export interface ScanProblem {
  readonly S: Dim;
  readonly Di: number;
  readonly N: number;
  readonly R: number;
  /** The inner norms' eps, or null without them. */
  readonly eps: number | null;
  readonly ins: Readonly<Record<ScanInput, OperandView>>;
  readonly phase: ScanPhase;
  /** Chunk phases: Q, the slot's words and the slots operand (the result of chunk_state, the last input of chunk_output). */
  readonly chunk: { readonly Q: number; readonly words: number; readonly slots: OperandView } | null;
  /** y and the new state (absent in chunk_state). */
  readonly y: OperandView | null;
  readonly newH: OperandView | null;
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
  const phase: ScanPhase = node.op === "selective_scan_chunk_state" ? "chunk_state" : node.op === "selective_scan_chunk_output" ? "chunk_output" : "whole";
  const operands = phase === "chunk_output" ? req.inputs.slice(0, -1) : req.inputs;
  const ins = Object.fromEntries(operands.map((v, i) => [INPUTS[i]!, v])) as Record<ScanInput, OperandView>;
  const [Di, N] = ins.A_log.shape as [number, number];
  const Q = "chunk" in node.attrs ? node.attrs.chunk : null;
  const slots = phase === "chunk_state" ? req.results[0]! : req.inputs[req.inputs.length - 1]!;
  const chunk = Q === null ? null : { Q, words: slotWords([Di, N], Q), slots };
  const whole = phase !== "chunk_state";
  return { S: ins.u.shape[0]!, Di, N, R: ins.dt.shape[1] as number, eps: node.attrs.innerNormEps, ins, phase, chunk, y: whole ? req.results[0]! : null, newH: whole ? req.results[1]! : null };
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
  const { phase, chunk } = p;
  const inPlace = p.newH !== null && p.newH.buffer.key === p.ins.h.buffer.key;
  const norms = p.eps !== null;
  // What this phase reads and writes: chunk_state needs neither C, D, z nor h, and writes no y.
  const outputs = phase !== "chunk_state";
  const readsH = phase !== "chunk_state";
  // The slots as vec4s when the state rows are (slot words are a multiple of 4, so every slot is aligned).
  // chunk_state also stores the scalar dt sums, so it binds them as f32.
  const slotsVec = chunk !== null && phase === "chunk_output" && vec === 4 && vec4Aligned(chunk.slots);
  // d_state-wide operands go vec4 where their rows are aligned; the rest are read per element.
  const wide = (v: OperandView): boolean => vec === 4 && vec4Aligned(v);
  const use = (name: ScanInput, vec4 = false): OperandUse => ({ name, view: p.ins[name], write: false, vec4 });
  const stateVec = wide(p.ins.h) && (p.newH === null || wide(p.newH));
  const uses: OperandUse[] = [
    use("u"),
    use("dt", dtVec === 4),
    use("dt_w", dtVec === 4),
    use("A_log", wide(p.ins.A_log)),
    use("B", wide(p.ins.B)),
    ...(outputs ? [use("C", wide(p.ins.C)), use("D"), use("z")] : []),
    use("dt_bias"),
    ...(readsH ? [use("h", stateVec)] : []),
    ...(norms ? [use("dt_norm_w", dtVec === 4), use("B_norm_w", wide(p.ins.B_norm_w)), ...(outputs ? [use("C_norm_w", wide(p.ins.C_norm_w))] : [])] : []),
    ...(chunk !== null ? [{ name: "slots", view: chunk.slots, write: phase === "chunk_state", vec4: slotsVec }] : []),
    ...(outputs
      ? [
          { name: "y", view: p.y!, write: true, vec4: false },
          { name: inPlace ? "h" : "new_h", view: p.newH!, write: true, vec4: stateVec },
        ]
      : []),
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

  const groups = Math.ceil(p.Di / WG);
  const Q = chunk?.Q ?? 0;
  // Chunk phases: the slot's state element (c, k-th lane group) of chunk `ci`, in units of `vec` lanes.
  const slotIx = (ci: string, k: string | number): string =>
    wgsl`${ci} * ${u32(chunk!.words / vec)} + c * ${u32(NV)}${typeof k === "number" ? (k === 0 ? "" : wgsl` + ${u32(k)}`) : ` + ${k}`}`;
  const loadState = (a: Accessor, k: number, ix: "slot" | "h"): string => (ix === "h" ? lanes(a, "c", j(k)) : lanes(a, "0u", slotIx("ci", k)));
  const storeState = (a: Accessor, v: string, k: number, ix: "slot" | "h"): string => {
    const at = ix === "h" ? ["c", j(k)] : ["0u", slotIx("ci", k)];
    return vec === 4 ? a.store4(v, ...at) : a.store(v, ...at);
  };
  const aReg = (k: number): string => `let a${k} = -exp(${lanes(g("A_log"), "c", j(k))});`;
  const init: Record<ScanPhase, () => string> = {
    whole: () =>
      range(NV)
        .map((k) => `${aReg(k)}\nvar s${k} = ${loadState(g("h"), k, "h")};`)
        .join("\n"),
    chunk_state: () =>
      range(NV)
        .map((k) => `var s${k} = ${zero};`)
        .join("\n"),
    // h0 only with one chunk; with several, chunk 0's incoming state is slot 0 (h0 copied there by
    // scan_state_pass), since the last chunk writes the final state into h's buffer (ir/chunk-ops.ts).
    chunk_output: () => {
      const all = (f: (k: number) => string): string => range(NV).map(f).join("\n");
      return lines([
        all((k) => `var s${k}: ${V};`),
        wgsl`if (nch > ${u32(1)}) {
${lines([all((k) => `s${k} = ${loadState(g("slots"), k, "slot")};`)], 2)}
} else {
${lines([all((k) => `s${k} = ${loadState(g("h"), k, "h")};`)], 2)}
}`,
      ]);
    },
  };
  const finalStore = (): string =>
    range(NV)
      .map((k) => storeState(g(inPlace ? "h" : "new_h"), `s${k}`, k, "h"))
      .join("\n");
  const finish: Record<ScanPhase, () => string> = {
    whole: finalStore,
    chunk_state: () =>
      lines([
        range(NV)
          .map((k) => storeState(g("slots"), `s${k}`, k, "slot"))
          .join("\n"),
        g("slots").store("dsum", "0u", wgsl`ci * ${u32(chunk?.words ?? 0)} + ${u32(p.Di * p.N)} + c`),
      ]),
    chunk_output: () => wgsl`if (ci + ${u32(1)} == nch) {
${lines([finalStore()], 2)}
}`,
  };

  const body = lines([
    phase === "whole"
      ? wgsl`let c = wg * ${u32(WG)} + lid;
if (c >= ${u32(p.Di)}) { return; }
let L = ${lengthExpr(p.S)};`
      : wgsl`let ci = wg / ${u32(groups)};
let c = (wg % ${u32(groups)}) * ${u32(WG)} + lid;
let L = ${lengthExpr(p.S)};
let nch = (L + ${u32(Q - 1)}) / ${u32(Q)};
if (c >= ${u32(p.Di)} || ci ${phase === "chunk_state" ? "+ 1u >= nch" : ">= nch"}) { return; }
let t0 = ci * ${u32(Q)};
let t1 = min(L, t0 + ${u32(Q)});`,
    phase !== "whole" && range(NV).map(aReg).join("\n"),
    init[phase](),
    outputs && `let d_skip = ${g("D").load("c")};`,
    `let dt_b = ${g("dt_bias").load("c")};`,
    phase === "chunk_state" && wgsl`var dsum = ${f32(0)};`,
    dtRegisters === 1 &&
      range(RV)
        .map((r) => `let dw${r} = ${load(dtVec, g("dt_w"), "c", j(r))};`)
        .join("\n"),
    wgsl`for (var t = ${phase === "whole" ? "0u" : "t0"}; t < ${phase === "whole" ? "L" : "t1"}; t++) {
${lines(
  [
    norms && [rowScale("dt", g("dt"), p.R, dtVec), rowScale("B", g("B"), p.N, vec), outputs ? rowScale("C", g("C"), p.N, vec) : ""].filter((x) => x !== "").join("\n"),
    wgsl`var proj = ${vecType(dtVec)}(${f32(0)});`,
    dtRegisters === 1
      ? range(RV)
          .map((r) => `proj = fma(${dtTerm(j(r))}, dw${r}, proj);`)
          .join("\n")
      : wgsl`for (var r = 0u; r < ${u32(RV)}; r++) { proj = fma(${dtTerm("r")}, ${load(dtVec, g("dt_w"), "c", "r")}, proj); }`,
    wgsl`let delta = softplus(${hsum("proj", dtVec)} + dt_b);`,
    phase === "chunk_state" && "dsum += delta;",
    `let uv = ${g("u").load("t", "c")};
let dx = delta * uv;`,
    outputs && wgsl`var acc = ${zero};`,
    range(NV)
      .map((k) => `s${k} = fma(exp(delta * a${k}), s${k}, dx * ${bc("B", k)});${outputs ? `\nacc = fma(s${k}, ${bc("C", k)}, acc);` : ""}`)
      .join("\n"),
    outputs && g("y").store(`(${hsum("acc", vec)} + d_skip * uv) * silu(${g("z").load("t", "c")})`, "t", "c"),
  ],
  2,
)}
}`,
    finish[phase](),
  ]);
  const T = p.S === "L" ? "L" : String(p.S);
  const phaseMath: Record<ScanPhase, string[]> = {
    whole: [`y[t, c] = (sum_n h[c, n] * C[t, n] + D[c] * u[t, c]) * silu(z[t, c]);  h written back after the last t${inPlace ? " (in place)" : ""}`],
    chunk_state: [
      `chunk ci < nc - 1 of Q = ${Q} tokens (nc = ceil(L / Q)), h = 0 before its first token; no y`,
      `slots[ci * ${chunk?.words} + c * N + n] = h[c, n] after the chunk, slots[ci * ${chunk?.words} + Di * N + c] = sum_t delta  (ir/chunk-ops.ts)`,
    ],
    chunk_output: [
      `y[t, c] = (sum_n h[c, n] * C[t, n] + D[c] * u[t, c]) * silu(z[t, c]) over chunk ci of Q = ${Q} tokens`,
      `h before the chunk: slots[ci * ${chunk?.words} + c * N + n] when nc >= 2 (scan_state_pass), else h0; the last chunk writes h${inPlace ? " (in place)" : ""}`,
    ],
  };
  const header = kernelHeader(req, uses, {
    math: [
      ...(norms ? [`dt_t, B_t, C_t <- rmsnorm(dt_t) * dt_norm_w, rmsnorm(B_t) * B_norm_w, rmsnorm(C_t) * C_norm_w,  eps = ${p.eps}`] : []),
      "delta = softplus(sum_r dt[t, r] * dt_w[c, r] + dt_bias[c]),  A = -exp(A_log[c, :])",
      "h[c, :] = exp(delta * A) * h[c, :] + (delta * u[t, c]) * B[t, :]",
      ...phaseMath[phase],
    ],
    threads: [
      phase === "whole"
        ? `invocation: one channel c, all ${T} time steps; A and h in ${NV} ${V} registers (d_state = ${p.N})`
        : `invocation: one (chunk, channel c), the chunk's Q = ${Q} time steps; A and h in ${NV} ${V} registers (d_state = ${p.N})`,
      `dt projection: R = ${p.R} in ${dtVec === 4 ? "vec4" : "scalar"} steps, dt_w row ${dtRegisters === 1 ? "in registers" : "re-read each step"}`,
      phase === "whole"
        ? `workgroup: ${WG} channels; grid: ${groups} workgroups (Di = ${p.Di})`
        : `workgroup: ${WG} channels; grid: ceil(L / ${Q}) chunks x ${groups} workgroups (Di = ${p.Di})`,
    ],
  });
  return buildKernel({
    name: req.name,
    node: req.node,
    header,
    bindings: ops.bindings,
    uniforms,
    workgroupSize: WG,
    decls: [...(outputs ? [siluFn("silu", "f32")] : []), SOFTPLUS],
    body,
    dispatch: { lTile: phase === "whole" ? null : Q, times: groups },
    schedule: s,
  });
}

export function generateScan(req: KernelRequest<ScanOp>, limits: KernelLimits, override: Partial<ScanSchedule> = {}): KernelSpec {
  const p = scanProblem(req);
  return emitScan(req, p, { ...scanSchedule(limits, p), ...override });
}
