// Scratch buffers by liveness, on a hand-built graph whose plan is worked out by hand below,
// plus the storage classes: views alias their base, state outputs update their input in place.
import { describe, expect, it } from "vitest";
import { GraphBuilder } from "../../compiler/ir/index.ts";
import { assignBuffers, planGraph } from "../../compiler/plan/index.ts";

describe("assignBuffers", () => {
  it("reuses the smallest free buffer that fits, else grows the largest free one, else adds one", () => {
    const p = assignBuffers([
      { key: "a", bytes: 100, def: 0, last: 1 },
      { key: "b", bytes: 300, def: 1, last: 3 }, // a still busy at 1 -> new buffer 1
      { key: "c", bytes: 50, def: 2, last: 2 }, // buffer 0 free (a last read at 1) -> 0
      { key: "d", bytes: 80, def: 4, last: 5 }, // 0 (100) and 1 (300) free: best fit 0
      { key: "e", bytes: 500, def: 5, last: 6 }, // only 1 free, too small: grown to 500
      { key: "f", bytes: 10, def: 6, last: 6 }, // 0 free again (d last read at 5)
    ]);
    expect(Object.fromEntries(p.assigned)).toEqual({ a: 0, b: 1, c: 0, d: 0, e: 1, f: 0 });
    expect(p.buffers).toEqual([100, 500]);
    expect(p.peakScratchBytes).toBe(600);
    expect(p.maxLiveBytes).toBe(580); // at 5: d (80) + e (500)
  });
});

describe("planGraph on a hand-built graph", () => {
  //  %0 x: state f32[8,16] (read only: no output of that name)   %1..%3 weights
  //  %4  a = exp(x)              f32[8,16]   512 B   read by %5
  //  %5  b = linear(a, w1)       f32[8,32]  1024 B   read by %8 through c and d
  //  %6  c = slice(b, 1, 0, 16)  view of b, offset 0,  strides [32, 1]
  //  %7  d = slice(b, 1, 16, 16) view of b, offset 16, strides [32, 1]
  //  %8  e = mul(c, d)           f32[8,16]   512 B   read by %9 and %11
  //  %9  f = linear(e, w2)       f32[8,4]    128 B   read by %10
  //  %10 h = silu(f)             f32[8,4]    128 B   read by %14
  //  %11 g = linear(e, w3)       f32[8,64]  2048 B   read by %12
  //  %12 k = reduce_sum(g, 1)    f32[8]       32 B   read by %14 through kr
  //  %13 kr = reshape(k, [8, 1]) view of k
  //  %14 y = mul(h, kr)          f32[8,4]  graph output
  // Buffers: a -> 0 (new, 512); b -> 1 (new, 1024: 0 is busy while %5 reads a);
  // e -> 0 (free after %5, exact fit); f -> 1 (free after %8); h -> 2 (0 busy to %11, 1 to %10);
  // g -> 1 grown to 2048 (the only free buffer); k -> 0 (free after %11).
  // Peak: 512 + 2048 + 128 = 2688; the most live at once is also 2688 (e, h, g at %11).
  const b = new GraphBuilder("hand");
  const x = b.input("x", "state", { dtype: "f32", shape: [8, 16] });
  const w = (name: string, shape: number[]) => b.weight({ name: `${name}.weight`, local: `${name}.weight`, layer: 0, sublayer: 0, type: { dtype: "f32", shape } });
  const [w1, w2, w3] = [w("w1", [32, 16]), w("w2", [4, 16]), w("w3", [64, 16])];
  const a = b.exp(x);
  const bb = b.linear(a, w1!);
  const c = b.slice(bb, 1, 0, 16);
  const d = b.slice(bb, 1, 16, 16);
  const e = b.mul(c, d);
  const f = b.linear(e, w2!);
  const h = b.silu(f);
  const g = b.linear(e, w3!);
  const k = b.reduceSum(g, 1);
  const kr = b.reshape(k, [8, 1]);
  const y = b.mul(h, kr);
  const graph = b.finish([{ name: "y", value: y }]);
  const plan = planGraph(graph, { L: 1 });
  const at = (r: { node: number }) => plan.values[r.node]![0]!;

  it("assigns buffers by liveness", () => {
    expect([a, bb, e, f, h, g, k].map((r) => at(r).buffer)).toEqual([0, 1, 0, 1, 2, 1, 0]);
    expect(plan.buffers).toEqual([512, 2048, 128]);
    expect(plan.peakScratchBytes).toBe(2688);
    expect(plan.maxLiveBytes).toBe(2688);
  });

  it("makes views alias their base at an element offset", () => {
    expect(at(c)).toEqual({ layout: { base: bb, offset: 0, shape: [8, 16], strides: [32, 1] }, storage: { kind: "scratch" }, buffer: 1 });
    expect(at(d).layout).toEqual({ base: bb, offset: 16, shape: [8, 16], strides: [32, 1] });
    expect(at(kr).layout).toEqual({ base: k, offset: 0, shape: [8, 1], strides: [1, 1] });
    expect(at(kr).buffer).toBe(0);
  });

  it("classifies inputs, weights and outputs, and lists the kernels", () => {
    expect(at(x).storage).toEqual({ kind: "state", name: "x" });
    expect(at(w1!).storage).toEqual({ kind: "weight", name: "w1.weight" });
    expect(at(y)).toMatchObject({ storage: { kind: "output", name: "y" }, buffer: null });
    expect(plan.kernels.map((q) => [q.node, q.name, q.op])).toEqual([
      [4, "exp", "exp"], // reads only `x`, which names no layer
      [5, "layers.0.w1", "linear"],
      [8, "layers.0.mul", "mul"],
      [9, "layers.0.w2", "linear"],
      [10, "layers.0.silu", "silu"],
      [11, "layers.0.w3", "linear"],
      [12, "layers.0.reduce_sum", "reduce_sum"],
      [14, "layers.0.mul_2", "mul"],
    ]);
    expect(plan.dispatches).toBe(8);
  });
});

