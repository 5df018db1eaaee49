/**
 * The bench's GPU: one Dawn instance (Node's `webgpu` package) and one device with the adapter's
 * maximum limits and, when offered, `timestamp-query` and `shader-f16`; and `BenchRuntime`, a GpuRuntime that
 * also records what the bench reports: the launches of the latest call (dispatch counts and the
 * per-kernel profile replay them), time spent compiling pipelines, running and reading back, and
 * bytes allocated per buffer kind (`weight:`, `state:`, the rest).
 *
 * The Dawn instance is runtime/node.ts `nodeGpu()`: held for the whole process (Dawn crashes once
 * it is collected, performance.md §3.2), so the caller must end with process.exit(); its
 * timestamps are unquantized (`disable-dawn-features=timestamp_quantization`, §3.2.3).
 */
import type { KernelSpec } from "../compiler/codegen/index.ts";
import { GpuRuntime, setQueueWait, type CompiledKernel, type Launch } from "../runtime/device.ts";
import { dawnWait, nodeGpu, REQUESTED_LIMITS } from "../runtime/node.ts";

export interface BenchDevice {
  readonly device: GPUDevice;
  /** "vendor architecture device (description)" as the adapter reports it. */
  readonly adapter: string;
  readonly timestamps: boolean;
  /** Errors no scope caught; the bench prints them, since a timing with one is worthless. */
  readonly uncaptured: string[];
}

/** The device, or why there is none (a sentence). */
export async function openBenchDevice(): Promise<BenchDevice | string> {
  const adapter = await nodeGpu()
    .then((gpu) => gpu.requestAdapter())
    .catch(() => null);
  if (!adapter) return "no WebGPU adapter (Dawn found no Vulkan driver; `bash .ci/install` installs lavapipe)";
  const requiredLimits: Record<string, number> = {};
  for (const name of REQUESTED_LIMITS) requiredLimits[name] = adapter.limits[name];
  const timestamps = adapter.features.has("timestamp-query");
  // shader-f16 when offered: the bench times f16 weights read natively beside the packed form.
  const requiredFeatures = (["timestamp-query", "shader-f16", "subgroups"] as const).filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  // The runtime's wait (runtime/node.ts dawnWait), for the runtime and for the bench's own waits
  // (waitOn); HYBRIDC_BENCH_WAIT=spin times with Dawn's busy polling instead.
  if (process.env["HYBRIDC_BENCH_WAIT"] !== "spin") setQueueWait(device, dawnWait);
  const uncaptured: string[] = [];
  device.addEventListener("uncapturederror", (e) => uncaptured.push((e as GPUUncapturedErrorEvent).error.message));
  const i = adapter.info;
  const adapterText = `${[i.vendor, i.architecture, i.device].filter((s) => s).join(" ")}${i.description ? ` (${i.description})` : ""}`;
  return { device, adapter: adapterText || "unnamed adapter", timestamps, uncaptured };
}

/** A GpuRuntime that records launches, compile time and allocations for the bench. */
export class BenchRuntime extends GpuRuntime {
  /** The launches of the latest `run` call. */
  lastLaunches: readonly Launch[] = [];
  /** Wall time with at least one `compile` in flight (parallel compiles count once). */
  compileMs = 0;
  /** Wall time inside `run` (encode, submit, onSubmittedWorkDone) and inside `read` (copy, map). */
  runMs = 0;
  readMs = 0;
  /** Bytes of buffers created, by kind: the label's prefix before `:` (`weight`, `state`) or `other`. */
  readonly allocated = new Map<string, number>();
  private inFlight = 0;
  private since = 0;

  override async compile(specs: readonly KernelSpec[]): Promise<CompiledKernel[]> {
    if (this.inFlight++ === 0) this.since = performance.now();
    try {
      return await super.compile(specs);
    } finally {
      if (--this.inFlight === 0) this.compileMs += performance.now() - this.since;
    }
  }

  override async run(launches: readonly Launch[]): Promise<void> {
    this.lastLaunches = launches;
    const t0 = performance.now();
    try {
      return await super.run(launches);
    } finally {
      this.runMs += performance.now() - t0;
    }
  }

  override async read(buffer: GPUBuffer, bytes?: number): Promise<ArrayBuffer> {
    const t0 = performance.now();
    try {
      return await super.read(buffer, bytes);
    } finally {
      this.readMs += performance.now() - t0;
    }
  }

  override createBuffer(bytes: number, label?: string): GPUBuffer {
    const b = super.createBuffer(bytes, label);
    const colon = label?.indexOf(":") ?? -1;
    const kind = label !== undefined && colon > 0 && ["weight", "state"].includes(label.slice(0, colon)) ? label.slice(0, colon) : "other";
    this.allocated.set(kind, (this.allocated.get(kind) ?? 0) + b.size);
    return b;
  }
}
