/**
 * Node-only (`hybridc/runtime/node`): a WebGPU device from the `webgpu` package (Dawn), and
 * built models and checkpoints read from the file system. Browsers and Deno pass their own
 * GPUDevice to loadModel. `webgpu` is an optional peer dependency, loaded only when a device is
 * created: without it, createNodeDevice says how to install it.
 *
 * Dawn lives only as long as the object from `create()` is referenced; once V8 collects it, Dawn's
 * event loop dereferences freed memory (aborts, segfaults; ../shared/reference/performance.md
 * §3.2). So the instance is held on `globalThis` for the whole process, and a process that used
 * it must end with `process.exit()` (a live instance keeps Node running).
 */

import { setQueueWait } from "./device.ts";

declare global {
  var __hybridcGpu: GPU | undefined;
}

/** What to do when Dawn finds no adapter (the same text everywhere: CLI, tests, API). */
export const INSTALL_ADAPTER = `no WebGPU adapter: Dawn found no Vulkan driver on this machine.
Install Mesa's CPU Vulkan driver (lavapipe) from Debian bookworm-backports, as root:
  echo 'deb http://deb.debian.org/debian bookworm-backports main' >/etc/apt/sources.list.d/backports.list && apt-get update && apt-get install -y -t bookworm-backports mesa-vulkan-drivers libvulkan1
  export XDG_RUNTIME_DIR=/tmp
(\`bash .ci/install\` does the same.) Then run the tests again.`;

/** What to do when the `webgpu` package is not installed. */
export const INSTALL_WEBGPU = `the \`webgpu\` package (Dawn, WebGPU for Node) is not installed; it is an optional peer dependency of hybridc, needed only to run models in Node:
  npm install webgpu`;

/** Thrown when there is no adapter (or no \`webgpu\` package); the message says how to install one. */
export class NoAdapterError extends Error {
  override name = "NoAdapterError";
}

/** Limits requested at the adapter's maximum: the larger they are, the fewer splits a model needs. */
export const REQUESTED_LIMITS = [
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxStorageBuffersPerShaderStage",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupsPerDimension",
] as const satisfies readonly (keyof GPUSupportedLimits)[];

/** Optional features, enabled when the adapter has them (f16 weights, kernel timing, subgroup reductions). */
const FEATURES = ["shader-f16", "timestamp-query", "subgroups"] as const satisfies readonly GPUFeatureName[];

export interface NodeDeviceOptions {
  /** Called when the device is lost for any reason but `destroy()` (default: a line on stderr). */
  readonly onLost?: (info: GPUDeviceLostInfo) => void;
  /**
   * How the runtime waits for the device (default "sleep", see dawnWait): "spin" leaves Dawn's own
   * busy polling as it is.
   */
  readonly wait?: "sleep" | "spin";
}

/** Dawn may poll freely this long after a wait starts or ends before the waiter sleeps between polls (ms). */
const SPIN_MS = 1;
/** The waiter's sleep between polls (ms): the most latency it adds to a wait. */
const SLICE_MS = 0.5;
let sleeper: Int32Array | undefined;
/** Waits in flight, whether the sleeping loop runs, and when a wait last started or ended. */
let pending = 0;
let sleeping = false;
let activity = 0;

/**
 * A wait for a promise of a Dawn device that does not keep a core busy. While any of its promises
 * is pending, Dawn's Node binding re-queues `ProcessEvents` with setImmediate, so the main thread
 * spins at 100% of a core for the whole submit. On a CPU adapter (lavapipe) that core is one of
 * those the driver's workers run the kernels on: on a 2-core machine a streaming read kernel ran
 * 1.8x to 2.4x faster with this waiter (`npm run bench`, the -dawnspin rows). It returns `p`
 * itself (Dawn's poll still settles it) and keeps one loop alive while any wait is in flight: for
 * SPIN_MS after a wait starts or ends it lets Dawn poll freely (a GPU's short waits get no added
 * latency), after that it sleeps SLICE_MS (Atomics.wait) before each turn of the event loop, which
 * runs Dawn's poll and whatever else is pending; however many waits are in flight (a model's
 * pipelines compile concurrently), it is one sleep per turn. Node only (a browser's main thread
 * may not Atomics.wait).
 */
export function dawnWait<T>(p: Promise<T>): Promise<T> {
  pending++;
  activity = performance.now();
  const settled = (): void => {
    pending--;
    activity = performance.now();
  };
  p.then(settled, settled);
  if (!sleeping) {
    sleeping = true;
    void (async () => {
      while (pending > 0) {
        if (performance.now() - activity > SPIN_MS) Atomics.wait((sleeper ??= new Int32Array(new SharedArrayBuffer(4))), 0, 0, SLICE_MS);
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      sleeping = false;
    })();
  }
  return p;
}

/** Dawn's instance for this process, created once and never released; NoAdapterError without the package. */
export async function nodeGpu(): Promise<GPU> {
  process.env["XDG_RUNTIME_DIR"] ??= "/tmp";
  if (globalThis.__hybridcGpu === undefined) {
    let dawn: typeof import("webgpu");
    try {
      dawn = await import("webgpu");
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") throw new NoAdapterError(INSTALL_WEBGPU);
      throw e;
    }
    // GPUBufferUsage, GPUMapMode, ... as in a browser, for code that uses the WebGPU globals.
    Object.assign(globalThis, dawn.globals);
    // Unquantized timestamps, for the benchmarks.
    globalThis.__hybridcGpu = dawn.create(["disable-dawn-features=timestamp_quantization"]);
  }
  return globalThis.__hybridcGpu;
}

/** A device on the machine's adapter with the adapter's maximum limits; NoAdapterError when there is none. */
export async function createNodeDevice(options: NodeDeviceOptions = {}): Promise<GPUDevice> {
  const gpu = await nodeGpu();
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter();
  } catch (e) {
    throw new NoAdapterError(`${INSTALL_ADAPTER}\n(requestAdapter failed: ${e instanceof Error ? e.message : String(e)})`);
  }
  if (!adapter) throw new NoAdapterError(INSTALL_ADAPTER);
  const requiredLimits: Record<string, number> = {};
  for (const name of REQUESTED_LIMITS) requiredLimits[name] = adapter.limits[name];
  const requiredFeatures = FEATURES.filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  if (options.wait !== "spin") setQueueWait(device, dawnWait);
  const onLost = options.onLost ?? ((info: GPUDeviceLostInfo) => void process.stderr.write(`hybridc: GPU device lost: ${info.message}\n`));
  void device.lost.then((info) => {
    if (info.reason !== "destroyed") onLost(info);
  });
  return device;
}

export { openCheckpoint } from "./weights/node.ts";
export { readArtifact } from "./artifact/node.ts";
