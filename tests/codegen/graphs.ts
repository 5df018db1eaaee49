/**
 * Tiny graphs around one node of each kernel family, built with the IR builder. Activations
 * come from `embedding` rows of random tables (the only way a graph makes an [S, C] value), so
 * an operand can also be a slice of a wider row, as in_proj's x|z or x_proj's dt|B|C are.
 * Graph outputs named like a state input are updated in place (plan/storage.ts).
 */
import type { LinearActivation } from "../../compiler/ir/fused-ops.ts";
import { GraphBuilder } from "../../compiler/ir/builder.ts";
import type { Graph, ValueRef } from "../../compiler/ir/graph.ts";
import type { Dim } from "../../compiler/ir/types.ts";
import { weightLayout, type WeightLayout } from "../../compiler/plan/weights.ts";
import { Rng } from "../ir/prng.ts";

const VOCAB = 11;

/** The span every node under test carries (the others have none). */
export const OP_SPAN = { start: 40, end: 52 } as const;

export interface TestGraph {
  readonly graph: Graph;
  /** The node under test. */
  readonly node: number;
  /** Feeds for `interp` at length L. */
  feed(L: number, seed: number): { L: number; inputs: Record<string, Float64Array>; weights: Record<string, Float64Array> };
}

type Init = (rng: Rng) => number;
const normal: Init = (r) => r.normal();

/** A builder with helpers for named random weights and embedding-made activations. */
export class Maker {
  readonly b: GraphBuilder;
  readonly inits = new Map<string, { n: number; init: Init }>();
  readonly states = new Map<string, number>();
  readonly tokens: ValueRef;

  constructor(readonly S: Dim) {
    this.b = new GraphBuilder("test.codegen");
    this.tokens = this.b.input("tokens", "tokens", { dtype: "i32", shape: [S] });
  }

  weight(name: string, shape: number[], init: Init = normal): ValueRef {
    this.inits.set(name, { n: shape.reduce((a, b) => a * b, 1), init });
    return this.b.weight({ name, local: name, layer: 0, sublayer: 0, type: { dtype: "f32", shape } });
  }

  state(name: string, shape: number[]): ValueRef {
    this.states.set(name, shape.reduce((a, b) => a * b, 1));
    return this.b.input(name, "state", { dtype: "f32", shape });
  }

  /** [S, width] rows of a random table (entries init()), or the window [offset, offset + size) of them. */
  activation(name: string, width: number, window?: { offset: number; size: number }, init: Init = normal): ValueRef {
    const rows = this.b.embedding(this.weight(`${name}.table`, [VOCAB, width], init), this.tokens);
    return window ? this.b.slice(rows, 1, window.offset, window.size) : rows;
  }

  finish(node: number, outputs: { name: string; value: ValueRef }[]): TestGraph {
    const graph = this.b.finish(outputs);
    return {
      graph,
      node,
      feed: (L, seed) => {
        const rng = new Rng(seed);
        const weights: Record<string, Float64Array> = {};
        for (const [name, { n, init }] of this.inits) weights[name] = rng.array(n, () => init(rng));
        const inputs: Record<string, Float64Array> = { tokens: rng.array(this.S === "L" ? L : this.S, () => rng.int(VOCAB)) };
        for (const [name, n] of this.states) inputs[name] = rng.array(n, () => rng.normal());
        return { L, inputs, weights };
      },
    };
  }
}

/** A layout of f16 weights with every weight in one layer buffer (W, the norm's weights and the bias side by side), except x's table and `alone`. */
export const layerLayout =
  (limitBytes: number, alone: readonly string[] = []) =>
  (g: Graph): WeightLayout => {
    const inLayer = (name: string): string => (name === "x.table" || alone.includes(name) ? name : `t.layers.0.${name}`);
    const entries = g.nodes.flatMap((n) => (n.op === "weight" ? [{ name: inLayer(n.attrs.name), shape: n.attrs.type.shape as number[], dtype: "f16" as const }] : []));
    const l = weightLayout(entries, { maxStorageBufferBindingSize: limitBytes });
    return { ...l, of: (name) => l.of(inLayer(name)) };
  };

export interface LinearCase {
  readonly S: Dim;
  readonly K: number;
  /** out_features of each weight (two equal ones for swiglu). */
  readonly outs: readonly number[];
  readonly prologue?: "none" | "rmsnorm" | "layernorm";
  /** rmsnorm group (default K). */
  readonly group?: number;
  readonly bias?: boolean;
  readonly activation?: LinearActivation;
  readonly residual?: boolean;
  /** x is the window [offset, offset + K) of rows `width` wide. */
  readonly xWindow?: { readonly width: number; readonly offset: number };
  /** A plain `linear` node instead of fused_linear (one weight, nothing else). */
  readonly plain?: boolean;
  /**
   * A linear_conv_update instead (S = 1, no activation or residual): columns [start, start +
   * width) through a conv step of `taps` (state input `conv`, updated in place unless `apart`).
   */
  readonly conv?: { readonly start: number; readonly width: number; readonly taps: number; readonly bias: boolean; readonly apart?: boolean };
}

