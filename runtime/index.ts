/**
 * The runtime's public API (`hybridc/runtime`; browser-safe, Node's device and file reading are
 * in `hybridc/runtime/node`):
 *   loadModel     a compiled model on a GPUDevice: weights uploaded, pipelines compiled
 *   HybridModel   prefill / step / reset / snapshot / restore / generate (async iterator)
 *   sample        temperature, top-k, top-p over one row of logits, with a seeded generator
 *   weights       checkpoints: safetensors, validation against the spec, seeded random init
 */
export {
  loadModel,
  promptTokens,
  ContextError,
  HybridModel,
  type LoadOptions,
  type LoadProgress,
  type ModelWeights,
  type GenerateOptions,
  type GeneratedToken,
  type ModelSnapshot,
} from "./model.ts";
export { sample, distribution, argmax, createRng, checkSampleOptions, type SampleOptions, type Rng } from "./sample.ts";
export { GpuRuntime, KernelCompileError, GpuError, DeviceLostError } from "./device.ts";
export { type TensorSource, type WeightSource } from "./memory.ts";
export {
  WeightError,
  checkCheckpoint,
  randomCheckpoint,
  encodeSafetensors,
  memoryCheckpoint,
  openSafetensors,
  bytesSource,
  blobSource,
  type Checkpoint,
  type WeightProblem,
  type ByteSource,
} from "./weights/index.ts";
