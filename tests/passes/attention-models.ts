/**
 * Random small attention + MLP models for the linear fusions' property tests: any head count
 * with GQA (kv heads dividing heads), head dims unrelated to d_model, RoPE on all or half of a
 * head or none, sliding windows, biases, SwiGLU / GELU / ReLU^2 MLPs, RMSNorm or LayerNorm,
 * and MLPs after Mamba mixers too.
 */
import fc from "fast-check";
import type { BlockConfig, MlpConfig, NormConfig } from "../../compiler/check/model.ts";
import { attention, mamba1, mamba2, mlp } from "../ir/fixtures.ts";

const divisors = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1).filter((d) => n % d === 0);

export const attentionArb = (D: number): fc.Arbitrary<BlockConfig> =>
  fc
    .constantFrom(1, 2, 4)
    .chain((heads) =>
      fc.record({
        heads: fc.constant(heads),
        kvHeads: fc.constantFrom(...divisors(heads)),
        headDim: fc.constantFrom(2, 4, 8),
        fraction: fc.constantFrom(null, 1, 0.5),
        window: fc.constantFrom(null, 3),
        bias: fc.boolean(),
      }),
    )
    .filter((o) => o.fraction !== 0.5 || o.headDim % 4 === 0)
    .map(({ fraction, ...o }) => attention(D, { ...o, rope: fraction === null ? null : { theta: 100, fraction } }));

export const mlpArb: fc.Arbitrary<MlpConfig> = fc
  .record({ activation: fc.constantFrom("swiglu" as const, "gelu" as const, "relu2" as const), hidden: fc.integer({ min: 1, max: 16 }), bias: fc.boolean() })
  .map((o) => mlp(o));

/** One layer: attention + MLP (most often), an MLP alone, or a Mamba mixer + MLP. */
export const layerArb = (D: number): fc.Arbitrary<BlockConfig[]> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.tuple(attentionArb(D), mlpArb).map((l): BlockConfig[] => l) },
    { weight: 1, arbitrary: mlpArb.map((m): BlockConfig[] => [m]) },
    { weight: 1, arbitrary: mlpArb.map((m): BlockConfig[] => [mamba1(D, { dState: 4 }), m]) },
    { weight: 1, arbitrary: mlpArb.map((m): BlockConfig[] => [mamba2(D, { dState: 4, headdim: 4, chunk: 3 }), m]) },
  );

export const normArb: fc.Arbitrary<NormConfig> = fc.constantFrom({ kind: "rmsnorm", eps: 1e-5 }, { kind: "layernorm", eps: 1e-6 });

/** A random model case: d_model, 1-2 layers, norm, tied or not, a prompt length, a seed, prefill or decode. */
export const caseArb = fc.constantFrom(4, 6, 8).chain((D) =>
  fc.record({
    D: fc.constant(D),
    layers: fc.array(layerArb(D), { minLength: 1, maxLength: 2 }),
    norm: normArb,
    tied: fc.boolean(),
    L: fc.integer({ min: 1, max: 9 }),
    seed: fc.integer({ min: 1, max: 1 << 30 }),
    decode: fc.boolean(),
  }),
);
