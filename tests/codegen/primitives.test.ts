/**
 * The unfused primitives' generators on shapes the tiny models do not reach (unfused.test.ts runs
 * every kernel of whole unfused programs): cache_write out of place and into a ring past its end, softmax rows longer than two
 * workgroup strides with masked entries, linear_recurrence over a rank-0 state out of place and a
 * rank-2 state in place, conv1d_causal with kernel width 1 and an odd channel count, RoPE at a
 * large position (the exact angle reduction) with an odd head count. Each node runs on the adapter
 * against interp (harness.ts) at L = 1 and at a prime L > 64.
 * Tolerances (norm-wise): 1e-5 for rope, cache_write and the conv; 1e-4 for softmax and the recurrence.
 */
import { describe, expect, it } from "vitest";
import type { ValueRef } from "../../compiler/ir/graph.ts";
import { Maker, type TestGraph } from "./graphs.ts";
import { runNode } from "./harness.ts";

/** A graph's `pos` input and a feed that sets it. */
function withPos(m: Maker): ValueRef {
  return m.b.input("pos", "pos", { dtype: "i32", shape: [] });
}

function feedAt(t: TestGraph, L: number, pos: number | null, seed: number) {
  const f = t.feed(L, seed);
  return pos === null ? f : { ...f, inputs: { ...f.inputs, pos: Float64Array.of(pos) } };
}

const CASES: [string, () => TestGraph, number | null, number][] = [
  [
    "cache_write out of place, [80, 3, 5] cache at pos 4",
    () => {
      const m = new Maker("L");
      const pos = withPos(m);
      const cache = m.state("cache", [80, 3, 5]);
      const x = m.b.reshape(m.activation("x", 15), ["L", 3, 5]);
      const y = m.b.cacheWrite(cache, x, pos);
      return m.finish(y.node, [{ name: "cache_new", value: y }]);
    },
    4,
    1e-5,
  ],
  ...(["cache", "cache_new"] as const).map((out): [string, () => TestGraph, number, number] => [
    `cache_write ${out === "cache" ? "in place" : "out of place"} into a ring of 80 rows at pos 150 (positions 150.. wrap to rows 70, .., 79, 0, ..)`,
    () => {
      const m = new Maker("L");
      const pos = withPos(m);
      const y = m.b.cacheWrite(m.state("cache", [80, 3, 5]), m.b.reshape(m.activation("x", 15), ["L", 3, 5]), pos);
      return m.finish(y.node, [{ name: out, value: y }]);
    },
    150,
    1e-5,
  ]),
  // pos 2: rows 0..2+L-1 hold their own positions; pos 150: a ring whose rows wrap.
  ...[2, 150].map((pos): [string, () => TestGraph, number, number] => [
    `softmax of masked rows of ${pos < 131 ? "" : "a ring of "}131 (window 50) at pos ${pos}`,
    () => {
      const m = new Maker("L");
      const s = m.b.reshape(m.activation("s", 2 * 131), ["L", 2, 131]);
      const y = m.b.softmax(m.b.attnMask(s, withPos(m), 50));
      return m.finish(y.node, [{ name: "y", value: y }]);
    },
    pos,
    1e-4,
  ]),
  [
    "linear_recurrence over a rank-0 state, out of place",
    () => {
      const m = new Maker("L");
      const a = m.b.reshape(m.activation("a", 1, undefined, (r) => r.uniform(0.9, 1)), ["L"]);
      const bx = m.b.reshape(m.activation("b", 1), ["L"]);
      const [h, last] = m.b.linearRecurrence(a, bx, m.state("h", []));
      return m.finish(h.node, [{ name: "h_seq", value: h }, { name: "h_new", value: last }]);
    },
    null,
    1e-4,
  ],
  [
    "linear_recurrence over a [3, 5] state in place, a broadcast over the last axis",
    () => {
      const m = new Maker("L");
      const a = m.b.broadcastTo(m.b.reshape(m.activation("a", 3, undefined, (r) => r.uniform(0.5, 1)), ["L", 3, 1]), ["L", 3, 5]);
      const bx = m.b.reshape(m.activation("b", 15), ["L", 3, 5]);
      const [h, last] = m.b.linearRecurrence(a, bx, m.state("h", [3, 5]));
      return m.finish(h.node, [{ name: "h_seq", value: h }, { name: "h", value: last }]);
    },
    null,
    1e-4,
  ],
  [
    "conv1d_causal, 7 channels, width 1, state in place",
    () => {
      const m = new Maker("L");
      const [y, st] = m.b.conv1dCausal(m.activation("x", 7), m.state("conv", [7, 1]), m.weight("w", [7, 1]));
      return m.finish(y.node, [{ name: "y", value: y }, { name: "conv", value: st }]);
    },
    null,
    1e-5,
  ],
  [
    "rope, 3 heads of 10, rotaryDim 6, theta 10000, at pos 100000",
    () => {
      const m = new Maker("L");
      const pos = withPos(m);
      const y = m.b.rope(m.b.reshape(m.activation("x", 30), ["L", 3, 10]), pos, 10_000, 6);
      return m.finish(y.node, [{ name: "y", value: y }]);
    },
    100_000,
    1e-5,
  ],
];

describe.each(CASES)("%s", (_, make, pos, tol) => {
  const t = make();
  it.each([1, 67])("L = %i matches interp", async (L) => {
    const r = await runNode(t.graph, t.node, feedAt(t, L, pos, L));
    r.errors.forEach((e, i) => expect(e, `${r.spec.op} result ${i}`).toBeLessThanOrEqual(tol));
  });
});
