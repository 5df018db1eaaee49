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
 * Schedule: vec (vec4 over d_state when 4 | N), the dt walk (vec4, dt_proj row in registers), workgroup size;
 * for the prefill walk also channels per invocation and staged tokens: every step's dt, B, C rows
 * are the same for all channels, and a CPU adapter runs a uniform read lane by lane, so an
 * invocation walks several channels (cb + m * WG) and the workgroup copies each block of rows
 * into workgroup memory once (no early return then: channels past Di are clamped, not stored).
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
import { checkRegisters, hsum, lengthExpr, plus, pow2AtLeast, range, siluFn, SOFTPLUS, vecType } from "./common.ts";
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
  /**
   * Channels per invocation (the sequential prefill walk; 1 elsewhere). Every step reads the dt,
   * B and C rows, the same for all channels; a CPU adapter (lavapipe) runs such a uniform read
   * lane by lane, so one invocation walking several channels reads them once for all of them.
   */
  readonly channels: number;
  /** Tokens whose dt, B, C rows a workgroup stages in workgroup memory at a time (0: read from storage). */
  readonly stage: number;
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

/**
 * The sequential prefill walk's channels per invocation and staged tokens. On lavapipe, a
 * mamba-130m layer's walk (Di = 1536, N = 16, R = 48, L = 2048, interleaved medians): 1 channel
 * 417 ms, 1 staged 281, 2 staged 169, 4 staged 116, 8 staged 115 ms.
 */
const CHANNELS = 4;
const STAGE = 16;
const STATE_VALUES = 64;

export function scanSchedule(limits: KernelLimits, p: ScanProblem): ScanSchedule {
  const wg = Math.min(64, limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX);
  const dtRows = [p.ins.dt, p.ins.dt_w, ...(p.eps === null ? [] : [p.ins.dt_norm_w])];
  const dtVec = dtRows.every(vec4Aligned) ? 4 : 1;
  const vec = p.N % 4 === 0 ? 4 : 1;
  const dtRegisters = p.R / dtVec <= 32 ? 1 : 0;
  // The sequential prefill walk (chosen for small devices, build.ts scanFor): CHANNELS channels per
  // invocation, rows staged STAGE tokens at a time. Decode and the chunk phases: one channel, unstaged.
  if (p.phase !== "whole" || p.S !== "L") return { vec, dtVec, dtRegisters, workgroup: Math.min(wg, pow2AtLeast(p.Di)), channels: 1, stage: 0 };
  // At most 64 state values per invocation: more unrolled registers make the pipeline slow to compile
  // (lavapipe: d_state 128 x 4 channels took about a minute) for little more speed.
  // (and at least 8 invocations for a narrow layer)
  const channels = Math.max(1, Math.min(CHANNELS, Math.floor(STATE_VALUES / p.N), Math.ceil(p.Di / 8)));
  const workgroup = Math.max(1, Math.min(wg / 2, pow2AtLeast(Math.ceil(p.Di / channels))));
  const rowBytes = byteSize("f32", p.R + 2 * p.N);
  const stage = Math.min(STAGE, Math.floor(limits.maxComputeWorkgroupStorageSize / rowBytes));
  return { vec, dtVec, dtRegisters, workgroup, channels, stage };
}

