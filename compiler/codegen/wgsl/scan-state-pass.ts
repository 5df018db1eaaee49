/**
 * `scan_state_pass`, phase 2 of the chunk-parallel scans (ir/chunk-ops.ts: the slot layout and
 * why chunk 0's incoming state is a copy of h0):
 *
 *   nc = ceil(L / Q);  when nc >= 2, per state element e (row r = its first index):
 *   run = h0[e];  for c < nc - 1: inc[c][e] = run, run = exp(A[e] * loc[c].dtsum[r]) * run + loc[c][e];  inc[nc - 1][e] = run
 *
 * A = -exp(A_log), A_log per element (Mamba-1, [Di, N]) or per row (Mamba-2, [H]). One
 * invocation per state element walks the nc - 1 chunk states (32 at L = 2048, Q = 64): the
 * flat grid of flat-kernel.ts over h0's shape, its flat index `f` being e. It reads h0 and never
 * writes it; loc and inc are separate buffers (liveness never gives a kernel's input and result
 * one buffer), so the walk needs no ordering between invocations.
 * Schedule: workgroup size.
 */
import { slotWords } from "../../ir/chunk-ops.ts";
import type { NodeOf } from "../../ir/graph.ts";
import type { KernelLimits, KernelSpec } from "../kernel.ts";
import type { KernelRequest, OperandView } from "../request.ts";
import { lengthExpr } from "./common.ts";
import { emitFlat, flatSchedule, type FlatSchedule } from "./flat-kernel.ts";
import { u32, wgsl } from "./template.ts";

export function generateStatePass(req: KernelRequest<"scan_state_pass">, limits: KernelLimits, override: Partial<FlatSchedule> = {}): KernelSpec {
  const Q = (req.node as NodeOf<"scan_state_pass">).attrs.chunk;
  const [loc, Alog, h0] = req.inputs as [OperandView, OperandView, OperandView];
  const inc = req.results[0]!;
  const shape = h0.shape as readonly number[];
  const E = shape.reduce((a, b) => a * b, 1);
  const W = slotWords(shape, Q);
  const perElement = Alog.shape.length === shape.length;
  return emitFlat(
    req,
    {
      dims: shape,
      uses: [
        { name: "loc", view: loc, write: false, vec4: false },
        { name: "A_log", view: Alog, write: false, vec4: false },
        { name: "h0", view: h0, write: false, vec4: false },
        { name: "inc", view: inc, write: true, vec4: false },
      ],
      uniforms: ["L"],
      math: [
        `nc = ceil(L / ${Q}); nothing when nc = 1. Per state element e of h0 [${shape.join(", ")}] (row r = its first index):`,
        `run = h0[e]; for c < nc - 1: inc[c * ${W} + e] = run, run = exp(A * loc[c * ${W} + ${E} + r]) * run + loc[c * ${W} + e]; inc[(nc - 1) * ${W} + e] = run`,
        `A = -exp(A_log[${perElement ? "e" : "r"}]);  slots of ${W} words: the state, then one dt sum per row (ir/chunk-ops.ts)`,
      ],
      item: "one state element, all nc chunk states",
      decls: () => [],
      body: (ix, ops) => {
        const g = ops.get;
        return wgsl`let nch = (${lengthExpr("L")} + ${u32(Q - 1)}) / ${u32(Q)};
if (nch < ${u32(2)}) { return; }
let a = -exp(${perElement ? g("A_log").load(...ix) : g("A_log").load(ix[0]!)});
var run = ${g("h0").load(...ix)};
for (var c = 0u; c + ${u32(1)} < nch; c++) {
  let at = c * ${u32(W)} + f;
  let loc_e = ${g("loc").load("0u", "at")};
  ${g("inc").store("run", "0u", "at")}
  run = fma(exp(a * ${g("loc").load("0u", wgsl`c * ${u32(W)} + ${u32(E)} + ${ix[0]!}`)}), run, loc_e);
}
${g("inc").store("run", "0u", wgsl`(nch - ${u32(1)}) * ${u32(W)} + f`)}`;
      },
    },
    { ...flatSchedule(limits), ...override },
  );
}
