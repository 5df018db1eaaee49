/**
 * Sizes that no WebGPU device can ever hold (HYB2007), refused by the checker so that no later
 * stage (lowering, planning, code generation, loading) is ever handed such a model. These are
 * facts about every device, not the limits of one: `hybridc build` still reports a kernel over
 * the limits it generates for (HYB5002), and the runtime those of the device it runs on.
 *
 * Everything is f32 on the device (computeDtype), its size from the element-format table. The rules:
 *
 * 1. One storage binding: at most MAX_BINDING_BYTES = 2^32 - 4 bytes. A WebGPU binding is at
 *    most maxStorageBufferBindingSize bytes; no implementation offers 2^32 or more (Vulkan's
 *    maxStorageBufferRange is a 32-bit value, Dawn's D3D and Metal backends stay below 2^32: it
 *    passes binding sizes to Metal shaders as u32), and the specification requires the limit to
 *    be a multiple of 4. Kernels bind whole:
 *      - each recurrent state slot: the conv and SSM states, the KV cache [context, kv_heads, head_dim]
 *        (K and V each);
 *      - one token's activation: the output [out] and the input [in] of every projection
 *        [out, in], the embedding's row [d_model] and the logits [vocab];
 *      - one row of a weight (a weight over the binding limit is bound as windows of whole rows).
 * 2. One tensor: at most MAX_TENSOR_ELEMENTS = 2^32 elements. Kernels index a tensor with a
 *    WGSL u32 (WGSL has no wider integer), windows or not.
 * 3. The whole model: the weights and the recurrent state it keeps resident on the device, at
 *    most MAX_DEVICE_BYTES = 2^50 bytes (1 PiB): far beyond the memory of any GPU (a few hundred
 *    GB) and beyond what one can address (NVIDIA GPUs use 49-bit virtual addresses), and it
 *    keeps every byte count of later stages exact in a double (under 2^53).
 *
 * A diagnostic points at the argument or parameter that makes the size too large (the largest
 * written value among those it grows with), with the size in bytes and the limit. Products are
 * BigInt, so they are exact whatever the input; no number above 2^53 is ever printed.
 */
import { assertNever, type Diagnostics, type Note } from "../diag/diagnostic.ts";
import type { Span } from "../diag/source.ts";
import { byteSize } from "../ir/types.ts";
import { blockState } from "../lower/state.ts";
import type { BlockDef, Layer, WeightTensor } from "./model.ts";

export const MAX_BINDING_BYTES = 2 ** 32 - 4;
export const MAX_TENSOR_ELEMENTS = 2 ** 32;
export const MAX_DEVICE_BYTES = 2 ** 50;
const F32_BYTES = BigInt(byteSize("f32", 1));

/** A value of the spec that a size grows with; `span` when the user wrote it. */
interface Source {
  readonly name: string;
  readonly value: number;
  readonly span: Span | undefined;
}

/** One dimension of a shape, named as the messages show it. */
interface Dim {
  readonly label: string;
  readonly value: number;
  readonly from: readonly Source[];
}

type Rule = "binding" | "elements";

/** A size the rules bound: what it is, its shape, which rule, and why a kernel needs it whole. */
interface Extent {
  readonly what: string;
  readonly dims: readonly Dim[];
  readonly rule: Rule;
  readonly why: string;
}

/** The model-level values a block's sizes may grow with. */
export interface ModelSizes {
  readonly dModel: number;
  /** undefined when `context` is wrong (already reported): the KV cache is then not checked. */
  readonly context: number | undefined;
  /** Spans of the parameters the user wrote (`d_model`, `context`, `vocab`). */
  readonly spans: Readonly<Partial<Record<string, Span>>>;
}

/** Checks one block definition; reports at most one HYB2007 and returns whether it fits. */
export function checkBlockSizes(diags: Diagnostics, block: BlockDef, model: ModelSizes, reported: Set<string>): boolean {
  return reportFirst(diags, blockExtents(block, model), block.span, reported);
}

/** Checks the embedding (and LM head) of a model; reports at most one HYB2007. */
export function checkModelSizes(diags: Diagnostics, vocab: number, model: ModelSizes, at: Span, reported: Set<string>): boolean {
  const V = dim("vocab", vocab, [source("vocab", vocab, model.spans)]);
  const d = dim("d_model", model.dModel, [source("d_model", model.dModel, model.spans)]);
  return reportFirst(diags, projection("the embedding (and the LM head)", V, d), at, reported);
}

/** Bytes of f32 weights (a tied embedding once) and recurrent state the model keeps on the device. */
export function residentBytes(weights: readonly WeightTensor[], layers: readonly Layer[], context: number): bigint {
  let elements = 0n;
  for (const w of weights) elements += product(w.shape);
  for (const layer of layers) {
    for (const s of layer.sublayers) for (const [, shape] of blockState(s.block.config, context)) elements += product(shape);
  }
  return elements * F32_BYTES;
}