export function linearGraph(c: LinearCase): TestGraph {
  const m = new Maker(c.S);
  const b = m.b;
  // Layernorm rows get a mean far from 0, so the kernel's centering matters.
  const x = m.activation("x", c.xWindow?.width ?? c.K, c.xWindow && { offset: c.xWindow.offset, size: c.K }, c.prologue === "layernorm" ? (r) => 3 + r.normal() : normal);
  const W = c.outs.map((o, i) => m.weight(`W${i}`, [o, c.K], (r) => r.normal() / Math.sqrt(c.K)));
  b.at([OP_SPAN]);
  if (c.plain) {
    const y = b.linear(x, W[0]!);
    return m.finish(y.node, [{ name: "y", value: y }]);
  }
  const prologue = c.prologue ?? "none";
  const norm =
    prologue === "rmsnorm"
      ? { kind: "rmsnorm" as const, w: m.weight("norm.w", [c.K], (r) => 1 + 0.1 * r.normal()), eps: 1e-5, group: c.group ?? c.K }
      : prologue === "layernorm"
        ? { kind: "layernorm" as const, w: m.weight("norm.w", [c.K], (r) => 1 + 0.1 * r.normal()), b: m.weight("norm.b", [c.K], (r) => 0.1 * r.normal()), eps: 1e-5 }
        : undefined;
  const width = c.activation === "swiglu" ? c.outs[0]! : c.outs.reduce((a, o) => a + o, 0);
  const args = {
    x,
    W,
    ...(norm ? { norm } : {}),
    ...(c.bias ? { bias: c.outs.map((o, i) => m.weight(`bias${i}`, [o], (r) => 0.1 * r.normal())) } : {}),
    ...(c.activation ? { activation: c.activation } : {}),
    ...(c.residual ? { residual: m.activation("res", width) } : {}),
  };
  if (c.conv) {
    const cv = c.conv;
    // Built before the op so that every operand precedes it; the op keeps OP_SPAN.
    const state = m.state("conv", [cv.width, cv.taps]);
    const w = m.weight("conv.w", [cv.width, cv.taps], (r) => r.normal() / Math.sqrt(cv.taps));
    const cb = cv.bias ? m.weight("conv.b", [cv.width], (r) => 0.1 * r.normal()) : null;
    b.at([OP_SPAN]);
    const [y, next] = b.linearConvUpdate(args, { state, w, bias: cb, start: cv.start, width: cv.width });
    return m.finish(y.node, [
      { name: "y", value: y },
      { name: cv.apart ? "conv.next" : "conv", value: next },
    ]);
  }
  const y = b.fusedLinear(args);
  return m.finish(y.node, [{ name: "y", value: y }]);
}

export interface ConvCase {
  readonly S: Dim;
  readonly C: number;
  readonly W: number;
  readonly bias: boolean;
  /** x is the second half of rows 2C wide (in_proj's z side), instead of its own rows. */
  readonly sliced?: boolean;
}

export function convGraph(c: ConvCase): TestGraph {
  const m = new Maker(c.S);
  const x = m.activation("x", c.sliced ? 2 * c.C : c.C, c.sliced ? { offset: c.C, size: c.C } : undefined);
  const state = m.state("layers.0.conv", [c.C, c.W]);
  const w = m.weight("conv.w", [c.C, c.W], (r) => r.normal() / Math.sqrt(c.W));
  const bias = c.bias ? m.weight("conv.b", [c.C], (r) => 0.1 * r.normal()) : null;
  m.b.at([OP_SPAN]);
  const [y, st] = m.b.conv1dSilu(c.S === 1 ? "conv1d_silu_update" : "conv1d_silu", x, state, w, bias);
  return m.finish(y.node, [
    { name: "y", value: y },
    { name: "layers.0.conv", value: st },
  ]);
}

export interface ScanCase {
  readonly S: Dim;
  readonly Di: number;
  readonly N: number;
  readonly R: number;
  readonly innerNorms?: boolean;
}

function invSoftplus(y: number): number {
  return y + Math.log(-Math.expm1(-y));
}

/** Weights scaled as a trained Mamba's (fixtures.ts randomWeights): A_log = log U(1, 16), softplus(dt_bias) in [1e-3, 0.1]. */
export function scanGraph(c: ScanCase): TestGraph {
  const m = new Maker(c.S);
  const { Di, N, R } = c;
  const u = m.activation("u", Di);
  const z = m.activation("xz", 2 * Di, { offset: Di, size: Di });
  // dt | B | C: windows of one x_proj-like row, as the optimized graph has them.
  const dbc = m.activation("dbc", R + 2 * N);
  const slice = (offset: number, size: number) => m.b.slice(dbc, 1, offset, size);
  const dt = slice(0, R);
  const B = slice(R, N);
  const C = slice(R + N, N);
  const ins = {
    u,
    dt,
    dtProjW: m.weight("dt_proj.w", [Di, R], (r) => r.normal() / Math.sqrt(R)),
    Alog: m.weight("A_log", [Di, N], (r) => Math.log(r.uniform(1, 16))),
    B,
    C,
    D: m.weight("D", [Di], (r) => r.uniform(0.5, 1.5)),
    z,
    deltaBias: m.weight("dt_bias", [Di], (r) => invSoftplus(Math.exp(r.uniform(Math.log(1e-3), Math.log(0.1))))),
    h0: m.state("layers.0.ssm", [Di, N]),
  };
  const norms = c.innerNorms
    ? { dt: m.weight("dt_norm.w", [R], (r) => 1 + 0.1 * r.normal()), B: m.weight("B_norm.w", [N], (r) => 1 + 0.1 * r.normal()), C: m.weight("C_norm.w", [N], (r) => 1 + 0.1 * r.normal()), eps: 1e-6 }
    : null;
  m.b.at([OP_SPAN]);
  const [y, h] = m.b.selectiveScan(c.S === 1 ? "selective_state_update" : "selective_scan", ins, norms);
  return m.finish(y.node, [
    { name: "y", value: y },
    { name: "layers.0.ssm", value: h },
  ]);
}
