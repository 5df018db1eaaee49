// The evaluator's op definitions on hand-checkable cases: the exact conventions of semantics.md.
import { describe, expect, it } from "vitest";
import { InterpError, run, type Tensor } from "../../compiler/interp/index.ts";
import { erf, erfc, gelu, softplus } from "../../compiler/interp/scalar.ts";
import { GraphBuilder, type ValueRef } from "../../compiler/ir/index.ts";
import type { Shape } from "../../compiler/ir/types.ts";

// Python's math.erf / math.erfc (correctly rounded to within 1 ulp), and GELU via erfc.
const ERF: [number, number][] = [[-6, -1.0], [-4.5, -0.9999999998033839], [-3.2, -0.9999939742388483], [-3, -0.9999779095030014], [-2.5, -0.999593047982555], [-1.7, -0.9837904585907745], [-1, -0.8427007929497149], [-0.3, -0.3286267594591274], [-0.0001, -0.00011283791633342487], [0, 0.0], [1e-06, 1.1283791670951364e-06], [0.05, 0.05637197779701663], [0.5, 0.5204998778130465], [1, 0.8427007929497149], [1.5, 0.9661051464753108], [2, 0.9953222650189527], [2.9, 0.9999589021219005], [3, 0.9999779095030014], [3.1, 0.9999883513426328], [4, 0.9999999845827421], [5.5, 0.9999999999999927]];
const ERFC: [number, number][] = [[3, 2.2090496998585438e-05], [3.5, 7.430983723414128e-07], [4, 1.541725790028002e-08], [6, 2.1519736712498916e-17], [9, 4.13703174651381e-37], [15, 7.212994172451206e-100], [26, 5.663192408856143e-296]];
const GELU: [number, number][] = [[-8, -4.9767684594174555e-15], [-5, -1.4332578593959731e-06], [-2, -0.04550026389635844], [-0.5, -0.15426876936299344], [0, 0.0], [0.7, 0.5306254434438489], [3, 2.99595030590511]];

const rel = (a: number, b: number) => (b === 0 ? Math.abs(a) : Math.abs(a - b) / Math.abs(b));

describe("scalar functions", () => {
  it("erf, erfc and exact GELU match Python's math.erf to 1e-14 relative", () => {
    for (const [x, v] of ERF) expect(rel(erf(x), v), `erf(${x})`).toBeLessThan(1e-14);
    for (const [x, v] of ERFC) expect(rel(erfc(x), v), `erfc(${x})`).toBeLessThan(1e-14);
    for (const [x, v] of GELU) expect(rel(gelu(x), v), `gelu(${x})`).toBeLessThan(1e-13);
  });

  it("softplus uses torch's threshold 20", () => {
    expect(softplus(20)).toBe(Math.log1p(Math.exp(20)));
    expect(softplus(20.000001)).toBe(20.000001);
    expect(softplus(-30)).toBe(Math.log1p(Math.exp(-30)));
  });
});

/** Build a one-op graph over state inputs a, b, ... and run it on the given data. */
function runOp(inputs: [Shape, number[]][], body: (b: GraphBuilder, xs: ValueRef[], pos: ValueRef) => ValueRef | ValueRef[], pos = 0, L?: number): Tensor[] {
  const b = new GraphBuilder("op");
  const xs = inputs.map(([shape], i) => b.input(`x${i}`, "state", { dtype: "f32", shape }));
  const p = b.input("pos", "pos", { dtype: "i32", shape: [] });
  const res = body(b, xs, p);
  const outs = Array.isArray(res) ? res : [res];
  const g = b.finish(outs.map((value, i) => ({ name: `y${i}`, value })));
  const feed: Record<string, Float64Array> = { pos: Float64Array.of(pos) };
  inputs.forEach(([, data], i) => (feed[`x${i}`] = Float64Array.from(data)));
  const out = run(g, { inputs: feed, weights: {}, ...(L === undefined ? {} : { L }) });
  return outs.map((_, i) => out[`y${i}`]!);
}

