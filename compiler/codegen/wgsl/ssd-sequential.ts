/**
 * The SEQUENTIAL SSD algorithm (schedule algo 0): the Mamba-2 recurrence walked token by token.
 *
 *   s[h, p, :] = exp(dt_t A) s[h, p, :] + (dt_t x[t, h, p]) B[t, g, :]      s = h0 before t = 0
 *   y[t, h, p] = sum_n s[h, p, n] C[t, g, n] + D[h] x[t, h, p],  then the epilogue
 *
 * One invocation owns one (head, p) row of the state (N values in registers, vec4 over N when
 * 4 | N) and walks all L tokens; this is exactly the recurrence the chunked SSD form computes
 * (semantics.md "ssd": both agree to 1e-11 in float64). The state is read at the start and
 * written at the end by its own invocation, so updating it in place is race-free. Decode
 * (ssd_state_update, S = 1) always uses it.
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
 * The chunk-parallel phases (ir/chunk-ops.ts, passes/parallel-scan.ts) are this walk over one
 * chunk of Q tokens, chunk ci = the workgroup's row of a grid of ceil(L / Q) x (rows or heads):
 *   ssd_chunk_state   rows only (no epilogue), chunks ci < nc - 1, from a zero state, no y: the end
 *                     state and (row p = 0) the head's sum_t dt_t into slot ci
 *   ssd_chunk_output  from slot ci (h0 when nc = 1), y and its epilogue over the chunk's tokens;
 *                     the last chunk writes the state
 */
import { invariant } from "../../diag/diagnostic.ts";
import { byteSize } from "../../ir/types.ts";
import { kernelHeader } from "../header.ts";
import { buildKernel, CodegenError, type KernelSpec } from "../kernel.ts";
import type { Accessor } from "../operands.ts";
import type { KernelRequest } from "../request.ts";
import { checkRegisters, hsum, range, siluFn, SOFTPLUS, vecType } from "./common.ts";
import { epilogueText, hasNorm, headScalars, type SsdOp, type SsdOperands, type SsdPhase, type SsdProblem, type SsdSchedule } from "./ssd-parts.ts";
import { f32, lines, u32, wgsl } from "./template.ts";

