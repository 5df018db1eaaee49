/**
 * randomCheckpoint: deterministic (same model and seed -> the same bits, in any read order),
 * the init of every tensor kind (values and statistics against the stated distributions), and
 * the platform-independent math under it: xoshiro128** against a BigInt transcription of the
 * reference C code, detLog/detExp/detExpm1 against the engine's libm to 2 ulp.
 */
import { describe, expect, it } from "vitest";
import { build as buildSpec } from "../../compiler/index.ts";
import type { ModelArtifact } from "../../runtime/artifact/types.ts";
import { checkCheckpoint, randomCheckpoint } from "../../runtime/weights/index.ts";
import { detExp, detExpm1, detLog, Rng, streamSeed } from "../../runtime/weights/prng.ts";
import { weightError } from "./helpers.ts";

/** The model as its artifact: the tensors with the init the compiler gave each (compiler/check/init.ts). */
function build(text: string): ModelArtifact {
  const r = buildSpec(text);
  expect(r.diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual([]);
  return r.artifacts[0]!;
}

// d_model 768: q_proj is a 768 x 768 linear. 4 residual sublayers in all.
const BIG = build(`model big {
  vocab = 64
  d_model = 768
  tied = false
  norm = layernorm(eps = 1e-5)
  ssm = mamba1(d_state = 16, dt_rank = 48)
  attn = attention(heads = 12, rope = none)
  ffn = mlp(swiglu, hidden = 64)
  layers = [ssm, attn + ffn, ssm]
}`);

// Mamba-2 with 256 heads (d_inner 1024 / headdim 4).
const M2 = build(`model m2 {
  vocab = 16
  d_model = 512
  ssm = mamba2(d_state = 8, headdim = 4, chunk = 16)
  layers = 2 * ssm
}`);

function stats(x: Float32Array) {
  let s = 0;
  for (const v of x) s += v;
  const mean = s / x.length;
  let q = 0;
  for (const v of x) q += (v - mean) ** 2;
  return { mean, std: Math.sqrt(q / x.length), min: Math.min(...x.subarray(0, 100000)), max: Math.max(...x.subarray(0, 100000)) };
}
const bitsOf = (x: Float32Array) => new Uint32Array(x.buffer.slice(0));
const sameBits = (x: Uint32Array, y: Uint32Array) => x.length === y.length && x.every((v, i) => v === y[i]);
const readAll = async (m: ModelArtifact, seed: number, names: string[]) => {
  const c = randomCheckpoint(m, seed);
  const out = new Map<string, Uint32Array>();
  for (const n of names) out.set(n, bitsOf(await c.read(n)));
  return out;
};

describe("determinism", () => {
  it("the same (model, seed) gives the same bits, whatever the read order", async () => {
    const names = M2.weights.map((w) => w.name);
    const a = await readAll(M2, 7, names);
    const b = await readAll(M2, 7, [...names].reverse());
    for (const n of names) expect(sameBits(b.get(n)!, a.get(n)!), n).toBe(true);
    const c = randomCheckpoint(M2, 7);
    expect(sameBits(bitsOf(await c.read(names[2]!)), a.get(names[2]!)!)).toBe(true); // a second read of one tensor
    expect(sameBits(a.get(names[2]!)!, a.get(names[12]!)!)).toBe(false);
  });

  it("another seed, or another tensor of the same shape, gives other values", async () => {
    const c1 = randomCheckpoint(BIG, 1);
    const c2 = randomCheckpoint(BIG, 2);
    const q = "model.layers.1.self_attn.q_proj.weight";
    const k = "model.layers.1.self_attn.v_proj.weight";
    expect(BIG.weights.find((w) => w.name === k)!.shape).toEqual([768, 768]);
    const [a, b, c] = [await c1.read(q), await c2.read(q), await c1.read(k)];
    const same = (x: Float32Array, y: Float32Array) => x.filter((v, i) => v === y[i]).length;
    expect(same(a, b)).toBeLessThan(100);
    expect(same(a, c)).toBeLessThan(100);
    // Seeds that differ only above bit 32 give different streams.
    expect(streamSeed(1, "x")).not.toEqual(streamSeed(1 + 2 ** 32, "x"));
  });

  it("the checkpoint lists every spec tensor as F32 and passes checkCheckpoint", () => {
    const c = randomCheckpoint(BIG, 0);
    expect([...c.tensors.keys()]).toEqual(BIG.weights.map((w) => w.name));
    expect(c.tensors.get("model.layers.0.mamba.A_log")).toEqual({ dtype: "F32", shape: [1536, 16] });
    expect(checkCheckpoint(BIG, c)).toEqual({ errors: [], warnings: [] });
  });

  it("bad seeds and unknown names are WeightErrors", async () => {
    expect(await weightError(() => randomCheckpoint(M2, 1.5))).toBe("random(seed=1.5): the seed must be a non-negative integer");
    expect(await weightError(randomCheckpoint(M2, 3).read("nope"))).toBe("random(seed=3): nope: no such tensor in the checkpoint");
  });
});

describe("init", () => {
  const c = randomCheckpoint(BIG, 42);
  const read = (n: string) => c.read(n);

  it("every tensor's init, by role (both the values and the classification)", () => {
    const table = Object.fromEntries(BIG.weights.map((w) => [w.name, w.init]));
    const out = { kind: "normal", std: 0.02 / Math.sqrt(4) };
    const n02 = { kind: "normal", std: 0.02 };
    const one = { kind: "const", value: 1 };
    const zero = { kind: "const", value: 0 };
    expect(table).toEqual({
      "model.embed_tokens.weight": n02,
      "model.layers.0.input_layernorm.weight": one,
      "model.layers.0.input_layernorm.bias": zero,
      "model.layers.0.mamba.in_proj.weight": n02,
      "model.layers.0.mamba.conv1d.weight": { kind: "uniform", bound: 0.5 },
      "model.layers.0.mamba.conv1d.bias": { kind: "uniform", bound: 0.5 },
      "model.layers.0.mamba.x_proj.weight": n02,
      "model.layers.0.mamba.dt_proj.weight": { kind: "uniform", bound: 1 / Math.sqrt(48) },
      "model.layers.0.mamba.dt_proj.bias": { kind: "dt_bias", dtMin: 1e-3, dtMax: 0.1 },
      "model.layers.0.mamba.A_log": { kind: "a_log_rows" },
      "model.layers.0.mamba.D": one,
      "model.layers.0.mamba.out_proj.weight": out,
      "model.layers.1.input_layernorm.weight": one,
      "model.layers.1.input_layernorm.bias": zero,
      "model.layers.1.self_attn.q_proj.weight": n02,
      "model.layers.1.self_attn.k_proj.weight": n02,
      "model.layers.1.self_attn.v_proj.weight": n02,
      "model.layers.1.self_attn.o_proj.weight": out,
      "model.layers.1.pre_ff_layernorm.weight": one,
      "model.layers.1.pre_ff_layernorm.bias": zero,
      "model.layers.1.feed_forward.gate_proj.weight": n02,
      "model.layers.1.feed_forward.up_proj.weight": n02,
      "model.layers.1.feed_forward.down_proj.weight": out,
      "model.layers.2.input_layernorm.weight": one,
      "model.layers.2.input_layernorm.bias": zero,
      "model.layers.2.mamba.in_proj.weight": n02,
      "model.layers.2.mamba.conv1d.weight": { kind: "uniform", bound: 0.5 },
      "model.layers.2.mamba.conv1d.bias": { kind: "uniform", bound: 0.5 },
      "model.layers.2.mamba.x_proj.weight": n02,
      "model.layers.2.mamba.dt_proj.weight": { kind: "uniform", bound: 1 / Math.sqrt(48) },
      "model.layers.2.mamba.dt_proj.bias": { kind: "dt_bias", dtMin: 1e-3, dtMax: 0.1 },
      "model.layers.2.mamba.A_log": { kind: "a_log_rows" },
      "model.layers.2.mamba.D": one,
      "model.layers.2.mamba.out_proj.weight": out,
      "model.final_layernorm.weight": one,
      "model.final_layernorm.bias": zero,
      "lm_head.weight": n02,
    });
  });

  it("mamba1 A_log: every row is exactly log(1), ..., log(16) in float32", async () => {
    const a = await read("model.layers.0.mamba.A_log");
    const row = Float32Array.from({ length: 16 }, (_, j) => Math.log(j + 1));
    for (let e = 0; e < 1536; e++) expect(a.subarray(16 * e, 16 * e + 16)).toEqual(row);
  });

  it("a 768 x 768 linear: mean 0, std within 5% of 0.02, Gaussian mass within 1 and 2 std", async () => {
    const w = await read("model.layers.1.self_attn.q_proj.weight");
    expect(w.length).toBe(768 * 768);
    const s = stats(w);
    expect(Math.abs(s.std / 0.02 - 1)).toBeLessThan(0.05);
    expect(Math.abs(s.std / 0.02 - 1)).toBeLessThan(0.01); // n = 589,824: the sampling error of std is ~0.1%
    expect(Math.abs(s.mean)).toBeLessThan((4 * 0.02) / 768);
    const within = (k: number) => w.filter((v) => Math.abs(v) < k * 0.02).length / w.length;
    expect(within(1)).toBeCloseTo(0.682689, 2);
    expect(within(2)).toBeCloseTo(0.954500, 2);
  });

  it("residual output projections are scaled by 1/sqrt(residual sublayers)", async () => {
    for (const n of ["model.layers.0.mamba.out_proj.weight", "model.layers.1.self_attn.o_proj.weight"]) {
      expect(Math.abs(stats(await read(n)).std / 0.01 - 1)).toBeLessThan(0.05);
    }
  });

  it("conv weights and bias ~ U(-1/sqrt(K), 1/sqrt(K)); dt_proj.weight ~ U(-1/sqrt(R), 1/sqrt(R))", async () => {
    const conv = stats(await read("model.layers.0.mamba.conv1d.weight"));
    expect(conv.min).toBeGreaterThanOrEqual(-0.5);
    expect(conv.max).toBeLessThanOrEqual(0.5);
    expect(conv.min).toBeLessThan(-0.49);
    expect(conv.max).toBeGreaterThan(0.49);
    expect(Math.abs(conv.std / (0.5 / Math.sqrt(3)) - 1)).toBeLessThan(0.05);
    const dtw = stats(await read("model.layers.0.mamba.dt_proj.weight"));
    expect(Math.abs(dtw.std / (1 / Math.sqrt(48) / Math.sqrt(3)) - 1)).toBeLessThan(0.05);
    expect(dtw.max).toBeLessThanOrEqual(1 / Math.sqrt(48));
  });

  it("dt bias: softplus(bias) is log-uniform on [1e-3, 1e-1]", async () => {
    const b = await read("model.layers.0.mamba.dt_proj.bias");
    const logDt = Float64Array.from(b, (x) => Math.log(Math.log1p(Math.exp(x))));
    const lo = Math.log(1e-3);
    const hi = Math.log(1e-1);
    for (const v of logDt) {
      expect(v).toBeGreaterThanOrEqual(lo - 1e-5);
      expect(v).toBeLessThanOrEqual(hi + 1e-5);
    }
    const mean = logDt.reduce((a, v) => a + v, 0) / logDt.length;
    const sd = (hi - lo) / Math.sqrt(12);
    expect(Math.abs(mean - (lo + hi) / 2)).toBeLessThan((4 * sd) / Math.sqrt(logDt.length));
    // One value worked by hand: dt = 0.01 -> bias = ln(e^0.01 - 1) = ln(0.01) + ln(1.0050167084)
    // = -4.60517019 + 0.00500417 = -4.60016602.
    expect(detLog(detExpm1(0.01))).toBeCloseTo(-4.60016602, 7);
  });

  it("ones and zeros: D, norm weights, norm biases", async () => {
    expect([...new Set(await read("model.layers.0.mamba.D"))]).toEqual([1]);
    expect([...new Set(await read("model.final_layernorm.weight"))]).toEqual([1]);
    expect([...new Set(await read("model.layers.1.pre_ff_layernorm.bias"))]).toEqual([0]);
  });

  it("mamba2: A_log = log(U(1, 16)) per head, D = 1, gated norm weight 1, dt_bias log-uniform", async () => {
    const m = randomCheckpoint(M2, 5);
    expect(m.tensors.get("backbone.layers.0.mixer.A_log")!.shape).toEqual([256]);
    const a = Float64Array.from(await m.read("backbone.layers.0.mixer.A_log"), Math.exp);
    expect(Math.min(...a)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...a)).toBeLessThanOrEqual(16 * (1 + 1e-6));
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    expect(Math.abs(mean - 8.5)).toBeLessThan((4 * (15 / Math.sqrt(12))) / 16); // 4 standard errors, n = 256
    expect([...new Set(await m.read("backbone.layers.1.mixer.D"))]).toEqual([1]);
    expect([...new Set(await m.read("backbone.layers.1.mixer.norm.weight"))]).toEqual([1]);
    const dt = Float64Array.from(await m.read("backbone.layers.0.mixer.dt_bias"), (x) => Math.log1p(Math.exp(x)));
    expect(Math.min(...dt)).toBeGreaterThanOrEqual(1e-3 * (1 - 1e-5));
    expect(Math.max(...dt)).toBeLessThanOrEqual(1e-1 * (1 + 1e-5));
  });
});