describe("conv1d_causal", () => {
  // x [S=2, C=1] = [5, 7]; state [C, W=3] = [1, 2, 3] (oldest first); w = [10, 100, 1000].
  // xe = [1, 2, 3, 5, 7]; y[0] = 10*2 + 100*3 + 1000*5 (w[W-1] hits the current input),
  // y[1] = 10*3 + 100*5 + 1000*7; new state = last 3 of xe.
  it("continues from its state, w[:, W-1] multiplies the current input", () => {
    const [y, st] = runOp(
      [
        [[2, 1], [5, 7]],
        [[1, 3], [1, 2, 3]],
        [[1, 3], [10, 100, 1000]],
      ],
      (b, [x, s, w]) => b.conv1dCausal(x!, s!, w!),
    );
    expect(Array.from(y!.data)).toEqual([5320, 7530]);
    expect(Array.from(st!.data)).toEqual([3, 5, 7]);
  });

  it("keeps older state when fewer tokens than the width arrive, per channel", () => {
    // C = 2 channels, W = 4, one token.
    const [y, st] = runOp(
      [
        [[1, 2], [9, -9]],
        [[2, 4], [1, 2, 3, 4, -1, -2, -3, -4]],
        [[2, 4], [1, 1, 1, 1, 0, 0, 0, 2]],
      ],
      (b, [x, s, w]) => b.conv1dCausal(x!, s!, w!),
    );
    expect(Array.from(y!.data)).toEqual([2 + 3 + 4 + 9, -18]);
    expect(Array.from(st!.data)).toEqual([2, 3, 4, 9, -2, -3, -4, -9]);
  });
});

describe("sequence ops", () => {
  it("linear_recurrence runs h = a h + b from h0", () => {
    const [h, last] = runOp(
      [
        [[3, 2], [0.5, 2, 0.5, 2, 0.5, 2]],
        [[3, 2], [1, 0, 1, 0, 1, 1]],
        [[2], [4, 1]],
      ],
      (b, [a, x, h0]) => b.linearRecurrence(a!, x!, h0!),
    );
    expect(Array.from(h!.data)).toEqual([3, 2, 2.5, 4, 2.25, 9]);
    expect(Array.from(last!.data)).toEqual([2.25, 9]);
  });

  it("rope rotates NeoX half-split pairs of the first rotaryDim dims at positions pos+s", () => {
    // head_dim 6, rotaryDim 4: pairs (0, 2) and (1, 3) with inv_freq 1 and theta^(-1/2); dims 4, 5 pass.
    const theta = 100;
    const x = [1, 2, 3, 4, 5, 6];
    const [y] = runOp([[[1, 1, 6], x]], (b, [t], pos) => b.rope(t!, pos, theta, 4), 3);
    const rot = (a: number, c: number, ang: number) => [a * Math.cos(ang) - c * Math.sin(ang), c * Math.cos(ang) + a * Math.sin(ang)];
    const [y0, y2] = rot(1, 3, 3 * 1);
    const [y1, y3] = rot(2, 4, 3 * theta ** -0.5);
    const want = [y0!, y1!, y2!, y3!, 5, 6];
    Array.from(y!.data).forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 14));
  });

  it("attn_mask lets query pos+s see `window` keys including itself", () => {
    // S = 2 queries at positions 3 and 4 (pos = 3), T = 6 keys, window 3.
    const [m] = runOp([[[2, 1, 6], new Array(12).fill(0)]], (b, [s], pos) => b.attnMask(s!, pos, 3), 3);
    const allowed = Array.from(m!.data, (v) => (v === 0 ? 1 : 0));
    expect(allowed).toEqual([0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0]);
    const [full] = runOp([[[1, 1, 4], [0, 0, 0, 0]]], (b, [s], pos) => b.attnMask(s!, pos, null), 2);
    expect(Array.from(full!.data)).toEqual([0, 0, 0, -Infinity]);
  });

  it("attn_mask reads a ring: row t holds the latest position = t mod T", () => {
    // T = 4, S = 2 queries at positions 9 and 10 (pos = 9), window 3. Rows hold positions
    // 8, 9, 10, 7; query 9 sees 7..9 (rows 3, 0, 1), query 10 sees 8..10 (rows 0, 1, 2).
    const [m] = runOp([[[2, 1, 4], new Array(8).fill(0)]], (b, [s], pos) => b.attnMask(s!, pos, 3), 9);
    expect(Array.from(m!.data, (v) => (v === 0 ? 1 : 0))).toEqual([1, 1, 0, 1, 1, 1, 1, 0]);
    // A full-causal layer cannot pass the ring's end: position 4 of T = 4 is refused.
    expect(() => runOp([[[1, 1, 4], [0, 0, 0, 0]]], (b, [s], pos) => b.attnMask(s!, pos, null), 4)).toThrow(/needs 5 rows of a cache of 4/);
  });

  it("GQA: query head h reads kv head h / (H/Hkv)", () => {
    // H = 4, Hkv = 2, D = 1, T = 1: scores are q * k[h >> 1].
    const [s] = runOp(
      [
        [[1, 4, 1], [1, 2, 3, 4]],
        [[1, 2, 1], [10, 100]],
      ],
      (b, [q, k]) => b.attnScores(q!, k!, 0.5),
    );
    expect(Array.from(s!.data)).toEqual([5, 10, 150, 200]);
  });

  it("cache_write writes position p to row p mod T (a ring) and refuses more rows than the ring has", () => {
    const write = (pos: number, rows: number[]) =>
      runOp(
        [
          [[4, 1], [1, 2, 3, 4]],
          [[rows.length, 1], rows],
        ],
        (b, [cache, x], p) => b.cacheWrite(cache!, x!, p),
        pos,
      )[0]!;
    expect(Array.from(write(1, [8, 9]).data)).toEqual([1, 8, 9, 4]);
    // Positions 3, 4, 5 go to rows 3, 0, 1.
    expect(Array.from(write(3, [7, 8, 9]).data)).toEqual([8, 9, 3, 7]);
    expect(() => write(0, [5, 6, 7, 8, 9])).toThrow(InterpError);
  });
});

