/**
 * The compiled artifact: the contract between the compiler and the runtime. The compiler's
 * `build()` returns one ModelArtifact per model, `hybridc build -o DIR` writes it (files.ts), and
 * the runtime runs it (loadModel) without knowing any op, any spec or the compiler. Everything
 * here is plain, JSON-able data; sizes are in elements of the buffer's dtype (dtypes.ts is the one
 * table that turns them into bytes), and lengths are `perL * L + fixed` so one artifact runs any
 * prefill length.
 *
 *   ModelArtifact    what the model is (vocab, context, attention windows), what it needs
 *                    (limits, features), its weights (names, shapes, storage dtype, init, layout
 *                    in buffers) and its two programs
 *   ProgramArtifact  prefill (1..L tokens a call) or decode (one token): load-time kernels, per-call
 *                    kernels in dispatch order, buffers, where the outputs lie, state slots, inputs
 *   KernelArtifact   one WGSL module with its bindings, uniforms and grid, as data
 */
import type { Dtype, Lanes } from "./dtypes.ts";

export const ARTIFACT_FORMAT = "hybridc-artifact";
/** Bumped whenever the shape or the meaning of an artifact changes. */
export const ARTIFACT_VERSION = 3;

/** A number of elements, `perL * L + fixed` (L = the tokens of a call). */
export interface Extent {
  readonly perL: number;
  readonly fixed: number;
}

/** A half-open range of UTF-16 offsets in the `.hyb` source. */
export interface SourceSpan {
  readonly start: number;
  readonly end: number;
}

/** The adapter limits the kernels were generated for; a device must offer at least these. */
export interface KernelLimits {
  readonly maxComputeInvocationsPerWorkgroup: number;
  readonly maxComputeWorkgroupSizeX: number;
  readonly maxComputeWorkgroupStorageSize: number;
  readonly maxComputeWorkgroupsPerDimension: number;
  readonly maxStorageBuffersPerShaderStage: number;
  readonly maxStorageBufferBindingSize: number;
}

/** The WebGPU defaults: what every adapter offers. */
export const DEFAULT_LIMITS: KernelLimits = {
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupStorageSize: 16384,
  maxComputeWorkgroupsPerDimension: 65535,
  maxStorageBuffersPerShaderStage: 8,
  maxStorageBufferBindingSize: 134217728,
};

export const LIMIT_NAMES = Object.keys(DEFAULT_LIMITS) as readonly (keyof KernelLimits)[];

/** What a buffer is, for a binding: read-only weights, persistent state, reused scratch, or model input/output. */
export type BufferRole = "weight" | "state" | "scratch" | "io";

export interface StorageBindingSpec {
  readonly group: 0;
  readonly binding: number;
  /** The WGSL variable; the operands it holds, joined by `_` when views of one buffer share it. */
  readonly name: string;
  readonly access: "read" | "read_write";
  /** The buffer's element format, read `lanes` at a time (`array<vec4<f32>>` is f32 in lanes of 4; 8 only packed). */
  readonly dtype: Dtype;
  readonly lanes: Lanes;
  /**
   * Read without the dtype's device feature: the module declares its packed words (f16: `u32`
   * holding 2, `vec2<u32>` holding 4 for lanes 4, `vec4<u32>` holding 8 for lanes 8) and unpacks
   * them (dtypes.ts). Absent: native.
   */
  readonly packed?: true;
  readonly role: BufferRole;
  /** The buffer it binds (keys: `weight:NAME`, `state:NAME`, `const:...`, `input:NAME`, `output:NAME`, `%7#0` scratch). */
  readonly buffer: string;
  /** Elements of that buffer. */
  readonly elements: Extent;
  /**
   * Only this part of the buffer is bound (element offset, 256-byte aligned, and count): one of
   * the row windows of a weight over maxStorageBufferBindingSize. `of` names the operand whose
   * windows these are; the module reads them through `fn ${of}_at(i)`.
   */
  readonly window?: { readonly offset: number; readonly elements: number; readonly of: string };
}

/** The uniform struct `Params`, when the kernel has fields. */
export interface UniformBindingSpec {
  readonly group: 0;
  readonly binding: number;
  readonly name: "params";
  readonly access: "uniform";
  readonly role: "uniform";
}

export type BindingSpec = StorageBindingSpec | UniformBindingSpec;

/** A u32 the runtime passes per call. */
export type UniformField = "L" | "pos";
export const UNIFORM_FIELDS = ["L", "pos"] as const satisfies readonly UniformField[];

/** The uniform struct `Params`: its fields, in order, each a u32. */
export interface UniformSpec {
  readonly fields: readonly UniformField[];
}

/**
 * Workgroups to launch: `ceil(L / lTile) * times`, or `times` when lTile is null; the runtime
 * folds the count into an (x, y) grid (launch.ts) and every kernel reads its flat index.
 */
export interface Dispatch {
  readonly lTile: number | null;
  readonly times: number;
}