describe("platform-independent math", () => {
  it("xoshiro128** matches a BigInt transcription of the reference C code", () => {
    const M = 0xffffffffn;
    const rotl = (x: bigint, k: bigint) => ((x << k) | (x >> (32n - k))) & M;
    const state = streamSeed(123, "w");
    let [s0, s1, s2, s3] = state.map(BigInt) as [bigint, bigint, bigint, bigint];
    const rng = new Rng(state);
    for (let i = 0; i < 1000; i++) {
      const result = (rotl((s1 * 5n) & M, 7n) * 9n) & M;
      const t = (s1 << 9n) & M;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = rotl(s3, 11n);
      expect(rng.next()).toBe(Number(result));
    }
  });

  it("uniform() is in (0, 1) and normal() is standard normal", () => {
    const rng = new Rng(streamSeed(9, "n"));
    let lo = 1;
    let hi = 0;
    for (let i = 0; i < 100000; i++) {
      const u = rng.uniform();
      lo = Math.min(lo, u);
      hi = Math.max(hi, u);
    }
    expect(lo).toBeGreaterThan(0);
    expect(hi).toBeLessThan(1);
    const z = Float32Array.from({ length: 200000 }, () => rng.normal());
    const s = stats(z);
    expect(Math.abs(s.mean)).toBeLessThan(4 / Math.sqrt(z.length));
    expect(Math.abs(s.std - 1)).toBeLessThan(0.01);
    const fourth = z.reduce((a, v) => a + v ** 4, 0) / z.length;
    expect(Math.abs(fourth - 3)).toBeLessThan(0.1);
  });

  it("detLog, detExp, detExpm1 agree with libm to 2 ulp over their ranges", () => {
    const ulps = (a: number, b: number) => Math.abs(a - b) / 2 ** (Math.floor(Math.log2(Math.abs(b))) - 52);
    const xs = [1e-300, 5e-324, 1e-10, 1e-3, 0.1, 0.5, 0.7071067811865476, 0.75, 1.0000001, 1.4142135623730951, 1.5, 2, 3, 7, 16, 1e10, 1.7e308];
    for (let i = 1; i <= 5000; i++) xs.push(i / 97, 1 + i * 1e-4, 2 ** (i / 50 - 50));
    expect(detLog(1)).toBe(0);
    for (const x of xs) if (x !== 1) expect(ulps(detLog(x), Math.log(x))).toBeLessThanOrEqual(2);
    for (let i = -4000; i <= 4000; i++) expect(ulps(detExp(i / 7), Math.exp(i / 7))).toBeLessThanOrEqual(2);
    for (let i = -5000; i <= 5000; i++) if (i !== 0) expect(ulps(detExpm1(i / 1e4), Math.expm1(i / 1e4))).toBeLessThanOrEqual(2);
    expect(detExpm1(0)).toBe(0);
  });
});
