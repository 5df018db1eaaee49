/**
 * The op table: every IR op, its attributes and its type rule. The builder infers result types
 * through `infer`; the verifier re-derives them. The CPU evaluator (compiler/interp) is the
 * executable definition of each op; the `doc` lines here are its one-line summary.
 *
 * Shape notation: S = the sequence axis (`"L"` in prefill, 1 in decode), T = cache positions
 * (`context`), C = channels. Activations are `[S, ...]`, time first.
 * A fused op is added here like any other: attrs, arity, infer, plus an interp kernel.
 */
import {
  InferError,
  broadcastShapes,
  expectAxis,
  expectDim,
  expectDtype,
  expectFloat,
  expectInt,
  expectMinRank,
  expectPositive,
  expectRank,
  expectSameDtype,
  computed,
  expectShape,
  expectStaticDim,
  expectValidShape,
  fail,
} from "./shape.ts";
import { shapeEq, shapeToString, symbolicNumel, type Shape, type TensorType } from "./types.ts";
import { CHUNK_OPS, type ChunkOpAttrs } from "./chunk-ops.ts";
import { FUSED_OPS, type FusedOpAttrs } from "./fused-ops.ts";

export { InferError };

/** What a graph `input` holds. */
export type InputRole = "tokens" | "pos" | "state";

/** Attributes of an op without any. */
export type NoAttrs = { readonly [k: string]: never };

export interface InputAttrs {
  /** `tokens`, `pos`, or a state slot such as `layers.3.ssm`. */
  readonly name: string;
  readonly role: InputRole;
  readonly type: TensorType;
}

/** A checkpoint tensor (a named parameter of the graph). */
export interface WeightAttrs {
  /** Checkpoint name, e.g. `backbone.layers.0.mixer.in_proj.weight`. */
  readonly name: string;
  /** Scheme-independent name inside its owner (see WeightTensor.local). */
  readonly local: string;
  readonly layer: number | null;
  readonly sublayer: number | null;
  readonly type: TensorType;
}

/** Every op's attributes; the Mamba/norm/linear fused ops' come from fused-ops.ts. */
export interface OpAttrs extends FusedOpAttrs, ChunkOpAttrs {
  input: InputAttrs;
  weight: WeightAttrs;
  reshape: { readonly shape: Shape };
  slice: { readonly axis: number; readonly start: number; readonly size: number };
  broadcast_to: { readonly shape: Shape };
  add: NoAttrs;
  mul: NoAttrs;
  neg: NoAttrs;
  exp: NoAttrs;
  sigmoid: NoAttrs;
  silu: NoAttrs;
  softplus: NoAttrs;
  relu: NoAttrs;
  gelu: NoAttrs;
  reduce_sum: { readonly axis: number };
  softmax: NoAttrs;
  embedding: NoAttrs;
  linear: NoAttrs;
  rmsnorm: { readonly eps: number; readonly groupSize: number };
  layernorm: { readonly eps: number };
  conv1d_causal: NoAttrs;
  /** chunk: the block length a fused scan should use (Mamba-2's `chunk`), a hint with no effect on values; null for none. */
  linear_recurrence: { readonly chunk: number | null };
  rope: { readonly theta: number; readonly rotaryDim: number };
  cache_write: NoAttrs;
  attn_scores: { readonly scale: number };
  attn_mask: { readonly window: number | null };
  attn_values: NoAttrs;
  // fused ops (compiler/passes), each with an unfused equivalent in the primitives above
  attention: AttentionAttrs;
  attention_decode: AttentionAttrs;
  /** Flash-decoding, first half: the decode keys split into `blocks` blocks of `block` keys (split-decode-attention). */
  attention_decode_partial: AttentionAttrs & { readonly block: number; readonly blocks: number };
  /** Flash-decoding, second half: the per-block partial softmaxes combined. */
  attention_merge: NoAttrs;
}

/** The fused attention ops' attributes; `theta` and `rotaryDim` are both null without RoPE. */
export interface AttentionAttrs {
  readonly scale: number;
  readonly window: number | null;
  readonly theta: number | null;
  readonly rotaryDim: number | null;
}

export type OpName = keyof OpAttrs;