describe("state storage", () => {
  it("updates a state slot in place, and gives it its own buffer when the old value is read later", () => {
    const build = (late: boolean) => {
      const b = new GraphBuilder("state");
      const s = b.input("layers.0.ssm", "state", { dtype: "f32", shape: [4] });
      const next = b.exp(s);
      const outs = [{ name: "layers.0.ssm", value: next }];
      if (late) outs.push({ name: "old", value: b.neg(s) }); // reads the old state after `next` is written
      return { plan: planGraph(b.finish(outs), { L: 1 }), next };
    };
    const inPlace = build(false);
    expect(inPlace.plan.values[inPlace.next.node]![0]!.storage).toEqual({ kind: "state", name: "layers.0.ssm" });
    expect(inPlace.plan.traffic).toEqual({ weightBytes: 0, stateBytes: 32, movedBytes: 32 });
    const late = build(true);
    expect(late.plan.values[late.next.node]![0]!.storage).toEqual({ kind: "output", name: "layers.0.ssm" });
  });

  it("evaluates weight-only nodes once at load time, not per call", () => {
    const b = new GraphBuilder("const");
    const tokens = b.input("tokens", "tokens", { dtype: "i32", shape: [1] });
    const A = b.neg(b.exp(b.weight({ name: "A_log", local: "A_log", layer: 0, sublayer: 0, type: { dtype: "f32", shape: [3, 4] } })));
    const e = b.embedding(b.weight({ name: "E", local: "embedding.weight", layer: null, sublayer: null, type: { dtype: "f32", shape: [5, 4] } }), tokens);
    const plan = planGraph(b.finish([{ name: "y", value: b.mul(e, A) }]), { L: 1 });
    expect(plan.constants.map((q) => q.op)).toEqual(["exp", "neg"]);
    expect(plan.kernels.map((q) => q.name)).toEqual(["embedding", "layers.0.mul"]);
    // weights: one row of E (16 B) + A (48 B); other: ids 4 + e written 16 and read 16 + y 48
    expect(plan.traffic).toEqual({ weightBytes: 64, stateBytes: 0, movedBytes: 64 + 4 + 32 + 48 });
  });
});
