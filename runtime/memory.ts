/**
 * The GPU buffers a model's programs share: its weights (uploaded once, read-only) and its state
 * (SSM/conv state and KV cache: persistent between calls, updated in place by the kernels).
 * Programs (runtime/program.ts) ask for buffers by key; this class owns and frees them.
 */
import type { GpuRuntime } from "./device.ts";

/**
 * Where weight values come from, by tensor name (the spec's `weights` scheme names): float32,
 * row-major. A checkpoint reader returns each tensor when asked, so a large file is read one
 * tensor at a time and never held whole in memory; a plain record of arrays is one too.
 */
export type WeightSource = Readonly<Record<string, ArrayLike<number>>>;

/** The buffers a model's programs share: its weights (uploaded once) and its state (persistent). */
export class GpuModelMemory {
  private readonly weights = new Map<string, GPUBuffer>();
  private readonly state = new Map<string, GPUBuffer>();

  constructor(
    readonly rt: GpuRuntime,
    private readonly data: WeightSource,
  ) {}

  /** The buffer of weight `name`, uploaded on first use; at least `bytes` long. */
  weight(name: string, bytes: number): GPUBuffer {
    let b = this.weights.get(name);
    if (b === undefined) {
      const src = this.data[name];
      if (src === undefined) throw new Error(`no data for weight ${name}`);
      if (4 * src.length < bytes) throw new Error(`weight ${name}: ${src.length} values given, kernels read ${bytes / 4}`);
      b = this.rt.createBuffer(4 * src.length, `weight:${name}`);
      this.rt.write(b, src instanceof Float32Array ? src : Float32Array.from(src));
      this.weights.set(name, b);
    }
    return b;
  }

  /** The buffer of state slot `name`, zeroed on creation; at least `bytes` long. */
  stateBuffer(name: string, bytes: number): GPUBuffer {
    let b = this.state.get(name);
    if (b !== undefined && b.size < bytes) throw new Error(`state ${name}: programs disagree on its size (${b.size} < ${bytes} bytes)`);
    if (b === undefined) {
      b = this.rt.createBuffer(bytes, `state:${name}`);
      this.rt.write(b, new Float32Array(b.size / 4));
      this.state.set(name, b);
    }
    return b;
  }

  /** Zero every state slot (a new sequence). */
  resetState(): void {
    for (const b of this.state.values()) this.rt.write(b, new Float32Array(b.size / 4));
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
}