/** Coarse classes, for passes and the printer; not used for typing. */
export type OpKind = "source" | "movement" | "elementwise" | "reduce" | "contraction" | "norm" | "sequence";

export interface OpDef<K extends OpName> {
  readonly kind: OpKind;
  /** Number of inputs; a function of the attrs for fused ops with optional inputs (see arityOf). */
  readonly arity: number | ((attrs: OpAttrs[K]) => number);
  /** Attribute names, in print order; the verifier checks a node has exactly these. */
  readonly attrs: readonly (keyof OpAttrs[K] & string)[];
  /** The math, in one line (the interp kernel is the full definition). */
  readonly doc: string;
  /** Result types from input types; throws InferError on a mismatch or invalid attrs. */
  readonly infer: (ins: readonly TensorType[], attrs: OpAttrs[K]) => readonly TensorType[];
}

export const UNARY_OPS = ["neg", "exp", "sigmoid", "silu", "softplus", "relu", "gelu"] as const;
export type UnaryOp = (typeof UNARY_OPS)[number];
export const BINARY_OPS = ["add", "mul"] as const;
export type BinaryOp = (typeof BINARY_OPS)[number];

function unary<K extends UnaryOp>(doc: string): OpDef<K> {
  return {
    kind: "elementwise",
    arity: 1,
    attrs: [],
    doc,
    infer: ([x]) => {
      expectFloat(x!, "operand");
      return [computed(x!)];
    },
  };
}

function binary<K extends BinaryOp>(doc: string): OpDef<K> {
  return {
    kind: "elementwise",
    arity: 2,
    attrs: [],
    doc,
    infer: ([a, b]) => {
      expectFloat(a!, "lhs");
      expectSameDtype(a!, b!, "operands");
      return [computed(a!, broadcastShapes(a!.shape, b!.shape))];
    },
  };
}

/** The last dim, which must be static. */
function lastDim(t: TensorType, what: string): number {
  expectMinRank(t, 1, what);
  return expectStaticDim(t.shape[t.shape.length - 1], `last dim of ${what}`);
}

function withShape(t: TensorType, shape: Shape): TensorType {
  return { dtype: t.dtype, shape };
}

