/**
 * GraphBuilder: appends nodes in topological order, inferring result types through the op table.
 * One method per op returns the new ValueRef(s). Every node gets the builder's current spans
 * (`at(spans)`), the way an MLIR builder carries an insertion location.
 */
import { InternalCompilerError } from "../diag/diagnostic.ts";
import type { Span } from "../diag/source.ts";
import type { Graph, GraphOutput, Node, ValueRef } from "./graph.ts";
import { mergeSpans } from "./graph.ts";
import { arityOf, InferError, OPS, type InputRole, type OpAttrs, type OpDef, type OpName, type UnaryOp } from "./ops.ts";
import type { Shape, TensorType } from "./types.ts";
import { typeToString } from "./types.ts";

/** A fused_linear's operands by role (GraphBuilder.fusedLinear); `norm` is the prologue's weight (and bias for layernorm). */
export interface FusedLinearArgs {
  readonly x: ValueRef;
  readonly W: readonly ValueRef[];
  readonly norm?: { kind: "rmsnorm"; w: ValueRef; eps: number; group: number } | { kind: "layernorm"; w: ValueRef; b: ValueRef; eps: number };
  readonly bias?: readonly ValueRef[];
  readonly activation?: OpAttrs["fused_linear"]["activation"];
  readonly residual?: ValueRef;
}

export class GraphBuilder {
  private readonly nodes: Node[] = [];
  private spans: readonly Span[] = [];
  private readonly names = new Set<string>();

  constructor(readonly name: string) {}

  /** Spans given to the nodes created from now on. */
  at(spans: readonly Span[]): this {
    this.spans = mergeSpans(spans);
    return this;
  }

  typeOf(r: ValueRef): TensorType {
    const t = this.nodes[r.node]?.results[r.index];
    if (t === undefined) throw new InternalCompilerError(`builder: no value %${r.node}#${r.index}`);
    return t;
  }

  /** Append a node of any op; the typed methods below are thin wrappers. */
  emit<K extends OpName>(op: K, inputs: readonly ValueRef[], attrs: OpAttrs[K]): Node {
    const def = OPS[op] as unknown as OpDef<K>;
    const id = this.nodes.length;
    const arity = arityOf(op, attrs);
    if (inputs.length !== arity) {
      throw new InternalCompilerError(`builder: ${op} takes ${arity} inputs, got ${inputs.length}`);
    }
    const types = inputs.map((r) => this.typeOf(r));
    let results: readonly TensorType[];
    try {
      results = def.infer(types, attrs);
    } catch (e) {
      if (!(e instanceof InferError)) throw e;
      const sig = types.map(typeToString).join(", ");
      throw new InternalCompilerError(`builder: %${id} = ${op}(${sig}) ${JSON.stringify(attrs)}: ${e.message}`);
    }
    if (op === "input" || op === "weight") this.unique((attrs as OpAttrs["input" | "weight"]).name);
    const node = { id, op, inputs, results, attrs, spans: this.spans } as unknown as Node;
    this.nodes.push(node);
    return node;
  }

  private one<K extends OpName>(op: K, inputs: readonly ValueRef[], attrs: OpAttrs[K]): ValueRef {
    return { node: this.emit(op, inputs, attrs).id, index: 0 };
  }

  private two<K extends OpName>(op: K, inputs: readonly ValueRef[], attrs: OpAttrs[K]): [ValueRef, ValueRef] {
    const id = this.emit(op, inputs, attrs).id;
    return [
      { node: id, index: 0 },
      { node: id, index: 1 },
    ];
  }

  private unique(name: string): void {
    if (this.names.has(name)) throw new InternalCompilerError(`builder: graph input ${name} declared twice`);
    this.names.add(name);
  }

  // --- graph inputs ---
  input(name: string, role: InputRole, type: TensorType): ValueRef {
    return this.one("input", [], { name, role, type });
  }
  weight(attrs: OpAttrs["weight"]): ValueRef {
    return this.one("weight", [], attrs);
  }

  // --- movement ---
  reshape(x: ValueRef, shape: Shape): ValueRef {
    return this.one("reshape", [x], { shape });
  }
  slice(x: ValueRef, axis: number, start: number, size: number): ValueRef {
    return this.one("slice", [x], { axis: this.axis(x, axis), start, size });
  }
  broadcastTo(x: ValueRef, shape: Shape): ValueRef {
    return this.one("broadcast_to", [x], { shape });
  }
  embedding(table: ValueRef, ids: ValueRef): ValueRef {
    return this.one("embedding", [table, ids], {});
  }

