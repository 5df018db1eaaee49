/**
 * The runtime's public API (`hybridc/runtime`): runs what the compiler built, and nothing of the
 * compiler is in it (no parser, no passes, no code generator). Browser-safe; Node's device and
 * file reading are in `hybridc/runtime/node`.
 *   loadModel       a built model (ModelArtifact) on a GPUDevice: weights uploaded, pipelines compiled
 *   HybridModel     prefill / step / reset / snapshot / restore / generate (async iterator)
 *   artifacts       the contract: types, validation (parseArtifact), the on-disk form
 *                   (readArtifactFiles, fetchArtifact), the element-format table (DTYPES)
 *   sample          temperature, top-k, top-p over one row of logits, with a seeded generator
 *   text            TextTokenizer (what generate() takes), UTF-8 bytes, incremental decoding;
 *                   tokenizer.json itself is `hybridc/tokenizer`, kept out of this bundle
 *   weights         checkpoints: safetensors, validation against the artifact, seeded random init
 */
export {
  loadModel,
  deviceMismatch,
  promptTokens,
  ContextError,
  DeviceMismatchError,
  NonFiniteError,
  HybridModel,
  type LoadOptions,
  type LoadProgress,
  type ModelWeights,
  type WeightShapes,
  type ShapedWeights,
  type Tensor,
  type TensorMap,
  type CompiledModel,
  type GenerateOptions,
  type GeneratedToken,
  type ModelSnapshot,
} from "./model.ts";
export {
  ARTIFACT_FORMAT,
  ARTIFACT_VERSION,
  DEFAULT_LIMITS,
  DTYPES,
  ArtifactError,
  parseArtifact,
  readArtifactFiles,
  fetchArtifact,
  artifactFiles,
  byteSize,
  type ModelArtifact,
  type ProgramArtifact,
  type KernelArtifact,
  type KernelSpec,
  type KernelLimits,
  type WeightArtifact,
  type WeightInit,
  type Dtype,
  type ArtifactFile,
} from "./artifact/index.ts";
export { sample, distribution, argmax, createRng, checkSampleOptions, type SampleOptions, type Rng } from "./sample.ts";
export { byteTokenizer, TextStream, type TextTokenizer } from "./text.ts";
export { GpuRuntime, KernelCompileError, GpuError, DeviceLostError } from "./device.ts";
export { NonFiniteWeightError, type TensorSource, type WeightSource } from "./memory.ts";
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
  type CheckedModel,
  type WeightProblem,
  type ByteSource,
} from "./weights/index.ts";
