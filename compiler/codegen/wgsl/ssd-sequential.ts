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
 *   0  rows: flat grid over the H * P rows, `workgroup` invocations of `rows` consecutive rows
 *      each (epilogues none, gate); the prefill walk takes several rows per invocation and stages
 *      the B, C rows of `stage` tokens in workgroup memory when its rows lie in one group, since a
 *      CPU adapter runs the uniform B, C reads lane by lane (ssd.ts ssdSchedule);
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
import { checkRegisters, hsum, plus, range, siluFn, SOFTPLUS, vecType } from "./common.ts";
import { epilogueText, hasNorm, headScalars, rowsInOneGroup, type SsdOp, type SsdOperands, type SsdPhase, type SsdProblem, type SsdSchedule } from "./ssd-parts.ts";
import { f32, lines, u32, wgsl } from "./template.ts";

export function emitSsdSequential(req: KernelRequest<SsdOp>, p: SsdProblem, s: SsdSchedule, o: SsdOperands): KernelSpec {
  const { vec, perHead, workgroup: WG } = s;
  // One token (decode): the state streams through, each lane group loaded, updated and stored at
  // once; holding the row first (a private array for wide states, which a CPU adapter keeps in
  // memory) only adds a copy: on lavapipe a mamba2-130m layer's update ran in half the time.
  const stream = p.phase === "whole" && p.S === 1;
  // Otherwise the state row (N values of one channel) lives in `var` registers, beside a few vectors.
  if (!stream) checkRegisters(req.node.op, `the state row${s.rows > 1 ? `s of ${s.rows} rows` : ""} of d_state = ${p.N} values in registers`, byteSize("f32", s.rows * (p.N + 4 * 4)), req.node.spans);
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
  // Rows per invocation and staged tokens (the whole walk over a flat grid of rows, ssdSchedule):
  // row m of the invocation is (hi, pi + m); its registers carry the suffix `_m` (none with one row).
  const R = s.rows;
  const ST = s.stage;
  invariant((phase === "whole" && perHead === 0) || (R === 1 && ST === 0), "only the whole walk over rows takes several rows per invocation or staged rows");
  invariant(p.P % R === 0, "rows per invocation divide headdim");
  invariant(ST === 0 || rowsInOneGroup(p, WG, R), "a staged workgroup's rows read one group's B and C");
  const sfx = (m: number): string => (R === 1 ? "" : `_${m}`);
  const piOf = (m: number): string => plus("pi", m);
  const perRow = (f: (m: number) => string): string => range(R).map(f).join("\n");
  const rowAt = (where: "state" | "slot", k: string | number, m = 0): string[] => {
    const kx = typeof k === "number" ? j(k) : k;
    if (where === "state") return ["hi", piOf(m), kx];
    return ["0u", wgsl`ci * ${u32(p.slots!.words / vec)} + (hi * ${u32(p.P)} + pi) * ${u32(NV)} + ${kx}`];
  };
  const loadRow = (where: "state" | "slot", k: string | number, m = 0): string => lanes(g(where === "state" ? "state" : "slots"), ...rowAt(where, k, m));
  const storeRow = (a: Accessor, where: "state" | "slot", v: string, k: string | number, m = 0): string =>
    vec === 4 ? a.store4(v, ...rowAt(where, k, m)) : a.store(v, ...rowAt(where, k, m));

  // What the recurrence stores per (t, row): y silu(z) for gate and gate_norm (normalised later),
  // plain y for none and norm_gate (gated after the norm).
  const gated = p.epilogue === "gate" || p.epilogue === "gate_norm";
  const yValue = (m = 0): string => (gated ? `yv${sfx(m)} * silu(${g("z").load("t", "hi", piOf(m))})` : `yv${sfx(m)}`);

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
  const storeState = (where: "state" | "slot", m = 0): string => {
    const a = where === "slot" ? g("slots") : g(inPlace ? "state" : "new_state");
    const x = sfx(m);
    return unroll
      ? range(NV)
          .map((k) => storeRow(a, where, `s${k}${x}`, k, m))
          .join("\n")
      : wgsl`for (var k = 0u; k < ${u32(NV)}; k++) {
${lines([storeRow(a, where, `st${x}[k]`, "k", m)], 2)}
}`;
  };
  const init: Record<SsdPhase, () => string> = {
    whole: () =>
      stream ? "" : perRow((m) =>
        unroll
          ? range(NV)
              .map((k) => `var s${k}${sfx(m)} = ${loadRow("state", k, m)};`)
              .join("\n")
          : wgsl`var st${sfx(m)}: array<${V}, ${u32(NV)}>;
for (var k = 0u; k < ${u32(NV)}; k++) { st${sfx(m)}[k] = ${loadRow("state", "k", m)}; }`,
      ),
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
  // Invocations past the last row (a grid that H * P does not fill) walk the last rows again and store nothing.
  const ragged = (R > 1 || ST > 0) && (p.H * p.P) % (R * WG) !== 0;
  const guarded = (stmt: string): string => (ragged ? wgsl`if (live) {\n${lines([stmt], 2)}\n}` : stmt);
  const finish: Record<SsdPhase, () => string> = {
    whole: () => (stream ? "" : guarded(perRow((m) => storeState("state", m)))),
    chunk_state: () =>
      lines([storeState("slot"), wgsl`if (pi == ${u32(0)}) { ${g("slots").store("dsum", "0u", wgsl`ci * ${u32(p.slots!.words)} + ${u32(p.H * p.P * p.N)} + hi`)} }`]),
    chunk_output: () => wgsl`if (ci + ${u32(1)} == nch) {
${lines([storeState("state")], 2)}
}`,
  };
  const [t0, t1] = phase === "whole" ? ["0u", "L"] : ["t0", "t1"];

  // B_t and C_t lane group k: from storage, or (staged) from the block of ST tokens in workgroup memory, index tt.
  const bc = (name: "B" | "C", k: string): string => (ST > 0 ? wgsl`${name.toLowerCase()}_rows[tt * ${u32(NV)} + ${k}]` : lanes(g(name), "t", "gi", k));
  // Streamed (one token): lane group k of row m loaded, updated, stored, and its share of y summed.
  const streamed = (v: string, k: string, m: number, b: string, c: string): string => {
    const x = sfx(m);
    return lines([
      `let ${v} = fma(${V}(dA), ${loadRow("state", k, m)}, dx${x} * ${b});`,
      guarded(storeRow(g(inPlace ? "state" : "new_state"), "state", v, k, m)),
      `acc${x} = fma(${v}, ${c}, acc${x});`,
    ]);
  };
  // One token of the recurrence: every row's update shares dt, dA and each B, C lane group.
  const step = lines([
    `let dtv = softplus(${g("dt").load("t", "hi")} + dt_b);`,
    !outputs && "dsum += dtv;",
    `let dA = exp(dtv * a_h);`,
    perRow((m) => `let xv${sfx(m)} = ${g("x").load("t", "hi", piOf(m))};\nlet dx${sfx(m)} = dtv * xv${sfx(m)};`),
    outputs && perRow((m) => wgsl`var acc${sfx(m)} = ${V}(${f32(0)});`),
    unroll
      ? range(NV)
          .map((k) => {
            const one = (b: string, c: string): string =>
              perRow((m) => {
                const x = sfx(m);
                if (stream) return streamed(`s${k}${x}`, j(k), m, b, c);
                return `s${k}${x} = fma(${V}(dA), s${k}${x}, dx${x} * ${b});${outputs ? `\nacc${x} = fma(s${k}${x}, ${c}, acc${x});` : ""}`;
              });
            // With several rows each B, C lane group is read once for all of them.
            return R === 1 ? one(bc("B", j(k)), outputs ? bc("C", j(k)) : "") : lines([`let b${k} = ${bc("B", j(k))};`, outputs && `let c${k} = ${bc("C", j(k))};`, one(`b${k}`, `c${k}`)]);
          })
          .join("\n")
      : wgsl`for (var k = 0u; k < ${u32(NV)}; k++) {
${lines(
  [
    R > 1 && lines([`let bk = ${bc("B", "k")};`, outputs && `let ck = ${bc("C", "k")};`]),
    perRow((m) => {
      const x = sfx(m);
      const [b, c] = R > 1 ? ["bk", "ck"] : [bc("B", "k"), outputs ? bc("C", "k") : ""];
      if (stream) return streamed(`sk${x}`, "k", m, b, c);
      return `let sk${x} = fma(${V}(dA), st${x}[k], dx${x} * ${b});\nst${x}[k] = sk${x};${outputs ? `\nacc${x} = fma(sk${x}, ${c}, acc${x});` : ""}`;
    }),
  ],
  2,
)}
}`,
    outputs && perRow((m) => `let yv${sfx(m)} = ${hsum(`acc${sfx(m)}`, vec)} + d_h * xv${sfx(m)};`),
    outputs && guarded(perRow((m) => g("y").store(yValue(m), "t", "hi", piOf(m)))),
  ]);
  // Staged: each block of ST tokens' B, C rows (of the workgroup's one group) is loaded once by the whole workgroup.
  const fill = (name: "B" | "C"): string =>
    wgsl`for (var i = lid; i < nt * ${u32(NV)}; i += ${u32(WG)}) { ${name.toLowerCase()}_rows[i] = ${lanes(g(name), `t0 + i / ${u32(NV)}`, "gi", `i % ${u32(NV)}`)}; }`;
  const walk =
    ST > 0
      ? wgsl`for (var t0 = 0u; t0 < L; t0 += ${u32(ST)}) {
  let nt = min(${u32(ST)}, L - t0);
${lines([fill("B"), outputs && fill("C"), "workgroupBarrier();"], 2)}
  for (var tt = 0u; tt < nt; tt++) {
    let t = t0 + tt;
${lines([step], 4)}
  }
  workgroupBarrier();
}`
      : wgsl`for (var t = ${t0}; t < ${t1}; t++) {
${lines([step], 2)}
}`;
  const staged = ST > 0 && [`var<workgroup> b_rows: array<${V}, ${ST * NV}u>;`, ...(outputs ? [`var<workgroup> c_rows: array<${V}, ${ST * NV}u>;`] : [])].join("\n");

  // The recurrence of the invocation's rows (hi, pi + m): state in registers, the tokens [t0, t1), state written back.
  const row = lines([init[phase](), !outputs && wgsl`var dsum = ${f32(0)};`, walk, finish[phase]()]);

  const perHeadScalars = headScalars(p, o);
  // Chunk phases: the chunk count and this chunk's tokens; chunk_state skips the last chunk.
  // (ci comes from the workgroup id, so these returns keep the norm's barrier in uniform control flow.)
  const chunkScalars =
    phase !== "whole" &&
    wgsl`let nch = (L + ${u32(Q - 1)}) / ${u32(Q)};
if (ci ${phase === "chunk_state" ? "+ 1u >= nch" : ">= nch"}) { return; }
let t0 = ci * ${u32(Q)};
let t1 = min(L, t0 + ${u32(Q)});`;
  const rowGroups = Math.ceil((p.H * p.P) / (WG * R));

  let body: string;
  if (perHead === 0) {
    body = lines([
      phase !== "whole" && wgsl`let ci = wg / ${u32(rowGroups)};`,
      R === 1 && ST === 0
        ? lines([
            phase === "whole" ? wgsl`let r = wg * ${u32(WG)} + lid;` : wgsl`let r = (wg % ${u32(rowGroups)}) * ${u32(WG)} + lid;`,
            wgsl`if (r >= ${u32(p.H * p.P)}) { return; }`,
          ])
        : ragged
          ? wgsl`let rb = (wg * ${u32(WG)} + lid) * ${u32(R)};
let live = rb < ${u32(p.H * p.P)};
let r = min(rb, ${u32(p.H * p.P - R)});`
          : wgsl`let r = (wg * ${u32(WG)} + lid) * ${u32(R)};`,
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
  const held = stream
    ? `streamed in ${NV} ${V} (each loaded, updated and stored in turn${unroll ? ", N loop unrolled" : ""}; d_state = ${p.N})`
    : `in ${NV} ${V} ${unroll ? "registers, N loop unrolled" : "(a private array, N loop)"} (d_state = ${p.N})`;
  const header = kernelHeader(req, uses, {
    math: [
      "dt_t = softplus(dt[t, h] + dt_bias[h]),  A = -exp(A_log[h]),  g = h / (H / G)",
      "s[h, p, :] = exp(dt_t * A) * s[h, p, :] + (dt_t * x[t, h, p]) * B[t, g, :]",
      ...phaseMath[phase],
    ],
    threads: [
      phase === "whole"
        ? R === 1
          ? `invocation: one (head, p) row, ${T === "1" ? "one time step" : `all ${T} time steps`}; the row's state ${held}`
          : `invocation: ${R} (head, p) rows p .. p + ${R - 1}, ${T === "1" ? "one time step" : `all ${T} time steps`}; each row's state ${held}; dt, B_t and C_t read once for the ${R}`
        : `invocation: one (chunk, head, p) row, the chunk's Q = ${Q} time steps; the row's state in ${NV} ${V} ${unroll ? "registers, N loop unrolled" : "(a private array, N loop)"} (d_state = ${p.N})`,
      ...(ST > 0 ? [`staged: the B, C rows of ${ST} tokens at a time in workgroup memory, loaded once by the workgroup (its rows share one group)`] : []),
      (perHead === 0
        ? `workgroup: ${WG * R} rows; grid: ${rowGroups} workgroups (H * P = ${p.H} * ${p.P})`
        : `workgroup: one head (H = ${p.H} workgroups of ${WG}), rows p = lid, lid + ${WG}, ... of P = ${p.P}; ` +
          `then storageBarrier and the workgroup normalises the head's ${tokens} * ${p.P / NG} (token, group) rows of y in place`) +
        (phase === "whole" ? "" : `; per chunk: ceil(L / ${Q}) times that grid`),
    ],
  });
  const times = perHead === 0 ? rowGroups : p.H;
  const decls = [...(staged ? [staged] : []), ...(outputs ? [siluFn("silu", "f32")] : []), SOFTPLUS];
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
    schedule: { algo: s.algo, vec, perHead, workgroup: WG, unroll: s.unroll, rows: R, stage: ST },
  });
}
