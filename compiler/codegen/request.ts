/**
 * What a generator is asked for: one node, and for each of its operands the window it reads or
 * writes in some buffer. Channel dims are static and only L varies, so a view (a slice of
 * in_proj's output, dt|B|C of x_proj's) is a constant element offset plus constant strides;
 * generators bake both into the WGSL. Operands that are views of one buffer get one binding.
 *
 * Buffer keys name storage, not values: `weight:NAME`, `const:%7#0` (computed from weights at
 * load), `input:NAME`, `state:NAME` (a state slot: the input and its new value written in place
 * share the key, hence the binding), `output:NAME`, and `%7#0` for a scratch value.
 *
 * Given the model's weight layout (plan/weights.ts), a weight lives in its group's buffer
 * instead: `weight:backbone.layers.3` at the tensor's offset, so a kernel binds its layer's
 * weights once; a tensor alone over the binding limit carries the row windows it is bound as.
 */
import { InternalCompilerError } from "../diag/diagnostic.ts";
import type { Span } from "../diag/source.ts";
import type { Graph, NodeOf, ValueRef } from "../ir/graph.ts";
import { typeOfRef } from "../ir/graph.ts";
import type { OpName } from "../ir/ops.ts";
import { byteSize, DTYPES, symbolicNumel, type Dtype, type Shape } from "../ir/types.ts";
import { kernels } from "../plan/kernels.ts";
import { storage, type Storage } from "../plan/storage.ts";
import { layouts, type Layout } from "../plan/views.ts";
import { QUAD_ROWS } from "../../runtime/artifact/quads.ts";
import { rowWindows, type WeightLayout, type Window } from "../plan/weights.ts";
import { CodegenError, type BufferRole, type Extent } from "./kernel.ts";

export interface BufferRef {
  readonly key: string;
  readonly role: BufferRole;
  /** Its element format (the IR type of the value it holds; a weight buffer's storage dtype). */
  readonly dtype: Dtype;
  /** Scalar elements of the whole buffer. */
  readonly elements: Extent;
  /** A weight over the binding limit: bound as these row windows of the buffer (rows never straddle two). */
  readonly windows?: readonly Window[];
  /** Read through its dtype's packed form (f16 without shader-f16: two halves per u32). */
  readonly packed?: boolean;
}

/**
 * How kernels read f16 buffers: `native` (`array<f16>`, the artifact then needs shader-f16) or
 * `packed` (two halves per u32 through unpack2x16float: every device). The default is packed.
 */
export type F16Mode = "native" | "packed";

/** Element [i0, i1, ...] of the operand is element `offset + sum_d i_d * strides[d]` of the buffer. */
export interface OperandView {
  readonly buffer: BufferRef;
  /** The operand's own shape (symbolic: "L" in prefill). */
  readonly shape: Shape;
  readonly offset: number;
  readonly strides: readonly number[];
  /** The graph value whose storage this is (tests feed and read buffers through it). */
  readonly base: ValueRef;
  /**
   * A whole weight [N, K] stored in row quads (runtime/artifact/quads.ts): element [n, k] is not at
   * offset + n * K + k but where quadIndex puts it. The accessor (operands.ts) addresses it so.
   */
  readonly quads?: true;
  /** Element offset of that base value in the buffer: 0, except a weight inside its layer's buffer. */
  readonly baseOffset: number;
}

export interface KernelRequest<K extends OpName = OpName> {
  /** The kernel's stable name (plan/kernels.ts), e.g. `layers.0.mixer.in_proj`; `op_id` for a node that is no per-call kernel. */
  readonly name: string;
  readonly node: NodeOf<K>;
  readonly inputs: readonly OperandView[];
  readonly results: readonly OperandView[];
  /** `file.hyb:12` for a span, for the kernel's header comment; offsets when absent. */
  readonly describeSpan?: (s: Span) => string;
  /**
   * The device has the `subgroups` feature and the build may use it (BuildOptions.subgroups): a
   * decode GEMV then reduces its lanes with subgroupAdd (gemv.ts). Absent: no subgroup operations.
   */
  readonly subgroups?: boolean;
  /**
   * The build is sized for a GPU (BuildOptions.target `gpu`): a decode GEMV gives each column
   * tile 32 lanes (or a subgroup) and a workgroup 4 tiles (linear-family.ts). Absent: a CPU adapter.
   */
  readonly gpu?: boolean;
}

function roleOf(s: Storage): BufferRole {
  switch (s.kind) {
    case "weight":
    case "constant":
      return "weight";
    case "state":
      return "state";
    case "input":
    case "output":
      return "io";
    case "scratch":
      return "scratch";
  }
}

/** The buffer a base value lives in: `weight:NAME`, `state:NAME`, `input:`/`output:NAME`, `const:%id`, or `%id#k` for scratch. */
export function bufferKey(s: Storage, base: ValueRef): string {
  const id = `%${base.node}#${base.index}`;
  switch (s.kind) {
    case "weight":
    case "input":
    case "state":
    case "output":
      return `${s.kind}:${s.name}`;
    case "constant":
      return `const:${id}`;
    case "scratch":
      return id;
  }
}

