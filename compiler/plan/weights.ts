/**
 * Where every checkpoint tensor lives on the GPU: the weight layout of a whole model.
 *
 * The tensors of one layer (names with a `layers.N.` component, under either naming scheme:
 * `backbone.layers.3.mixer.A_log`, `model.layers.3.self_attn.q_proj.weight`) share ONE buffer,
 * `weight:backbone.layers.3`, each at an offset of a multiple of 256 bytes (the minimum storage
 * offset alignment; 64 f32 elements, a multiple of 4 so vec4 access stays aligned). A kernel
 * reading several tensors of its layer (the selective scan: dt_proj W and bias, D) then binds the
 * layer once, which keeps every kernel within the 8 storage buffers WebGPU guarantees.
 * Model-level tensors (embedding, final norm, LM head) get one buffer each, `weight:NAME`.
 *
 * A layer larger than maxStorageBufferBindingSize is packed greedily, in checkpoint order, into
 * consecutive buffers that each fit (`weight:GROUP`, `weight:GROUP#1`, ...): neighbours in the
 * checkpoint are usually read by the same kernel, so this keeps more of them in one binding
 * than one buffer per tensor would; tensors of another storage dtype start a new buffer (a WGSL
 * binding has one element type). A single tensor over the limit gets a buffer of its own, and
 * kernels bind it as row windows (`rowWindows`): views of the same buffer, each within the limit.
 *
 * The layout is computed from the model's FULL weight list, never from one graph, so prefill
 * and decode (which dead-code elimination may leave with different subsets) agree on offsets.
 * The tensors named in `quads` (plan/quads.ts decides them from both programs) are stored in row
 * quads inside their place (runtime/artifact/quads.ts); their row windows hold multiples of 4 rows.
 */
import type { WeightBufferArtifact } from "../../runtime/artifact/types.ts";
import { invariant } from "../diag/diagnostic.ts";
import { quadsFit } from "../../runtime/artifact/quads.ts";
import { byteSize, elementsIn, numel, type Dtype } from "../ir/types.ts";

/** WebGPU's minStorageBufferOffsetAlignment, in bytes: every tensor and window starts at a multiple. */
export const OFFSET_ALIGN_BYTES = 256;

export interface WeightEntry {
  readonly name: string;
  readonly shape: readonly number[];
  /** How the GPU stores it. */
  readonly dtype: Dtype;
}

/** One tensor's place: the buffer it is in, its element offset there, and its size. */
export interface WeightPlace {
  readonly key: string;
  readonly offset: number;
  readonly elements: number;
  readonly shape: readonly number[];
  /** Stored in row quads (runtime/artifact/quads.ts), not row-major. */
  readonly quads: boolean;
}

/** One GPU buffer of weights, as the artifact records it. */
export type WeightBuffer = WeightBufferArtifact;

export interface WeightLayout {
  /** The binding limit (bytes) the layout was made for; larger tensors are bound as windows. */
  readonly limitBytes: number;
  readonly buffers: readonly WeightBuffer[];
  /** The place of tensor `name`, or undefined when the model has no such tensor. */
  of(name: string): WeightPlace | undefined;
}

/** A window of a buffer bound on its own: element offset and element count. */
export interface Window {
  readonly offset: number;
  readonly elements: number;
}

const alignUp = (n: number, to: number): number => Math.ceil(n / to) * to;

/** `backbone.layers.3` for `backbone.layers.3.mixer.D`; null for a model-level tensor. */
export function layerGroup(name: string): string | null {
  const m = /^((?:.*?\.)?layers\.\d+)\./.exec(name);
  return m ? m[1]! : null;
}

/**
 * The layout of `weights` (the model's full list, in checkpoint order) for an adapter whose
 * storage bindings are at most `limits.maxStorageBufferBindingSize` bytes.
 */