/** One kernel: a complete WGSL module and everything needed to launch it. */
export interface KernelSpec {
  readonly name: string;
  /** The IR op it computes (informative: the runtime never looks at it). */
  readonly op: string;
  /** The graph node it computes, and the `.hyb` spans that node came from. */
  readonly node: number;
  readonly spans: readonly SourceSpan[];
  /** A complete WGSL module with one `@compute` entry point. */
  readonly wgsl: string;
  readonly entryPoint: "main";
  readonly workgroupSize: number;
  readonly bindings: readonly BindingSpec[];
  readonly uniforms: UniformSpec;
  readonly dispatch: Dispatch;
  /** The schedule it was generated with (tiles, vector widths, ...). */
  readonly schedule: Readonly<Record<string, number>>;
  /**
   * Device features its code needs beyond those of its bindings (which kernel.ts bindingFeatures
   * derives): `subgroups` for a kernel that reduces with subgroup operations. Absent: none.
   */
  readonly features?: readonly string[];
}

/** A kernel of an artifact: its spans also as `file.hyb:line:col`, for errors at run time. */
export interface KernelArtifact extends KernelSpec {
  readonly locations: readonly string[];
}

/** `weight`/`state` buffers belong to the model's memory; the others a program allocates. */
export type BufferKind = "weight" | "state" | "const" | "input" | "output" | "arena";

export interface BufferArtifact {
  readonly key: string;
  readonly kind: BufferKind;
  readonly dtype: Dtype;
  readonly elements: Extent;
}

/** Element [i0, i1, ...] of the output is element `offset + sum_d i_d * strides[d]` of the buffer, at length L. */
export interface OutputArtifact {
  readonly name: string;
  readonly buffer: string;
  readonly dtype: Dtype;
  readonly offset: Extent;
  readonly strides: readonly Extent[];
  /** Dimensions; `"L"` is the call's token count. */
  readonly shape: readonly (number | "L")[];
}

export interface StateArtifact {
  readonly name: string;
  readonly dtype: Dtype;
  readonly shape: readonly number[];
}

export interface InputArtifact {
  readonly name: string;
  readonly role: "tokens" | "pos";
  /** The buffer a call writes, or null when no kernel binds it (pos reaches kernels as a uniform). */
  readonly buffer: string | null;
  readonly dtype: Dtype;
}

export interface ProgramArtifact {
  /** The graph's name, `model.prefill` or `model.decode`. */
  readonly name: string;
  /** Kernels run once when the program is built (constants computed from weights). */
  readonly load: readonly KernelArtifact[];
  /** Kernels of every call, in dispatch order. */
  readonly call: readonly KernelArtifact[];
  readonly buffers: readonly BufferArtifact[];
  /** Scratch buffer key -> the `arena:N` buffer it lives in (shared by liveness). */
  readonly scratch: Readonly<Record<string, string>>;
  readonly outputs: readonly OutputArtifact[];
  readonly state: readonly StateArtifact[];
  /** State outputs that do not lie in their slot: copied into it after each call. */
  readonly stateCopies: readonly string[];
  readonly inputs: readonly InputArtifact[];
}

/** How a tensor is initialized by `--init random` (Mamba / Hugging Face conventions). */
export type WeightInit =
  | { readonly kind: "const"; readonly value: number }
  | { readonly kind: "normal"; readonly std: number }
  | { readonly kind: "uniform"; readonly bound: number }
  | { readonly kind: "dt_bias"; readonly dtMin: number; readonly dtMax: number }
  /** Mamba-1 A_log [E, N]: every row is ln(1), ..., ln(N). */
  | { readonly kind: "a_log_rows" }
  /** Mamba-2 A_log [H]: ln(U(1, aMax)). */
  | { readonly kind: "a_log_heads"; readonly aMax: number };

/** A checkpoint tensor: its name under the spec's naming scheme, shape, GPU storage dtype and init. */
export interface WeightArtifact {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: Dtype;
  readonly init: WeightInit;
}

/** A GPU buffer of weights: the tensors at their element offsets (256-byte aligned). */
export interface WeightBufferArtifact {
  /** `weight:GROUP` (a layer, or a part of one) or `weight:NAME` (a tensor alone). */
  readonly key: string;
  readonly dtype: Dtype;
  /** Elements of the buffer: the end of its last tensor. */
  readonly elements: number;
  /** `quads`: the tensor is stored in row quads (quads.ts), permuted on upload; absent: row-major. */
  readonly tensors: readonly { readonly name: string; readonly offset: number; readonly shape: readonly number[]; readonly quads?: true }[];
}

export interface ModelArtifact {
  readonly format: typeof ARTIFACT_FORMAT;
  readonly version: typeof ARTIFACT_VERSION;
  /** The hybridc version that built it. */
  readonly hybridc: string;
  /** The spec file's name (no directory). */
  readonly source: string;
  readonly model: string;
  readonly vocab: number;
  /** Rows of the KV cache (the spec's `context`). */
  readonly context: number;
  /** The window of each attention sublayer in layer order (null: full causal); empty without attention. */
  readonly attention: readonly (number | null)[];
  /** The spec's checkpoint naming scheme (`mamba`, `jamba`, ...), for messages. */
  readonly weightsScheme: string;
  /** The LM head is the embedding (an `lm_head.weight` in a checkpoint is ignored). */
  readonly tied: boolean;
  /** The limits the kernels were generated for and the features they use: a device needs both. */
  readonly limits: KernelLimits;
  readonly features: readonly string[];
  readonly weights: readonly WeightArtifact[];
  readonly weightBuffers: readonly WeightBufferArtifact[];
  readonly prefill: ProgramArtifact;
  readonly decode: ProgramArtifact;
}
