/**
 * One optimized graph (prefill or decode) at one length L, ready to run on the GPU: a KernelSpec
 * for every kernel node (codegen registry), all compiled in parallel, one GPU buffer per buffer
 * key, and all launches of a call encoded into one GpuRuntime.run.
 *
 * Everything is driven by the plan and the specs; there is no per-op logic here. Buffers by key
 * (compiler/codegen/request.ts):
 *   weight:NAME   uploaded once into a GpuModelMemory, shared by the model's programs
 *   state:NAME    persistent, in the GpuModelMemory, shared and updated in place by the kernels
 *   const:%n#i    computed from weights once, by the graph's load-time kernels, when the program is built
 *   input:NAME    `tokens` (and `pos`, when a kernel binds it) written per call
 *   output:NAME   `logits` read back per call; a state output that the plan could not place in
 *                 place is copied into its state buffer after the call
 *   %n#i          scratch: one buffer per key for now (next step: share buffers by liveness,
 *                 plan/liveness.ts)
 */
import {
  bindingBytes,
  CodegenError,
  DEFAULT_LIMITS,
  generateKernel,
  requestFromGraph,
  type KernelLimits,
  type KernelSpec,
} from "../compiler/codegen/index.ts";
import { hasGenerator } from "../compiler/codegen/registry.ts";
import { bufferKey } from "../compiler/codegen/request.ts";
import type { Graph, ValueRef } from "../compiler/ir/graph.ts";
import { concreteShape, numel } from "../compiler/ir/types.ts";
import { kernelsOf } from "../compiler/plan/kernels.ts";
import { storage } from "../compiler/plan/storage.ts";
import { layouts, type Layout } from "../compiler/plan/views.ts";
import type { CompiledKernel, Launch } from "./device.ts";
import type { GpuModelMemory } from "./memory.ts";

export { GpuModelMemory, type WeightSource } from "./memory.ts";

export interface ProgramOptions {
  readonly limits?: KernelLimits;
}

/** A graph's value as it lies in a buffer: key and layout at this program's L. */
interface Placed {
  readonly key: string;
  readonly layout: Layout;
}

export class GpuProgram {
  private constructor(
    readonly graph: Graph,
    readonly L: number,
    readonly specs: readonly KernelSpec[],
    private readonly compiled: readonly CompiledKernel[],
    private readonly buffers: Readonly<Record<string, GPUBuffer>>,
    private readonly owned: readonly GPUBuffer[],
    private readonly memory: GpuModelMemory,
    private readonly outputs: ReadonlyMap<string, Placed>,
    private readonly stateCopies: readonly { readonly name: string; readonly from: Placed; readonly elements: number }[],
  ) {}

  /**
   * Generate, compile and allocate everything for `g` at length `L` (1 for decode), then run the
   * load-time kernels (constants computed from weights).
   */
  static async create(memory: GpuModelMemory, g: Graph, L: number, options: ProgramOptions = {}): Promise<GpuProgram> {
    const rt = memory.rt;
    const limits = options.limits ?? (rt.device.limits as KernelLimits | undefined) ?? DEFAULT_LIMITS;
    const lay = layouts(g, L);
    const { of, constant } = storage(g, lay);
    const load = kernelsOf(g, lay, constant, "load");
    const call = kernelsOf(g, lay, constant, "call");
    const missing = [...new Set([...load, ...call].filter((k) => !hasGenerator(k.op)).map((k) => k.op))];
    if (missing.length > 0) {
      const first = [...load, ...call].find((k) => !hasGenerator(k.op))!;
      throw new CodegenError(`${g.name}: no WGSL generator for ${missing.join(", ")} (first: kernel ${first.name}, node %${first.node})`, g.nodes[first.node]!.spans);
    }
    const gen = (k: { node: number; name: string }) => generateKernel(requestFromGraph(g, k.node, { name: k.name }), limits);
    const loadSpecs = load.map(gen);
    const callSpecs = call.map(gen);
    const [loadCompiled, callCompiled] = await Promise.all([rt.compile(loadSpecs), rt.compile(callSpecs)]);

    // One buffer per key, as large as its largest binding at L (and its value, for state/io).
    const bytes = new Map<string, number>();
    for (const s of [...loadSpecs, ...callSpecs]) {
      for (const b of s.bindings) {
        if (b.access === "uniform") continue;
        bytes.set(b.buffer, Math.max(bytes.get(b.buffer) ?? 0, bindingBytes(b, L)));
      }
    }
    const keyOf = (r: ValueRef): string => {
      const base = lay[r.node]![r.index]!.base;
      return bufferKey(of[base.node]![base.index]!, base);
    };
    // State slots get their buffer (at least their value's size) even where no kernel binds them.
    for (const n of g.nodes) {
      if (n.op !== "input" || n.attrs.role !== "state") continue;
      const key = `state:${n.attrs.name}`;
      bytes.set(key, Math.max(bytes.get(key) ?? 0, 16, Math.ceil(numel(lay[n.id]![0]!.shape) / 4) * 16));
    }

    const buffers: Record<string, GPUBuffer> = {};
    const owned: GPUBuffer[] = [];
    for (const [key, n] of bytes) {
      const colon = key.indexOf(":");
      const kind = colon < 0 ? "scratch" : key.slice(0, colon);
      const name = key.slice(colon + 1);
      if (kind === "weight") buffers[key] = memory.weight(name, n);
      else if (kind === "state") buffers[key] = memory.stateBuffer(name, n);
      else {
        const b = rt.createBuffer(n, key);
        owned.push(b);
        buffers[key] = b;
      }
    }

    const outputs = new Map<string, Placed>();
    const stateCopies: { name: string; from: Placed; elements: number }[] = [];
    const stateNames = new Set(g.nodes.flatMap((n) => (n.op === "input" && n.attrs.role === "state" ? [n.attrs.name] : [])));
    for (const o of g.outputs) {
      const placed = { key: keyOf(o.value), layout: lay[o.value.node]![o.value.index]! };
      outputs.set(o.name, placed);
      if (stateNames.has(o.name) && placed.key !== `state:${o.name}`) {
        if (buffers[placed.key] === undefined) {
          // A state output that is a weight/input/... (never expected): keep it loud.
          throw new Error(`${g.name}: state output ${o.name} lives in ${placed.key}, which no kernel writes`);
        }
        stateCopies.push({ name: o.name, from: placed, elements: numel(placed.layout.shape) });
      }
    }

    const program = new GpuProgram(g, L, callSpecs, callCompiled, buffers, owned, memory, outputs, stateCopies);
    if (loadCompiled.length > 0) await rt.run(loadCompiled.map((kernel) => ({ kernel, buffers, L, pos: 0 })));
    return program;
  }

