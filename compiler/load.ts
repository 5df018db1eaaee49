/**
 * Compile and load in one call, for the CLI, tests and benchmarks in Node: the model is built for
 * the device it will run on (its limits: larger workgroups, fewer weight splits), then handed to
 * the runtime's loadModel like any other artifact. Browser code imports built artifacts instead
 * and never ships the compiler.
 */
import type { ModelArtifact } from "../runtime/artifact/types.ts";
import { GpuRuntime } from "../runtime/device.ts";
import { loadModel, type HybridModel, type LoadOptions, type ModelWeights } from "../runtime/model.ts";
import { subgroupsFor, targetFor, type BuildOptions } from "./build.ts";
import type { ResolvedModel } from "./check/model.ts";
import type { SourceFile } from "./diag/source.ts";
import { artifactOf } from "./index.ts";

export interface LoadSpecOptions extends LoadOptions, Omit<BuildOptions, "path" | "limits"> {
  /** Generate for these limits instead of the device's (tests: small bindings to force splits). */
  readonly limits?: BuildOptions["limits"];
}

/**
 * How a device reads f16 weights when the caller does not say: packed, which every device runs.
 * On lavapipe, the one adapter measured (`npm run bench`, both forms side by side), packed was
 * also the faster: decode 6.44 vs 4.00 tok/s (mamba-130m f16) and 5.19 vs 4.49 (hybrid-130m).
 * `f16: "native"` asks for array<f16> on a device with shader-f16.
 */
function f16For(_device: GPUDevice): "native" | "packed" {
  return "packed";
}

/** The artifact of `model` for this device (or `options.limits`); BuildError when it cannot be built. */
export function artifactFor(device: GPUDevice | GpuRuntime, model: ResolvedModel, source: SourceFile, options: Omit<LoadSpecOptions, keyof LoadOptions> = {}): ModelArtifact {
  const d = device instanceof GpuRuntime ? device.device : device;
  return artifactOf(model, source, {
    limits: options.limits ?? d.limits,
    fuse: options.fuse ?? true,
    f16: options.f16 ?? f16For(d),
    // The scans follow the target unless the caller names them (BuildOptions.scan).
    target: options.target ?? targetFor(d),
    ...(options.scan ? { scan: options.scan } : {}),
    subgroups: options.subgroups ?? subgroupsFor(d),
  });
}

/** Build `model` for the device and load it (see runtime/model.ts loadModel for the options). */
export async function loadSpec(
  device: GPUDevice | GpuRuntime,
  compiled: { readonly model: ResolvedModel; readonly source: SourceFile },
  weights: ModelWeights,
  options: LoadSpecOptions = {},
): Promise<HybridModel> {
  const { fuse, limits, f16, scan, subgroups, ...load } = options;
  const artifact = artifactFor(device, compiled.model, compiled.source, {
    ...(fuse !== undefined ? { fuse } : {}),
    ...(limits !== undefined ? { limits } : {}),
    ...(f16 !== undefined ? { f16 } : {}),
    ...(scan !== undefined ? { scan } : {}),
    ...(subgroups !== undefined ? { subgroups } : {}),
  });
  return loadModel(device, artifact, weights, load);
}