/** Rule 3, at the model name; a note at `layers`. Returns whether the model fits. */
export function checkResidentBytes(diags: Diagnostics, name: string, bytes: bigint, at: Span, layers: { readonly count: number; readonly span: Span | undefined }): boolean {
  if (bytes <= BigInt(MAX_DEVICE_BYTES)) return true;
  diags.report("HYB2007", {
    span: at,
    message: `model \`${name}\` keeps ${bytesText(bytes)} of weights and state on the device, more than any device holds (${bytesText(BigInt(MAX_DEVICE_BYTES))}, 1 PiB)`,
    label: "too large for any device",
    notes: layers.span ? [{ message: `\`layers\` expands to ${layers.count.toLocaleString("en-US")} layers`, span: layers.span }] : [],
    help: "make the model smaller: fewer layers, or smaller blocks",
  });
  return false;
}

function reportFirst(diags: Diagnostics, extents: readonly Extent[], fallback: Span, reported: Set<string>): boolean {
  for (const e of extents) {
    const bytes = product(e.dims.map((d) => d.value)) * F32_BYTES;
    const elements = bytes / F32_BYTES;
    const over = e.rule === "binding" ? bytes > BigInt(MAX_BINDING_BYTES) : elements > BigInt(MAX_TENSOR_ELEMENTS);
    if (!over) continue;
    report(diags, e, bytes, fallback, reported);
    return false;
  }
  return true;
}

