/**
 * Every kernel hybridc emits for a model: both programs (prefill and decode, load-time and
 * per-call kernels), fused and `--no-fuse`, at WebGPU's default limits, as `hybridc build` makes
 * them. Shared by the portability jobs (portable.ts) and the test that counts them.
 */
import { build } from "../../compiler/index.ts";

/** [kernel name, WGSL module] of every kernel of every model of `source`, in program order (codes repeat across layers). */
export function emittedKernels(source: string, path: string): [string, string][] {
  const out: [string, string][] = [];
  for (const fuse of [true, false]) {
    const r = build(source, { path, fuse });
    if (!r.ok) throw new Error(`${path}: ${r.diagnostics.map((d) => d.message).join("; ")}`);
    for (const a of r.artifacts) {
      for (const p of [a.prefill, a.decode]) for (const k of [...p.load, ...p.call]) out.push([`${a.model}${fuse ? "" : " --no-fuse"} ${k.name}`, k.wgsl]);
    }
  }
  return out;
}
