// The canonical specs (the six written examples and the trained kjv-byte; most too big to run): lowering, verification and structural properties.
import { readFileSync, readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.ts";
import { printGraph, verify, type Graph } from "../../compiler/ir/index.ts";
import { lowerDecode, lowerPrefill, stateSlots } from "../../compiler/lower/index.ts";

const DIR = new URL("../../specs/", import.meta.url);
const FILES = readdirSync(DIR).filter((f) => f.endsWith(".hyb")).sort();

/** Nodes that consume each node. */
function users(g: Graph): number[] {
  const n = new Array<number>(g.nodes.length).fill(0);
  for (const node of g.nodes) for (const r of node.inputs) n[r.node]!++;
  for (const o of g.outputs) n[o.value.node]!++;
  return n;
}

it("finds the seven specs (six canonical examples, the trained kjv-byte)", () => expect(FILES).toHaveLength(7));

describe.each(FILES)("%s", (file) => {
  const text = readFileSync(new URL(file, DIR), "utf8");
  const result = compile(text, { path: file });
  const model = result.models[0]!;

  it("compiles to one model", () => {
    expect(result.diagnostics.map((d) => d.message)).toEqual([]);
    expect(result.models).toHaveLength(1);
  });

  it("lowers to verified prefill and decode graphs", () => {
    const prefill = lowerPrefill(model);
    const decode = lowerDecode(model);
    verify(prefill);
    verify(decode);
    const slots = stateSlots(model);
    const mixers = model.layers.length; // every canonical layer has exactly one mixer
    expect(slots).toHaveLength(2 * mixers);
    expect(prefill.outputs.map((o) => o.name)).toEqual(["logits", ...slots.map((s) => s.name)]);
    expect(prefill.nodes.find((n) => n.id === prefill.outputs[0]!.value.node)!.results[0]!.shape).toEqual(["L", model.vocab]);
  });

  it("uses every checkpoint tensor and state input; every node points into the spec", () => {
    const g = lowerPrefill(model);
    const used = users(g);
    for (const n of g.nodes) {
      if (n.op === "weight" || n.op === "input") {
        if (n.op === "input" && n.attrs.role === "pos" && !model.layers.some((l) => l.sublayers.some((s) => s.block.config.kind === "attention"))) continue;
        expect(used[n.id], `${n.attrs.name} is never read`).toBeGreaterThan(0);
      }
      expect(n.spans.length, `%${n.id} has no span`).toBeGreaterThan(0);
      for (const s of n.spans) expect(s.end).toBeLessThanOrEqual(text.length);
    }
    expect(g.nodes.filter((n) => n.op === "weight")).toHaveLength(model.weights.length);
  });

  it("prints deterministically; decode is prefill with S = 1", () => {
    const prefill = printGraph(lowerPrefill(model), { source: result.source });
    expect(printGraph(lowerPrefill(model), { source: result.source })).toBe(prefill);
    const decode = printGraph(lowerDecode(model), { source: result.source });
    expect(prefill.replace(/\bL\b/g, "1").replace(".prefill {", ".decode {")).toBe(decode);
  });
});