export const OPS = {
  input: {
    kind: "source",
    arity: 0,
    attrs: ["name", "role", "type"],
    doc: "a graph input: token ids i32[S], the start position pos i32[], or a state slot",
    infer: (_, a) => {
      if (a.name === "") fail("input name is empty");
      expectValidShape(a.type.shape, "input shape");
      if (a.role === "tokens") {
        expectDtype(a.type, "i32", "tokens");
        expectRank(a.type, 1, "tokens");
      } else if (a.role === "pos") {
        expectDtype(a.type, "i32", "pos");
        expectRank(a.type, 0, "pos");
      } else {
        expectFloat(a.type, `state ${a.name}`);
        if (a.type.shape.includes("L")) fail(`state ${a.name} must not depend on L`);
      }
      return [a.type];
    },
  },
  weight: {
    kind: "source",
    arity: 0,
    attrs: ["name", "local", "layer", "sublayer", "type"],
    doc: "a checkpoint tensor, by name",
    infer: (_, a) => {
      if (a.name === "" || a.local === "") fail("weight name is empty");
      expectValidShape(a.type.shape, "weight shape");
      expectFloat(a.type, `weight ${a.name}`);
      if (a.type.shape.includes("L")) fail(`weight ${a.name} must not depend on L`);
      return [a.type];
    },
  },
  reshape: {
    kind: "movement",
    arity: 1,
    attrs: ["shape"],
    doc: "same elements in row-major order, new shape",
    infer: ([x], a) => {
      const shape = expectValidShape(a.shape, "reshape target");
      const from = symbolicNumel(x!.shape);
      const to = symbolicNumel(shape);
      if (from.power !== to.power || from.factor !== to.factor) {
        fail(`cannot reshape ${shapeToString(x!.shape)} to ${shapeToString(shape)}`);
      }
      return [withShape(x!, shape)];
    },
  },
  slice: {
    kind: "movement",
    arity: 1,
    attrs: ["axis", "start", "size"],
    doc: "y = x[..., start:start+size, ...] along `axis`",
    infer: ([x], a) => {
      const axis = expectAxis(a.axis, x!.shape.length, "slice");
      const dim = expectStaticDim(x!.shape[axis], "sliced dim");
      const start = expectInt(a.start, 0, "slice start");
      const size = expectInt(a.size, 1, "slice size");
      if (start + size > dim) fail(`slice [${start}, ${start + size}) exceeds dim ${dim}`);
      return [withShape(x!, x!.shape.map((d, i) => (i === axis ? size : d)))];
    },
  },
  broadcast_to: {
    kind: "movement",
    arity: 1,
    attrs: ["shape"],
    doc: "numpy broadcast of x to `shape`",
    infer: ([x], a) => {
      const shape = expectValidShape(a.shape, "broadcast target");
      if (!shapeEq(broadcastShapes(x!.shape, shape), shape)) {
        fail(`cannot broadcast ${shapeToString(x!.shape)} to ${shapeToString(shape)}`);
      }
      return [withShape(x!, shape)];
    },
  },
  add: binary("a + b (numpy broadcasting)"),
  mul: binary("a * b (numpy broadcasting)"),
  neg: unary("-x"),
  exp: unary("exp(x)"),
  sigmoid: unary("1 / (1 + exp(-x))"),
  silu: unary("x * sigmoid(x)"),
  softplus: unary("x > 20 ? x : log1p(exp(x))"),
  relu: unary("max(x, 0)"),
  gelu: unary("x/2 * (1 + erf(x/sqrt(2))) (exact)"),
  reduce_sum: {
    kind: "reduce",
    arity: 1,
    attrs: ["axis"],
    doc: "sum over `axis`, which is removed",
    infer: ([x], a) => {
      expectFloat(x!, "operand");
      const axis = expectAxis(a.axis, x!.shape.length, "reduce_sum");
      return [computed(x!, x!.shape.filter((_, i) => i !== axis))];
    },
  },
  softmax: {
    kind: "reduce",
    arity: 1,
    attrs: [],
    doc: "softmax over the last axis (-inf entries get weight 0)",
    infer: ([x]) => {
      expectFloat(x!, "operand");
      lastDim(x!, "softmax operand");
      return [computed(x!)];
    },
  },
  embedding: {
    kind: "movement",
    arity: 2,
    attrs: [],
    doc: "y[s, :] = table[ids[s], :];  table [V, D], ids i32[S] -> [S, D]",
    infer: ([table, ids]) => {
      expectFloat(table!, "table");
      expectRank(table!, 2, "table");
      expectDtype(ids!, "i32", "ids");
      expectRank(ids!, 1, "ids");
      return [computed(table!, [ids!.shape[0]!, table!.shape[1]!])];
    },
  },
  linear: {
    kind: "contraction",
    arity: 2,
    attrs: [],
    doc: "y = x W^T;  x [..., in], W [out, in] -> [..., out]",
    infer: ([x, w]) => {
      expectFloat(x!, "x");
      expectSameDtype(x!, w!, "linear");
      expectRank(w!, 2, "weight");
      expectDim(x!.shape[x!.shape.length - 1], w!.shape[1]!, "linear in_features");
      return [computed(x!, [...x!.shape.slice(0, -1), w!.shape[0]!])];
    },
  },
  rmsnorm: {
    kind: "norm",
    arity: 2,
    attrs: ["eps", "groupSize"],
    doc: "per group of groupSize channels: x / sqrt(mean(x^2) + eps), then * w;  x [..., C], w [C]",
    infer: ([x, w], a) => {
      expectFloat(x!, "x");
      expectSameDtype(x!, w!, "rmsnorm");
      const c = lastDim(x!, "x");
      expectShape(w!, [c], "rmsnorm weight");
      expectPositive(a.eps, "eps");
      const g = expectInt(a.groupSize, 1, "groupSize");
      if (c % g !== 0) fail(`groupSize ${g} does not divide ${c}`);
      return [computed(x!)];
    },
  },
  layernorm: {
    kind: "norm",
    arity: 3,
    attrs: ["eps"],
    doc: "(x - mean) / sqrt(var + eps) * w + b over the last axis (biased var)",
    infer: ([x, w, b], a) => {
      expectFloat(x!, "x");
      expectSameDtype(x!, w!, "layernorm");
      expectSameDtype(x!, b!, "layernorm");
      const c = lastDim(x!, "x");
      expectShape(w!, [c], "layernorm weight");
      expectShape(b!, [c], "layernorm bias");
      expectPositive(a.eps, "eps");
      return [computed(x!)];
    },
  },
  conv1d_causal: {
    kind: "sequence",
    arity: 3,
    attrs: [],
    doc:
      "depthwise causal conv over cat(state, x) in time: y[t,c] = sum_k w[c,k] * xe[c, t+1+k] " +
      "(w[:, W-1] hits the current input); new state = last W columns;  " +
      "x [S, C], state [C, W], w [C, W] -> (y [S, C], state' [C, W])",
    infer: ([x, state, w]) => {
      expectFloat(x!, "x");
      expectSameDtype(x!, state!, "conv state");
      expectSameDtype(x!, w!, "conv weight");
      expectRank(x!, 2, "x");
      expectRank(w!, 2, "weight");
      const c = expectStaticDim(x!.shape[1], "channels");
      const width = expectStaticDim(w!.shape[1], "kernel width");
      expectInt(width, 1, "kernel width");
      expectShape(w!, [c, width], "conv weight");
      expectShape(state!, [c, width], "conv state");
      return [x!, state!];
    },
  },
  linear_recurrence: {
    kind: "sequence",
    arity: 3,
    attrs: ["chunk"],
    doc: "h[t] = a[t] * h[t-1] + b[t], h[-1] = h0;  a, b [S, ...R], h0 [...R] -> (h [S, ...R], h[S-1])",
    infer: ([a, b, h0], attrs) => {
      if (attrs.chunk !== null) expectInt(attrs.chunk, 1, "chunk");
      expectFloat(a!, "a");
      expectSameDtype(a!, b!, "recurrence");
      expectSameDtype(a!, h0!, "recurrence state");
      expectMinRank(a!, 1, "a");
      expectShape(b!, a!.shape, "b");
      expectShape(h0!, a!.shape.slice(1), "h0");
      return [a!, h0!];
    },
  },
  rope: {
    kind: "sequence",
    arity: 2,
    attrs: ["theta", "rotaryDim"],
    doc:
      "NeoX half-split rotary embedding of the first rotaryDim dims at positions pos+s: " +
      "(x[i], x[i+r/2]) -> (a cos - b sin, b cos + a sin), angle (pos+s) * theta^(-2i/r);  x [S, H, D]",
    infer: ([x, pos], a) => {
      expectFloat(x!, "x");
      expectRank(x!, 3, "x");
      expectDtype(pos!, "i32", "pos");
      expectRank(pos!, 0, "pos");
      expectPositive(a.theta, "theta");
      const r = expectInt(a.rotaryDim, 2, "rotaryDim");
      if (r % 2 !== 0) fail(`rotaryDim ${r} is odd`);
      const d = expectStaticDim(x!.shape[2], "head dim");
      if (r > d) fail(`rotaryDim ${r} exceeds head dim ${d}`);
      return [x!];
    },
  },
  cache_write: {
    kind: "sequence",
    arity: 3,
    attrs: [],
    doc: "cache' = cache with rows (pos+s) mod T replaced by x[s] (a ring: position p lives in row p mod T);  cache [T, ...R], x [S <= T, ...R]",
    infer: ([cache, x, pos]) => {
      expectFloat(cache!, "cache");
      expectSameDtype(cache!, x!, "cache_write");
      expectMinRank(cache!, 1, "cache");
      expectStaticDim(cache!.shape[0], "cache length");
      expectShape(x!, [x!.shape[0]!, ...cache!.shape.slice(1)], "new rows");
      expectDtype(pos!, "i32", "pos");
      expectRank(pos!, 0, "pos");
      return [cache!];
    },
  },
  attn_scores: {
    kind: "contraction",
    arity: 2,
    attrs: ["scale"],
    doc: "s[q, h, t] = scale * sum_d q[q, h, d] * k[t, h / (H/Hkv), d];  q [S, H, D], k [T, Hkv, D] -> [S, H, T]",
    infer: ([q, k], a) => {
      expectFloat(q!, "q");
      expectSameDtype(q!, k!, "attn_scores");
      expectRank(q!, 3, "q");
      expectRank(k!, 3, "k");
      const h = expectStaticDim(q!.shape[1], "heads");
      const hkv = expectStaticDim(k!.shape[1], "kv heads");
      if (hkv < 1 || h % hkv !== 0) fail(`kv heads ${hkv} do not divide heads ${h}`);
      expectDim(k!.shape[2], q!.shape[2]!, "head dim");
      expectPositive(a.scale, "scale");
      return [withShape(q!, [q!.shape[0]!, h, k!.shape[0]!])];
    },
  },
  attn_mask: {
    kind: "elementwise",
    arity: 2,
    attrs: ["window"],
    doc: "s[q, h, t] = -inf unless a_t <= pos+q and (window == none or a_t > pos+q-window), where a_t = last - ((last - t) mod T), last = pos+S-1, is the position cache row t holds (a_t < 0: never written);  s [S, H, T]",
    infer: ([s, pos], a) => {
      expectFloat(s!, "scores");
      expectRank(s!, 3, "scores");
      expectDtype(pos!, "i32", "pos");
      expectRank(pos!, 0, "pos");
      if (a.window !== null) expectInt(a.window, 1, "window");
      return [s!];
    },
  },
  attn_values: {
    kind: "contraction",
    arity: 2,
    attrs: [],
    doc: "o[q, h, d] = sum_t p[q, h, t] * v[t, h / (H/Hkv), d];  p [S, H, T], v [T, Hkv, D] -> [S, H, D]",
    infer: ([p, v]) => {
      expectFloat(p!, "p");
      expectSameDtype(p!, v!, "attn_values");
      expectRank(p!, 3, "p");
      expectRank(v!, 3, "v");
      const h = expectStaticDim(p!.shape[1], "heads");
      const hkv = expectStaticDim(v!.shape[1], "kv heads");
      if (hkv < 1 || h % hkv !== 0) fail(`kv heads ${hkv} do not divide heads ${h}`);
      expectDim(v!.shape[0], p!.shape[2]!, "key count");
      return [withShape(p!, [p!.shape[0]!, h, v!.shape[2]!])];
    },
  },

  // --- fused ops: each replaces a primitive subgraph that its pass documents ---
  ...FUSED_OPS, // selective_scan, conv1d_silu, ssd, fused_linear, ... (fused-ops.ts)
  ...CHUNK_OPS, // the chunk-parallel phases of selective_scan and ssd (chunk-ops.ts, passes/parallel-scan.ts)
  attention: attention(
    "flash attention at positions pos..pos+S-1: RoPE on q and k, k/v of position p written to cache row p mod T, then per query " +
      "softmax(scale q k^T) v over the keys t in (pos+s-window, pos+s], query head h reading kv head h / (H/Hkv);  " +
      "q [S, H*D], k, v [S, Hkv*D], caches [T, Hkv, D] -> (o [S, H*D], k cache', v cache'); needs min(pos, window-1) + S <= T " +
      "(every key a query of the call sees still in the ring)",
    false,
  ),
  attention_decode: attention("one token of attention (S = 1) against the cache: the decode form", true),
  attention_decode_partial: {
    kind: "sequence",
    arity: 6,
    attrs: ["scale", "window", "theta", "rotaryDim", "block", "blocks"],
    doc:
      "attention_decode's keys t in [lo, pos] (lo = window ? max(0, pos - window + 1) : 0) cut into blocks b of `block` keys from lo; " +
      "per block and head: m = max_t s_t, l = sum_t exp(s_t - m), acc = sum_t exp(s_t - m) v_t (m = l = acc = 0 for an empty block), " +
      "s_t = scale q . k_t after RoPE; caches written as attention_decode does;  " +
      "-> (partial [blocks, H, D + 2] = [acc | m | l], k cache', v cache')",
    infer: (ins, a) => {
      const [o, kc, vc] = attention("", true).infer(ins, a);
      const D = expectStaticDim(kc!.shape[2], "head dim");
      const block = expectInt(a.block, 1, "block");
      const blocks = expectInt(a.blocks, 1, "blocks");
      const T = kc!.shape[0] as number;
      const keys = a.window === null ? T : Math.min(T, a.window);
      if (block * blocks < keys) fail(`${blocks} blocks of ${block} keys do not cover the ${keys} keys a query can see`);
      return [withShape(o!, [blocks, (o!.shape[1] as number) / D, D + 2]), kc!, vc!];
    },
  },
  attention_merge: {
    kind: "reduce",
    arity: 1,
    attrs: [],
    doc:
      "o[h] = sum_b exp(m_b - M) acc_b / sum_b exp(m_b - M) l_b over the blocks with l_b > 0, M = their max m_b;  " +
      "partial [blocks, H, D + 2] -> o [1, H*D]",
    infer: ([p]) => {
      expectFloat(p!, "partial");
      expectRank(p!, 3, "partial");
      expectStaticDim(p!.shape[0], "blocks");
      const H = expectStaticDim(p!.shape[1], "heads");
      const D = expectStaticDim(p!.shape[2], "head dim + 2") - 2;
      if (D < 1) fail(`partial rows of ${D + 2} hold no head dim`);
      return [withShape(p!, [1, H * D])];
    },
  },
} as const satisfies { readonly [K in OpName]: OpDef<K> };

