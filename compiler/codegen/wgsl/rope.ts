/**
 * `rope`: NeoX half-split rotary embedding of the first rotaryDim dims of every head, at
 * positions pos + s (interp/kernels.ts `rope`; the angle reduction of wgsl/rotary.ts):
 *
 *   y[s, h, i]       = x[s, h, i] cos - x[s, h, i + r/2] sin        i < r/2
 *   y[s, h, i + r/2] = x[s, h, i + r/2] cos + x[s, h, i] sin        angle (pos + s) theta^(-2i/r)
 *   y[s, h, d]       = x[s, h, d]                                   d >= r
 *
 * x [S, H, D] (usually a view of a projection's output). Algorithm: one invocation per output
 * element, reading the element and its partner; the flat grid of wgsl/flat-kernel.ts.
 * Schedule: workgroup size.
 */
import type { KernelLimits, KernelSpec } from "../kernel.ts";
import type { KernelRequest, OperandView } from "../request.ts";
import { emitFlat, flatSchedule, type FlatKernel, type FlatSchedule } from "./flat-kernel.ts";
import { ropeAngleDecl, ropedFn, type Rope } from "./rotary.ts";

export interface RopeProblem {
  readonly rope: Rope;
  readonly x: OperandView;
  readonly y: OperandView;
}

export function ropeProblem(req: KernelRequest<"rope">): RopeProblem {
  return { rope: { theta: req.node.attrs.theta, dims: req.node.attrs.rotaryDim }, x: req.inputs[0]!, y: req.results[0]! };
}

export function emitRope(req: KernelRequest<"rope">, p: RopeProblem, s: FlatSchedule): KernelSpec {
  const { rope } = p;
  const half = rope.dims / 2;
  const D = p.y.shape[2] as number;
  const kernel: FlatKernel = {
    dims: p.y.shape,
    uses: [
      { name: "x", view: p.x, write: false, vec4: false },
      { name: "y", view: p.y, write: true, vec4: false },
    ],
    uniforms: ["pos"],
    math: [
      `y[s, h, i] = x[s, h, i] cos - x[s, h, i + ${half}] sin,  y[s, h, i + ${half}] = x[s, h, i + ${half}] cos + x[s, h, i] sin   (i < ${half})`,
      `angle = (pos + s) * ${rope.theta}^(-2i / ${rope.dims});  ${rope.dims < D ? `dims ${rope.dims}..${D - 1} unchanged` : "every dim rotates"}`,
    ],
    item: "one output element (s, h, d), reading its rotation partner",
    decls: (ops) => [
      ropeAngleDecl(rope),
      ropedFn("rope_at", "s: u32, h: u32, d: u32, t: u32", rope, (e) => ops.get("x").load("s", "h", e)),
    ],
    body: ([si, hi, di], ops) => ops.get("y").store(`rope_at(${si}, ${hi}, ${di}, params.pos + ${si})`, si!, hi!, di!),
  };
  return emitFlat(req, kernel, s);
}

export function generateRope(req: KernelRequest<"rope">, limits: KernelLimits, override: Partial<FlatSchedule> = {}): KernelSpec {
  return emitRope(req, ropeProblem(req), { ...flatSchedule(limits), ...override });
}
