/**
 * WGSL code generation: graph node -> KernelSpec (the module, its bindings, uniforms and grid
 * as data). Stages, top to bottom:
 *
 *   requestFromGraph   request.ts    the node and the window of every operand in its buffer
 *   schedule           wgsl/<family> tiles and vector widths for this adapter and shape
 *   emit               wgsl/<family> the module text, bindings from the same list as the runtime's
 *   checkLimits        kernel.ts     storage buffers, workgroup size and binding sizes vs the adapter
 *
 * runtime/device.ts compiles and launches a KernelSpec; nothing here touches a GPU.
 */
import type { OpName } from "../ir/ops.ts";
import { CodegenError, checkLimits, DEFAULT_LIMITS, type KernelLimits, type KernelSpec } from "./kernel.ts";
import { GENERATORS, hasGenerator, type Generator } from "./registry.ts";
import type { KernelRequest } from "./request.ts";

export * from "./kernel.ts";
export { requestFromGraph, type BufferRef, type KernelRequest, type OperandView } from "./request.ts";
export { GENERATORS, hasGenerator, type CodegenOp } from "./registry.ts";

/** The kernel for one node; a CodegenError when the op has no generator or the kernel does not fit. */
export function generateKernel(req: KernelRequest, limits: KernelLimits = DEFAULT_LIMITS, override?: Readonly<Record<string, number>>): KernelSpec {
  const op: OpName = req.node.op;
  if (!hasGenerator(op)) throw new CodegenError(`no WGSL generator for ${op} yet`, req.node.spans);
  const gen = GENERATORS[op] as Generator<typeof op>;
  const spec = gen(req as KernelRequest<typeof op>, limits, override);
  checkLimits(spec, limits);
  return spec;
}
