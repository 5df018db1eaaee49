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
 */
import { invariant } from "../../diag/diagnostic.ts";
import { byteSize } from "../../ir/types.ts";
import { kernelHeader } from "../header.ts";
import { buildKernel, CodegenError, type KernelSpec } from "../kernel.ts";
import type { Accessor } from "../operands.ts";
import type { KernelRequest } from "../request.ts";
import { checkRegisters, hsum, range, siluFn, SOFTPLUS, vecType } from "./common.ts";
import { epilogueText, hasNorm, headScalars, type SsdOp, type SsdOperands, type SsdProblem, type SsdSchedule } from "./ssd-parts.ts";
import { f32, lines, u32, wgsl } from "./template.ts";

export function emitSsdSequential(req: KernelRequest<SsdOp>, p: SsdProblem, s: SsdSchedule, o: SsdOperands): KernelSpec {
  // The state row (N values of one channel) lives in `var` registers, beside a few vectors.
  checkRegisters(req.node.op, `the state row of d_state = ${p.N} values in registers`, byteSize("f32", p.N + 4 * 4), req.node.spans);
  const { vec, perHead, workgroup: WG } = s;
  const unroll = s.unroll === 1;
  const norm = hasNorm(p.epilogue);
  if (norm && perHead !== 1) throw new CodegenError(`${req.node.op}: the ${p.epilogue} epilogue needs one workgroup per head (perHead = 1)`, req.node.spans);
  const NG = p.normGroup ?? p.P;
  invariant(!norm || p.P % NG === 0, "norm group must divide headdim");
  const V = vecType(vec);
  const NV = p.N / vec;
  const { uses, uniforms, ops, inPlace, stateVec } = o;
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

  const perHeadScalars = headScalars(p, o);

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

  const T = p.S === "L" ? "L" : String(p.S);
  const header = kernelHeader(req, uses, {
    math: [
      "dt_t = softplus(dt[t, h] + dt_bias[h]),  A = -exp(A_log[h]),  g = h / (H / G)",
      "s[h, p, :] = exp(dt_t * A) * s[h, p, :] + (dt_t * x[t, h, p]) * B[t, g, :]",
      `y[t, h, p] = sum_n s[h, p, n] * C[t, g, n] + D[h] * x[t, h, p];  s written back after the last t${inPlace ? " (in place)" : ""}`,
      epilogueText(p),
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
    // What this algorithm reads of the schedule (the chunked fields do not apply).
    schedule: { algo: s.algo, vec, perHead, workgroup: WG, unroll: s.unroll },
  });
}
