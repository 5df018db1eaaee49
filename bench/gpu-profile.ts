/**
 * Per-kernel GPU time of one program call, by replaying its launches (captured by
 * BenchRuntime) with the raw device, in order, on the same buffers:
 *
 *  timestamps  all launches in one submit, each in its own compute pass with `timestampWrites`
 *              (begin, end); the kernel's time is end - begin. A pass per kernel adds the
 *              per-pass cost (lavapipe: tens of µs, performance.md §3.2.3) to every kernel.
 *  alone       without `timestamp-query`: each launch in its own submit, wall clock around
 *              submit -> onSubmittedWorkDone, so the submit round trip is included.
 *
 * Each kernel's time is the median over `repeats` replays. Bind groups and uniform buffers are
 * made here from the launch's spec (same rule as runtime/device.ts: uniforms hold L and pos);
 * everything is freed at the end. Errors are caught by a validation scope and thrown.
 */
import { foldGrid, uniformData, workgroupCount } from "../compiler/codegen/index.ts";
import { windowBytes } from "../runtime/artifact/launch.ts";
import { waitOn, type Launch } from "../runtime/device.ts";
import { median } from "./stats.ts";

const USAGE = { MAP_READ: 0x1, COPY_SRC: 0x4, COPY_DST: 0x8, QUERY_RESOLVE: 0x200, UNIFORM: 0x40 } as const;

export interface KernelTime {
  readonly name: string;
  readonly op: string;
  /** Median over the replays, milliseconds. */
  readonly ms: number;
}

export interface Profile {
  readonly method: "timestamps" | "alone";
  readonly repeats: number;
  /** In launch order; launches with zero workgroups are left out. */
  readonly kernels: readonly KernelTime[];
  /** Median wall time of one whole replay (timestamps: submit to read-back; alone: the sum of submits). */
  readonly replayMs: number;
}

interface Replay {
  readonly ms: number[];
  readonly wallMs: number;
}

interface Prepared {
  readonly launch: Launch;
  readonly group: GPUBindGroup;
  readonly grid: [number, number, number];
}

function prepare(device: GPUDevice, launches: readonly Launch[], owned: GPUBuffer[]): Prepared[] {
  const out: Prepared[] = [];
  for (const l of launches) {
    const { spec } = l.kernel;
    const count = workgroupCount(spec.dispatch, l.L);
    if (count === 0) continue;
    let uniform: GPUBuffer | null = null;
    if (spec.bindings.some((b) => b.access === "uniform")) {
      const data = uniformData(spec.uniforms, { L: l.L, pos: l.pos ?? 0 });
      uniform = device.createBuffer({ size: data.byteLength, usage: USAGE.UNIFORM | USAGE.COPY_DST });
      device.queue.writeBuffer(uniform, 0, data);
      owned.push(uniform);
    }
    const group = device.createBindGroup({
      layout: l.kernel.layout,
      entries: spec.bindings.map((b): GPUBindGroupEntry => {
        if (b.access === "uniform") return { binding: b.binding, resource: { buffer: uniform! } };
        // A row window of a weight over the binding limit binds that part of the buffer, as runtime/device.ts does.
        const w = b.window;
        return { binding: b.binding, resource: w ? { buffer: l.buffers[b.buffer]!, ...windowBytes({ ...b, window: w }) } : { buffer: l.buffers[b.buffer]! } };
      }),
    });
    out.push({ launch: l, group, grid: foldGrid(count, device.limits.maxComputeWorkgroupsPerDimension) });
  }
  return out;
}

function dispatch(pass: GPUComputePassEncoder, p: Prepared): void {
  pass.setPipeline(p.launch.kernel.pipeline);
  pass.setBindGroup(0, p.group);
  pass.dispatchWorkgroups(...p.grid);
}

/** One replay with a timestamp pair per launch: milliseconds per launch. */
async function replayTimestamps(device: GPUDevice, prepared: readonly Prepared[]): Promise<Replay> {
  const n = prepared.length;
  const querySet = device.createQuerySet({ type: "timestamp", count: 2 * n });
  const resolve = device.createBuffer({ size: 16 * n, usage: USAGE.QUERY_RESOLVE | USAGE.COPY_SRC });
  const staging = device.createBuffer({ size: 16 * n, usage: USAGE.MAP_READ | USAGE.COPY_DST });
  try {
    const enc = device.createCommandEncoder();
    prepared.forEach((p, i) => {
      const pass = enc.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
      dispatch(pass, p);
      pass.end();
    });
    enc.resolveQuerySet(querySet, 0, 2 * n, resolve, 0);
    enc.copyBufferToBuffer(resolve, 0, staging, 0, 16 * n);
    const t0 = performance.now();
    device.queue.submit([enc.finish()]);
    await waitOn(device, staging.mapAsync(0x1));
    const wallMs = performance.now() - t0;
    const ns = new BigInt64Array(staging.getMappedRange().slice(0));
    return { ms: prepared.map((_, i) => Number(ns[2 * i + 1]! - ns[2 * i]!) / 1e6), wallMs };
  } finally {
    staging.destroy();
    resolve.destroy();
    querySet.destroy();
  }
}

/** One replay, each launch submitted and awaited alone: milliseconds per launch. */
async function replayAlone(device: GPUDevice, prepared: readonly Prepared[]): Promise<Replay> {
  const ms: number[] = [];
  for (const p of prepared) {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    dispatch(pass, p);
    pass.end();
    const t0 = performance.now();
    device.queue.submit([enc.finish()]);
    await waitOn(device, device.queue.onSubmittedWorkDone());
    ms.push(performance.now() - t0);
  }
  return { ms, wallMs: ms.reduce((a, b) => a + b, 0) };
}

export async function profileLaunches(device: GPUDevice, launches: readonly Launch[], repeats: number): Promise<Profile> {
  const method = device.features.has("timestamp-query") ? "timestamps" : "alone";
  const owned: GPUBuffer[] = [];
  device.pushErrorScope("validation");
  const samples: Replay[] = [];
  let prepared: Prepared[] = [];
  try {
    prepared = prepare(device, launches, owned);
    for (let r = 0; r < repeats; r++) samples.push(await (method === "timestamps" ? replayTimestamps(device, prepared) : replayAlone(device, prepared)));
  } finally {
    const err = await device.popErrorScope();
    for (const b of owned) b.destroy();
    if (err) throw new Error(`profiling ${launches.length} launches: ${err.message}`);
  }
  const kernels = prepared.map((p, i) => ({ name: p.launch.kernel.spec.name, op: p.launch.kernel.spec.op, ms: median(samples.map((s) => s.ms[i]!)) }));
  return { method, repeats, kernels, replayMs: median(samples.map((s) => s.wallMs)) };
}
