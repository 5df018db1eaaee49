/**
 * The artifact: what the compiler builds and the runtime runs (types.ts), the one element-format
 * table (dtypes.ts), the launch arithmetic (launch.ts), the KV ring's rules (kv-ring.ts), the
 * on-disk form (files.ts) and validation (parse.ts). Nothing here imports the compiler.
 */
export * from "./types.ts";
export { DTYPES, DTYPE_NAMES, byteSize, elementsIn, isDtype, wgslElement, type Dtype, type DtypeInfo, type StorageArray } from "./dtypes.ts";
export { extentAt, bindingBytes, bufferBytes, windowBytes, workgroupCount, foldGrid, uniformBytes, uniformData } from "./launch.ts";
export { ArtifactError, parseArtifact, validArtifact } from "./parse.ts";
export { artifactFiles, readArtifactFiles, fetchArtifact, jsonText, MANIFEST, type ArtifactFile } from "./files.ts";
export { positionLimit, maxCallTokens, ringRowsNeeded, ringPosition } from "./kv-ring.ts";
export { QUAD_ROWS, QUAD_UNIT_BYTES, quadIndex, quadUnit, quadsFit, toQuads } from "./quads.ts";
