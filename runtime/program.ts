/**
 * One program (prefill or decode) for up to L tokens per call, ready to run on the GPU, built
 * from its compiled artifact (compiler/codegen/artifact.ts: kernels in dispatch order, buffers,
 * outputs, state, inputs): all kernels compiled in parallel, the buffers allocated, and all
 * launches of a call encoded into one GpuRuntime.run. `lengthLimit` caps L where a buffer would
 * pass the device's binding size.
 *
 * Everything is driven by the artifact; there is no per-op logic here. Buffers by key
 * (compiler/codegen/request.ts):
 *   weight:NAME   uploaded once into a GpuModelMemory, shared by the model's programs
 *   state:NAME    persistent, in the GpuModelMemory, shared and updated in place by the kernels
 *   const:%n#i    computed from weights once, by the graph's load-time kernels, when the program is built
 *   input:NAME    `tokens` (and `pos`, when a kernel binds it) written per call
 *   output:NAME   `logits` read back per call; a state output that the plan could not place in
 *                 place is copied into its state buffer after the call
 *   %n#i          scratch: bound by key, but several keys share one `arena:N` buffer when their
 *                 lifetimes do not overlap (plan/liveness.ts; the artifact's `scratch` map)
 */
import { byteSize, DTYPES, elementsIn, type Dtype } from "./artifact/dtypes.ts";
import { BUFFER_ALIGN, bufferBytes, extentAt } from "./artifact/launch.ts";
import type { Extent, KernelSpec, ProgramArtifact } from "./artifact/types.ts";
import type { CompiledKernel, Launch } from "./device.ts";
import type { GpuModelMemory } from "./memory.ts";

export { GpuModelMemory, type WeightSource } from "./memory.ts";

/** A graph's value as it lies in a buffer: key, dtype and layout at this program's L. */
interface Placed {
  readonly key: string;
  readonly dtype: Dtype;
  readonly offset: number;
  readonly strides: readonly number[];
  readonly shape: readonly number[];
}

/**
 * The most tokens per call for which every buffer the program allocates fits `maxBytes` (each
 * is bound whole, as one storage binding): buffers grow with L as perL * L + fixed elements of
 * their dtype, allocated in 16-byte units, so the smallest (room - fixed) / perL wins, and
 * `buffer` names it. Infinity (buffer null) when no buffer grows with L. Weights and state come from the
 * model's memory, which splits or sizes them itself.
 */
export function lengthLimit(a: ProgramArtifact, maxBytes: number): { readonly L: number; readonly buffer: string | null } {
  let best: { L: number; buffer: string | null } = { L: Infinity, buffer: null };
  for (const b of a.buffers) {
    if (b.kind === "weight" || b.kind === "state" || b.elements.perL === 0) continue;
    const room = elementsIn(b.dtype, Math.floor(maxBytes / BUFFER_ALIGN) * BUFFER_ALIGN);
    const L = Math.floor((room - b.elements.fixed) / b.elements.perL);
    if (L < best.L) best = { L, buffer: b.key };
  }
  return best;
}

export class GpuProgram {
  private constructor(
    readonly artifact: ProgramArtifact,
    readonly L: number,
    readonly specs: readonly KernelSpec[],
    private readonly compiled: readonly CompiledKernel[],
    private readonly buffers: Readonly<Record<string, GPUBuffer>>,
    private readonly owned: readonly GPUBuffer[],
    private readonly memory: GpuModelMemory,
    private readonly outputs: ReadonlyMap<string, Placed>,
    private readonly stateCopies: readonly { readonly name: string; readonly from: Placed }[],
  ) {}

  /**
   * Compile the artifact's kernels, allocate its buffers for calls of up to `maxL` tokens (its
   * weights and state come from `memory`; scratch keys share their arena's buffer), then run the
   * load-time kernels (constants computed from weights).
   */
  static async fromArtifact(memory: GpuModelMemory, a: ProgramArtifact, maxL: number): Promise<GpuProgram> {
    const rt = memory.rt;
    const [loadCompiled, callCompiled] = await Promise.all([rt.compile(a.load), rt.compile(a.call)]);
    const bytes = (dtype: Dtype, e: Extent): number => bufferBytes(byteSize(dtype, extentAt(e, maxL)));
    const buffers: Record<string, GPUBuffer> = {};
    const owned: GPUBuffer[] = [];
    for (const b of a.buffers) {
      const name = b.key.slice(b.key.indexOf(":") + 1);
      if (b.kind === "weight") buffers[b.key] = memory.weight(name, bytes(b.dtype, b.elements));
      else if (b.kind === "state") buffers[b.key] = memory.stateBuffer(name, bytes(b.dtype, b.elements));
      else {
        const buf = rt.createBuffer(bytes(b.dtype, b.elements), b.key);
        owned.push(buf);
        buffers[b.key] = buf;
      }
    }
    for (const [key, arena] of Object.entries(a.scratch)) {
      const buf = buffers[arena];
      if (buf === undefined) throw new Error(`${a.name}: scratch ${key} lives in ${arena}, which the artifact does not list`);
      buffers[key] = buf;
    }
    const outputs = new Map<string, Placed>();
    for (const o of a.outputs) {
      const shape = o.shape.map((d) => (d === "L" ? maxL : d));
      outputs.set(o.name, { key: o.buffer, dtype: o.dtype, offset: extentAt(o.offset, maxL), strides: o.strides.map((e) => extentAt(e, maxL)), shape });
    }
    const stateCopies = a.stateCopies.map((name) => {
      const from = outputs.get(name);
      if (from === undefined || buffers[from.key] === undefined) throw new Error(`${a.name}: state output ${name} lives in no buffer a kernel writes`);
      return { name, from };
    });
    const program = new GpuProgram(a, maxL, a.call, callCompiled, buffers, owned, memory, outputs, stateCopies);
    if (loadCompiled.length > 0) await rt.run(loadCompiled.map((kernel) => ({ kernel, buffers, L: maxL, pos: 0 })));
    return program;
  }