function report(diags: Diagnostics, e: Extent, bytes: bigint, fallback: Span, reported: Set<string>): void {
  const written = uniqueSources(e.dims).filter((s) => s.span !== undefined);
  const culprit = written.reduce<Source | undefined>((best, s) => (best === undefined || s.value > best.value ? s : best), undefined);
  const span = culprit?.span ?? fallback;
  const key = `${span.start}:${span.end}`;
  if (reported.has(key)) return; // `context` = 10^9 is reported once, not at every attention block
  reported.add(key);
  const shape = `[${e.dims.map((d) => d.label).join(", ")}] = [${e.dims.map((d) => count(d.value)).join(", ")}]`;
  const rule =
    e.rule === "binding"
      ? `is ${bytesText(bytes)} of f32, more than one storage binding holds on any WebGPU device (${bytesText(BigInt(MAX_BINDING_BYTES))})`
      : `has ${count(Number(bytes / F32_BYTES))} elements (${bytesText(bytes)} of f32), more than a kernel can index (${count(MAX_TENSOR_ELEMENTS)}: WGSL's widest integer is the 32-bit u32)`;
  const notes: Note[] = written.filter((s) => s !== culprit).map((s) => ({ message: `\`${s.name}\` = ${count(s.value)} set here`, span: s.span! }));
  diags.report("HYB2007", {
    span,
    message: `${e.what}, ${shape}, ${rule}`,
    label: culprit ? `\`${culprit.name}\` = ${count(culprit.value)} is too large for any device` : "too large for any device with these defaults",
    notes,
    help: `${e.why}; make ${culprit ? `\`${culprit.name}\`` : "the block"} smaller`,
  });
}

const WHY_STATE = "kernels bind a state slot whole to update it";
const WHY_ROW = "kernels bind a token's activations whole, and a weight by whole rows";
const WHY_ELEMENTS = "kernels index a tensor with a WGSL u32";

/** The extents of one block, in the order they are checked: state, then weights, then rows. */
function blockExtents(block: BlockDef, model: ModelSizes): Extent[] {
  const c = block.config;
  const src = (name: string, value: number): Source => source(name, value, block.argSpans, model.spans);
  const d = dim("d_model", model.dModel, [src("d_model", model.dModel)]);
  const of = (what: string) => `${what} of \`${block.name}\``;
  switch (c.kind) {
    case "mamba1": {
      const E = dim("d_inner", c.dInner, [src("expand", c.expand), src("d_model", model.dModel)]);
      const N = dim("d_state", c.dState, [src("d_state", c.dState)]);
      const K = dim("d_conv", c.dConv, [src("d_conv", c.dConv)]);
      const R = dim("dt_rank", c.dtRank, [block.argSpans["dt_rank"] ? src("dt_rank", c.dtRank) : src("d_model", model.dModel)]);
      return [
        state(of("the conv state"), [E, K]),
        state(of("the SSM state"), [E, N]),
        ...projection(of("`in_proj`"), dim("2 * d_inner", 2 * c.dInner, E.from), d),
        ...projection(of("`x_proj`"), dim("dt_rank + 2 * d_state", c.dtRank + 2 * c.dState, [...R.from, ...N.from]), E),
        weight(of("`dt_proj`"), [E, R]),
        ...projection(of("`out_proj`"), d, E),
      ];
    }
    case "mamba2": {
      const inner = [src("expand", c.expand), src("d_model", model.dModel)];
      const N = dim("d_state", c.dState, [src("d_state", c.dState)]);
      const E = dim("d_inner", c.dInner, inner);
      const H = dim("heads", c.heads, inner);
      const P = dim("headdim", c.headdim, [src("headdim", c.headdim)]);
      const K = dim("d_conv", c.dConv, [src("d_conv", c.dConv)]);
      const groups = [src("ngroups", c.ngroups), ...N.from];
      const conv = dim("conv_dim", c.convDim, [...inner, ...groups]);
      const inProj = dim("2 * d_inner + 2 * ngroups * d_state + heads", 2 * c.dInner + 2 * c.ngroups * c.dState + c.heads, [...inner, ...groups]);
      return [state(of("the conv state"), [conv, K]), state(of("the SSM state"), [H, P, N]), ...projection(of("`in_proj`"), inProj, d), ...projection(of("`out_proj`"), d, E)];
    }
    case "attention": {
      const H = src("heads", c.heads);
      const Hkv = dim("kv_heads", c.kvHeads, [block.argSpans["kv_heads"] ? src("kv_heads", c.kvHeads) : H]);
      const D = dim("head_dim", c.headDim, [block.argSpans["head_dim"] ? src("head_dim", c.headDim) : src("d_model", model.dModel)]);
      const q = dim("heads * head_dim", c.heads * c.headDim, [H, ...D.from]);
      const kv = dim("kv_heads * head_dim", c.kvHeads * c.headDim, [...Hkv.from, ...D.from]);
      const cache =
        model.context === undefined ? [] : [state(of("the KV cache (K and V each)"), [dim("context", model.context, [src("context", model.context)]), Hkv, D])];
      return [...cache, ...projection(of("`q_proj`"), q, d), ...projection(of("`k_proj` (and `v_proj`)"), kv, d), ...projection(of("`o_proj`"), d, q)];
    }
    case "mlp": {
      const F = dim("hidden", c.hidden, [src("hidden", c.hidden)]);
      return [...projection(of("`up_proj`"), F, d), ...projection(of("`down_proj`"), d, F)];
    }
    default:
      return assertNever(c, "block config");
  }
}

function state(what: string, dims: readonly Dim[]): Extent {
  return { what, dims, rule: "binding", why: WHY_STATE };
}

/** A weight as a whole (rule 2). */
function weight(what: string, dims: readonly Dim[]): Extent {
  return { what, dims, rule: "elements", why: WHY_ELEMENTS };
}

/**
 * A projection's weight [out, in]: as a whole (rule 2), then one token's output and one row
 * (rule 1). The other tensors of a block (conv weights, A_log, biases, norms) are no larger than
 * a state slot or a projection row of the same block, so these cover them.
 */
function projection(what: string, out: Dim, inp: Dim): Extent[] {
  return [
    weight(what, [out, inp]),
    { what: `one token's output of ${what}`, dims: [out], rule: "binding", why: WHY_ROW },
    { what: `one row of ${what}`, dims: [inp], rule: "binding", why: WHY_ROW },
  ];
}

function dim(label: string, value: number, from: readonly Source[]): Dim {
  return { label, value, from };
}

function source(name: string, value: number, ...spans: readonly Readonly<Partial<Record<string, Span>>>[]): Source {
  return { name, value, span: spans.map((s) => s[name]).find((s) => s !== undefined) };
}

function uniqueSources(dims: readonly Dim[]): Source[] {
  const byName = new Map<string, Source>();
  for (const d of dims) for (const s of d.from) if (!byName.has(s.name)) byName.set(s.name, s);
  return [...byName.values()];
}

/** The exact product of sizes (a size beyond 2^53 is already inexact, and certainly too large). */
function product(dims: readonly number[]): bigint {
  return dims.reduce((p, n) => p * BigInt(Number.isFinite(n) ? Math.ceil(n) : Number.MAX_SAFE_INTEGER), 1n);
}

/** `1,099,511,627,776`, or `about 2^80.0` beyond exact integers. */
function count(n: number): string {
  return Number.isSafeInteger(n) ? group(BigInt(n)) : `about 2^${Math.log2(n).toFixed(1)}`;
}

/** `4,294,967,292 bytes`, or `about 2^81.0 bytes` beyond 2^53. */
function bytesText(n: bigint): string {
  return n <= BigInt(Number.MAX_SAFE_INTEGER) ? `${group(n)} bytes` : `about 2^${Math.log2(Number(n)).toFixed(1)} bytes`;
}

function group(n: bigint): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}
