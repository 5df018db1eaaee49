/**
 * The GPU buffers a model's programs share: its weights (uploaded once, read-only) and its state
 * (SSM/conv state and KV cache: persistent between calls, updated in place by the kernels).
 * Programs (runtime/program.ts) ask for buffers by key; this class owns and frees them.
 *
 * Weights are laid out by compiler/plan/weights.ts: one buffer per layer (tensors at 256-byte
 * aligned offsets), one per model-level tensor. `upload` fills them one tensor at a time
 * (writeBuffer at the tensor's offset), so a checkpoint is never held whole in memory.
 */
import type { ResolvedModel } from "../compiler/check/model.ts";
import { numel } from "../compiler/ir/types.ts";
import { weightLayout, type WeightEntry, type WeightLayout } from "../compiler/plan/weights.ts";
import type { GpuRuntime } from "./device.ts";

/** Where a weight's values come from: float32 row-major, one tensor at a time. */
export interface TensorSource {
  read(name: string): Promise<Float32Array> | Float32Array;
}

/** A plain record of arrays by tensor name (the spec's `weights` scheme names); a source too. */
export type WeightSource = Readonly<Record<string, ArrayLike<number>>>;

export interface UploadOptions {
  /** The binding limit the layout respects (default: the device's). */
  readonly limits?: { readonly maxStorageBufferBindingSize: number };
  /** Called after each tensor, and once at 0 before the first. */
  readonly onProgress?: (loadedBytes: number, totalBytes: number) => void;
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

/** Weight buffers already allocated and filled (what `upload` hands the constructor). */
class Uploaded {
  constructor(
    readonly layout: WeightLayout,
    readonly buffers: ReadonlyMap<string, GPUBuffer>,
  ) {}
}

/** The buffers a model's programs share: its weights (uploaded once) and its state (persistent). */
export class GpuModelMemory {
  /** Where each weight tensor lives; programs generate their kernels against it. */
  readonly layout: WeightLayout;
  private readonly weights: Map<string, GPUBuffer>;
  private readonly state = new Map<string, GPUBuffer>();

  /**
   * From a record of arrays (tests, small models): every entry is uploaded now, laid out by
   * name with the lengths given (shapes are checked by the kernels' binding sizes).
   */
  constructor(rt: GpuRuntime, data: WeightSource, options?: { readonly limits?: { readonly maxStorageBufferBindingSize: number } });
  constructor(rt: GpuRuntime, data: WeightSource | Uploaded, options?: { readonly limits?: { readonly maxStorageBufferBindingSize: number } });
  constructor(
    readonly rt: GpuRuntime,
    data: WeightSource | Uploaded,
    options: { readonly limits?: { readonly maxStorageBufferBindingSize: number } } = {},
  ) {
    if (data instanceof Uploaded) {
      this.layout = data.layout;
      this.weights = new Map(data.buffers);
      return;
    }
    const entries: WeightEntry[] = Object.entries(data).map(([name, v]) => ({ name, shape: [v.length] }));
    this.layout = weightLayout(entries, options.limits ?? rt.device.limits);
    this.weights = allocate(rt, this.layout);
    for (const b of this.layout.buffers) {
      for (const t of b.tensors) {
        const v = data[t.name]!;
        rt.write(this.weights.get(b.key)!, v instanceof Float32Array ? v : Float32Array.from(v), 4 * t.offset);
      }
    }
  }

  /**
   * Upload every weight of `model` (all groups) before any program is built; progress in bytes.
   * Each tensor's length is checked against its shape.
   */
  static async upload(
    rt: GpuRuntime,
    model: ResolvedModel,
    source: TensorSource | WeightSource,
    options: UploadOptions & { readonly limits?: { readonly maxStorageBufferBindingSize: number } } = {},
  ): Promise<GpuModelMemory> {
    const src = isTensorSource(source) ? source : recordSource(source);
    const layout = weightLayout(model.weights, options.limits ?? rt.device.limits);
    const total = 4 * model.weights.reduce((n, w) => n + numel(w.shape), 0);
    const buffers = allocate(rt, layout);
    try {
      let loaded = 0;
      options.onProgress?.(0, total);
      for (const b of layout.buffers) {
        for (const t of b.tensors) {
          const values = await src.read(t.name);
          const expected = numel(t.shape);
          if (!(values instanceof Float32Array)) throw new Error(`weight ${t.name}: the source returned ${typeof values}, not a Float32Array`);
          if (values.length !== expected) {
            throw new Error(`weight ${t.name}: expected ${expected} elements (shape [${t.shape.join(", ")}]), got ${values.length}`);
          }
          rt.write(buffers.get(b.key)!, values, 4 * t.offset);
          loaded += 4 * expected;
          options.onProgress?.(loaded, total);
        }
      }
    } catch (e) {
      for (const buf of buffers.values()) buf.destroy();
      throw e;
    }
    return new GpuModelMemory(rt, new Uploaded(layout, buffers));
  }

  /** The weight buffer `key` names (`GROUP` of `weight:GROUP`); at least `bytes` long. */
  weight(name: string, bytes: number): GPUBuffer {
    const b = this.weights.get(`weight:${name}`);
    if (b === undefined) throw new Error(`no weight buffer ${name}: the model's weights do not include it`);
    if (b.size < bytes) throw new Error(`weight buffer ${name}: ${b.size / 4} values uploaded, kernels read ${bytes / 4}`);
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

  /** Overwrite state slot `name` (row-major, as the graph's state input). */
  writeState(name: string, data: Float32Array): void {
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

/** One GPU buffer per layout buffer (whole vec4s; never empty). */
function allocate(rt: GpuRuntime, layout: WeightLayout): Map<string, GPUBuffer> {
  const out = new Map<string, GPUBuffer>();
  for (const b of layout.buffers) out.set(b.key, rt.createBuffer(4 * b.elements, b.key));
  return out;
}
