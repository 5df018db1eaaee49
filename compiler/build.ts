/**
 * What `build()` (compiler/index.ts) takes and gives: its options, the device limits kernels are
 * generated for, and the code generator's problems as diagnostics (HYB5001-5003 at the `.hyb`
 * lines of the kernels it could not generate).
 */
import { DEFAULT_LIMITS, LIMIT_NAMES, type KernelLimits, type ModelArtifact } from "../runtime/artifact/types.ts";
import type { ArtifactProblem } from "./codegen/artifact.ts";
import { Diagnostics, type Diagnostic } from "./diag/diagnostic.ts";
import { renderDiagnostics } from "./diag/render.ts";
import type { SourceFile } from "./diag/source.ts";
import type { CompileOptions, CompileResult } from "./compile.ts";
import type { ScanAlgorithm } from "./passes/index.ts";

export interface BuildOptions extends CompileOptions {
  /**
   * The device limits to generate for: any of the six kernel limits (a GPUSupportedLimits is
   * fine); the rest stay at WebGPU's defaults, which every device offers. Higher limits give
   * larger workgroups and fewer weight splits, and the artifact then needs a device that has them.
   */
  readonly limits?: Partial<KernelLimits> | GPUSupportedLimits;
  /** Run the fusion passes (default true); false is `--no-fuse`. */
  readonly fuse?: boolean;
  /**
   * How kernels read the weights of a `dtype = f16` model: `packed` (default: two halves per u32
   * through unpack2x16float, every device) or `native` (`array<f16>`; the artifact then needs
   * the shader-f16 feature). Both read the same bytes.
   */
  readonly f16?: "native" | "packed";
  /**
   * The kind of device the kernels' parallelism is sized for: `cpu` (default; a few cores, as
   * lavapipe: the sequential prefill scans, decode GEMVs of 16 column tiles per workgroup) or
   * `gpu` (thousands of invocations in flight: the chunk-parallel prefill scans unless `scan`
   * says otherwise, and decode GEMVs with 32 lanes (or a subgroup) per tile and 4 tiles per
   * workgroup, so that a projection spreads over hundreds of workgroups). On `cpu` the linear
   * weights are stored in row quads (runtime/artifact/quads.ts: one contiguous run per decode
   * invocation), on `gpu` row-major (a warp reads adjacent words of one row). Device-bound builds
   * take it from the adapter (targetFor).
   */
  readonly target?: Target;
  /**
   * The prefill scan kernels (Mamba-1 selective_scan, Mamba-2 ssd): `sequential` (default for `cpu`), each
   * invocation walking a few state rows over all L tokens (Di / 4, or H * P / 2 at d_state 128,
   * invocations: right for a small device such as lavapipe, and 3-6x faster there), or `chunked-parallel`
   * (passes/parallel-scan.ts): per-chunk states, a short scan over them, per-chunk outputs,
   * nc = ceil(L / 64) times the invocations, for a discrete GPU that a few thousand threads starve
   * (the default for target `gpu`). Decode is the same either way.
   */
  readonly scan?: ScanAlgorithm;
  /**
   * Let kernels use subgroup operations (default false): the decode GEMVs then sum their lanes
   * with subgroupAdd instead of workgroup memory and a barrier (codegen/wgsl/gemv.ts), and the
   * artifact needs a device with the `subgroups` feature. Device-bound builds turn it on when the
   * device has the feature (subgroupsFor).
   */
  readonly subgroups?: boolean;
}

export interface BuildResult extends CompileResult {
  /** One artifact per model, in source order; empty when `ok` is false. */
  readonly artifacts: readonly ModelArtifact[];
}

/** What a build sizes its kernels' parallelism for (BuildOptions.target). */
export type Target = "cpu" | "gpu";

/**
 * The target of a device-bound build, from the device's size as WebGPU lets us see it: a fallback
 * or software adapter (a CPU: lavapipe, SwiftShader, WARP), or one that does not say, is `cpu`;
 * any other adapter is a GPU with thousands of invocations in flight.
 */
export function targetFor(device: GPUDevice): Target {
  const info = (device as { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  if (info === undefined) return "cpu";
  return info.isFallbackAdapter || info.architecture === "software" ? "cpu" : "gpu";
}

/**
 * The prefill scan for a target when the caller does not say: the sequential kernels on a CPU,
 * where they are 2.8-6.2x faster (bench/scan-parallel.ts, L = 2048), chunked-parallel on a GPU,
 * which runs ceil(L / 64) times the invocations (D or H * P each for the sequential kernels).
 */
export function scanOf(target: Target): ScanAlgorithm {
  return target === "gpu" ? "chunked-parallel" : "sequential";
}

/** The prefill scan of a device-bound build when the caller does not say: scanOf(targetFor(device)). */
export function scanFor(device: GPUDevice): ScanAlgorithm {
  return scanOf(targetFor(device));
}

/** Whether a device-bound build uses subgroup operations: when the device was created with the `subgroups` feature. */
export function subgroupsFor(device: GPUDevice): boolean {
  return device.features.has("subgroups");
}

/** WebGPU's default limits with those given applied (read by name: a GPUSupportedLimits keeps them in getters). */
export function kernelLimits(limits: BuildOptions["limits"] = {}): KernelLimits {
  const given = limits as Partial<Record<keyof KernelLimits, number>>;
  return Object.fromEntries(LIMIT_NAMES.map((n) => [n, given[n] ?? DEFAULT_LIMITS[n]])) as unknown as KernelLimits;
}

/** A model that cannot be built (`artifactOf`); the message is the rendered diagnostics. */
export class BuildError extends Error {
  override name = "BuildError";
  constructor(readonly diagnostics: readonly Diagnostic[]) {
    super(renderDiagnostics(diagnostics, { color: false }));
  }
}

/** What to do about a kernel over a limit: a device limit can be raised, WGSL's register guarantee cannot. */
function limitsHelp(message: string): string {
  if (message.includes("function variables")) return "no device setting raises this: WGSL guarantees only so much per invocation; make the dimension that sets it smaller";
  return "kernels are generated for the WebGPU default limits; `--limit NAME=N` generates for a device with higher ones";
}

/** Codegen problems as diagnostics at the nodes' spans (the first is primary, the others are notes). */
export function problemDiagnostics(source: SourceFile, problems: readonly ArtifactProblem[]): Diagnostic[] {
  const diags = new Diagnostics(source);
  for (const p of problems) {
    const [first, ...rest] = p.spans;
    diags.report(p.code, {
      span: first ?? { start: 0, end: 0 },
      message: p.message,
      label: `kernel ${p.kernel}`,
      notes: rest.map((span) => ({ message: "the kernel also computes this", span })),
      ...(p.code === "HYB5002" ? { help: limitsHelp(p.message) } : {}),
    });
  }
  return diags.sorted();
}