  // --- elementwise ---
  add(a: ValueRef, b: ValueRef): ValueRef {
    return this.one("add", [a, b], {});
  }
  mul(a: ValueRef, b: ValueRef): ValueRef {
    return this.one("mul", [a, b], {});
  }
  unary(op: UnaryOp, x: ValueRef): ValueRef {
    return this.one(op, [x], {});
  }
  neg(x: ValueRef): ValueRef {
    return this.unary("neg", x);
  }
  exp(x: ValueRef): ValueRef {
    return this.unary("exp", x);
  }
  sigmoid(x: ValueRef): ValueRef {
    return this.unary("sigmoid", x);
  }
  silu(x: ValueRef): ValueRef {
    return this.unary("silu", x);
  }
  softplus(x: ValueRef): ValueRef {
    return this.unary("softplus", x);
  }
  relu(x: ValueRef): ValueRef {
    return this.unary("relu", x);
  }
  gelu(x: ValueRef): ValueRef {
    return this.unary("gelu", x);
  }

  // --- reductions, contractions, norms ---
  reduceSum(x: ValueRef, axis: number): ValueRef {
    return this.one("reduce_sum", [x], { axis: this.axis(x, axis) });
  }
  softmax(x: ValueRef): ValueRef {
    return this.one("softmax", [x], {});
  }
  linear(x: ValueRef, w: ValueRef): ValueRef {
    return this.one("linear", [x, w], {});
  }
  rmsnorm(x: ValueRef, w: ValueRef, eps: number, groupSize?: number): ValueRef {
    const c = this.typeOf(x).shape.at(-1);
    return this.one("rmsnorm", [x, w], { eps, groupSize: groupSize ?? (typeof c === "number" ? c : 0) });
  }
  layernorm(x: ValueRef, w: ValueRef, b: ValueRef, eps: number): ValueRef {
    return this.one("layernorm", [x, w, b], { eps });
  }

  // --- sequence ops ---
  conv1dCausal(x: ValueRef, state: ValueRef, w: ValueRef): [y: ValueRef, state: ValueRef] {
    return this.two("conv1d_causal", [x, state, w], {});
  }
  /** `chunk`: the block length a fused scan should use (a hint; values do not depend on it). */
  linearRecurrence(a: ValueRef, b: ValueRef, h0: ValueRef, chunk: number | null = null): [h: ValueRef, last: ValueRef] {
    return this.two("linear_recurrence", [a, b, h0], { chunk });
  }
  rope(x: ValueRef, pos: ValueRef, theta: number, rotaryDim: number): ValueRef {
    return this.one("rope", [x, pos], { theta, rotaryDim });
  }
  cacheWrite(cache: ValueRef, x: ValueRef, pos: ValueRef): ValueRef {
    return this.one("cache_write", [cache, x, pos], {});
  }
  attnScores(q: ValueRef, k: ValueRef, scale: number): ValueRef {
    return this.one("attn_scores", [q, k], { scale });
  }
  attnMask(s: ValueRef, pos: ValueRef, window: number | null): ValueRef {
    return this.one("attn_mask", [s, pos], { window });
  }
  attnValues(p: ValueRef, v: ValueRef): ValueRef {
    return this.one("attn_values", [p, v], {});
  }

