/**
 * The embedding gather: `y[s, :] = table[ids[s], :]`, table [V, D], ids i32 [S] -> y [S, D].
 *
 * Algorithm: one invocation per (token, vec4 of columns) (or per column when rows are not whole
 * vec4s), on the flat grid of wgsl/flat.ts; a pure copy, so the schedule is only the vector width
 * and the workgroup size. An id outside [0, V) (interp rejects it) is clamped to V - 1 instead of
 * reading out of bounds.
 *
 * Large tables: a table over maxStorageBufferBindingSize (a 50280 x 768 vocabulary is 154 MB)
 * is bound as row windows of its one buffer (plan/weights.ts rowWindows); the table accessor
 * reads through the module helper that picks the window holding the row (operands.ts), so this
 * generator is the same for both. The tied LM head (linear.ts) reads the same windows.
 */
import { invariant } from "../../diag/diagnostic.ts";
import { kernelHeader } from "../header.ts";
import { buildKernel, type KernelLimits, type KernelSpec } from "../kernel.ts";
import { bindOperands, vec4Aligned, type OperandUse } from "../operands.ts";
import type { KernelRequest, OperandView } from "../request.ts";
import { flatGrid, unflatten } from "./flat.ts";
import { lines, u32, wgsl } from "./template.ts";

export interface EmbeddingProblem {
  readonly V: number;
  readonly D: number;
  readonly table: OperandView;
  readonly ids: OperandView;
  readonly y: OperandView;
}

export interface EmbeddingSchedule {
  /** Columns per invocation: 4 (vec4 copy) or 1. */
  readonly vec: 1 | 4;
  readonly workgroup: number;
}

export function embeddingProblem(req: KernelRequest<"embedding">): EmbeddingProblem {
  const [table, ids] = req.inputs as [OperandView, OperandView];
  const [V, D] = table.shape as [number, number];
  return { V, D, table, ids, y: req.results[0]! };
}

export function embeddingSchedule(limits: KernelLimits, p: EmbeddingProblem): EmbeddingSchedule {
  const vec = p.D % 4 === 0 && vec4Aligned(p.table) && vec4Aligned(p.y) ? 4 : 1;
  return { vec, workgroup: Math.min(64, limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX) };
}

export function emitEmbedding(req: KernelRequest<"embedding">, p: EmbeddingProblem, s: EmbeddingSchedule): KernelSpec {
  const { vec, workgroup: WG } = s;
  invariant(vec === 1 || (p.D % 4 === 0 && vec4Aligned(p.table) && vec4Aligned(p.y)), "vec4 embedding needs aligned table and y rows");
  const S = p.y.shape[0]!;
  const cols = p.D / vec;
  const grid = flatGrid([S, cols], WG, req.node.spans);
  const uses: OperandUse[] = [
    { name: "ids", view: p.ids, write: false, vec4: false },
    { name: "table", view: p.table, write: false, vec4: vec === 4 },
    { name: "y", view: p.y, write: true, vec4: vec === 4 },
  ];
  const ops = bindOperands(uses, grid.uniforms);
  const [ids, table, y] = [ops.get("ids"), ops.get("table"), ops.get("y")];
  const { code, ix } = unflatten("f", [S, cols], "i");
  const [s0, c] = ix as [string, string];
  const body = lines([
    wgsl`let f = wg * ${u32(WG)} + lid;`,
    `if (f >= ${grid.count}) { return; }`,
    code,
    wgsl`let row = min(u32(${ids.load(s0)}), ${u32(p.V - 1)});`,
    vec === 4 ? y.store4(table.load4("row", c), s0, c) : y.store(table.load("row", c), s0, c),
  ]);
  const header = kernelHeader(req, uses, {
    math: ["y[s, :] = table[ids[s], :]  (ids clamped to V - 1)", `V = ${p.V}, D = ${p.D}`],
    threads: [`invocation: one token x ${vec === 4 ? "a vec4 of 4 columns" : "one column"}; workgroup: ${WG} invocations over the flat [S, ${cols}] grid`],
  });
  return buildKernel({
    name: req.name,
    node: req.node,
    header,
    bindings: ops.bindings,
    uniforms: grid.uniforms,
    workgroupSize: WG,
    decls: [],
    body,
    dispatch: grid.dispatch,
    schedule: s,
  });
}

export function generateEmbedding(req: KernelRequest<"embedding">, limits: KernelLimits, override: Partial<EmbeddingSchedule> = {}): KernelSpec {
  const p = embeddingProblem(req);
  return emitEmbedding(req, p, { ...embeddingSchedule(limits, p), ...override });
}