export function emitSsdSequential(req: KernelRequest<SsdOp>, p: SsdProblem, s: SsdSchedule, o: SsdOperands): KernelSpec {
  // The state row (N values of one channel) lives in `var` registers, beside a few vectors.
  checkRegisters(req.node.op, `the state row of d_state = ${p.N} values in registers`, byteSize("f32", p.N + 4 * 4), req.node.spans);
  const { vec, perHead, workgroup: WG } = s;
  const unroll = s.unroll === 1;
  // chunk_state writes no y, hence no epilogue.
  const norm = hasNorm(p.epilogue) && p.phase !== "chunk_state";
  if (norm && perHead !== 1) throw new CodegenError(`${req.node.op}: the ${p.epilogue} epilogue needs one workgroup per head (perHead = 1)`, req.node.spans);
  const NG = p.normGroup ?? p.P;
  invariant(!norm || p.P % NG === 0, "norm group must divide headdim");
  const V = vecType(vec);
  const NV = p.N / vec;
  const { uses, uniforms, ops, inPlace, stateVec } = o;
  const { phase } = p;
  const outputs = phase !== "chunk_state";
  if (!outputs && perHead !== 0) throw new CodegenError(`${req.node.op}: the chunk states need no epilogue, hence rows (perHead = 0)`, req.node.spans);
  const g = ops.get;
  const lanes = (a: Accessor, ...ix: string[]): string => (vec === 4 ? a.load4(...ix) : a.load(...ix));
  const j = (k: number): string => wgsl`${u32(k)}`;
  const Q = p.slots?.Q ?? 0;
  // Where a state row (hi, pi) lives, lane group k (a u32 expression or a constant).
  const rowAt = (where: "state" | "slot", k: string | number): string[] => {
    const kx = typeof k === "number" ? j(k) : k;
    if (where === "state") return ["hi", "pi", kx];
    return ["0u", wgsl`ci * ${u32(p.slots!.words / vec)} + (hi * ${u32(p.P)} + pi) * ${u32(NV)} + ${kx}`];
  };
  const loadRow = (where: "state" | "slot", k: string | number): string => lanes(g(where === "state" ? "state" : "slots"), ...rowAt(where, k));
  const storeRow = (a: Accessor, where: "state" | "slot", v: string, k: string | number): string => (vec === 4 ? a.store4(v, ...rowAt(where, k)) : a.store(v, ...rowAt(where, k)));

  // What the recurrence stores per (t, row): y silu(z) for gate and gate_norm (normalised later),
  // plain y for none and norm_gate (gated after the norm).
  const gated = p.epilogue === "gate" || p.epilogue === "gate_norm";
  const yValue = (): string => (gated ? `yv * silu(${g("z").load("t", "hi", "pi")})` : "yv");

  // The row's state registers from `where` (named, or a private array).
  const loadState = (where: "state" | "slot"): string =>
    unroll
      ? range(NV)
          .map((k) => `s${k} = ${loadRow(where, k)};`)
          .join("\n")
      : wgsl`for (var k = 0u; k < ${u32(NV)}; k++) { st[k] = ${loadRow(where, "k")}; }`;
  const declareState = unroll
    ? range(NV)
        .map((k) => `var s${k}: ${V};`)
        .join("\n")
    : wgsl`var st: array<${V}, ${u32(NV)}>;`;
  const storeState = (where: "state" | "slot"): string => {
    const a = where === "slot" ? g("slots") : g(inPlace ? "state" : "new_state");
    return unroll
      ? range(NV)
          .map((k) => storeRow(a, where, `s${k}`, k))
          .join("\n")
      : wgsl`for (var k = 0u; k < ${u32(NV)}; k++) {
${lines([storeRow(a, where, "st[k]", "k")], 2)}
}`;
  };
  const init: Record<SsdPhase, () => string> = {
    whole: () =>
      unroll
        ? range(NV)
            .map((k) => `var s${k} = ${loadRow("state", k)};`)
            .join("\n")
        : lines([declareState, loadState("state")]),
    chunk_state: () =>
      unroll
        ? range(NV)
            .map((k) => wgsl`var s${String(k)} = ${V}(${f32(0)});`)
            .join("\n")
        : lines([declareState, wgsl`for (var k = 0u; k < ${u32(NV)}; k++) { st[k] = ${V}(${f32(0)}); }`]),
    // h0 only with one chunk: with several, the last chunk writes the state buffer, so chunk 0's
    // incoming state is slot 0, h0 copied there by scan_state_pass (ir/chunk-ops.ts).
    chunk_output: () =>
      lines([
        declareState,
        wgsl`if (nch > ${u32(1)}) {
${lines([loadState("slot")], 2)}
} else {
${lines([loadState("state")], 2)}
}`,
      ]),
  };
  const finish: Record<SsdPhase, () => string> = {
    whole: () => storeState("state"),
    chunk_state: () =>
      lines([storeState("slot"), wgsl`if (pi == ${u32(0)}) { ${g("slots").store("dsum", "0u", wgsl`ci * ${u32(p.slots!.words)} + ${u32(p.H * p.P * p.N)} + hi`)} }`]),
    chunk_output: () => wgsl`if (ci + ${u32(1)} == nch) {
${lines([storeState("state")], 2)}
}`,
  };
  const [t0, t1] = phase === "whole" ? ["0u", "L"] : ["t0", "t1"];

  // The recurrence of one row (hi, pi): state in registers, the tokens [t0, t1), state written back.
  const row = lines([
    init[phase](),
    !outputs && wgsl`var dsum = ${f32(0)};`,
    wgsl`for (var t = ${t0}; t < ${t1}; t++) {
${lines(
  [
    `let dtv = softplus(${g("dt").load("t", "hi")} + dt_b);`,
    !outputs && "dsum += dtv;",
    `let dA = exp(dtv * a_h);`,
    `let xv = ${g("x").load("t", "hi", "pi")};`,
    `let dx = dtv * xv;`,
    outputs && wgsl`var acc = ${V}(${f32(0)});`,
    unroll
      ? range(NV)
          .map((k) => `s${k} = fma(${V}(dA), s${k}, dx * ${lanes(g("B"), "t", "gi", j(k))});${outputs ? `\nacc = fma(s${k}, ${lanes(g("C"), "t", "gi", j(k))}, acc);` : ""}`)
          .join("\n")
      : wgsl`for (var k = 0u; k < ${u32(NV)}; k++) {
  let sk = fma(${V}(dA), st[k], dx * ${lanes(g("B"), "t", "gi", "k")});
  st[k] = sk;${outputs ? `\n  acc = fma(sk, ${lanes(g("C"), "t", "gi", "k")}, acc);` : ""}
}`,
    outputs && `let yv = ${hsum("acc", vec)} + d_h * xv;`,
    outputs && g("y").store(yValue(), "t", "hi", "pi"),
  ],
  2,
)}
}`,
    finish[phase](),
  ]);

  const perHeadScalars = headScalars(p, o);
  // Chunk phases: the chunk count and this chunk's tokens; chunk_state skips the last chunk.
  // (ci comes from the workgroup id, so these returns keep the norm's barrier in uniform control flow.)
  const chunkScalars =
    phase !== "whole" &&
    wgsl`let nch = (L + ${u32(Q - 1)}) / ${u32(Q)};
if (ci ${phase === "chunk_state" ? "+ 1u >= nch" : ">= nch"}) { return; }
let t0 = ci * ${u32(Q)};
let t1 = min(L, t0 + ${u32(Q)});`;
  const rowGroups = Math.ceil((p.H * p.P) / WG);

  let body: string;
  if (perHead === 0) {
    body = lines([
      phase !== "whole" && wgsl`let ci = wg / ${u32(rowGroups)};`,
      phase === "whole" ? wgsl`let r = wg * ${u32(WG)} + lid;` : wgsl`let r = (wg % ${u32(rowGroups)}) * ${u32(WG)} + lid;`,
      wgsl`if (r >= ${u32(p.H * p.P)}) { return; }`,
      wgsl`let hi = r / ${u32(p.P)};`,
      wgsl`let pi = r % ${u32(p.P)};`,
      perHeadScalars,
      chunkScalars,
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
      phase === "whole" ? wgsl`let hi = wg;` : wgsl`let ci = wg / ${u32(p.H)};\nlet hi = wg % ${u32(p.H)};`,
      wgsl`if (hi >= ${u32(p.H)}) { return; }`,
      perHeadScalars,
      chunkScalars,
      wgsl`for (var pi = lid; pi < ${u32(p.P)}; pi += ${u32(WG)}) {
${lines([row], 2)}
}`,
      norm && "storageBarrier();",
      norm &&
        wgsl`for (var k = lid; k < ${phase === "whole" ? "L" : "(t1 - t0)"} * ${u32(NGR)}; k += ${u32(WG)}) {
  let t = ${phase === "whole" ? "" : "t0 + "}k / ${u32(NGR)};
  let q0 = (k % ${u32(NGR)}) * ${u32(NG)};
  var ss = ${f32(0)};
  for (var i = q0; i < q0 + ${u32(NG)}; i++) { let v = ${yAt("i")}; ss = fma(v, v, ss); }
  let inv = inverseSqrt(ss / ${f32(NG)} + ${f32(p.eps ?? 1)});
  for (var i = q0; i < q0 + ${u32(NG)}; i++) { ${g("y").store(normed("i"), "t", "hi", "i")} }
}`,
    ]);
  }

  const T = p.S === "L" ? "L" : String(p.S);
  const W = p.slots?.words;
  const phaseMath: Record<SsdPhase, string[]> = {
    whole: [
      `y[t, h, p] = sum_n s[h, p, n] * C[t, g, n] + D[h] * x[t, h, p];  s written back after the last t${inPlace ? " (in place)" : ""}`,
      epilogueText(p),
      ...(p.chunk !== null ? [`sequential over t: the exact recurrence of the chunked SSD form; chunk = ${p.chunk} does not change the result and is not used`] : []),
    ],
    chunk_state: [
      `chunk ci < nc - 1 of Q = ${Q} tokens (nc = ceil(L / Q)), s = 0 before its first token; no y`,
      `slots[ci * ${W} + (h * P + p) * N + n] = s[h, p, n] after the chunk; slots[ci * ${W} + H * P * N + h] = sum_t dt_t  (ir/chunk-ops.ts)`,
    ],
    chunk_output: [
      `y[t, h, p] = sum_n s[h, p, n] * C[t, g, n] + D[h] * x[t, h, p] over chunk ci of Q = ${Q} tokens`,
      `s before the chunk: slots[ci * ${W} + (h * P + p) * N + n] when nc >= 2 (scan_state_pass), else h0; the last chunk writes s${inPlace ? " (in place)" : ""}`,
      epilogueText(p),
    ],
  };
  const tokens = phase === "whole" ? T : "Q";
  const header = kernelHeader(req, uses, {
    math: [
      "dt_t = softplus(dt[t, h] + dt_bias[h]),  A = -exp(A_log[h]),  g = h / (H / G)",
      "s[h, p, :] = exp(dt_t * A) * s[h, p, :] + (dt_t * x[t, h, p]) * B[t, g, :]",
      ...phaseMath[phase],
    ],
    threads: [
      phase === "whole"
        ? `invocation: one (head, p) row, all ${T} time steps; the row's state in ${NV} ${V} ${unroll ? "registers, N loop unrolled" : "(a private array, N loop)"} (d_state = ${p.N})`
        : `invocation: one (chunk, head, p) row, the chunk's Q = ${Q} time steps; the row's state in ${NV} ${V} ${unroll ? "registers, N loop unrolled" : "(a private array, N loop)"} (d_state = ${p.N})`,
      (perHead === 0
        ? `workgroup: ${WG} rows; grid: ${rowGroups} workgroups (H * P = ${p.H} * ${p.P})`
        : `workgroup: one head (H = ${p.H} workgroups of ${WG}), rows p = lid, lid + ${WG}, ... of P = ${p.P}; ` +
          `then storageBarrier and the workgroup normalises the head's ${tokens} * ${p.P / NG} (token, group) rows of y in place`) +
        (phase === "whole" ? "" : `; per chunk: ceil(L / ${Q}) times that grid`),
    ],
  });
  const times = perHead === 0 ? rowGroups : p.H;
  const decls = [...(outputs ? [siluFn("silu", "f32")] : []), SOFTPLUS];
  return buildKernel({
    name: req.name,
    node: req.node,
    header,
    bindings: ops.bindings,
    uniforms,
    workgroupSize: WG,
    decls,
    body,
    dispatch: { lTile: phase === "whole" ? null : Q, times },
    // What this algorithm reads of the schedule (the chunked fields do not apply).
    schedule: { algo: s.algo, vec, perHead, workgroup: WG, unroll: s.unroll },
  });
}
