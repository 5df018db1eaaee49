/**
 * `linear_recurrence` (interp/kernels.ts): the unfused scan of both Mamba mixers,
 *
 *   h[t] = a[t] * h[t - 1] + b[t],  h[-1] = h0;   results h [S, ...R] and h[S-1] [...R]
 *
 * a, b [S, ...R] (a is often a broadcast view: stride-0 axes cost nothing), h0 [...R] (a state
 * slot, or a view of one). Algorithm: one invocation per element of R walks time with h in a
 * register; it reads its own h0 element first and writes the last h at the end, so updating the
 * state in place is race-free. The flat grid of wgsl/flat-kernel.ts over R.
 * Schedule: workgroup size.
 */
import type { Dim } from "../../ir/types.ts";
import type { KernelLimits, KernelSpec } from "../kernel.ts";
import type { KernelRequest, OperandView } from "../request.ts";
import { lengthExpr } from "./common.ts";
import { emitFlat, flatSchedule, type FlatSchedule } from "./flat-kernel.ts";
import { wgsl } from "./template.ts";

export interface RecurrenceProblem {
  readonly S: Dim;
  readonly a: OperandView;
  readonly b: OperandView;
  readonly h0: OperandView;
  readonly h: OperandView;
  readonly last: OperandView;
  /** Whether the last state goes to h0's own buffer. */
  readonly inPlace: boolean;
}

export function recurrenceProblem(req: KernelRequest<"linear_recurrence">): RecurrenceProblem {
  const [a, b, h0] = req.inputs as [OperandView, OperandView, OperandView];
  const [h, last] = req.results as [OperandView, OperandView];
  return { S: a.shape[0]!, a, b, h0, h, last, inPlace: last.buffer.key === h0.buffer.key };
}

export function emitRecurrence(req: KernelRequest<"linear_recurrence">, p: RecurrenceProblem, s: FlatSchedule): KernelSpec {
  return emitFlat(
    req,
    {
      dims: p.h0.shape,
      uses: [
        { name: "a", view: p.a, write: false, vec4: false },
        { name: "b", view: p.b, write: false, vec4: false },
        { name: "h0", view: p.h0, write: false, vec4: false },
        { name: "h", view: p.h, write: true, vec4: false },
        { name: "h_last", view: p.last, write: true, vec4: false },
      ],
      uniforms: p.S === "L" ? ["L"] : [],
      math: ["h[t] = a[t] * h[t - 1] + b[t],  h[-1] = h0", `h_last = h[S - 1]${p.inPlace ? "  (in place: h_last is h0's buffer, each element read before it is written by the same invocation)" : ""}`],
      item: `one element of the state, all ${p.S} time steps, h in a register`,
      decls: () => [],
      body: (ix, ops) => {
        const at = (name: string, t: string): string => ops.get(name).load(t, ...ix);
        return wgsl`var acc = ${ops.get("h0").load(...ix)};
for (var t = 0u; t < ${lengthExpr(p.S)}; t++) {
  acc = fma(${at("a", "t")}, acc, ${at("b", "t")});
  ${ops.get("h").store("acc", "t", ...ix)}
}
${ops.get("h_last").store("acc", ...ix)}`;
      },
    },
    s,
  );
}

export function generateRecurrence(req: KernelRequest<"linear_recurrence">, limits: KernelLimits, override: Partial<FlatSchedule> = {}): KernelSpec {
  return emitRecurrence(req, recurrenceProblem(req), { ...flatSchedule(limits), ...override });
}
