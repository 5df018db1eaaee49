/**
 * The GPU for tests: one Dawn instance and one device per test process, on whatever adapter
 * the machine has (Mesa's lavapipe on CI). No adapter is a failure with install instructions,
 * never a skip: a GPU test that silently does not run proves nothing.
 */
import { createNodeDevice, INSTALL_ADAPTER } from "../../runtime/node.ts";

// The Dawn instance, its lifetime rule, the limits and the install text live in runtime/node.ts
// (the same device the CLI and the API get).
export { INSTALL_ADAPTER };

let device: Promise<GPUDevice> | undefined;

/** The process's device, created on first use. */
export function getDevice(): Promise<GPUDevice> {
  device ??= openDevice();
  return device;
}

function openDevice(): Promise<GPUDevice> {
  return createNodeDevice({ onLost: (info) => void process.stderr.write(`hybridc tests: GPU device lost: ${info.message}\n`) });
}