/** Inputs (q, k, v, kCache, vCache, pos); H, Hkv and D come from the q width and the cache shape. */
function attention<K extends "attention" | "attention_decode">(doc: string, step: boolean): OpDef<K> {
  return {
    kind: "sequence",
    arity: 6,
    attrs: ["scale", "window", "theta", "rotaryDim"],
    doc,
    infer: ([q, k, v, kc, vc, pos], a) => {
      expectFloat(q!, "q");
      for (const [t, what] of [[k, "k"], [v, "v"], [kc, "k cache"], [vc, "v cache"]] as const) expectSameDtype(q!, t!, what);
      expectRank(q!, 2, "q");
      expectRank(kc!, 3, "k cache");
      const [T, hkv, d] = kc!.shape as [Shape[number], Shape[number], Shape[number]];
      expectStaticDim(T, "cache length");
      expectStaticDim(hkv, "kv heads");
      const D = expectStaticDim(d, "head dim");
      expectShape(vc!, kc!.shape, "v cache");
      const S = q!.shape[0]!;
      if (step) expectDim(S, 1, "attention_decode sequence length");
      const width = expectStaticDim(q!.shape[1], "q width");
      if (width % D !== 0) fail(`q width ${width} is not a multiple of head dim ${D}`);
      const h = width / D;
      if (h % (hkv as number) !== 0) fail(`kv heads ${hkv} do not divide heads ${h}`);
      expectShape(k!, [S, (hkv as number) * D], "k");
      expectShape(v!, [S, (hkv as number) * D], "v");
      expectDtype(pos!, "i32", "pos");
      expectRank(pos!, 0, "pos");
      expectPositive(a.scale, "scale");
      if (a.window !== null) expectInt(a.window, 1, "window");
      if ((a.theta === null) !== (a.rotaryDim === null)) fail("theta and rotaryDim must both be set or both be none");
      if (a.theta !== null) expectPositive(a.theta, "theta");
      if (a.rotaryDim !== null) {
        const r = expectInt(a.rotaryDim, 2, "rotaryDim");
        if (r % 2 !== 0 || r > D) fail(`rotaryDim ${r} must be even and at most head dim ${D}`);
      }
      return [q!, kc!, vc!];
    },
  };
}

/** The number of inputs a node of `op` with these attrs takes. */
export function arityOf<K extends OpName>(op: K, attrs: OpAttrs[K]): number {
  const a = (OPS[op] as unknown as OpDef<K>).arity;
  return typeof a === "number" ? a : a(attrs);
}

export function opDef<K extends OpName>(op: K): OpDef<K> {
  return OPS[op] as OpDef<K>;
}

export function isOpName(s: string): s is OpName {
  return Object.hasOwn(OPS, s);
}
