/**
 * runtime/model.ts on the adapter, against the float64 interpreter of the unoptimized lowered
 * graphs (compiler/interp, the executable definition of every op), for tiny models with
 * Mamba-1, Mamba-2 and attention (GQA with RoPE; MQA with a window):
 *   - chunked prefill (prefillChunk 8) of 1, 5 and 19 tokens (> 2 chunks, the last one short)
 *     gives interp's logits at every prompt position (norm-wise relative error <= 1e-4);
 *   - greedy generation equals argmax over interp's step-by-step reference, token for token;
 *   - sampling: the same seed gives the same tokens, top-k 1 gives the greedy tokens;
 *   - snapshot/restore reproduces a continuation bit for bit; abort, context overflow, stop; the
 *     prefill chunk capped by the binding size limit;
 *   - a model whose attention is all windowed runs past its context (a ring KV cache), against
 *     the step-by-step reference of tests/ir/reference.ts.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_LIMITS } from "../../compiler/codegen/index.ts";
import { lowerDecode, lowerPrefill, type ResolvedModel } from "../../compiler/index.ts";
import { relError } from "../../compiler/interp/index.ts";
import { ContextError, loadModel, promptTokens, type GenerateOptions, type HybridModel } from "../../runtime/model.ts";
import { argmax } from "../../runtime/sample.ts";
import { randomTokens, randomWeights, runGraph, zeroState, type State } from "../ir/fixtures.ts";
import { Reference } from "../ir/reference.ts";
import { runtime } from "../codegen/harness.ts";
import { built, spec, type Spec } from "./built.ts";

const MODELS: readonly [string, string][] = [
  [
    "mamba-1",
    `model tiny_m1 {
  vocab = 256
  d_model = 16
  ssm = mamba1(d_state = 8, expand = 2, d_conv = 4, dt_rank = 2)
  layers = [ssm, ssm]
}`,
  ],
  [
    "mamba-2 + GQA attention (rope) + MLP",
    `model tiny_m2_attn {
  vocab = 96
  d_model = 32
  context = 24
  ssm = mamba2(d_state = 16, expand = 2, d_conv = 4, headdim = 16, chunk = 8)
  attn = attention(heads = 4, kv_heads = 2, rope = rope(theta = 10_000))
  ffn = mlp(swiglu, hidden = 48)
  layers = [ssm, attn + ffn]
}`,
  ],
  [
    "mamba-1 + windowed MQA attention, untied",
    `model tiny_window {
  vocab = 64
  d_model = 16
  tied = false
  context = 40
  ssm = mamba1(d_state = 8, expand = 2, d_conv = 4, dt_rank = 2)
  attn = attention(heads = 4, kv_heads = 1, rope = none, window = 5)
  layers = [ssm, attn]
}`,
  ],
];

const TOL = 1e-4;
const CHUNK = 8;
const GEN = 8;

function resolve(text: string): ResolvedModel {
  return spec(text).model;
}

async function collect(it: AsyncIterable<{ token: number }>): Promise<number[]> {
  const out: number[] = [];
  for await (const t of it) out.push(t.token);
  return out;
}

describe.each(MODELS)("%s", (_, text) => {
  const s = spec(text);
  const m = s.model;
  const f32: Record<string, Float32Array> = {};
  const f64: Record<string, Float64Array> = {};
  for (const [n, a] of Object.entries(randomWeights(m, 21))) {
    f32[n] = Float32Array.from(a);
    f64[n] = Float64Array.from(f32[n]!);
  }
  const ref = { prefill: lowerPrefill(m), decode: lowerDecode(m) };
  let model: HybridModel;
  const gen = (prompt: readonly number[], o: GenerateOptions) => collect(model.generate(prompt, o));

  beforeAll(async () => {
    model = await loadModel(await runtime(), await built(s), f32, { prefillChunk: CHUNK });
  }, 600_000);

  it.each([1, 5, 19])("chunked prefill of %i tokens equals interp at every position", async (n) => {
    expect(model.prefillChunk).toBe(CHUNK);
    const tokens = randomTokens(m, n, 30 + n);
    await model.reset();
    const gpu = await model.prefill(tokens);
    expect(model.position).toBe(n);
    const r = runGraph(ref.prefill, m, f64, tokens, 0, zeroState(m));
    expect(gpu.length).toBe(n * m.vocab);
    expect(relError(Float64Array.from(gpu), r.logits)).toBeLessThanOrEqual(TOL);
  });

  it(`greedy generation of ${GEN} tokens equals argmax over interp's step-by-step reference`, async () => {
    const prompt = randomTokens(m, 11, 5);
    // Reference: interp prefill, then one decode step per token, argmax of float64 logits.
    let r = runGraph(ref.prefill, m, f64, prompt, 0, zeroState(m));
    let logits = r.logits.subarray((prompt.length - 1) * m.vocab);
    let state: State = r.state;
    const expected: number[] = [];
    const refLogits: Float64Array[] = [];
    for (let i = 0; i < GEN; i++) {
      refLogits.push(Float64Array.from(logits));
      const t = argmax(logits);
      expected.push(t);
      r = runGraph(ref.decode, m, f64, [t], prompt.length + i, state);
      state = r.state;
      logits = r.logits;
    }
    const got: number[] = [];
    let i = 0;
    for await (const t of model.generate(prompt, { maxTokens: GEN, temperature: 0 })) {
      expect(relError(Float64Array.from(t.logits), refLogits[i++]!), `logits of token ${i}`).toBeLessThanOrEqual(TOL);
      got.push(t.token);
    }
    expect(got).toEqual(expected);
    expect(model.position).toBe(prompt.length + GEN - 1);
  });

  it("sampling: the same seed gives the same tokens; top-k 1 gives the greedy tokens", async () => {
    const prompt = randomTokens(m, 6, 9);
    const hot = { maxTokens: GEN, temperature: 4, topP: 0.95 };
    const a = await gen(prompt, { ...hot, seed: 1 });
    const b = await gen(prompt, { ...hot, seed: 1 });
    expect(a).toHaveLength(GEN);
    expect(b).toEqual(a);
    const greedy = await gen(prompt, { maxTokens: GEN, temperature: 0 });
    expect(await gen(prompt, { maxTokens: GEN, temperature: 4, topK: 1, seed: 3 })).toEqual(greedy);
  });

  it("snapshot/restore reproduces the same continuation, bit for bit", async () => {
    const prompt = randomTokens(m, 7, 2);
    const next = [3, 1, 4, 1, 5].map((t) => t % m.vocab);
    await model.reset();
    await model.prefill(prompt);
    const snap = await model.snapshot();
    expect(snap.position).toBe(7);
    const first: Float32Array[] = [];
    for (const t of next) first.push(await model.step(t));
    await model.restore(snap);
    expect(model.position).toBe(7);
    for (const [k, t] of next.entries()) expect(await model.step(t), `step ${k}`).toEqual(first[k]);
    await model.restore(snap);
    expect(await model.step(next[0]!)).toEqual(first[0]);
    snap.destroy();
    await expect(model.restore(snap)).rejects.toThrow(/snapshot was destroyed/);
  });

  it("abort stops between tokens with the signal's reason", async () => {
    const ac = new AbortController();
    const seen: number[] = [];
    const run = (async () => {
      for await (const t of model.generate([1, 2, 3], { maxTokens: 50, temperature: 0, signal: ac.signal })) {
        seen.push(t.token);
        if (seen.length === 2) ac.abort();
      }
    })();
    await expect(run).rejects.toMatchObject({ name: "AbortError" });
    expect(seen).toHaveLength(2);
    await expect(gen([1], { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: "AbortError" });
    // The model is usable afterwards.
    expect(await gen([1, 2, 3], { maxTokens: 2, temperature: 0 })).toHaveLength(2);
  });

  it("a later generate() supersedes an earlier one, which then rejects", async () => {
    const first = model.generate([1, 2, 3], { maxTokens: 5, temperature: 0 });
    expect((await first.next()).done).toBe(false);
    const greedy = await gen([4, 5], { maxTokens: 3, temperature: 0 });
    expect(greedy).toHaveLength(3);
    await expect(first.next()).rejects.toThrow("this generation was superseded by a later generate() on the same model");
  });

  it("a stop sequence ends generation right after it; maxTokens 0 yields nothing", async () => {
    const prompt = randomTokens(m, 4, 77);
    const free = await gen(prompt, { maxTokens: GEN, temperature: 0 });
    const stop = free.slice(2, 4);
    // The first place where the tokens so far end with `stop`.
    let end = 2;
    while (!(free[end - 2] === stop[0] && free[end - 1] === stop[1])) end++;
    expect(await gen(prompt, { maxTokens: GEN, temperature: 0, stop })).toEqual(free.slice(0, end));
    expect(await gen(prompt, { maxTokens: 0 })).toEqual([]);
  });

  it("bad tokens and an empty prompt are clear errors", async () => {
    await expect(model.step(m.vocab)).rejects.toThrow(`token ${m.vocab} at index 0 is not an id of this model's vocabulary (0..${m.vocab - 1})`);
    await expect(gen([], {})).rejects.toThrow(/the prompt is empty/);
  });
});

describe("byte-level prompts and context", () => {
  const s1: Spec = spec(MODELS[0]![1]);
  const s2: Spec = spec(MODELS[1]![1]);
  const [m1, m2] = [s1.model, s2.model];

  it("a string prompt is its UTF-8 bytes; a string stop sequence too", async () => {
    const w: Record<string, Float32Array> = {};
    for (const [n, a] of Object.entries(randomWeights(m1, 4))) w[n] = Float32Array.from(a);
    const model = await loadModel(await runtime(), await built(s1), w, { prefillChunk: CHUNK });
    // "héllo": h e(U+00E9 = C3 A9) l l o
    const bytes = [0x68, 0xc3, 0xa9, 0x6c, 0x6c, 0x6f];
    const a = await collect(model.generate("héllo", { maxTokens: 6, temperature: 0 }));
    expect(await collect(model.generate(bytes, { maxTokens: 6, temperature: 0 }))).toEqual(a);
    expect(await collect(model.generate(Uint8Array.from(bytes), { maxTokens: 6, temperature: 0 }))).toEqual(a);
    expect(await collect(model.generate("héllo", { maxTokens: 6, temperature: 0, stop: Uint8Array.of(a[0]!) }))).toEqual(a.slice(0, 1));
    // A string stop sequence is its UTF-8 bytes, as a prompt is.
    expect(promptTokens("é\n", 256)).toEqual([0xc3, 0xa9, 0x0a]);
    // Only a byte-level model reads text as bytes; any other needs its tokenizer (issue 11).
    expect(() => promptTokens("a", 96)).toThrow("this model's vocabulary has 96 tokens, not the 256 bytes of a byte-level model: a text prompt needs its tokenizer");
    expect(() => promptTokens("a", 300)).toThrow("or pass the prompt's token ids");
    model.destroy();
  }, 120_000);

  it("a model whose attention is all windowed runs far past its context (the KV cache is a ring)", async () => {
    // context 12, window 5: from position 4 on, a call keeps 4 keys, so prefill chunks of 8 fit.
    const s = spec(MODELS[2]![1].replace("context = 40", "context = 12"));
    const m = s.model;
    const w32: Record<string, Float32Array> = {};
    const w64: Record<string, Float64Array> = {};
    for (const [n, a] of Object.entries(randomWeights(m, 9))) {
      w32[n] = Float32Array.from(a);
      w64[n] = Float64Array.from(w32[n]!);
    }
    const model = await loadModel(await runtime(), await built(s), w32, { prefillChunk: CHUNK });
    expect(model.context).toBe(Infinity);
    // The reference keeps every key in a plain list: it knows nothing of rings or chunks.
    const ref = new Reference(m, w64);
    const prompt = randomTokens(m, 29, 3);
    const want = ref.forward(prompt);
    await model.reset();
    expect(relError(Float64Array.from(await model.prefill(prompt)), want)).toBeLessThanOrEqual(TOL);
    // Greedy decoding from position 29 to 60, five times past the context.
    let logits = want.subarray((prompt.length - 1) * m.vocab);
    const expected: number[] = [];
    const refLogits: Float64Array[] = [];
    for (let i = 0; i < 32; i++) {
      refLogits.push(Float64Array.from(logits));
      expected.push(argmax(logits));
      logits = Float64Array.from(ref.step(expected[i]!));
    }
    const got: number[] = [];
    for await (const t of model.generate(prompt, { maxTokens: 32, temperature: 0 })) {
      expect(relError(Float64Array.from(t.logits), refLogits[got.length]!), `logits of token ${got.length}`).toBeLessThanOrEqual(TOL);
      got.push(t.token);
    }
    expect(got).toEqual(expected);
    expect(model.position).toBe(60);
    model.destroy();
    // The unfused program (cache_write and attn_mask kernels) reads the same ring.
    const unfused = await loadModel(await runtime(), await built(s, { fuse: false }), w32, { prefillChunk: CHUNK });
    expect(relError(Float64Array.from(await unfused.prefill(prompt)), want)).toBeLessThanOrEqual(TOL);
    unfused.destroy();
  }, 120_000);

  it("the prefill chunk is capped where a buffer would pass the binding size limit", async () => {
    const w: Record<string, Float32Array> = {};
    const w64: Record<string, Float64Array> = {};
    for (const [n, a] of Object.entries(randomWeights(m1, 4))) {
      w[n] = Float32Array.from(a);
      w64[n] = Float64Array.from(w[n]!);
    }
    // Built for 20 KiB per binding: the logits (256 floats a token) fit 20 tokens; every other buffer more.
    const limits = { ...DEFAULT_LIMITS, maxStorageBufferBindingSize: 20 * 1024 };
    const model = await loadModel(await runtime(), await built(s1, { limits }), w, { prefillChunk: 64 });
    expect(model.prefillChunk).toBe(20);
    const tokens = randomTokens(m1, 45, 8);
    const want = runGraph(lowerPrefill(m1), m1, w64, tokens, 0, zeroState(m1)).logits;
    expect(relError(Float64Array.from(await model.prefill(tokens)), want)).toBeLessThanOrEqual(TOL);
    model.destroy();
  }, 120_000);

  it("passing the KV cache's context is a ContextError, in prefill and in generation", async () => {
    const w: Record<string, Float32Array> = {};
    for (const [n, a] of Object.entries(randomWeights(m2, 4))) w[n] = Float32Array.from(a);
    // prefillChunk 128 is capped at context = 24.
    const model = await loadModel(await runtime(), await built(s2), w);
    expect(model.context).toBe(24);
    expect(model.prefillChunk).toBe(24);
    await model.reset();
    const e = await model.prefill(new Array<number>(25).fill(1)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ContextError);
    expect((e as Error).message).toBe("25 tokens at position 0 pass the model's context of 24 tokens (its KV cache rows); raise `context` in the spec or use a shorter prompt");
    // 20 prompt tokens: tokens 1..5 are sampled at positions 20..24; the 6th would need row 24.
    const seen: number[] = [];
    const run = (async () => {
      for await (const t of model.generate(new Array<number>(20).fill(2), { maxTokens: 10, temperature: 0 })) seen.push(t.token);
    })();
    await expect(run).rejects.toThrow("the context of 24 tokens is full after 5 generated tokens (prompt: 20); raise `context` in the spec or generate fewer tokens");
    expect(seen).toHaveLength(5);
    model.destroy();
  }, 120_000);
});
