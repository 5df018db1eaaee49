/**
 * The stable text form of a graph (`--emit ir`, `--dump-after PASS`, golden tests):
 *
 *   graph tiny.decode {
 *     $tokens: i32[1]                                  graph inputs: tokens, pos, state
 *     @backbone.layers.0.mixer.in_proj.weight: f32[128,32]   checkpoint tensors
 *     %9:f32[1,128] = linear(%8, @backbone.layers.0.mixer.in_proj.weight)  // tiny.hyb:6:12, 4:3
 *     %11:(f32[1,64], f32[64,4]) = conv1d_causal(%10, $layers.0.conv, %7)
 *     output layers.0.conv = %11#1
 *   }
 *
 * `%id` is the node id, `%id#k` result k of a multi-result node; attrs print in the op table's
 * order; the comment gives the `.hyb` locations (file:line:col when a source is given, else
 * byte offsets). Deterministic: the same graph always prints the same text.
 */
import type { SourceFile, Span } from "../diag/source.ts";
import type { Graph, Node, ValueRef } from "./graph.ts";
import { OPS, type OpDef, type OpName } from "./ops.ts";
import { shapeToString, typeToString } from "./types.ts";

export interface PrintOptions {
  /** Renders spans as `file:line:col`; without it spans print as `@start-end`. */
  readonly source?: SourceFile;
}

export function printGraph(g: Graph, options: PrintOptions = {}): string {
  const lines = [`graph ${g.name} {`];
  for (const n of g.nodes) {
    const comment = spansComment(n.spans, options.source);
    if (n.op === "input") lines.push(`  $${n.attrs.name}: ${typeToString(n.attrs.type)}`);
    else if (n.op === "weight") lines.push(`  @${n.attrs.name}: ${typeToString(n.attrs.type)}`);
    else lines.push(`  ${printNode(g, n)}${comment}`);
  }
  for (const o of g.outputs) lines.push(`  output ${o.name} = ${printRef(g, o.value)}`);
  lines.push("}");
  return lines.join("\n") + "\n";
}

/** One node as `%id:type = op(args) {attrs}` (no comment). */
export function printNode(g: Graph, n: Node): string {
  const results = n.results.length === 1 ? typeToString(n.results[0]!) : `(${n.results.map(typeToString).join(", ")})`;
  const args = n.inputs.map((r) => printRef(g, r)).join(", ");
  return `%${n.id}:${results} = ${n.op}(${args})${printAttrs(n)}`;
}

export function printRef(g: Graph, r: ValueRef): string {
  const n = g.nodes[r.node];
  if (n === undefined) return `%${r.node}#${r.index}?`;
  if (n.op === "input") return `$${n.attrs.name}`;
  if (n.op === "weight") return `@${n.attrs.name}`;
  return n.results.length === 1 && r.index === 0 ? `%${r.node}` : `%${r.node}#${r.index}`;
}

function printAttrs(n: Node): string {
  const def = OPS[n.op] as unknown as OpDef<OpName>;
  if (def.attrs.length === 0) return "";
  const attrs = n.attrs as unknown as Readonly<Record<string, unknown>>;
  return ` {${def.attrs.map((k) => `${k}=${printValue(attrs[k])}`).join(", ")}}`;
}

function printValue(v: unknown): string {
  if (v === null) return "none";
  if (Array.isArray(v)) return shapeToString(v as (number | "L")[]);
  if (typeof v === "number") return v !== 0 && Math.abs(v) < 1e-3 ? v.toExponential() : String(v);
  if (typeof v === "boolean") return String(v);
  return JSON.stringify(v);
}

function spansComment(spans: readonly Span[], source: SourceFile | undefined): string {
  if (spans.length === 0) return "";
  if (source === undefined) return `  // ${spans.map((s) => `@${s.start}-${s.end}`).join(", ")}`;
  const locs = spans.map((s) => {
    const lc = source.lineCol(s.start);
    return `${lc.line}:${lc.col}`;
  });
  const file = source.path.split(/[\\/]/).pop() ?? source.path;
  return `  // ${file}:${locs.join(", ")}`;
}
