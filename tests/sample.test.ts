/**
 * runtime/sample.ts against distributions computed by hand: logits ln(1..4) give p = (1, 2, 3, 4)/10,
 * a temperature of 1/2 squares the weights, top-k and top-p cut the sorted list and renormalize.
 * Sampled frequencies over 20,000 draws must lie within 3 sigma of the exact probabilities.
 */
import { describe, expect, it } from "vitest";
import { argmax, createRng, distribution, sample, type SampleOptions } from "../runtime/sample.ts";

const LN = Float32Array.from([1, 2, 3, 4], Math.log);
const DRAWS = 20_000;

/** Counts per token id over DRAWS samples with a fixed seed. */
function frequencies(logits: Float32Array, opts: SampleOptions, seed = 7): number[] {
  const rng = createRng(seed);
  const counts = new Array<number>(logits.length).fill(0);
  for (let i = 0; i < DRAWS; i++) counts[sample(logits, opts, rng)]!++;
  return counts;
}

/** Every count within 3 sigma of DRAWS * p (binomial), and exactly 0 where p = 0. */
function expectFrequencies(counts: readonly number[], exact: readonly number[]): void {
  exact.forEach((p, i) => {
    if (p === 0) return expect(counts[i], `token ${i} must never be drawn`).toBe(0);
    const sigma = Math.sqrt(DRAWS * p * (1 - p));
    expect(Math.abs(counts[i]! - DRAWS * p), `token ${i}: ${counts[i]} draws, expected ${DRAWS * p} ± ${3 * sigma}`).toBeLessThanOrEqual(3 * sigma);
  });
}

describe("greedy", () => {
  it("temperature 0 is the argmax, ties to the lowest id, NaN never wins", () => {
    const rng = createRng(1);
    expect(sample(Float32Array.from([0, 3, 1, 3]), { temperature: 0 }, rng)).toBe(1);
    expect(sample(Float32Array.from([NaN, -5, -7]), { temperature: 0 }, rng)).toBe(1);
    expect(argmax([2, 2, 2])).toBe(0);
    expect(sample(Float32Array.from([-1]), { temperature: 0 }, rng)).toBe(0);
  });

  it("top-k 1 is greedy at any temperature, whatever the draws", () => {
    const rng = createRng(3);
    const logits = Float32Array.from([0.5, 2, -1, 2, 1.9]);
    for (let i = 0; i < 200; i++) expect(sample(logits, { temperature: 1.7, topK: 1 }, rng)).toBe(1);
  });
});

describe("distributions", () => {
  it("temperature 1: p = (1, 2, 3, 4) / 10", () => {
    const d = distribution(LN, { temperature: 1 });
    expect(d.ids).toEqual([3, 2, 1, 0]);
    [0.4, 0.3, 0.2, 0.1].forEach((p, k) => expect(d.probs[k]).toBeCloseTo(p, 6));
    expectFrequencies(frequencies(LN, { temperature: 1 }), [0.1, 0.2, 0.3, 0.4]);
  });

  it("temperature 1/2 squares the weights: (1, 4, 9, 16) / 30", () => {
    expectFrequencies(frequencies(LN, { temperature: 0.5 }), [1 / 30, 4 / 30, 9 / 30, 16 / 30]);
  });

  it("top-k 2 keeps tokens 3 and 2: (3/7, 4/7)", () => {
    expectFrequencies(frequencies(LN, { temperature: 1, topK: 2 }), [0, 0, 3 / 7, 4 / 7]);
  });

  it("top-p 0.65 keeps 0.4 + 0.3 (the smallest set reaching 0.65)", () => {
    expect(distribution(LN, { temperature: 1, topP: 0.65 }).ids).toEqual([3, 2]);
    expectFrequencies(frequencies(LN, { temperature: 1, topP: 0.65 }), [0, 0, 3 / 7, 4 / 7]);
  });

  it("top-p 0.75 keeps three tokens: (2, 3, 4) / 9", () => {
    expectFrequencies(frequencies(LN, { temperature: 1, topP: 0.75 }), [0, 2 / 9, 3 / 9, 4 / 9]);
  });

  it("top-k 3 then top-p 0.5: within {1, 2, 3}, p = (2, 3, 4) / 9; 4/9 < 0.5 so two stay: (3/7, 4/7)", () => {
    expectFrequencies(frequencies(LN, { temperature: 1, topK: 3, topP: 0.5 }), [0, 0, 3 / 7, 4 / 7]);
  });

  it("ties in top-k and top-p go to the lower id", () => {
    const equal = Float32Array.from([1, 1, 1, 1, 1]);
    expect(distribution(equal, { temperature: 1, topK: 2 }).ids).toEqual([0, 1]);
    expect(distribution(equal, { temperature: 1, topP: 0.5 }).ids).toEqual([0, 1, 2]);
    expectFrequencies(frequencies(equal, { temperature: 1, topK: 3 }), [1 / 3, 1 / 3, 1 / 3, 0, 0]);
  });

  it("large logits do not overflow (max subtraction)", () => {
    const big = Float32Array.from([1000, 1000 + Math.log(3)]);
    expectFrequencies(frequencies(big, { temperature: 1 }), [0.25, 0.75]);
  });
});

describe("generator and options", () => {
  it("the same seed gives the same stream; another seed another; draws lie in [0, 1) and are uniform", () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const xs = Array.from({ length: DRAWS }, () => a());
    expect(Array.from({ length: DRAWS }, () => b())).toEqual(xs);
    expect(Array.from({ length: 8 }, () => c())).not.toEqual(xs.slice(0, 8));
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const bins = new Array<number>(10).fill(0);
    for (const x of xs) bins[Math.floor(x * 10)]!++;
    expectFrequencies(bins, new Array<number>(10).fill(0.1));
  });

  it("out-of-range options are RangeErrors that name the option", () => {
    const rng = createRng(0);
    expect(() => sample(LN, { temperature: -1 }, rng)).toThrow(/temperature must be a finite number >= 0, got -1/);
    expect(() => sample(LN, { temperature: 1, topK: 1.5 }, rng)).toThrow(/top-k must be an integer >= 0/);
    expect(() => sample(LN, { temperature: 1, topP: 0 }, rng)).toThrow(/top-p must be in \(0, 1\]/);
    expect(() => sample(LN, { temperature: 0, topP: 2 }, rng)).toThrow(/top-p/);
  });
});