  /**
   * Run one call: 1..L `tokens` at position `pos` (the kernels take the length as a uniform and
   * no buffer window depends on it, so a program built at L runs any shorter call). Returns the
   * logits, one row per token (row-major, as the graph's output).
   */
  async run(tokens: readonly number[], pos: number): Promise<Float32Array> {
    const n = tokens.length;
    if (n < 1 || n > this.L) throw new Error(`${this.name}: built for 1..${this.L} tokens, given ${n}`);
    const rt = this.memory.rt;
    for (const input of this.artifact.inputs) {
      if (input.buffer === null) continue; // pos reaches kernels as the uniform params.pos
      rt.write(this.buffers[input.buffer]!, DTYPES[input.dtype].encode(input.role === "tokens" ? tokens : [pos]));
    }
    const launches: Launch[] = this.compiled.map((kernel) => ({ kernel, buffers: this.buffers, L: n, pos }));
    await rt.run(launches);
    for (const c of this.stateCopies) {
      const data = await this.readValue(c.from);
      this.memory.writeState(c.name, DTYPES[c.from.dtype].encode(data));
    }
    const logits = await this.output("logits", n);
    return logits instanceof Float32Array ? logits : Float32Array.from(logits);
  }

  /**
   * A graph output after the last call (logits, or a state slot's new value); `rows` (the
   * call's token count) keeps the first rows of an output whose leading dimension is L.
   */
  async output(name: string, rows?: number): Promise<Float32Array | Int32Array | Uint32Array> {
    const p = this.outputs.get(name);
    if (p === undefined) throw new Error(`${this.name} has no output ${name}`);
    return this.readValue(p, rows);
  }

  /** The current value of every state slot the graph uses (for tests). */
  async readState(): Promise<Record<string, Float32Array | Int32Array | Uint32Array>> {
    const out: Record<string, Float32Array | Int32Array | Uint32Array> = {};
    for (const slot of this.artifact.state) {
      const n = slot.shape.reduce((a, b) => a * b, 1);
      out[slot.name] = DTYPES[slot.dtype].decode(await this.memory.rt.read(this.buffers[`state:${slot.name}`]!, byteSize(slot.dtype, n)), 0, n);
    }
    return out;
  }

  /** `model.prefill` or `model.decode`. */
  get name(): string {
    return this.artifact.name;
  }

  /** Bytes of the buffers this program owns (scratch, constants, io); weights and state are the memory's. */
  get scratchBytes(): number {
    return this.owned.reduce((n, b) => n + b.size, 0);
  }

  destroy(): void {
    for (const b of this.owned) b.destroy();
  }

  private async readValue(p: Placed, rows?: number): Promise<Float32Array | Int32Array | Uint32Array> {
    const buf = this.buffers[p.key];
    if (buf === undefined) throw new Error(`${this.name}: no buffer ${p.key}`);
    const { strides, offset } = p;
    const full = p.shape;
    const shape = rows !== undefined && full.length > 0 && full[0] === this.L && rows < this.L ? [rows, ...full.slice(1)] : full;
    const n = shape.reduce((a, b) => a * b, 1);
    const decode = DTYPES[p.dtype].decode;
    // Row-major (the logits, every call): read just those elements, no gather.
    let stride = 1;
    const rowMajor = shape.every((_, d) => {
      const i = shape.length - 1 - d;
      const ok = shape[i] === 1 || strides[i] === stride;
      stride *= shape[i]!;
      return ok;
    });
    if (rowMajor) return decode(await this.memory.rt.read(buf, byteSize(p.dtype, offset + n)), byteSize(p.dtype, offset), n);
    const data = decode(await this.memory.rt.read(buf));
    const out = new (data.constructor as Float32ArrayConstructor | Int32ArrayConstructor | Uint32ArrayConstructor)(n);
    const idx = new Array<number>(shape.length).fill(0);
    for (let k = 0; k < out.length; k++) {
      let at = offset;
      idx.forEach((i, d) => (at += i * strides[d]!));
      out[k] = data[at]!;
      for (let d = shape.length - 1; d >= 0; d--) {
        if (++idx[d]! < shape[d]!) break;
        idx[d] = 0;
      }
    }
    return out;
  }
}
