/**
 * The GPU buffers a model's programs share: its weights (uploaded once, read-only) and its state
 * (SSM/conv state and KV cache: persistent between calls, updated in place by the kernels).
 * Programs (runtime/program.ts) ask for buffers by key; this class owns and frees them.
 *
 * Weights are laid out as the artifact says (`weightBuffers`, made by compiler/plan/weights.ts):
 * one buffer per layer (tensors at 256-byte aligned offsets), one per model-level tensor.
 * `upload` fills them one tensor at a time (writeBuffer at the tensor's offset, in the buffer's
 * storage dtype, a tensor marked `quads` permuted into row quads: artifact/quads.ts), so a
 * checkpoint is never held whole in memory. Each tensor is checked for NaN
 * and ±Inf as stored (an f16 buffer also overflows past ±65504): one such value makes every
 * logit NaN, so it is a NonFiniteWeightError naming the tensors unless `allowNonFinite` is set.
 */
import { byteSize, DTYPES, type Dtype, type StorageArray } from "./artifact/dtypes.ts";
import { quadUnit, toQuads } from "./artifact/quads.ts";
import type { WeightBufferArtifact } from "./artifact/types.ts";
import type { GpuRuntime } from "./device.ts";
import { WeightError, type WeightProblem } from "./weights/errors.ts";

/** Where a weight's values come from: float32 row-major, one tensor at a time. */
export interface TensorSource {
  read(name: string): Promise<Float32Array> | Float32Array;
}

/** A plain record of arrays by tensor name (the spec's `weights` scheme names); a source too. */
export type WeightSource = Readonly<Record<string, ArrayLike<number>>>;

/** What the memory needs of a model: the layout of its tensors in buffers (a ModelArtifact is one). */
export interface WeightPlan {
  readonly weightBuffers: readonly WeightBufferArtifact[];
}

export interface UploadOptions {
  /** Called after each tensor, and once at 0 before the first; bytes as stored on the GPU. */
  readonly onProgress?: (loadedBytes: number, totalBytes: number) => void;
  /** Checked between tensors: aborting stops the upload (and frees what it allocated) with `signal.reason`. */
  readonly signal?: AbortSignal;
  /** Upload weights holding NaN or ±Inf (as stored) instead of failing with a NonFiniteWeightError. */
  readonly allowNonFinite?: boolean;
}

/**
 * Weights that hold NaN or ±Inf as stored on the GPU: one problem per tensor, with the count and
 * the first such element. Every tensor is checked before it is thrown, so one load names them all.
 */
export class NonFiniteWeightError extends WeightError {
  constructor(problems: readonly WeightProblem[]) {
    super(problems);
    this.name = "NonFiniteWeightError";
    this.message += "\npass allowNonFinite to load them anyway (the logits will likely be NaN)";
  }
}

/** A record as a TensorSource (missing names are a clear error). */
export function recordSource(record: WeightSource): TensorSource {
  return {
    read(name) {
      const v = record[name];
      if (v === undefined) throw new Error(`no data for weight ${name}`);
      return v instanceof Float32Array ? v : Float32Array.from(v);
    },
  };
}

function isTensorSource(s: TensorSource | WeightSource): s is TensorSource {
  return typeof (s as { read?: unknown }).read === "function";
}

/**
 * `stored` padded with zeros to whole 4-byte words: WebGPU writes whole words, and an odd count
 * of f16 elements ends mid-word. The padding lands in the 256-byte gap before the next tensor
 * (plan/weights.ts aligns every tensor) or in the buffer's own rounding (whole 16-byte units).
 */
function wholeWords(stored: StorageArray): StorageArray {
  if (stored.byteLength % 4 === 0) return stored;
  const padded = new (stored.constructor as new (n: number) => StorageArray)(stored.length + (4 - (stored.byteLength % 4)) / stored.BYTES_PER_ELEMENT);
  padded.set(stored as ArrayLike<number>);
  return padded;
}

/** The buffers a model's programs share: its weights (uploaded once) and its state (persistent). */
export class GpuModelMemory {
  private readonly state = new Map<string, GPUBuffer>();

  private constructor(
    readonly rt: GpuRuntime,
    /** Where each weight tensor lives (the artifact's weight buffers). */
    readonly layout: readonly WeightBufferArtifact[],
    private readonly weights: Map<string, GPUBuffer>,
  ) {}

