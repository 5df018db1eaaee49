/**
 * Shared checks for the optimizer tests: a pass preserves values (interp before vs after, on
 * random weights, a random non-empty incoming state and a continuation position), keeps the
 * graph valid and is idempotent; plus a local notion of "nodes that launch work".
 */
import { expect } from "vitest";
import type { ResolvedModel } from "../../compiler/check/model.ts";
import { relError } from "../../compiler/interp/index.ts";
import { printGraph, verify, type Graph, type Node } from "../../compiler/ir/index.ts";
import { lowerDecode, lowerPrefill } from "../../compiler/lower/index.ts";
import { PASSES, type Pass } from "../../compiler/passes/index.ts";
import { randomTokens, randomWeights, runGraph, zeroState } from "../ir/fixtures.ts";

export const TOL = 1e-10;

/** Worst relative error seen per label, printed by the test files' afterAll. */
export const worst = new Map<string, number>();

export function record(label: string, err: number): void {
  worst.set(label, Math.max(worst.get(label) ?? 0, err));
}

export function report(title: string): void {
  const lines = [...worst.entries()].map(([k, v]) => `  ${k.padEnd(40)} ${v.toExponential(2)}`);
  if (lines.length > 0) console.log(`${title} (max relative error, tolerance ${TOL}):\n${lines.join("\n")}`);
}

export function lower(model: ResolvedModel, decode: boolean): Graph {
  return decode ? lowerDecode(model) : lowerPrefill(model);
}

/** The passes before `pass` in the pipeline, applied in order (the graph `pass` sees in optimize). */
export function prefixOf(pass: Pass, g: Graph): Graph {
  let out = g;
  for (const p of PASSES) {
    if (p.name === pass.name) return out;
    out = p.run(out);
  }
  throw new Error(`${pass.name} is not in PASSES`);
}

/**
 * `after` computes the same logits and state as `before` (<= TOL relative per tensor) on random
 * weights, a random incoming state (a 3-token prefill) and start position 3. Returns the worst error.
 */
export function sameValues(before: Graph, after: Graph, model: ResolvedModel, seed: number, L: number): number {
  const weights = randomWeights(model, seed);
  const tokens = randomTokens(model, L, seed + 1);
  const state = runGraph(lowerPrefill(model), model, weights, randomTokens(model, 3, seed + 2), 0, zeroState(model)).state;
  const a = runGraph(before, model, weights, tokens, 3, state);
  const b = runGraph(after, model, weights, tokens, 3, state);
  let err = relError(b.logits, a.logits);
  expect(err, "logits").toBeLessThanOrEqual(TOL);
  for (const k of Object.keys(a.state)) {
    const e = relError(b.state[k]!, a.state[k]!);
    expect(e, k).toBeLessThanOrEqual(TOL);
    err = Math.max(err, e);
  }
  return err;
}

/** pass(g) verifies, is a fixpoint of pass, and computes what g computes. Returns pass(g). */
export function checkPass(pass: Pass, g: Graph, model: ResolvedModel, seed: number, L: number, label = pass.name): Graph {
  const out = pass.run(g);
  verify(out);
  expect(printGraph(pass.run(out)), `${pass.name} is idempotent`).toBe(printGraph(out));
  record(label, sameValues(g, out, model, seed, L));
  return out;
}

/** Ops that move no data: the buffer plan turns them into strided windows on their operand. */
const VIEWS = new Set(["reshape", "slice", "broadcast_to"]);

/** Nodes that launch work: everything but graph inputs, weights and views. */
export function launches(g: Graph): Node[] {
  return g.nodes.filter((n) => n.op !== "input" && n.op !== "weight" && !VIEWS.has(n.op));
}

/**
 * The layer of every node: the layer of the first weight it reads (through views), else the
 * highest layer among its operands; null for model-level nodes (embedding, final norm, LM head).
 * (Layers expanded from one `.hyb` expression share their spans, so spans cannot tell them apart.)
 */
export function layerOfNodes(g: Graph): (number | null)[] {
  const layer: (number | null)[] = [];
  const source = (id: number): Node => {
    let n = g.nodes[id]!;
    while (VIEWS.has(n.op)) n = g.nodes[n.inputs[0]!.node]!;
    return n;
  };
  for (const n of g.nodes) {
    if (n.op === "weight") layer.push(n.attrs.layer);
    else if (n.op === "input") {
      const m = /^layers\.(\d+)\./.exec(n.attrs.name);
      layer.push(m ? Number(m[1]) : null);
    } else {
      const w = n.inputs.map((r) => source(r.node)).find((m) => m.op === "weight");
      if (w !== undefined && w.op === "weight") layer.push(w.attrs.layer);
      else layer.push(n.inputs.reduce<number | null>((mx, r) => (layer[r.node] === null || layer[r.node] === undefined ? mx : Math.max(mx ?? -1, layer[r.node]!)), null));
    }
  }
  return layer;
}

/** The launching nodes that belong to layer `i`. */
export function layerLaunches(g: Graph, i: number): Node[] {
  const layer = layerOfNodes(g);
  return launches(g).filter((n) => layer[n.id] === i);
}

export const count = (g: Graph, op: string): number => g.nodes.filter((n) => n.op === op).length;
