/**
 * One invocation per item of a flat grid (wgsl/flat.ts): the scaffolding shared by the simple
 * unfused kernels (rope, cache_write, the attention pieces, linear_recurrence). A family gives
 * the items' dims, its operands and the statements for one item; this file binds the operands,
 * splits the flat index into one index per dim, writes the header and builds the KernelSpec.
 * `pos` (tokens already processed) reaches a kernel as the uniform `params.pos`, never as a buffer.
 */
import type { Shape } from "../../ir/types.ts";
import { kernelHeader } from "../header.ts";
import { buildKernel, type KernelLimits, type KernelSpec, type UniformField, type UniformSpec } from "../kernel.ts";
import { bindOperands, type BoundOperands, type OperandUse } from "../operands.ts";
import type { KernelRequest } from "../request.ts";
import { flatGrid, unflatten } from "./flat.ts";
import { lines, u32, wgsl } from "./template.ts";

export interface FlatSchedule {
  readonly workgroup: number;
}

export interface FlatKernel {
  /** The items, one invocation each (at most one "L"). */
  readonly dims: Shape;
  readonly uses: readonly OperandUse[];
  /** Uniforms the body reads (`L` as the sequence length, `pos`), besides the grid's own `L`. */
  readonly uniforms: readonly UniformField[];
  readonly math: readonly string[];
  /** What one invocation does. */
  readonly item: string;
  /** Module-scope helpers, given the bound operands. */
  readonly decls: (ops: BoundOperands) => readonly string[];
  /** Statements for the item at index `ix` (one u32 expression per dim; `0u` for unit dims). */
  readonly body: (ix: readonly string[], ops: BoundOperands) => string;
}

export function flatSchedule(limits: KernelLimits): FlatSchedule {
  return { workgroup: Math.min(64, limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX) };
}

export function emitFlat(req: KernelRequest, k: FlatKernel, s: FlatSchedule): KernelSpec {
  const WG = s.workgroup;
  const dims = k.dims.length === 0 ? [1] : k.dims;
  const grid = flatGrid(dims, WG, req.node.spans);
  const wanted = new Set<UniformField>([...grid.uniforms.fields, ...k.uniforms]);
  const uniforms: UniformSpec = { fields: (["L", "pos"] as const).filter((f) => wanted.has(f)) };
  const ops = bindOperands(k.uses, uniforms);
  const { code, ix } = unflatten("f", dims, "i");
  const body = lines([wgsl`let f = wg * ${u32(WG)} + lid;`, `if (f >= ${grid.count}) { return; }`, code, k.body(k.dims.length === 0 ? [] : ix, ops)]);
  const header = kernelHeader(req, k.uses, { math: k.math, threads: [`invocation: ${k.item}; workgroup: ${WG} invocations over the flat [${dims.join(", ")}] grid`] });
  return buildKernel({ name: req.name, node: req.node, header, bindings: ops.bindings, uniforms, workgroupSize: WG, decls: k.decls(ops), body, dispatch: grid.dispatch, schedule: s });
}