  /** Run one call: `tokens` (exactly L of them) at position `pos`. Returns the logits (row-major, as the graph's output). */
  async run(tokens: readonly number[], pos: number): Promise<Float32Array> {
    if (tokens.length !== this.L) throw new Error(`${this.graph.name}: built for L = ${this.L}, given ${tokens.length} tokens`);
    const rt = this.memory.rt;
    for (const n of this.graph.nodes) {
      if (n.op !== "input" || (n.attrs.role !== "tokens" && n.attrs.role !== "pos")) continue;
      const buf = this.buffers[`input:${n.attrs.name}`];
      if (buf === undefined) continue; // pos reaches kernels as the uniform params.pos
      const values = n.attrs.role === "tokens" ? tokens : [pos];
      const elem = this.elemOf(`input:${n.attrs.name}`);
      rt.write(buf, elem === "i32" ? Int32Array.from(values) : elem === "u32" ? Uint32Array.from(values) : Float32Array.from(values));
    }
    const launches: Launch[] = this.compiled.map((kernel) => ({ kernel, buffers: this.buffers, L: this.L, pos }));
    await rt.run(launches);
    for (const c of this.stateCopies) {
      const data = await this.readValue(c.from);
      this.memory.writeState(c.name, data);
    }
    return this.output("logits");
  }

  /** A graph output after the last call (logits, or a state slot's new value). */
  async output(name: string): Promise<Float32Array> {
    const p = this.outputs.get(name);
    if (p === undefined) throw new Error(`${this.graph.name} has no output ${name}`);
    return this.readValue(p);
  }

  /** The current value of every state slot the graph uses (for tests). */
  async readState(): Promise<Record<string, Float32Array>> {
    const out: Record<string, Float32Array> = {};
    for (const n of this.graph.nodes) {
      if (n.op !== "input" || n.attrs.role !== "state") continue;
      const shape = concreteShape(n.attrs.type.shape, this.L);
      const buf = this.buffers[`state:${n.attrs.name}`]!;
      out[n.attrs.name] = new Float32Array(await this.memory.rt.read(buf, 4 * numel(shape)));
    }
    return out;
  }

  /** Bytes of the buffers this program owns (scratch, constants, io); weights and state are the memory's. */
  get scratchBytes(): number {
    return this.owned.reduce((n, b) => n + b.size, 0);
  }

  destroy(): void {
    for (const b of this.owned) b.destroy();
  }

  private elemOf(key: string): string | undefined {
    for (const s of this.specs) for (const b of s.bindings) if (b.access !== "uniform" && b.buffer === key) return b.elem;
    return undefined;
  }

  private async readValue(p: Placed): Promise<Float32Array> {
    const buf = this.buffers[p.key];
    if (buf === undefined) throw new Error(`${this.graph.name}: no buffer ${p.key}`);
    const data = new Float32Array(await this.memory.rt.read(buf));
    const { shape, strides, offset } = p.layout;
    const out = new Float32Array(numel(shape));
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