describe("elementwise and norms", () => {
  it("broadcasts numpy-style and reduces", () => {
    const [y] = runOp(
      [
        [[2, 1, 3], [1, 2, 3, 4, 5, 6]],
        [[2, 1], [10, 20]],
      ],
      (b, [x, w]) => b.reduceSum(b.mul(x!, w!), 1),
    );
    // x [2,1,3] * w [2,1] -> [2,2,3], sum over axis 1 -> [2,3]: 30 * x
    expect(Array.from(y!.data)).toEqual([30, 60, 90, 120, 150, 180]);
  });

  it("rmsnorm normalises groups of groupSize channels and scales by the full-width weight", () => {
    const [y] = runOp(
      [
        [[1, 4], [3, 4, 0, 2]],
        [[4], [1, 2, 3, 4]],
      ],
      (b, [x, w]) => b.rmsnorm(x!, w!, 1e-12, 2),
    );
    const r1 = Math.sqrt(12.5 + 1e-12);
    const r2 = Math.sqrt(2 + 1e-12);
    const want = [3 / r1, (4 / r1) * 2, 0, (2 / r2) * 4];
    Array.from(y!.data).forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 14));
  });

  it("softmax gives masked (-inf) entries weight 0; slice copies a channel range", () => {
    const [p, s] = runOp([[[1, 3], [0, Math.log(3), -Infinity]]], (b, [x]) => [b.softmax(x!), b.slice(x!, 1, 1, 1)]);
    expect(Array.from(p!.data).map((v) => +v.toFixed(15))).toEqual([0.25, 0.75, 0]);
    expect(Array.from(s!.data)).toEqual([Math.log(3)]);
  });
});

describe("run", () => {
  it("binds L from the tokens input and checks fed lengths", () => {
    const b = new GraphBuilder("emb");
    const e = b.weight({ name: "E", local: "embedding.weight", layer: null, sublayer: null, type: { dtype: "f32", shape: [3, 2] } });
    const y = b.embedding(e, b.input("tokens", "tokens", { dtype: "i32", shape: ["L"] }));
    const g = b.finish([{ name: "y", value: y }]);
    const E = Float64Array.of(0, 1, 10, 11, 20, 21);
    expect(Array.from(run(g, { inputs: { tokens: Float64Array.of(2, 0) }, weights: { E } })["y"]!.data)).toEqual([20, 21, 0, 1]);
    expect(run(g, { inputs: { tokens: Float64Array.of(1) }, weights: { E } })["y"]!.shape).toEqual([1, 2]);
    expect(() => run(g, { inputs: { tokens: Float64Array.of(3) }, weights: { E } })).toThrow(/token id 3 outside \[0, 3\)/);
    expect(() => run(g, { inputs: { tokens: Float64Array.of(1) }, weights: { E: Float64Array.of(1) } })).toThrow(/weight E: 1 values, expected 6/);
    expect(() => run(g, { inputs: { tokens: Float64Array.of(1) }, weights: {} })).toThrow(/no data for weight E/);
  });
});