export function weightLayout(weights: readonly WeightEntry[], limits: { readonly maxStorageBufferBindingSize: number }, quads: ReadonlySet<string> = new Set()): WeightLayout {
  const limitBytes = limits.maxStorageBufferBindingSize;
  const groups = new Map<string, WeightEntry[]>();
  const order: (string | WeightEntry)[] = [];
  for (const w of weights) {
    const group = layerGroup(w.name);
    if (group === null) {
      order.push(w);
      continue;
    }
    const members = groups.get(group);
    if (members) members.push(w);
    else {
      groups.set(group, [w]);
      order.push(group);
    }
  }

  const buffers: WeightBuffer[] = [];
  const tensor = (w: WeightEntry, offset: number) => {
    invariant(!quads.has(w.name) || quadsFit(w.shape, w.dtype), `weight ${w.name} [${w.shape.join(", ")}] cannot be stored in quads`);
    return { name: w.name, offset, shape: w.shape, ...(quads.has(w.name) ? { quads: true as const } : {}) };
  };
  const alone = (w: WeightEntry): void => {
    buffers.push({ key: `weight:${w.name}`, dtype: w.dtype, elements: numel(w.shape), tensors: [tensor(w, 0)] });
  };
  for (const item of order) {
    if (typeof item !== "string") {
      alone(item);
      continue;
    }
    let part = 0;
    let tensors: WeightBuffer["tensors"][number][] = [];
    let end = 0;
    let dtype: Dtype | null = null;
    const flush = (): void => {
      if (tensors.length === 0 || dtype === null) return;
      buffers.push({ key: `weight:${item}${part === 0 ? "" : `#${part}`}`, dtype, elements: end, tensors });
      part++;
      tensors = [];
      end = 0;
    };
    for (const w of groups.get(item)!) {
      const n = numel(w.shape);
      if (byteSize(w.dtype, n) > limitBytes) {
        alone(w);
        continue;
      }
      if (w.dtype !== dtype) {
        flush();
        dtype = w.dtype;
      }
      const offset = alignUp(end, elementsIn(w.dtype, OFFSET_ALIGN_BYTES));
      if (byteSize(w.dtype, offset + n) > limitBytes) {
        flush();
        tensors.push(tensor(w, 0));
        end = n;
      } else {
        tensors.push(tensor(w, offset));
        end = offset + n;
      }
    }
    flush();
  }

  const places = new Map<string, WeightPlace>();
  for (const b of buffers) {
    for (const t of b.tensors) {
      invariant(!places.has(t.name), `weight ${t.name} listed twice`);
      places.set(t.name, { key: b.key, offset: t.offset, elements: numel(t.shape), shape: t.shape, quads: t.quads === true });
    }
  }
  return { limitBytes, buffers, of: (name) => places.get(name) };
}

/**
 * The row windows a tensor of `shape` (rows = shape[0]) is bound as when it is larger than
 * `limitBytes`: whole rows each, at most `limitBytes` per window, every window starting at a
 * multiple of 256 bytes and of `rowStep` rows (4 for a tensor in row quads: a quad is one run of
 * the buffer, never split); the last window is rounded up to whole vec4s (its buffer is too).
 * One window when the tensor fits. Throws a RangeError when a single aligned step of rows
 * (or a row) is already over the limit.
 */
export function rowWindows(shape: readonly number[], dtype: Dtype, limitBytes: number, rowStep = 1): readonly Window[] {
  const total = numel(shape);
  if (byteSize(dtype, total) <= limitBytes) return [{ offset: 0, elements: alignUp(total, 4) }];
  const rows = shape[0] ?? 1;
  const rowElems = total / rows;
  const rowBytes = byteSize(dtype, rowElems);
  // The smallest number of rows whose bytes are a multiple of the offset alignment.
  const aligned = OFFSET_ALIGN_BYTES / gcd(OFFSET_ALIGN_BYTES, rowBytes);
  const step = (aligned * rowStep) / gcd(aligned, rowStep);
  const perWindow = Math.floor(limitBytes / (rowBytes * step)) * step;
  if (perWindow === 0) {
    throw new RangeError(`rows of ${rowElems} ${dtype} cannot be split into ${OFFSET_ALIGN_BYTES}-byte aligned windows of at most ${limitBytes} bytes (${step} rows are ${rowBytes * step} bytes)`);
  }
  const out: Window[] = [];
  for (let r = 0; r < rows; r += perWindow) {
    const n = Math.min(perWindow, rows - r) * rowElems;
    out.push({ offset: r * rowElems, elements: alignUp(n, 4) });
  }
  return out;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}
