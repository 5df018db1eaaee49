/**
 * Flash-decoding (passes/split-decode-attention.ts): a decode attention over a long cache becomes
 * attention_decode_partial (a workgroup per key block and kv head) + attention_merge. Checked
 * three ways: interp of the split graph equals interp of the single attention_decode (float64,
 * the op's definition from the equations); the partial kernel on the adapter matches interp of
 * the partial op (its [acc | m | l] rows, zeros for empty blocks, and both caches); the merge
 * kernel matches interp of the merge. Positions 0, block edges, the last row, a windowed ring
 * far past T, MHA / GQA / MQA, RoPE none / partial / full, head dims 8 to 128, caches in place
 * and out of place.
 */
import { describe, expect, it } from "vitest";
import { evaluate, relError } from "../../compiler/interp/index.ts";
import type { Graph } from "../../compiler/ir/graph.ts";
import { KEY_BLOCK, splitDecodeAttention } from "../../compiler/passes/split-decode-attention.ts";
import { attentionGraph, type AttentionCase } from "./attention-graphs.ts";
import { runNode } from "./harness.ts";

const TOL = 1e-4;

function split(c: AttentionCase): { graph: Graph; partial: number; merge: number; single: ReturnType<typeof attentionGraph> } {
  const single = attentionGraph(c);
  const graph = splitDecodeAttention.run(single.graph);
  const partial = graph.nodes.findIndex((n) => n.op === "attention_decode_partial");
  const merge = graph.nodes.findIndex((n) => n.op === "attention_merge");
  return { graph, partial, merge, single };
}

const CASES: readonly [string, AttentionCase, readonly number[]][] = [
  ["MHA 2/2, D = 8, full RoPE, T = 300", { S: 1, H: 2, Hkv: 2, D: 8, rotary: 8, T: 300 }, [0, 127, 128, 200, 299]],
  ["GQA 8/2, D = 32, partial RoPE, T = 257", { S: 1, H: 8, Hkv: 2, D: 32, rotary: 16, T: 257 }, [256, 131]],
  ["MQA 4/1, D = 64, no RoPE, window 200 in a ring of 200 rows", { S: 1, H: 4, Hkv: 1, D: 64, window: 200, T: 200 }, [5, 199, 1000, 1111]],
  ["GQA 8/2, D = 128, partial RoPE, T = 260", { S: 1, H: 8, Hkv: 2, D: 128, rotary: 64, T: 260 }, [259]],
  ["caches out of place, GQA 6/3, D = 8, T = 300", { S: 1, H: 6, Hkv: 3, D: 8, rotary: 2, T: 300, outOfPlace: true }, [150]],
];

describe("split decode attention (flash-decoding)", () => {
  it("splits only caches longer than one key block", () => {
    const count = (c: AttentionCase) => split(c).graph.nodes.filter((n) => n.op === "attention_decode_partial").length;
    expect(count({ S: 1, H: 2, Hkv: 2, D: 8, T: KEY_BLOCK })).toBe(0);
    expect(count({ S: 1, H: 2, Hkv: 2, D: 8, T: KEY_BLOCK + 1 })).toBe(1);
    expect(count({ S: 1, H: 2, Hkv: 2, D: 8, T: 4 * KEY_BLOCK, window: KEY_BLOCK })).toBe(0);
    expect(count({ S: "L", H: 2, Hkv: 2, D: 8, T: 4 * KEY_BLOCK })).toBe(0);
    const { graph, partial } = split({ S: 1, H: 2, Hkv: 2, D: 8, T: 3 * KEY_BLOCK + 1 });
    expect(graph.nodes[partial]!.attrs).toMatchObject({ block: KEY_BLOCK, blocks: 4 });
  });

  describe.each(CASES)("%s", (_, c, positions) => {
    it.each(positions)("pos %i: interp split = interp single; partial and merge kernels = interp", async (pos) => {
      const { graph, partial, merge, single } = split(c);
      const feed = single.feedAt(1, pos, 9100 + pos);
      // The split graph computes what the single op computes (float64, both from the equations).
      const a = evaluate(single.graph, feed);
      const b = evaluate(graph, feed);
      const outs = (g: Graph, v: ReturnType<typeof evaluate>) => g.outputs.map((o) => v[o.value.node]![o.value.index]!.data);
      outs(graph, b).forEach((y, i) => expect(relError(y, outs(single.graph, a)[i]!), graph.outputs[i]!.name).toBeLessThanOrEqual(1e-12));

      const p = await runNode(graph, partial, feed);
      expect(p.errors[0], "partial [acc | m | l]").toBeLessThanOrEqual(TOL);
      expect(p.errors[1], "k cache").toBeLessThanOrEqual(TOL);
      expect(p.errors[2], "v cache").toBeLessThanOrEqual(TOL);
      const m = await runNode(graph, merge, feed);
      expect(m.errors[0], "o").toBeLessThanOrEqual(TOL);
    });
  });
});
