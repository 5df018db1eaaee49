/**
 * Runs one graph node as a generated WGSL kernel on the test adapter and compares every result
 * with `interp` of the same node: the operands' buffers are filled with the interpreter's
 * values of their base values, results start as NaN (so an element the kernel never writes
 * fails), and the result windows are read back through their views.
 */
import { bindingBytes, extentAt, generateKernel, requestFromGraph, type KernelLimits, type KernelRequest, type KernelSpec, type OperandView } from "../../compiler/codegen/index.ts";
import { evaluate, relError, type RunOptions } from "../../compiler/interp/index.ts";
import type { Graph } from "../../compiler/ir/graph.ts";
import { concreteShape, numel } from "../../compiler/ir/types.ts";
import type { WeightLayout } from "../../compiler/plan/weights.ts";
import type { F16Mode } from "../../compiler/codegen/request.ts";
import { DTYPES } from "../../runtime/artifact/dtypes.ts";
import { quadUnit, toQuads } from "../../runtime/artifact/quads.ts";
import { GpuRuntime, type RuntimeOptions } from "../../runtime/device.ts";
import { getDevice } from "../gpu/device.ts";

let shared: Promise<GpuRuntime> | undefined;

/** The process's runtime on the test device. */
export function runtime(): Promise<GpuRuntime> {
  shared ??= getDevice().then((d) => new GpuRuntime(d));
  return shared;
}

export interface NodeResult {
  readonly spec: KernelSpec;
  readonly request: KernelRequest;
  /** Norm-wise relative error max|gpu - ref| / max|ref| of each result. */
  readonly errors: readonly number[];
  readonly gpu: readonly Float64Array[];
  readonly ref: readonly Float64Array[];
}

/** The elements of a view, row-major over its shape at length L. */
function gatherView(data: ArrayLike<number>, v: OperandView, L: number): Float64Array {
  const shape = concreteShape(v.shape, L);
  const out = new Float64Array(numel(shape));
  const idx = new Array<number>(shape.length).fill(0);
  for (let k = 0; k < out.length; k++) {
    let at = v.offset;
    idx.forEach((i, d) => (at += shape[d] === 1 ? 0 : i * v.strides[d]!));
    out[k] = data[at]!;
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d]! < shape[d]!) break;
      idx[d] = 0;
    }
  }
  return out;
}

export interface RunNodeOptions {
  readonly schedule?: Readonly<Record<string, number>>;
  readonly runtime?: RuntimeOptions;
  /** Weights grouped into layer buffers (and windowed) by this layout; generated under `limits`. */
  readonly weights?: WeightLayout;
  readonly limits?: KernelLimits;
  /** How f16 weights are read (request.ts; default packed). */
  readonly f16?: F16Mode;
}

export async function runNode(g: Graph, id: number, feed: RunOptions & { readonly L: number }, options: RunNodeOptions = {}): Promise<NodeResult> {
  return runNodes(g, [id], feed, options);
}

/**
 * Several nodes of `g` run in order as their kernels, sharing buffers by key: what a node reads
 * from an earlier one of the list comes from that node's kernel (it starts as NaN), everything
 * else from interp. The last node's results are compared.
 */
export async function runNodes(g: Graph, ids: readonly number[], feed: RunOptions & { readonly L: number }, options: RunNodeOptions = {}): Promise<NodeResult> {
  const values = evaluate(g, feed);
  const rt = options.runtime ? new GpuRuntime((await runtime()).device, options.runtime) : await runtime();
  const requests = ids.map((id) => requestFromGraph(g, id, { ...(options.weights ? { weights: options.weights } : {}), ...(options.f16 ? { f16: options.f16 } : {}) }));
  const specs = requests.map((r) => generateKernel(r, options.limits ?? rt.device.limits, options.schedule));
  const kernels = await rt.compile(specs);
  const chain = new Set(ids);
  const request = requests[requests.length - 1]!;
  const spec = specs[specs.length - 1]!;

  // One buffer per key (a layer's weights, or a windowed tensor's windows, share one); every
  // input base value is written at its offset in its buffer.
  const buffers: Record<string, GPUBuffer> = {};
  for (const b of specs.flatMap((s) => s.bindings)) {
    if (b.access === "uniform" || buffers[b.buffer] !== undefined) continue;
    const buf = rt.createBuffer(bindingBytes(b, feed.L), b.buffer);
    // Integer bindings (token ids) take the values as integers; float ones start as NaN (a value the
    // kernel never writes then fails), in the binding's storage format.
    const host = new Float64Array(extentAt(b.elements, feed.L)).fill(DTYPES[b.dtype].float ? NaN : 0);
    for (const v of requests.flatMap((r) => r.inputs)) {
      if (v.buffer.key !== b.buffer || chain.has(v.base.node)) continue;
      const data = values[v.base.node]![v.base.index]!.data;
      // A weight in row quads is permuted as the runtime's upload does (runtime/memory.ts).
      host.set(v.quads ? toQuads(data, v.shape[0] as number, quadUnit(v.buffer.dtype)) : data, v.baseOffset);
    }
    // Whole 4-byte words (an odd count of f16 elements ends mid-word).
    const stored = DTYPES[b.dtype].encode(host);
    const words = new Uint8Array(Math.ceil(stored.byteLength / 4) * 4);
    words.set(new Uint8Array(stored.buffer, stored.byteOffset, stored.byteLength));
    rt.write(buf, words);
    buffers[b.buffer] = buf;
  }
  // The `pos` input reaches kernels as the uniform `params.pos` (runtime/device.ts), not as a buffer.
  const posNode = g.nodes.find((n) => n.op === "input" && n.attrs.role === "pos");
  const pos = posNode === undefined ? 0 : values[posNode.id]![0]!.data[0]!;
  await rt.run(kernels.map((kernel) => ({ kernel, buffers, L: feed.L, pos })));

  const gpu: Float64Array[] = [];
  for (const v of request.results) gpu.push(gatherView(DTYPES[v.buffer.dtype].decode(await rt.read(buffers[v.buffer.key]!)), v, feed.L));
  for (const b of Object.values(buffers)) b.destroy();
  const ref = values[ids[ids.length - 1]!]!.map((t) => t.data);
  return { spec, request, errors: gpu.map((y, i) => relError(y, ref[i]!)), gpu, ref };
}
