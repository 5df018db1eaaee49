/**
 * interp: a CPU evaluator of the IR in float64, the executable definition of every op.
 *
 *   run(graph, { L, inputs: { tokens, pos, layers.0.conv, ... }, weights: { <checkpoint name>: data } })
 *     -> { logits: Tensor, layers.0.conv: Tensor, ... }
 *
 * Token ids and pos are fed as Float64Array holding integers. `L` binds the symbolic sequence
 * length (prefill graphs); it may be omitted when it can be read from the `tokens` input.
 */
import { InternalCompilerError } from "../diag/diagnostic.ts";
import type { Graph, Node } from "../ir/graph.ts";
import type { OpName } from "../ir/ops.ts";
import { concreteShape, numel } from "../ir/types.ts";
import { KERNELS, type Kernel, type KernelCtx } from "./kernels.ts";
import { InterpError, type Tensor } from "./tensor.ts";

export { InterpError, relError, type Tensor } from "./tensor.ts";

export type Feed = Readonly<Record<string, Float64Array>> | ReadonlyMap<string, Float64Array>;

export interface RunOptions {
  /** The sequence length bound to `"L"`; defaults to the length of the `tokens` input. */
  readonly L?: number;
  readonly inputs: Feed;
  readonly weights: Feed;
}

function lookup(feed: Feed, name: string): Float64Array | undefined {
  return feed instanceof Map ? feed.get(name) : (feed as Readonly<Record<string, Float64Array>>)[name];
}

/** The value of every node result, by node id. */
export function evaluate(g: Graph, options: RunOptions): Tensor[][] {
  const L = options.L ?? lookup(options.inputs, "tokens")?.length;
  const values: Tensor[][] = [];
  for (const node of g.nodes) {
    const out = node.results.map((t) => {
      if (t.shape.includes("L") && L === undefined) throw new InterpError(`${g.name}: L is not bound`);
      return concreteShape(t.shape, L ?? 0);
    });
    const ctx: KernelCtx = {
      out,
      feed: (name, kind) => {
        const data = lookup(kind === "input" ? options.inputs : options.weights, name);
        const want = numel(out[0]!);
        if (data === undefined) throw new InterpError(`no data for ${kind} ${name}`);
        if (data.length !== want) throw new InterpError(`${kind} ${name}: ${data.length} values, expected ${want} for [${out[0]!.join(",")}]`);
        return data;
      },
    };
    const ins = node.inputs.map((r) => values[r.node]![r.index]!);
    const res = runKernel(node, ins, ctx);
    if (res.length !== out.length || res.some((t, i) => t.data.length !== numel(out[i]!))) {
      throw new InternalCompilerError(`interp: ${node.op} %${node.id} produced results of the wrong size`);
    }
    values.push(res.slice());
  }
  return values;
}

function runKernel(node: Node, ins: readonly Tensor[], ctx: KernelCtx): readonly Tensor[] {
  const kernel = KERNELS[node.op] as Kernel<OpName>;
  return kernel(ins, node.attrs as never, ctx);
}

/** Evaluate and return the graph outputs by name. */
export function run(g: Graph, options: RunOptions): Record<string, Tensor> {
  const values = evaluate(g, options);
  const out: Record<string, Tensor> = {};
  for (const o of g.outputs) out[o.name] = values[o.value.node]![o.value.index]!;
  return out;
}
