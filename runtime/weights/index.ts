/**
 * runtime/weights: checkpoints for hybridc models. Browser-safe; the file-system entry
 * (`openCheckpoint(path)`) is in ./node.ts.
 *   safetensors.ts  the format both ways (ranged reader over a ByteSource, validated header; writer)
 *   checkpoint.ts   Checkpoint over one file or index + shards, and over arrays in memory
 *   check.ts        checkCheckpoint: a checkpoint against the spec's tensor list
 *   random.ts       randomCheckpoint: deterministic Mamba/HF-style init
 *   errors.ts       WeightError, one problem per line
 */
export { WeightError, renderProblem, type WeightProblem } from "./errors.ts";
export { bytesSource, blobSource, type ByteSource } from "./source.ts";
export { DTYPE_BYTES, READABLE, type SafetensorsDtype, type ReadableDtype, type WritableDtype } from "./safetensors-dtypes.ts";
export { encodeSafetensors, readHeader, readTensor, MAX_HEADER_BYTES, type TensorToWrite, type SafetensorsHeader, type TensorInfo } from "./safetensors.ts";
export { openSafetensors, openSharded, parseIndex, memoryCheckpoint, type Checkpoint, type TensorMeta } from "./checkpoint.ts";
export { checkCheckpoint, assertCheckpoint, type CheckResult, type CheckedModel } from "./check.ts";
export { randomCheckpoint, fill } from "./random.ts";
