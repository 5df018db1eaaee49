// The IR core: builder type inference, the verifier's checks, span merging, the printer.
import { describe, expect, it } from "vitest";
import { InternalCompilerError } from "../../compiler/diag/diagnostic.ts";
import { GraphBuilder, OPS, mergeSpans, printGraph, verify, type Graph, type Node } from "../../compiler/ir/index.ts";

function small(): Graph {
  const b = new GraphBuilder("t.prefill").at([{ start: 5, end: 9 }]);
  const x = b.input("x", "state", { dtype: "f32", shape: [8, 4] });
  const toks = b.input("tokens", "tokens", { dtype: "i32", shape: ["L"] });
  const e = b.weight({ name: "emb", local: "embedding.weight", layer: null, sublayer: null, type: { dtype: "f32", shape: [10, 8] } });
  const h = b.embedding(e, toks);
  const w = b.weight({ name: "w", local: "conv1d.weight", layer: 0, sublayer: 0, type: { dtype: "f32", shape: [8, 4] } });
  const [y, st] = b.conv1dCausal(h, x, w);
  const s = b.slice(b.silu(y), -1, 2, 3);
  return b.finish([
    { name: "y", value: s },
    { name: "state", value: st },
  ]);
}

/** A copy of `g` with node `i` replaced. */
function patch(g: Graph, i: number, f: (n: Node) => object): Graph {
  return { ...g, nodes: g.nodes.map((n) => (n.id === i ? (f(n) as Node) : n)) };
}

function verifyError(g: Graph): string {
  try {
    verify(g);
  } catch (e) {
    expect(e).toBeInstanceOf(InternalCompilerError);
    return (e as Error).message;
  }
  throw new Error("verify accepted a broken graph");
}

describe("builder", () => {
  it("infers result types through the op table, with symbolic L", () => {
    const g = small();
    verify(g);
    expect(g.nodes.map((n) => n.op)).toEqual(["input", "input", "weight", "embedding", "weight", "conv1d_causal", "silu", "slice"]);
    expect(g.nodes[5]!.results).toEqual([
      { dtype: "f32", shape: ["L", 8] },
      { dtype: "f32", shape: [8, 4] },
    ]);
    expect(g.nodes[7]!.results).toEqual([{ dtype: "f32", shape: ["L", 3] }]);
    expect(g.nodes[7]!.attrs).toEqual({ axis: 1, start: 2, size: 3 }); // negative axis normalised
    expect(g.nodes.every((n) => n.spans.length === 1 && n.spans[0]!.start === 5)).toBe(true);
  });

  it("rejects ill-typed nodes as internal errors naming the op", () => {
    const b = new GraphBuilder("bad");
    const x = b.input("x", "state", { dtype: "f32", shape: [4, 6] });
    expect(() => b.reshape(x, ["L", 6])).toThrow(/reshape.*cannot reshape \[4,6\] to \[L,6\]/);
    expect(() => b.slice(x, 1, 4, 3)).toThrow(/exceeds dim 6/);
    expect(() => b.add(x, b.input("y", "state", { dtype: "f32", shape: [5] }))).toThrow(/do not broadcast/);
    expect(() => b.input("x", "state", { dtype: "f32", shape: [1] })).toThrow(/declared twice/);
    expect(() => b.rmsnorm(x, x, 1e-5)).toThrow(InternalCompilerError);
  });

  it("broadcasts L only against L or 1", () => {
    const b = new GraphBuilder("bc");
    const a = b.input("a", "state", { dtype: "f32", shape: [1, 3] });
    const l = b.reshape(b.embedding(b.input("e", "state", { dtype: "f32", shape: [5, 3] }), b.input("tokens", "tokens", { dtype: "i32", shape: ["L"] })), ["L", 1, 3]);
    expect(b.typeOf(b.mul(l, a)).shape).toEqual(["L", 1, 3]);
    expect(() => b.mul(l, b.input("c", "state", { dtype: "f32", shape: [2, 1, 1] }))).toThrow(/do not broadcast/);
  });
});