function extentOf(shape: Shape, what: string, spans: readonly Span[]): Extent {
  const { power, factor } = symbolicNumel(shape);
  if (power > 1) throw new CodegenError(`${what}: a buffer of L^${power} elements is not supported`, spans);
  return power === 1 ? { perL: factor, fixed: 0 } : { perL: 0, fixed: factor };
}

/**
 * The request for node `id` of `g`: operand views from the buffer plan's layouts (plan/views.ts)
 * and storage classes (plan/storage.ts). Layouts are taken at two lengths to check that offsets
 * and strides do not depend on L.
 */
export function requestFromGraph<K extends OpName>(
  g: Graph,
  id: number,
  options: {
    readonly name?: string;
    readonly describeSpan?: (s: Span) => string;
    /** The model's weight layout; without it every weight is a buffer of its own, `weight:NAME`. */
    readonly weights?: WeightLayout;
    /** How f16 buffers are read (default packed). */
    readonly f16?: F16Mode;
    /** Whether the kernel may use subgroup operations (default false). */
    readonly subgroups?: boolean;
    /** Whether the kernel is sized for a GPU (default false). */
    readonly gpu?: boolean;
  } = {},
): KernelRequest<K> {
  const node = g.nodes[id] as NodeOf<K> | undefined;
  if (node === undefined) throw new InternalCompilerError(`codegen: no node %${id} in ${g.name}`);
  const [lay2, lay3] = [layouts(g, 2), layouts(g, 3)];
  const { of } = storage(g, lay2);
  const view = (r: ValueRef): OperandView => {
    const a = lay2[r.node]![r.index]!;
    const b = lay3[r.node]![r.index]!;
    if (a.offset !== b.offset || !sameStrides(a, b)) {
      throw new CodegenError(`${node.op} %${id}: operand %${r.node}#${r.index} is a view whose offset or strides depend on L`, node.spans);
    }
    const st = of[a.base.node]![a.base.index]!;
    const baseType = typeOfRef(g, a.base);
    const shape = typeOfRef(g, r).shape;
    const packing = (dtype: Dtype) => (DTYPES[dtype].packed !== null && options.f16 !== "native" ? { packed: true } : {});
    if (st.kind === "weight" && options.weights) {
      const placed = weightBuffer(options.weights, st.name, baseType.shape, node.spans);
      const quads = placed.quads ? { quads: true as const } : {};
      return { buffer: { ...placed.buffer, ...packing(placed.buffer.dtype) }, shape, offset: placed.offset + a.offset, strides: a.strides, base: a.base, baseOffset: placed.offset, ...quads };
    }
    return {
      buffer: {
        key: bufferKey(st, a.base),
        role: roleOf(st),
        dtype: baseType.dtype,
        elements: extentOf(baseType.shape, `buffer of %${a.base.node}`, node.spans),
        ...packing(baseType.dtype),
      },
      shape,
      offset: a.offset,
      strides: a.strides,
      base: a.base,
      baseOffset: 0,
    };
  };
  return {
    name: options.name ?? kernels(g).find((k) => k.node === id)?.name ?? `${node.op}_${id}`,
    node,
    inputs: node.inputs.map(view),
    results: node.results.map((_, index) => view({ node: id, index })),
    ...(options.describeSpan ? { describeSpan: options.describeSpan } : {}),
    ...(options.subgroups ? { subgroups: true } : {}),
    ...(options.gpu ? { gpu: true } : {}),
  };
}

/** Strides agree on every axis whose size does not change with L (a unit axis's stride is free). */
function sameStrides(a: Layout, b: Layout): boolean {
  return a.strides.every((s, i) => a.shape[i] === 1 || s === b.strides[i]);
}

/** Weight `name`'s buffer in the layout, with row windows when it is alone and over the binding limit. */
function weightBuffer(layout: WeightLayout, name: string, shape: Shape, spans: readonly Span[]): { buffer: BufferRef; offset: number; quads: boolean } {
  const place = layout.of(name);
  if (place === undefined) throw new CodegenError(`weight ${name} is not in the model's weight layout (was the memory built from another model?)`, spans);
  const dims = shape.map((d) => {
    if (typeof d !== "number") throw new InternalCompilerError(`weight ${name} has a symbolic shape`);
    return d;
  });
  const { elements, dtype } = layout.buffers.find((b) => b.key === place.key)!;
  if (dims.reduce((a, b) => a * b, 1) !== place.elements) {
    throw new CodegenError(`weight ${name}: the graph reads ${dims.join(" x ")} elements, the memory holds ${place.elements}`, spans);
  }
  let windows: readonly Window[] | undefined;
  const bytes = byteSize(dtype, place.elements);
  if (bytes > layout.limitBytes) {
    try {
      windows = rowWindows(dims, dtype, layout.limitBytes, place.quads ? QUAD_ROWS : 1);
    } catch (e) {
      throw new CodegenError(`weight ${name} (${bytes} bytes) exceeds maxStorageBufferBindingSize: ${(e as Error).message}`, spans);
    }
  }
  return { buffer: { key: place.key, role: "weight", dtype, elements: { perL: 0, fixed: elements }, ...(windows ? { windows } : {}) }, offset: place.offset, quads: place.quads };
}
