/**
 * GraphBuilder: appends nodes in topological order, inferring result types through the op table.
 * One method per op returns the new ValueRef(s). Every node gets the builder's current spans
 * (`at(spans)`), the way an MLIR builder carries an insertion location.
 */
import { InternalCompilerError } from "../diag/diagnostic.ts";
import type { Span } from "../diag/source.ts";
import type { Graph, GraphOutput, Node, ValueRef } from "./graph.ts";
import { mergeSpans } from "./graph.ts";
import { InferError, OPS, type InputRole, type OpAttrs, type OpDef, type OpName, type UnaryOp } from "./ops.ts";
import type { Shape, TensorType } from "./types.ts";
import { typeToString } from "./types.ts";

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
    if (inputs.length !== def.arity) {
      throw new InternalCompilerError(`builder: ${op} takes ${def.arity} inputs, got ${inputs.length}`);
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
  linearRecurrence(a: ValueRef, b: ValueRef, h0: ValueRef): [h: ValueRef, last: ValueRef] {
    return this.two("linear_recurrence", [a, b, h0], {});
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
    a: { u: ValueRef; delta: ValueRef; A: ValueRef; B: ValueRef; C: ValueRef; D: ValueRef; z: ValueRef; deltaBias: ValueRef; h0: ValueRef },
  ): [y: ValueRef, last: ValueRef] {
    return this.two(op, [a.u, a.delta, a.A, a.B, a.C, a.D, a.z, a.deltaBias, a.h0], {});
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