  // --- fused ops ---
  /** selective_scan, or selective_state_update when the sequence dim is 1 (decode). */
  selectiveScan(
    op: "selective_scan" | "selective_state_update",
    a: { u: ValueRef; dt: ValueRef; dtProjW: ValueRef; Alog: ValueRef; B: ValueRef; C: ValueRef; D: ValueRef; z: ValueRef; deltaBias: ValueRef; h0: ValueRef },
    innerNorms: { dt: ValueRef; B: ValueRef; C: ValueRef; eps: number } | null = null,
  ): [y: ValueRef, last: ValueRef] {
    const ins = [a.u, a.dt, a.dtProjW, a.Alog, a.B, a.C, a.D, a.z, a.deltaBias, a.h0];
    if (innerNorms !== null) ins.push(innerNorms.dt, innerNorms.B, innerNorms.C);
    return this.two(op, ins, { innerNormEps: innerNorms?.eps ?? null });
  }
  /** conv1d_silu, or conv1d_silu_update when the sequence dim is 1 (decode). */
  conv1dSilu(op: "conv1d_silu" | "conv1d_silu_update", x: ValueRef, state: ValueRef, w: ValueRef, bias: ValueRef | null): [y: ValueRef, state: ValueRef] {
    return this.two(op, bias === null ? [x, state, w] : [x, state, w, bias], { bias: bias !== null });
  }
  /** ssd, or ssd_state_update (decode); z with a gate epilogue, normW with a norm one. */
  ssd<K extends "ssd" | "ssd_state_update">(
    op: K,
    a: { x: ValueRef; dt: ValueRef; Alog: ValueRef; B: ValueRef; C: ValueRef; D: ValueRef; dtBias: ValueRef; h0: ValueRef; z?: ValueRef; normW?: ValueRef },
    attrs: OpAttrs[K],
  ): [y: ValueRef, last: ValueRef] {
    const ins = [a.x, a.dt, a.Alog, a.B, a.C, a.D, a.dtBias, a.h0];
    if (a.z !== undefined) ins.push(a.z);
    if (a.normW !== undefined) ins.push(a.normW);
    return this.two(op, ins, attrs);
  }
  rmsnormGated(x: ValueRef, z: ValueRef, w: ValueRef, attrs: OpAttrs["rmsnorm_gated"]): ValueRef {
    return this.one("rmsnorm_gated", [x, z, w], attrs);
  }
  addRmsnorm(a: ValueRef, b: ValueRef, w: ValueRef, eps: number, groupSize: number): [sum: ValueRef, normed: ValueRef] {
    return this.two("add_rmsnorm", [a, b, w], { eps, groupSize });
  }
  /**
   * act([norm(x) W_i^T + bias_i]_i) + residual over the weights W (one bias per weight);
   * `norm` is the prologue's weight (and bias for layernorm).
   */
  fusedLinear(a: FusedLinearArgs): ValueRef {
    return this.one("fused_linear", ...this.linearOperands(a));
  }
  /**
   * linear_conv_update (decode): the fused_linear of `a` (no activation, no residual) whose
   * columns [start, start + width) go through the conv step and SiLU, with its new state.
   */
  linearConvUpdate(a: FusedLinearArgs, conv: { state: ValueRef; w: ValueRef; bias: ValueRef | null; start: number; width: number }): [y: ValueRef, state: ValueRef] {
    const [ins, attrs] = this.linearOperands(a);
    ins.push(conv.state, conv.w);
    if (conv.bias !== null) ins.push(conv.bias);
    return this.two("linear_conv_update", ins, { ...attrs, convStart: conv.start, convWidth: conv.width, convBias: conv.bias !== null });
  }
  private linearOperands(a: FusedLinearArgs): [ValueRef[], OpAttrs["fused_linear"]] {
    const ins = [a.x, ...a.W];
    if (a.norm !== undefined) ins.push(...(a.norm.kind === "layernorm" ? [a.norm.w, a.norm.b] : [a.norm.w]));
    if (a.bias !== undefined) ins.push(...a.bias);
    if (a.residual !== undefined) ins.push(a.residual);
    return [
      ins,
      {
        weights: a.W.length,
        prologue: a.norm?.kind ?? "none",
        eps: a.norm?.eps ?? null,
        normGroup: a.norm === undefined ? null : a.norm.kind === "rmsnorm" ? a.norm.group : (this.typeOf(a.x).shape.at(-1) as number),
        bias: a.bias !== undefined,
        activation: a.activation ?? "none",
        residual: a.residual !== undefined,
      },
    ];
  }
  /** attention, or attention_decode when the sequence dim is 1 (decode). */
  attention(
    op: "attention" | "attention_decode",
    a: { q: ValueRef; k: ValueRef; v: ValueRef; kCache: ValueRef; vCache: ValueRef; pos: ValueRef },
    attrs: OpAttrs["attention"],
  ): [o: ValueRef, kCache: ValueRef, vCache: ValueRef] {
    const id = this.emit(op, [a.q, a.k, a.v, a.kCache, a.vCache, a.pos], attrs).id;
    return [0, 1, 2].map((index) => ({ node: id, index })) as [ValueRef, ValueRef, ValueRef];
  }

  private axis(x: ValueRef, axis: number): number {
    return axis < 0 ? axis + this.typeOf(x).shape.length : axis;
  }

  finish(outputs: readonly GraphOutput[]): Graph {
    const seen = new Set<string>();
    for (const o of outputs) {
      if (seen.has(o.name)) throw new InternalCompilerError(`builder: output ${o.name} named twice`);
      seen.add(o.name);
      this.typeOf(o.value);
    }
    return { name: this.name, nodes: this.nodes.slice(), outputs: outputs.slice() };
  }
}
