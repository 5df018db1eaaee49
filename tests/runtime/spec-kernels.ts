/**
 * Every kernel hybridc emits for a model: both programs (prefill and decode, load-time and
 * per-call kernels), fused and `--no-fuse`, at WebGPU's default limits, as `hybridc build` makes
 * them. Shared by the Deno portability run (deno-run.ts) and its test, which checks the count.
 */
import { modelArtifact } from "../../compiler/codegen/artifact.ts";
import { DEFAULT_LIMITS } from "../../compiler/codegen/index.ts";
import { programs, type ResolvedModel } from "../../compiler/index.ts";

/** [kernel name, WGSL module] of every kernel, in program order (codes repeat across layers). */
export function emittedKernels(model: ResolvedModel): [string, string][] {
  const out: [string, string][] = [];
  for (const fuse of [true, false]) {
    const a = modelArtifact(model, programs(model, { fuse }), { limits: DEFAULT_LIMITS });
    if (!a.ok) throw new Error(`${model.name}: ${a.problems.map((p) => p.message).join("; ")}`);
    for (const p of [a.artifact.prefill, a.artifact.decode]) for (const k of [...p.load, ...p.call]) out.push([`${model.name}${fuse ? "" : " --no-fuse"} ${k.name}`, k.wgsl]);
  }
  return out;
}
