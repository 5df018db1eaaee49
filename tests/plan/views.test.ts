// Views: reshape, slice and broadcast_to as strided windows onto a base value. Reading a view's
// elements through (offset, strides) must give exactly what the evaluator computes for the op
// chain, for random chains; a projection split is its base at an offset with the base's row
// stride; and a reshape that needs a copy is detected.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { evaluate } from "../../compiler/interp/index.ts";
import { GraphBuilder, type Graph, type ValueRef } from "../../compiler/ir/index.ts";
import { baseLayout, layouts, reshapeLayout, type Layout } from "../../compiler/plan/views.ts";

/** The elements of `l`, row-major over its shape, read from the base's data. */
function gather(l: Layout, base: Float64Array): number[] {
  const out: number[] = [];
  const walk = (axis: number, at: number): void => {
    if (axis === l.shape.length) {
      out.push(base[at]!);
      return;
    }
    for (let i = 0; i < l.shape[axis]!; i++) walk(axis + 1, at + i * l.strides[axis]!);
  };
  walk(0, l.offset);
  return out;
}

type Step = { kind: "slice"; axis: number; frac: number; size: number } | { kind: "reshape"; split: number } | { kind: "merge"; axis: number } | { kind: "broadcast"; n: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant("slice" as const), axis: fc.nat(4), frac: fc.double({ min: 0, max: 1, noNaN: true }), size: fc.nat(5) }),
  fc.record({ kind: fc.constant("reshape" as const), split: fc.nat(4) }),
  fc.record({ kind: fc.constant("merge" as const), axis: fc.nat(4) }),
  fc.record({ kind: fc.constant("broadcast" as const), n: fc.integer({ min: 1, max: 3 }) }),
);

/** Applies the steps that make sense for the current shape; returns the graph and its last value. */
function chain(shape: number[], steps: readonly Step[]): { g: Graph; last: ValueRef } {
  const b = new GraphBuilder("views");
  const w = b.weight({ name: "w", local: "w", layer: null, sublayer: null, type: { dtype: "f32", shape } });
  let x = b.exp(w); // a kernel result: the base of every view below
  let s = shape.slice();
  for (const st of steps) {
    if (st.kind === "slice") {
      const axis = st.axis % s.length;
      const size = 1 + (st.size % s[axis]!);
      const start = Math.floor(st.frac * (s[axis]! - size + 1)) % (s[axis]! - size + 1);
      x = b.slice(x, axis, start, size);
      s = s.map((d, i) => (i === axis ? size : d));
    } else if (st.kind === "reshape") {
      // split an axis with a divisor, or insert a unit axis
      const axis = st.split % s.length;
      const d = s[axis]!;
      const f = [2, 3].find((k) => d % k === 0 && d > k);
      s = f ? [...s.slice(0, axis), f, d / f, ...s.slice(axis + 1)] : [...s.slice(0, axis), 1, ...s.slice(axis)];
      x = b.reshape(x, s);
    } else if (st.kind === "merge") {
      if (s.length < 2) continue;
      const axis = st.axis % (s.length - 1);
      s = [...s.slice(0, axis), s[axis]! * s[axis + 1]!, ...s.slice(axis + 2)];
      x = b.reshape(x, s);
    } else {
      const ones = s.findIndex((d) => d === 1);
      s = ones >= 0 ? s.map((d, i) => (i === ones ? st.n + 1 : d)) : [st.n, ...s];
      x = b.broadcastTo(x, s);
    }
  }
  return { g: b.finish([{ name: "y", value: b.neg(x) }]), last: x };
}

describe("views", () => {
  it("read exactly what the evaluator computes, or need a copy (merges across a gap)", () => {
    let views = 0;
    let copies = 0;
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 }), fc.array(stepArb, { maxLength: 6 }), (shape, steps) => {
        const { g, last } = chain(shape, steps);
        const w = Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i / 7);
        const vals = evaluate(g, { inputs: {}, weights: { w } });
        const lay = layouts(g, 1);
        const l = lay[last.node]![last.index]!;
        const base = vals[l.base.node]![l.base.index]!.data;
        expect(gather(l, base)).toEqual(Array.from(vals[last.node]![last.index]!.data));
        if (l.base.node === 1) views++;
        else copies++;
      }),
      { numRuns: 400, seed: 11 },
    );
    expect(views).toBeGreaterThan(100);
    expect(copies).toBeGreaterThan(0);
  });

  it("make a projection split its base at an offset with the base's row stride", () => {
    const b = new GraphBuilder("split");
    const tokens = b.input("tokens", "tokens", { dtype: "i32", shape: ["L"] });
    const e = b.weight({ name: "e", local: "e", layer: null, sublayer: null, type: { dtype: "f32", shape: [10, 4] } });
    const w = b.weight({ name: "w", local: "w", layer: null, sublayer: null, type: { dtype: "f32", shape: [12, 4] } });
    const xz = b.linear(b.embedding(e, tokens), w);
    const x = b.slice(xz, 1, 0, 5);
    const z = b.slice(xz, 1, 5, 7);
    const zr = b.reshape(z, ["L", 7, 1]);
    const g = b.finish([{ name: "y", value: b.mul(b.reshape(x, ["L", 5, 1]), b.slice(zr, 1, 2, 5)) }]);
    const lay = layouts(g, 6);
    expect(lay[x.node]![0]).toEqual({ base: xz, offset: 0, shape: [6, 5], strides: [12, 1] });
    expect(lay[z.node]![0]).toEqual({ base: xz, offset: 5, shape: [6, 7], strides: [12, 1] });
    expect(lay[zr.node]![0]).toEqual({ base: xz, offset: 5, shape: [6, 7, 1], strides: [12, 1, 1] });
    expect(lay[g.nodes.length - 2]![0]).toEqual({ base: xz, offset: 7, shape: [6, 5, 1], strides: [12, 1, 1] });
  });

  it("refuse to merge axes across a gap", () => {
    const strided = { ...baseLayout({ node: 0, index: 0 }, [3, 8]), shape: [3, 4], strides: [8, 1] };
    expect(reshapeLayout(strided, [12])).toBeNull();
    expect(reshapeLayout(strided, [3, 2, 2])).toEqual({ ...strided, shape: [3, 2, 2], strides: [8, 2, 1] });
    expect(reshapeLayout(strided, [1, 3, 4, 1])).toEqual({ ...strided, shape: [1, 3, 4, 1], strides: [24, 8, 1, 1] }); // unit axes: any stride
  });
});