describe("verify", () => {
  it("accepts what the builder makes", () => {
    expect(() => verify(small())).not.toThrow();
  });

  it("rejects a reference to a later node", () => {
    const g = patch(small(), 3, (n) => ({ ...n, inputs: [n.inputs[0], { node: 6, index: 0 }] }));
    expect(verifyError(g)).toMatch(/node %3 .*input %6 is not defined before it/);
  });

  it("rejects a result index the node does not have", () => {
    const g = patch(small(), 6, (n) => ({ ...n, inputs: [{ node: 5, index: 2 }] }));
    expect(verifyError(g)).toMatch(/input %5#2: node has 2 results/);
  });

  it("rejects stored types that inference does not give", () => {
    const g = patch(small(), 6, (n) => ({ ...n, results: [{ dtype: "f16", shape: ["L", 8] }] }));
    expect(verifyError(g)).toMatch(/results \(f16\[L,8\]\) but inference gives \(f32\[L,8\]\)/);
  });

  it("rejects invalid and unknown attrs", () => {
    expect(verifyError(patch(small(), 7, (n) => ({ ...n, attrs: { axis: 1, start: 7, size: 3 } })))).toMatch(/slice \[7, 10\) exceeds dim 8/);
    expect(verifyError(patch(small(), 7, (n) => ({ ...n, attrs: { axis: 1, start: 0, size: 3, extra: 1 } })))).toMatch(/attrs \{axis, extra, size, start\}/);
    expect(verifyError(patch(small(), 6, (n) => ({ ...n, op: "tanh" })))).toMatch(/unknown op tanh/);
  });

  it("rejects a wrong arity, bad ids, unsorted spans, bad outputs", () => {
    expect(verifyError(patch(small(), 6, (n) => ({ ...n, inputs: [] })))).toMatch(/silu takes 1 inputs, got 0/);
    expect(verifyError(patch(small(), 6, (n) => ({ ...n, id: 9 })))).toMatch(/id 9 stored at index 6/);
    const spans = [
      { start: 9, end: 10 },
      { start: 2, end: 3 },
    ];
    expect(verifyError(patch(small(), 6, (n) => ({ ...n, spans })))).toMatch(/spans not sorted/);
    const g = small();
    expect(verifyError({ ...g, outputs: [...g.outputs, { name: "y", value: { node: 6, index: 0 } }] })).toMatch(/output name "y"/);
    expect(verifyError({ ...g, outputs: [{ name: "z", value: { node: 99, index: 0 } }] })).toMatch(/missing %99#0/);
  });

  it("rejects a graph input declared twice, and state that depends on L", () => {
    const dup = patch(small(), 1, (n) => ({ ...n, attrs: { ...n.attrs, name: "x", role: "state", type: { dtype: "f32", shape: [8, 4] } }, results: [{ dtype: "f32", shape: [8, 4] }] }));
    expect(verifyError(dup)).toMatch(/node %1 .*graph input x declared twice/);
    const symbolic = patch(small(), 0, (n) => ({ ...n, attrs: { ...n.attrs, type: { dtype: "f32", shape: ["L"] } }, results: [{ dtype: "f32", shape: ["L"] }] }));
    expect(verifyError(symbolic)).toMatch(/state x must not depend on L/);
  });
});

describe("op table", () => {
  it("lists every op with arity, attrs and a doc line", () => {
    for (const [name, def] of Object.entries(OPS)) {
      expect(def.doc.length, name).toBeGreaterThan(0);
      // a number, or a function of the attrs for fused ops with optional inputs (arityOf)
      if (typeof def.arity === "number") expect(def.arity, name).toBeGreaterThanOrEqual(0);
      else expect(typeof def.arity, name).toBe("function");
    }
  });
});

describe("spans", () => {
  it("mergeSpans sorts and removes duplicates", () => {
    const a = { start: 10, end: 20 };
    const b = { start: 3, end: 4 };
    const c = { start: 10, end: 12 };
    expect(mergeSpans([a, b], [c, a], [])).toEqual([b, c, a]);
    expect(mergeSpans()).toEqual([]);
  });
});

describe("printer", () => {
  it("prints one line per node, deterministically", () => {
    const text = printGraph(small());
    expect(printGraph(small())).toBe(text);
    expect(text).toBe(
      [
        "graph t.prefill {",
        "  $x: f32[8,4]",
        "  $tokens: i32[L]",
        "  @emb: f32[10,8]",
        "  %3:f32[L,8] = embedding(@emb, $tokens)  // @5-9",
        "  @w: f32[8,4]",
        "  %5:(f32[L,8], f32[8,4]) = conv1d_causal(%3, $x, @w)  // @5-9",
        "  %6:f32[L,8] = silu(%5#0)  // @5-9",
        "  %7:f32[L,3] = slice(%6) {axis=1, start=2, size=3}  // @5-9",
        "  output y = %7",
        "  output state = %5#1",
        "}",
        "",
      ].join("\n"),
    );
  });
});