  /**
   * Upload every weight of the plan before any program is built, one tensor at a time, each
   * converted to its buffer's storage dtype; each tensor's length is checked against its shape.
   */
  static async upload(rt: GpuRuntime, plan: WeightPlan, source: TensorSource | WeightSource, options: UploadOptions = {}): Promise<GpuModelMemory> {
    const src = isTensorSource(source) ? source : recordSource(source);
    const total = plan.weightBuffers.reduce((n, b) => n + b.tensors.reduce((m, t) => m + byteSize(b.dtype, numel(t.shape)), 0), 0);
    const buffers = new Map<string, GPUBuffer>();
    try {
      for (const b of plan.weightBuffers) buffers.set(b.key, rt.createBuffer(byteSize(b.dtype, b.elements), b.key));
      let loaded = 0;
      options.onProgress?.(0, total);
      const nonFinite: WeightProblem[] = [];
      let yielded = performance.now();
      for (const b of plan.weightBuffers) {
        for (const t of b.tensors) {
          // A source that answers at once (random init, records) never leaves the microtask
          // queue, so an abort from an event (Ctrl-C) would only be seen after the last tensor:
          // give the event loop a turn every 50 ms.
          if (options.signal && performance.now() - yielded > 50) {
            await new Promise((resolve) => setTimeout(resolve, 0));
            yielded = performance.now();
          }
          options.signal?.throwIfAborted();
          const values = await src.read(t.name);
          const expected = numel(t.shape);
          if (!(values instanceof Float32Array)) throw new Error(`weight ${t.name}: the source returned ${typeof values}, not a Float32Array`);
          if (values.length !== expected) {
            throw new Error(`weight ${t.name}: expected ${expected} elements (shape [${t.shape.join(", ")}]), got ${values.length}`);
          }
          const stored = DTYPES[b.dtype].encode(values);
          const bad = options.allowNonFinite ? null : nonFiniteText(values, stored, b.dtype);
          if (bad !== null) nonFinite.push({ file: sourceLabel(source), tensor: t.name, message: bad });
          // After the first bad tensor the rest are only checked: the load fails at the end.
          // A tensor the kernels read in row quads (artifact/quads.ts) is permuted into them here, once.
          const laid = t.quads ? toQuads(stored, t.shape[0]!, quadUnit(b.dtype)) : stored;
          if (nonFinite.length === 0) rt.write(buffers.get(b.key)!, wholeWords(laid), byteSize(b.dtype, t.offset));
          loaded += byteSize(b.dtype, expected);
          options.onProgress?.(loaded, total);
        }
      }
      if (nonFinite.length > 0) throw new NonFiniteWeightError(nonFinite);
    } catch (e) {
      for (const buf of buffers.values()) buf.destroy();
      throw e;
    }
    return new GpuModelMemory(rt, plan.weightBuffers, buffers);
  }

  /** The weight buffer `key` names (`GROUP` of `weight:GROUP`); at least `bytes` long. */
  weight(name: string, bytes: number): GPUBuffer {
    const b = this.weights.get(`weight:${name}`);
    if (b === undefined) throw new Error(`no weight buffer ${name}: the model's weights do not include it`);
    if (b.size < bytes) throw new Error(`weight buffer ${name}: ${b.size} bytes uploaded, kernels read ${bytes}`);
    return b;
  }

  /** The buffer of state slot `name`, zero on creation (WebGPU zero-initializes buffers); at least `bytes` long. */
  stateBuffer(name: string, bytes: number): GPUBuffer {
    let b = this.state.get(name);
    if (b !== undefined && b.size < bytes) throw new Error(`state ${name}: programs disagree on its size (${b.size} < ${bytes} bytes)`);
    if (b === undefined) {
      b = this.rt.createBuffer(bytes, `state:${name}`);
      this.state.set(name, b);
    }
    return b;
  }

  /** Zero every state slot (a new sequence), on the GPU: no host copy of a KV cache's zeros. */
  resetState(): void {
    this.rt.clear(this.state.values());
  }

  /** Overwrite state slot `name` (row-major, as the graph's state input, in its dtype's storage). */
  writeState(name: string, data: ArrayBufferView): void {
    const b = this.state.get(name);
    if (b === undefined) throw new Error(`no state slot ${name}`);
    this.rt.write(b, data);
  }

  destroy(): void {
    for (const b of [...this.weights.values(), ...this.state.values()]) b.destroy();
    this.weights.clear();
    this.state.clear();
  }

  /** A copy of every state slot, made on the GPU (no readback); the caller destroys the buffers. */
  snapshotState(): Map<string, GPUBuffer> {
    const copies = new Map<string, GPUBuffer>();
    for (const [name, b] of this.state) {
      const c = this.rt.createBuffer(b.size, `snapshot:${name}`);
      this.rt.copy(b, c);
      copies.set(name, c);
    }
    return copies;
  }

  /** Put a snapshotState() copy back, on the GPU; the snapshot stays valid for further restores. */
  restoreState(snapshot: ReadonlyMap<string, GPUBuffer>): void {
    for (const [name, b] of this.state) {
      const c = snapshot.get(name);
      if (c === undefined || c.size !== b.size) throw new Error(`state snapshot has no slot ${name} of ${b.size} bytes: it belongs to another model`);
      this.rt.copy(c, b);
    }
  }
}

/** What problem messages name the weights by: a checkpoint's label (its file), else `weights`. */
function sourceLabel(source: TensorSource | WeightSource): string {
  const label = isTensorSource(source) ? (source as { label?: unknown }).label : undefined;
  return typeof label === "string" ? label : "weights";
}

/**
 * `1 non-finite value (NaN at element 4711)` when some stored element is NaN or ±Inf, else null.
 * f32 storage is the values themselves; f16 storage is checked as stored (exponent bits all ones),
 * so a finite value past f16's range is named too.
 */
function nonFiniteText(values: Float32Array, stored: StorageArray, dtype: Dtype): string | null {
  let count = 0;
  let first = -1;
  if (dtype === "f32") {
    for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!) && count++ === 0) first = i;
  } else if (dtype === "f16") {
    for (let i = 0; i < stored.length; i++) if ((stored[i]! & 0x7c00) === 0x7c00 && count++ === 0) first = i;
  }
  if (count === 0) return null;
  const v = values[first]!;
  const what = Number.isNaN(v) ? "NaN" : v === Infinity ? "+Inf" : v === -Infinity ? "-Inf" : String(v);
  const range = Number.isFinite(v) ? `; ${dtype} holds at most ±65504` : "";
  return `${count} non-finite value${count === 1 ? "" : "s"}${dtype === "f16" ? " as f16" : ""} (${count === 1 ? "" : "the first: "}${what} at element ${first}${range})`;
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
