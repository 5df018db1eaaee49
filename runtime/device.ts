/**
 * The one file that touches WebGPU objects (GPUDevice, GPUQueue, GPUBuffer, pipelines). It
 * takes a GPUDevice from the caller (Node's `webgpu` package, a browser, Deno) and turns
 * an artifact's kernels (artifact/types.ts) into pipelines and launches; everything it needs to
 * know about a kernel (bindings, uniforms, grid) is data in the artifact, evaluated by the pure
 * helpers of artifact/launch.ts.
 *
 * Failures are loud and specific, never a hang or a silently skipped dispatch:
 *  - WGSL errors (getCompilationInfo)  -> KernelCompileError: kernel name, line:col, the WGSL line,
 *                                         and the kernel's `.hyb` spans and `file:line:col`
 *  - validation errors while compiling -> KernelCompileError for the kernel whose pipeline failed
 *  - validation / out-of-memory errors -> GpuError naming the kernels of the failed call
 *  - device loss                       -> DeviceLostError from every pending and later call
 *
 * Calls are meant to be awaited one at a time: each wraps its work in the device's error scopes,
 * and interleaved calls would share them.
 */
import { bindingBytes, bufferBytes, foldGrid, uniformData, windowBytes, workgroupCount } from "./artifact/launch.ts";
import type { KernelSpec, StorageBindingSpec } from "./artifact/types.ts";

// WebGPU's flag values (fixed by the spec), so this file needs no globals.
const USAGE = { MAP_READ: 0x1, COPY_SRC: 0x4, COPY_DST: 0x8, UNIFORM: 0x40, STORAGE: 0x80 } as const;
const MAP_MODE_READ = 0x1;
const STAGE_COMPUTE = 0x4;
/** WebGPU's COPY_BUFFER_ALIGNMENT: copies and mapped reads move whole multiples of 4 bytes. */
const COPY_ALIGN = 4;

export interface WgslMessage {
  readonly line: number;
  readonly col: number;
  readonly message: string;
  /** The WGSL source line it points at. */
  readonly source: string;
}

/** A kernel the device rejects: its WGSL messages, and where in the `.hyb` spec its node came from. */
export class KernelCompileError extends Error {
  /** The `.hyb` spans of the kernel's node (the KernelSpec's). */
  readonly spans: KernelSpec["spans"];
  /** `file.hyb:line:col` of the first span (the artifact's locations), else the WGSL header's `from:` line. */
  readonly location: string;

  constructor(
    readonly kernel: string,
    readonly messages: readonly WgslMessage[],
    spec: KernelSpec,
    what = "WGSL does not compile",
  ) {
    const location = locationOf(spec);
    const text = messages.map((m) => (m.line > 0 ? `  ${m.line}:${m.col}: ${m.message}\n    ${m.source}\n    ${" ".repeat(Math.max(0, m.col - 1))}^` : `  ${m.message}`)).join("\n");
    super(`kernel ${kernel}: ${what} (from ${location})\n${text}`);
    this.name = "KernelCompileError";
    this.spans = spec.spans;
    this.location = location;
  }
}

/** The spec's first `file:line:col` (a KernelArtifact's `locations`), else its header's `// from:` line. */
function locationOf(spec: KernelSpec): string {
  const locations = (spec as { locations?: unknown }).locations;
  if (Array.isArray(locations) && typeof locations[0] === "string") return locations[0];
  const from = spec.wgsl.split("\n").find((l) => l.startsWith("// from: "));
  return from?.slice("// from: ".length) ?? "no source location";
}

export class GpuError extends Error {
  override name = "GpuError";
}

export class DeviceLostError extends Error {
  override name = "DeviceLostError";
}

export interface CompiledKernel {
  readonly spec: KernelSpec;
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
}

/** One dispatch: a kernel, the buffer for each of its storage bindings (by buffer key), L and pos. */
export interface Launch {
  readonly kernel: CompiledKernel;
  readonly buffers: Readonly<Record<string, GPUBuffer>>;
  readonly L: number;
  readonly pos?: number;
}

export interface RuntimeOptions {
  /** Fold grids at this many workgroups per dimension (default: the device's limit); tests lower it. */
  readonly maxWorkgroupsPerDimension?: number;
}