export function emitScan(req: KernelRequest<ScanOp>, p: ScanProblem, s: ScanSchedule): KernelSpec {
  const { vec, dtVec, dtRegisters, workgroup: WG } = s;
  // The state row (N values) lives in `var` registers, beside a few vectors (proj, acc, norms' sums).
  checkRegisters(req.node.op, `the state row${s.channels > 1 ? `s of ${s.channels} channels` : ""} of d_state = ${p.N} values in registers`, byteSize("f32", s.channels * (p.N + 4 * 4)), req.node.spans);
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

  const RV = p.R / dtVec;
  // Channels per invocation and staged rows (the sequential prefill walk only, scanSchedule):
  // channel m of the invocation is cb + m * WG; its registers carry the suffix `_m` (none with one channel).
  const CH = s.channels;
  const ST = s.stage;
  invariant(phase === "whole" || (CH === 1 && ST === 0), "the chunk phases walk one channel per invocation, unstaged");
  const sfx = (m: number): string => (CH === 1 ? "" : `_${m}`);
  const chans = range(CH);
  // Row t's elements: from storage, or (staged) from the block of ST rows in workgroup memory, index tt.
  const rowAt = (name: "dt" | "B" | "C", w: 1 | 4, n: number, ix: string): string =>
    ST > 0 ? wgsl`${name.toLowerCase()}_rows[tt * ${u32(n)} + ${ix}]` : load(w, g(name), "t", ix);

  // The inner norms' scale of row t of dt (R values) and of B, C (N values each), walked w lanes at a time.
  const rowScale = (name: "dt" | "B" | "C", n: number, w: 1 | 4): string => {
    return wgsl`var ${name}_q = ${vecType(w)}(${f32(0)});
for (var k = 0u; k < ${u32(n / w)}; k++) { let v = ${rowAt(name, w, n / w, "k")}; ${name}_q = fma(v, v, ${name}_q); }
let ${name}_s = inverseSqrt(${hsum(`${name}_q`, w)} / ${f32(n)} + ${f32(p.eps ?? 1)});`;
  };
  const dtTerm = (r: string): string => {
    const dt = rowAt("dt", dtVec, RV, r);
    return norms ? `${dt} * dt_s * ${load(dtVec, g("dt_norm_w"), r)}` : dt;
  };
  const bcRaw = (name: "B" | "C", k: number): string => {
    const raw = rowAt(name, vec, NV, j(k));
    return norms ? `${raw} * ${name}_s * ${lanes(g(`${name}_norm_w`), j(k))}` : raw;
  };
  // With several channels or staged rows the walk has no early return (barriers), channels past Di
  // are clamped, and B_t and C_t are read once per step into b_t{k}, c_t{k}.
  const clamped = CH > 1 || ST > 0;
  const bc = (name: "B" | "C", k: number): string => (clamped ? `${name.toLowerCase()}_t${k}` : bcRaw(name, k));

  const groups = Math.ceil(p.Di / (WG * CH));
  // Channels past Di (when WG * CH does not divide it) read channel Di - 1 and store nothing.
  const ragged = clamped && p.Di % (WG * CH) !== 0;
  const Q = chunk?.Q ?? 0;
  // Chunk phases: the slot's state element (c, k-th lane group) of chunk `ci`, in units of `vec` lanes.
  const slotIx = (ci: string, k: string | number): string =>
    wgsl`${ci} * ${u32(chunk!.words / vec)} + c * ${u32(NV)}${typeof k === "number" ? (k === 0 ? "" : wgsl` + ${u32(k)}`) : ` + ${k}`}`;
  const loadState = (a: Accessor, k: number, ix: "slot" | "h", m = 0): string =>
    ix === "h" ? lanes(a, `c${sfx(m)}`, j(k)) : lanes(a, "0u", slotIx("ci", k));
  const storeState = (a: Accessor, v: string, k: number, ix: "slot" | "h", m = 0): string => {
    const at = ix === "h" ? [`c${sfx(m)}`, j(k)] : ["0u", slotIx("ci", k)];
    return vec === 4 ? a.store4(v, ...at) : a.store(v, ...at);
  };
  const perChannel = (f: (m: number) => string): string => chans.map(f).join("\n");
  const live = (m: number, stmt: string): string => (ragged ? `if (live${sfx(m)}) {\n${lines([stmt], 2)}\n}` : stmt);
  const aReg = (k: number, m = 0): string => `let a${k}${sfx(m)} = -exp(${lanes(g("A_log"), `c${sfx(m)}`, j(k))});`;
  const init: Record<ScanPhase, () => string> = {
    whole: () => perChannel((m) => range(NV).map((k) => `${aReg(k, m)}\nvar s${k}${sfx(m)} = ${loadState(g("h"), k, "h", m)};`).join("\n")),
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
    perChannel((m) =>
      live(
        m,
        range(NV)
          .map((k) => storeState(g(inPlace ? "h" : "new_h"), `s${k}${sfx(m)}`, k, "h", m))
          .join("\n"),
      ),
    );
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

  // One channel's step at token t: delta, the state update, y.
  const channelStep = (m: number): string => {
    const x = sfx(m);
    return lines([
      wgsl`var proj${x} = ${vecType(dtVec)}(${f32(0)});`,
      dtRegisters === 1
        ? range(RV)
            .map((r) => `proj${x} = fma(${dtTerm(j(r))}, dw${r}${x}, proj${x});`)
            .join("\n")
        : wgsl`for (var r = 0u; r < ${u32(RV)}; r++) { proj${x} = fma(${dtTerm("r")}, ${load(dtVec, g("dt_w"), `c${x}`, "r")}, proj${x}); }`,
      wgsl`let delta${x} = softplus(${hsum(`proj${x}`, dtVec)} + dt_b${x});`,
      phase === "chunk_state" && "dsum += delta;",
      `let uv${x} = ${g("u").load("t", `c${x}`)};
let dx${x} = delta${x} * uv${x};`,
      outputs && wgsl`var acc${x} = ${zero};`,
      range(NV)
        .map((k) => `s${k}${x} = fma(exp(delta${x} * a${k}${x}), s${k}${x}, dx${x} * ${bc("B", k)});${outputs ? `\nacc${x} = fma(s${k}${x}, ${bc("C", k)}, acc${x});` : ""}`)
        .join("\n"),
      outputs && live(m, g("y").store(`(${hsum(`acc${x}`, vec)} + d_skip${x} * uv${x}) * silu(${g("z").load("t", `c${x}`)})`, "t", `c${x}`)),
    ]);
  };
  const step = lines([
    norms && [rowScale("dt", p.R, dtVec), rowScale("B", p.N, vec), outputs ? rowScale("C", p.N, vec) : ""].filter((x) => x !== "").join("\n"),
    clamped && range(NV).map((k) => `let b_t${k} = ${bcRaw("B", k)};`).join("\n"),
    clamped && outputs && range(NV).map((k) => `let c_t${k} = ${bcRaw("C", k)};`).join("\n"),
    perChannel(channelStep),
  ]);
  // Staged: each block of ST tokens' dt, B, C rows is loaded once by the whole workgroup, then
  // every channel of every invocation reads them from workgroup memory.
  const fill = (name: "dt" | "B" | "C", w: 1 | 4, n: number): string =>
    wgsl`for (var i = lid; i < nt * ${u32(n)}; i += ${u32(WG)}) { ${name.toLowerCase()}_rows[i] = ${load(w, g(name), `t0 + i / ${u32(n)}`, `i % ${u32(n)}`)}; }`;
  const walk =
    ST > 0
      ? wgsl`for (var t0 = 0u; t0 < L; t0 += ${u32(ST)}) {
  let nt = min(${u32(ST)}, L - t0);
${lines([fill("dt", dtVec, RV), fill("B", vec, NV), outputs && fill("C", vec, NV), "workgroupBarrier();"], 2)}
  for (var tt = 0u; tt < nt; tt++) {
    let t = t0 + tt;
${lines([step], 4)}
  }
  workgroupBarrier();
}`
      : wgsl`for (var t = ${phase === "whole" ? "0u" : "t0"}; t < ${phase === "whole" ? "L" : "t1"}; t++) {
${lines([step], 2)}
}`;
  const staged =
    ST > 0 &&
    [`var<workgroup> dt_rows: array<${vecType(dtVec)}, ${ST * RV}u>;`, `var<workgroup> b_rows: array<${V}, ${ST * NV}u>;`, ...(outputs ? [`var<workgroup> c_rows: array<${V}, ${ST * NV}u>;`] : [])].join("\n");

  const channelsSetup = clamped
    ? lines([
        wgsl`let cb = wg * ${u32(WG * CH)} + lid;`,
        perChannel((m) =>
          ragged
            ? wgsl`let live${sfx(m)} = ${plus("cb", m * WG)} < ${u32(p.Di)};
let c${sfx(m)} = min(${plus("cb", m * WG)}, ${u32(p.Di - 1)});`
            : wgsl`let c${sfx(m)} = ${plus("cb", m * WG)};`,
        ),
      ])
    : wgsl`let c = wg * ${u32(WG)} + lid;
if (c >= ${u32(p.Di)}) { return; }`;
  const body = lines([
    phase === "whole"
      ? wgsl`${channelsSetup}
let L = ${lengthExpr(p.S)};`
      : wgsl`let ci = wg / ${u32(groups)};
let c = (wg % ${u32(groups)}) * ${u32(WG)} + lid;
let L = ${lengthExpr(p.S)};
let nch = (L + ${u32(Q - 1)}) / ${u32(Q)};
if (c >= ${u32(p.Di)} || ci ${phase === "chunk_state" ? "+ 1u >= nch" : ">= nch"}) { return; }
let t0 = ci * ${u32(Q)};
let t1 = min(L, t0 + ${u32(Q)});`,
    phase !== "whole" && range(NV).map((k) => aReg(k)).join("\n"),
    init[phase](),
    outputs && perChannel((m) => `let d_skip${sfx(m)} = ${g("D").load(`c${sfx(m)}`)};`),
    perChannel((m) => `let dt_b${sfx(m)} = ${g("dt_bias").load(`c${sfx(m)}`)};`),
    phase === "chunk_state" && wgsl`var dsum = ${f32(0)};`,
    dtRegisters === 1 &&
      perChannel((m) =>
        range(RV)
          .map((r) => `let dw${r}${sfx(m)} = ${load(dtVec, g("dt_w"), `c${sfx(m)}`, j(r))};`)
          .join("\n"),
      ),
    walk,
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
        ? CH === 1
          ? `invocation: one channel c, all ${T} time steps; A and h in ${NV} ${V} registers (d_state = ${p.N})`
          : `invocation: ${CH} channels cb + m * ${WG} (m < ${CH}), all ${T} time steps; each channel's A and h in ${NV} ${V} registers (d_state = ${p.N}); B_t, C_t read once per step for all ${CH}`
        : `invocation: one (chunk, channel c), the chunk's Q = ${Q} time steps; A and h in ${NV} ${V} registers (d_state = ${p.N})`,
      `dt projection: R = ${p.R} in ${dtVec === 4 ? "vec4" : "scalar"} steps, dt_w row ${dtRegisters === 1 ? "in registers" : "re-read each step"}`,
      ...(ST > 0 ? [`staged: the dt, B${outputs ? ", C" : ""} rows of ${ST} tokens at a time in workgroup memory, loaded once by the workgroup`] : []),
      phase === "whole"
        ? `workgroup: ${WG * CH} channels; grid: ${groups} workgroups (Di = ${p.Di})`
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
    decls: [...(staged ? [staged] : []), ...(outputs ? [siluFn("silu", "f32")] : []), SOFTPLUS],
    body,
    dispatch: { lTile: phase === "whole" ? null : Q, times: groups },
    schedule: s,
  });
}

export function generateScan(req: KernelRequest<ScanOp>, limits: KernelLimits, override: Partial<ScanSchedule> = {}): KernelSpec {
  const p = scanProblem(req);
  return emitScan(req, p, { ...scanSchedule(limits, p), ...override });
}
