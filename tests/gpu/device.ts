/**
 * The GPU for tests: one Dawn instance and one device per test process, on whatever adapter
 * the machine has (Mesa's lavapipe on CI). No adapter is a failure with install instructions,
 * never a skip: a GPU test that silently does not run proves nothing.
 */
import { create, globals } from "webgpu";

Object.assign(globalThis, globals);

declare global {
  // Dawn lives only as long as the object from `create()` is referenced; once V8 collects it,
  // Dawn's event loop dereferences freed memory (aborts, segfaults; see
  // ../shared/reference/performance.md §3.2). So it is held here for the whole process.
  var __hybridcGpu: GPU | undefined;
}

export const INSTALL_ADAPTER = `no WebGPU adapter: Dawn found no Vulkan driver on this machine.
Install Mesa's CPU Vulkan driver (lavapipe) from Debian bookworm-backports, as root:
  echo 'deb http://deb.debian.org/debian bookworm-backports main' >/etc/apt/sources.list.d/backports.list && apt-get update && apt-get install -y -t bookworm-backports mesa-vulkan-drivers libvulkan1
  export XDG_RUNTIME_DIR=/tmp
(\`bash .ci/install\` does the same.) Then run the tests again.`;

/** Limits later kernels need; each is requested at the adapter's maximum. */
const LIMITS = [
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxStorageBuffersPerShaderStage",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupsPerDimension",
] as const satisfies readonly (keyof GPUSupportedLimits)[];

/** Optional features, enabled when the adapter has them (f16 weights, kernel timing). */
const FEATURES = ["shader-f16", "timestamp-query"] as const satisfies readonly GPUFeatureName[];

let device: Promise<GPUDevice> | undefined;

/** The process's device, created on first use. */
export function getDevice(): Promise<GPUDevice> {
  device ??= openDevice();
  return device;
}

async function openDevice(): Promise<GPUDevice> {
  process.env["XDG_RUNTIME_DIR"] ??= "/tmp";
  let adapter: GPUAdapter | null;
  try {
    // Unquantized timestamps, for the benchmarks of later issues.
    globalThis.__hybridcGpu ??= create(["disable-dawn-features=timestamp_quantization"]);
    adapter = await globalThis.__hybridcGpu.requestAdapter();
  } catch (e) {
    throw new Error(`${INSTALL_ADAPTER}\n(requestAdapter failed: ${e instanceof Error ? e.message : String(e)})`);
  }
  if (!adapter) throw new Error(INSTALL_ADAPTER);
  const requiredLimits: Record<string, number> = {};
  for (const name of LIMITS) requiredLimits[name] = adapter.limits[name];
  const requiredFeatures = FEATURES.filter((f) => adapter.features.has(f));
  const dev = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  void dev.lost.then((info) => {
    if (info.reason !== "destroyed") process.stderr.write(`hybridc tests: GPU device lost: ${info.message}\n`);
  });
  return dev;
}