/**
 * How to wait for a promise of a device (a submit's completion, a map, a pipeline): a platform's
 * binding may need more than `await`. Dawn's Node binding polls with setImmediate while any of its
 * promises is pending, a busy loop that takes a core a CPU adapter's workers need; runtime/node.ts
 * registers a waiter that sleeps between polls for the devices it creates. Browsers and Deno
 * wait in their own event loops: nothing registered, a plain await.
 */
export type QueueWait = <T>(p: Promise<T>) => Promise<T>;

const queueWaits = new WeakMap<GPUDevice, QueueWait>();

/** Use `wait` for every promise of `device` that GpuRuntime (and the benchmarks, through waitOn) await. */
export function setQueueWait(device: GPUDevice, wait: QueueWait): void {
  queueWaits.set(device, wait);
}

/** `p`, awaited the way registered for `device` (setQueueWait), or as it is. */
export function waitOn<T>(device: GPUDevice, p: Promise<T>): Promise<T> {
  const wait = queueWaits.get(device);
  return wait ? wait(p) : p;
}

/** What makes two kernels' pipelines interchangeable: the module without its comment lines. */
function pipelineKey(spec: KernelSpec): string {
  return `${spec.entryPoint}\n${spec.wgsl.replace(/^\s*\/\/.*\n/gm, "")}`;
}

export class GpuRuntime {
  private lostWith: DeviceLostError | null = null;
  private readonly lostSignal: Promise<DeviceLostError>;
  private readonly maxPerDimension: number;
  /**
   * Pipelines by `pipelineKey`, for the life of the runtime: kernels that differ only in their
   * header comment (the same block in another layer, or in another program of the model) share
   * one pipeline. Compiling is the expensive part of loading (on lavapipe 0.1-0.5 s a module,
   * paid at the first dispatch), so a 24-layer model compiles its 7 distinct kernels, not 122.
   */
  private readonly pipelines = new Map<string, Promise<CompiledKernel>>();

  constructor(
    readonly device: GPUDevice,
    options: RuntimeOptions = {},
  ) {
    this.maxPerDimension = options.maxWorkgroupsPerDimension ?? device.limits.maxComputeWorkgroupsPerDimension;
    this.lostSignal = device.lost.then((info) => {
      this.lostWith = new DeviceLostError(`GPU device lost (${info.reason}): ${info.message || "no message"}; recreate the device and reload the model`);
      return this.lostWith;
    });
  }

