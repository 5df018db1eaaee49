/**
 * Test helpers over the real contract: a spec is built by the compiler into an artifact (for the
 * test device's limits, or given ones), and the runtime runs that artifact, exactly as the CLI
 * and a user would. Programs at chosen lengths for tests that drive them directly.
 */
import { artifactOf, compile, type ResolvedModel } from "../../compiler/index.ts";
import type { BuildOptions } from "../../compiler/build.ts";
import type { SourceFile } from "../../compiler/diag/source.ts";
import type { ModelArtifact } from "../../runtime/artifact/types.ts";
import { GpuModelMemory, type TensorSource, type WeightSource } from "../../runtime/memory.ts";
import { GpuProgram } from "../../runtime/program.ts";
import { runtime } from "../codegen/harness.ts";

export interface Spec {
  readonly model: ResolvedModel;
  readonly source: SourceFile;
}

/** The one model of `text` (an Error with the diagnostics when it does not check). */
export function spec(text: string, path = "test.hyb"): Spec {
  const r = compile(text, { path });
  if (!r.ok || r.models.length !== 1) throw new Error(`${path} does not compile to one model:\n${r.diagnostics.map((d) => d.message).join("\n")}`);
  return { model: r.models[0]!, source: r.source };
}

/** The artifact of `s` for the test device's limits (or `options.limits`). */
export async function built(s: Spec, options: Omit<BuildOptions, "path"> = {}): Promise<ModelArtifact> {
  const rt = await runtime();
  return artifactOf(s.model, s.source, { limits: options.limits ?? rt.device.limits, ...(options.fuse !== undefined ? { fuse: options.fuse } : {}), ...(options.f16 ? { f16: options.f16 } : {}), ...(options.scan ? { scan: options.scan } : {}), ...(options.subgroups ? { subgroups: true } : {}), ...(options.target ? { target: options.target } : {}) });
}

export interface Loaded {
  readonly artifact: ModelArtifact;
  readonly memory: GpuModelMemory;
  readonly decode: GpuProgram;
  /** Prefill programs by their maximum length. */
  readonly prefill: ReadonlyMap<number, GpuProgram>;
  destroy(): void;
}

/** The artifact's weights uploaded, its decode program and prefill programs at `lengths`. */
export async function programsOf(artifact: ModelArtifact, weights: TensorSource | WeightSource, lengths: readonly number[]): Promise<Loaded> {
  const memory = await GpuModelMemory.upload(await runtime(), artifact, weights);
  const decode = await GpuProgram.fromArtifact(memory, artifact.decode, 1);
  const prefill = new Map<number, GpuProgram>();
  for (const L of lengths) prefill.set(L, await GpuProgram.fromArtifact(memory, artifact.prefill, L));
  return {
    artifact,
    memory,
    decode,
    prefill,
    destroy: () => {
      for (const p of [decode, ...prefill.values()]) p.destroy();
      memory.destroy();
    },
  };
}
