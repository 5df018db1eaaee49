/**
 * split-decode-attention: flash-decoding. One decode token's attention is one query per head
 * against up to T keys; as a single kernel it runs one workgroup per kv head, each walking every
 * key: a handful of invocations on a device that wants thousands. Split over the keys instead:
 *
 *   %o, %kc', %vc' = attention_decode(%q, %k, %v, %kc, %vc, %pos)
 *     =>
 *   %part, %kc', %vc' = attention_decode_partial(%q, %k, %v, %kc, %vc, %pos) {block=B, blocks=N}
 *   %o = attention_merge(%part)
 *
 * The partial op runs a workgroup per (key block, kv head), its keys in parallel; the merge
 * rescales the N partial softmaxes to their common maximum (interp/attention.ts defines both).
 * Blocks of KEY_BLOCK keys, counted from the query's first visible key; a cache whose queries
 * see at most one block keeps the single kernel.
 */
import { mergeSpans, type Graph } from "../ir/graph.ts";
import type { Pass } from "./pass.ts";
import { fuseEach } from "./rewrite.ts";

/** Keys per block: enough work per workgroup to hide its launch, small enough to fill a GPU at a 2K context. */
export const KEY_BLOCK = 128;

function run(g: Graph): Graph {
  return fuseEach(g, "attention_decode", (_m, n) => {
    const T = g.nodes[n.inputs[3]!.node]!.results[n.inputs[3]!.index]!.shape[0] as number;
    const keys = n.attrs.window === null ? T : Math.min(T, n.attrs.window);
    const blocks = Math.ceil(keys / KEY_BLOCK);
    if (blocks < 2) return null;
    return {
      interior: new Set([n.id]),
      operands: n.inputs,
      replaces: n.results.map((_, index) => ({ node: n.id, index })),
      spans: mergeSpans(n.spans),
      emit: (b, ins) => {
        const part = b.emit("attention_decode_partial", ins, { ...n.attrs, block: KEY_BLOCK, blocks }).id;
        const merge = b.emit("attention_merge", [{ node: part, index: 0 }], {}).id;
        return [{ node: merge, index: 0 }, { node: part, index: 1 }, { node: part, index: 2 }];
      },
    };
  });
}

export const splitDecodeAttention: Pass = {
  name: "split-decode-attention",
  summary: "attention_decode over more than one block of keys -> attention_decode_partial (a workgroup per key block and kv head) + attention_merge",
  fusion: true,
  run,
};
