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
  expectShape,
  expectStaticDim,
  expectValidShape,
  fail,
} from "./shape.ts";
import { shapeEq, shapeToString, symbolicNumel, type Shape, type TensorType } from "./types.ts";

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

export interface OpAttrs {
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
  linear_recurrence: NoAttrs;
  rope: { readonly theta: number; readonly rotaryDim: number };
  cache_write: NoAttrs;
  attn_scores: { readonly scale: number };
  attn_mask: { readonly window: number | null };
  attn_values: NoAttrs;
  // fused ops (compiler/passes), each with an unfused equivalent in the primitives above
  selective_scan: NoAttrs;
  selective_state_update: NoAttrs;
}

export type OpName = keyof OpAttrs;

/** Coarse classes, for passes and the printer; not used for typing. */
export type OpKind = "source" | "movement" | "elementwise" | "reduce" | "contraction" | "norm" | "sequence";

export interface OpDef<K extends OpName> {
  readonly kind: OpKind;
  /** Number of inputs. */
  readonly arity: number;
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
      return [x!];
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
      return [{ dtype: a!.dtype, shape: broadcastShapes(a!.shape, b!.shape) }];
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
      return [withShape(x!, x!.shape.filter((_, i) => i !== axis))];
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
      return [x!];
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
      return [withShape(table!, [ids!.shape[0]!, table!.shape[1]!])];
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
      return [withShape(x!, [...x!.shape.slice(0, -1), w!.shape[0]!])];
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
      return [x!];
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
      return [x!];
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
    attrs: [],
    doc: "h[t] = a[t] * h[t-1] + b[t], h[-1] = h0;  a, b [S, ...R], h0 [...R] -> (h [S, ...R], h[S-1])",
    infer: ([a, b, h0]) => {
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
    doc: "cache' = cache with rows pos..pos+S-1 replaced by x;  cache [T, ...R], x [S, ...R]",
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
    doc: "s[q, h, t] = -inf unless t <= pos+q and (window == none or t > pos+q-window);  s [S, H, T]",
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
  selective_scan: selectiveScan(
    "Mamba-1 scan, dt = softplus(delta + bias): h_t = exp(dt A) h_{t-1} + (dt u_t) B_t, h_{-1} = h0; " +
      "y_t = (h_t C_t + D u_t) * silu(z_t);  u, delta, z [S, Di], A [Di, N], B, C [S, N], D, bias [Di], " +
      "h0 [Di, N] -> (y [S, Di], h_{S-1})",
    false,
  ),
  selective_state_update: selectiveScan("one step of selective_scan (S = 1): the Mamba-1 decode update", true),
} as const satisfies { readonly [K in OpName]: OpDef<K> };

/** Inputs (u, delta, A, B, C, D, z, deltaBias, h0), as mamba_ssm's selective_scan_fn orders them. */
function selectiveScan<K extends "selective_scan" | "selective_state_update">(doc: string, step: boolean): OpDef<K> {
  return {
    kind: "sequence",
    arity: 9,
    attrs: [],
    doc,
    infer: ([u, delta, A, B, C, D, z, bias, h0]) => {
      expectFloat(u!, "u");
      for (const [t, what] of [[delta, "delta"], [A, "A"], [B, "B"], [C, "C"], [D, "D"], [z, "z"], [bias, "delta_bias"], [h0, "h0"]] as const) {
        expectSameDtype(u!, t!, what);
      }
      expectRank(u!, 2, "u");
      expectRank(A!, 2, "A");
      const [S, di] = u!.shape as [Shape[number], Shape[number]];
      const [, n] = A!.shape as [Shape[number], Shape[number]];
      if (step) expectDim(S, 1, "selective_state_update sequence length");
      expectShape(A!, [di, n], "A");
      expectShape(delta!, [S, di], "delta");
      expectShape(z!, [S, di], "z");
      expectShape(B!, [S, n], "B");
      expectShape(C!, [S, n], "C");
      expectShape(D!, [di], "D");
      expectShape(bias!, [di], "delta_bias");
      expectShape(h0!, [di, n], "h0");
      return [u!, h0!];
    },
  };
}

export function opDef<K extends OpName>(op: K): OpDef<K> {
  return OPS[op] as OpDef<K>;
}

export function isOpName(s: string): s is OpName {
  return Object.hasOwn(OPS, s);
}