  /** Compile every kernel in parallel: shader modules, their messages, then pipelines. */
  async compile(specs: readonly KernelSpec[]): Promise<CompiledKernel[]> {
    this.check();
    this.device.pushErrorScope("validation");
    const unique = this.pipelines;
    const results = await Promise.allSettled(
      specs.map((s) => {
        const key = pipelineKey(s);
        let p = unique.get(key);
        if (p === undefined) unique.set(key, (p = this.compileOne(s)));
        return p.then((c) => (c.spec === s ? c : { ...c, spec: s }));
      }),
    );
    const scope = await this.device.popErrorScope();
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed.length > 0) throw failed[0]!.reason;
    if (scope) {
      // Dawn names the object it rejects by its label, the kernel's name: `[ComputePipeline "layers.0.norm"]`.
      const culprit = specs.find((s) => scope.message.includes(`"${s.name}"`));
      if (culprit) throw new KernelCompileError(culprit.name, [{ line: 0, col: 0, message: scope.message, source: "" }], culprit, "does not validate");
      throw new GpuError(`compiling kernels ${specs.map((s) => s.name).join(", ")}: ${scope.message}`);
    }
    return results.map((r) => (r as PromiseFulfilledResult<CompiledKernel>).value);
  }

  private async compileOne(spec: KernelSpec): Promise<CompiledKernel> {
    const module = this.device.createShaderModule({ label: spec.name, code: spec.wgsl });
    const info = await this.guard(module.getCompilationInfo());
    const errors = info.messages.filter((m) => m.type === "error");
    if (errors.length > 0) {
      const src = spec.wgsl.split("\n");
      throw new KernelCompileError(
        spec.name,
        errors.map((m) => ({ line: m.lineNum, col: m.linePos, message: m.message, source: src[m.lineNum - 1] ?? "" })),
        spec,
      );
    }
    const layout = this.device.createBindGroupLayout({
      label: spec.name,
      entries: spec.bindings.map((b) => ({
        binding: b.binding,
        visibility: STAGE_COMPUTE,
        buffer: { type: b.access === "uniform" ? "uniform" : b.access === "read" ? "read-only-storage" : "storage" },
      })),
    });
    let pipeline: GPUComputePipeline;
    try {
      pipeline = await this.guard(
        this.device.createComputePipelineAsync({
          label: spec.name,
          layout: this.device.createPipelineLayout({ label: spec.name, bindGroupLayouts: [layout] }),
          compute: { module, entryPoint: spec.entryPoint },
        }),
      );
    } catch (e) {
      if (e instanceof DeviceLostError) throw e;
      // A GPUPipelineError: the module compiled, but not against this layout (bindings that disagree).
      throw new KernelCompileError(spec.name, [{ line: 0, col: 0, message: e instanceof Error ? e.message : String(e), source: "" }], spec, "pipeline does not validate");
    }
    return { spec, pipeline, layout };
  }

  /** A storage buffer of at least `bytes` (whole vec4s), readable and writable by copies. */
  createBuffer(bytes: number, label?: string): GPUBuffer {
    this.check();
    const size = bufferBytes(bytes);
    return this.device.createBuffer({ size, usage: USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST, ...(label ? { label } : {}) });
  }

  write(buffer: GPUBuffer, data: ArrayBufferView, byteOffset = 0): void {
    this.check();
    this.device.queue.writeBuffer(buffer, byteOffset, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Copy `bytes` (all of `from` by default) from one buffer to another on the GPU, queued in order with later calls. */
  copy(from: GPUBuffer, to: GPUBuffer, bytes = from.size): void {
    this.check();
    const enc = this.device.createCommandEncoder({ label: "copy" });
    enc.copyBufferToBuffer(from, 0, to, 0, Math.ceil(bytes / COPY_ALIGN) * COPY_ALIGN);
    this.device.queue.submit([enc.finish()]);
  }

  /** Zero whole buffers on the GPU (no host-side zeros), queued in order with later calls. */
  clear(buffers: Iterable<GPUBuffer>): void {
    this.check();
    const enc = this.device.createCommandEncoder({ label: "clear" });
    for (const b of buffers) enc.clearBuffer(b);
    this.device.queue.submit([enc.finish()]);
  }

  /** The first `bytes` of a buffer (all of it by default). */
  async read(buffer: GPUBuffer, bytes = buffer.size): Promise<ArrayBuffer> {
    this.check();
    const size = Math.ceil(bytes / COPY_ALIGN) * COPY_ALIGN;
    const staging = this.device.createBuffer({ size, usage: USAGE.MAP_READ | USAGE.COPY_DST });
    try {
      const enc = this.device.createCommandEncoder();
      enc.copyBufferToBuffer(buffer, 0, staging, 0, size);
      this.device.queue.submit([enc.finish()]);
      await this.guard(staging.mapAsync(MAP_MODE_READ));
      return staging.getMappedRange().slice(0, bytes);
    } finally {
      staging.destroy();
    }
  }

  /** Encode the launches in order into one compute pass and one submit, and wait for them. */
  async run(launches: readonly Launch[]): Promise<void> {
    this.check();
    const names = launches.map((l) => l.kernel.spec.name).join(", ");
    const transient: GPUBuffer[] = [];
    const seen = new Set<CompiledKernel>();
    this.device.pushErrorScope("out-of-memory");
    this.device.pushErrorScope("validation");
    let failure: unknown = null;
    try {
      const enc = this.device.createCommandEncoder({ label: names });
      const pass = enc.beginComputePass();
      for (const l of launches) {
        // A kernel's second launch in one call needs its own uniform buffer: the queued writes
        // of both would land before the submit, and the last would win.
        const repeat = seen.has(l.kernel);
        seen.add(l.kernel);
        this.encode(pass, l, repeat ? transient : null);
      }
      pass.end();
      this.device.queue.submit([enc.finish()]);
      await this.guard(this.device.queue.onSubmittedWorkDone());
    } catch (e) {
      failure = e;
    }
    const validation = await this.device.popErrorScope();
    const oom = await this.device.popErrorScope();
    for (const u of transient) u.destroy();
    if (failure !== null) throw failure;
    const err = validation ?? oom;
    if (err) throw new GpuError(`launching ${names}: ${err.message}`);
  }

  /**
   * Bind groups and uniform buffers are made once per (kernel, buffer set) and reused by every
   * later call (the decode loop launches the same kernels on the same buffers each token); only
   * the uniform values are rewritten. `transient` collects one-off uniforms for repeated launches.
   */
  private readonly bound = new WeakMap<CompiledKernel, WeakMap<Readonly<Record<string, GPUBuffer>>, { group: GPUBindGroup; uniform: GPUBuffer | null }>>();

  private encode(pass: GPUComputePassEncoder, l: Launch, transient: GPUBuffer[] | null): void {
    const { spec } = l.kernel;
    const storage = spec.bindings.map((b) => (b.access === "uniform" ? null : this.bufferFor(spec, b, l)));
    const count = workgroupCount(spec.dispatch, l.L);
    if (count === 0) return;
    const data = spec.bindings.some((b) => b.access === "uniform") ? uniformData(spec.uniforms, { L: l.L, pos: l.pos ?? 0 }) : null;
    const makeUniform = (): GPUBuffer | null => (data ? this.device.createBuffer({ size: data.byteLength, usage: USAGE.UNIFORM | USAGE.COPY_DST }) : null);
    const makeGroup = (uniform: GPUBuffer | null): GPUBindGroup =>
      this.device.createBindGroup({
        label: spec.name,
        layout: l.kernel.layout,
        entries: spec.bindings.map((b, i): GPUBindGroupEntry => {
          if (b.access === "uniform") return { binding: b.binding, resource: { buffer: uniform! } };
          // A row window of a weight over the binding limit: that part of the buffer (offsets are 256-byte aligned).
          const w = b.window;
          return { binding: b.binding, resource: w ? { buffer: storage[i]!, ...windowBytes({ ...b, window: w }) } : { buffer: storage[i]! } };
        }),
      });
    let group: GPUBindGroup;
    let uniform: GPUBuffer | null;
    if (transient) {
      uniform = makeUniform();
      if (uniform) transient.push(uniform);
      group = makeGroup(uniform);
    } else {
      let perKernel = this.bound.get(l.kernel);
      if (!perKernel) this.bound.set(l.kernel, (perKernel = new WeakMap()));
      let cached = perKernel.get(l.buffers);
      if (!cached) {
        const u = makeUniform();
        cached = { group: makeGroup(u), uniform: u };
        perKernel.set(l.buffers, cached);
      }
      ({ group, uniform } = cached);
    }
    if (uniform && data) this.device.queue.writeBuffer(uniform, 0, data);
    pass.setPipeline(l.kernel.pipeline);
    pass.setBindGroup(0, group);
    const [x, y, z] = foldGrid(count, this.maxPerDimension);
    pass.dispatchWorkgroups(x, y, z);
  }

  private bufferFor(spec: KernelSpec, b: StorageBindingSpec, l: Launch): GPUBuffer {
    const buf = l.buffers[b.buffer];
    if (buf === undefined) throw new GpuError(`kernel ${spec.name}: no buffer for binding ${b.name} (${b.buffer})`);
    const need = bindingBytes(b, l.L);
    if (buf.size < need) throw new GpuError(`kernel ${spec.name}: binding ${b.name} (${b.buffer}) needs ${need} bytes at L = ${l.L}, the buffer has ${buf.size}`);
    return buf;
  }

  private check(): void {
    if (this.lostWith) throw this.lostWith;
  }

  /** `p`, or a DeviceLostError as soon as the device is lost (so nothing waits forever). */
  private guard<T>(p: Promise<T>): Promise<T> {
    return Promise.race([waitOn(this.device, p), this.lostSignal.then((e) => Promise.reject(e))]);
  }
}
