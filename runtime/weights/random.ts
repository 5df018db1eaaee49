/**
 * randomCheckpoint(artifact, seed): every tensor the artifact lists, filled as its `init` says
 * (the compiler decides the init of each tensor, Mamba / Hugging Face conventions:
 * compiler/check/init.ts), generated lazily: each tensor from its own stream seeded by (seed,
 * tensor name), so the order of reads does not matter and the same (model, seed) gives
 * bit-identical values everywhere (prng.ts uses no platform math).
 */
import type { WeightArtifact, WeightInit } from "../artifact/types.ts";
import type { Checkpoint, TensorMeta } from "./checkpoint.ts";
import { fail } from "./errors.ts";
import { detExp, detExpm1, detLog, Rng, streamSeed } from "./prng.ts";

/** softplus^-1(y) = ln(e^y - 1), for 0 < y <= 0.5. */
function invSoftplus(y: number): number {
  return detLog(detExpm1(y));
}

/** The values of a tensor of `shape` under `init`, drawn from `rng`. */
export function fill(init: WeightInit, shape: readonly number[], rng: Rng): Float32Array<ArrayBuffer> {
  const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
  switch (init.kind) {
    case "const":
      return out.fill(init.value);
    case "normal":
      for (let i = 0; i < out.length; i++) out[i] = init.std * rng.normal();
      return out;
    case "uniform":
      for (let i = 0; i < out.length; i++) out[i] = init.bound * (2 * rng.uniform() - 1);
      return out;
    case "dt_bias": {
      const lo = detLog(init.dtMin);
      const hi = detLog(init.dtMax);
      for (let i = 0; i < out.length; i++) out[i] = invSoftplus(detExp(lo + (hi - lo) * rng.uniform()));
      return out;
    }
    case "a_log_rows": {
      const n = shape[shape.length - 1]!;
      const row = Array.from({ length: n }, (_, j) => detLog(j + 1));
      for (let i = 0; i < out.length; i++) out[i] = row[i % n]!;
      return out;
    }
    case "a_log_heads":
      for (let i = 0; i < out.length; i++) out[i] = detLog(1 + (init.aMax - 1) * rng.uniform());
      return out;
  }
}

/** A checkpoint of random weights for a model's tensors (dtype F32); `seed` is any safe integer. */
export function randomCheckpoint(model: { readonly weights: readonly WeightArtifact[] }, seed: number): Checkpoint {
  const label = `random(seed=${seed})`;
  if (!Number.isSafeInteger(seed) || seed < 0) fail(label, "the seed must be a non-negative integer");
  const byName = new Map(model.weights.map((w) => [w.name, w]));
  const tensors = new Map<string, TensorMeta>(model.weights.map((w) => [w.name, { dtype: "F32", shape: w.shape }]));
  return {
    label,
    tensors,
    metadata: { format: "pt", generator: "hybridc randomCheckpoint", seed: String(seed) },
    read: async (name) => {
      const w = byName.get(name);
      if (w === undefined) return fail(label, "no such tensor in the checkpoint", name);
      return fill(w.init, w.shape, new Rng(streamSeed(seed, name)));
    },
    close: async () => {},
  };
}
