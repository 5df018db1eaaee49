/**
 * randomCheckpoint(model, seed): every tensor the spec lists, filled as Mamba / Hugging Face
 * initialize them, generated lazily: each tensor from its own stream seeded by (seed, tensor
 * name), so the order of reads does not matter and the same (model, seed) gives bit-identical
 * values everywhere (prng.ts uses no platform math).
 *   embedding, lm_head, linear weights   N(0, 0.02^2)
 *   out_proj / o_proj / down_proj        N(0, (0.02 / sqrt(R))^2), R = residual sublayers in the model
 *   linear biases, norm biases           0
 *   norm weights (pre-norms, final, mamba2 gated norm, jamba inner norms), D   1
 *   conv1d weight and bias               U(-1/sqrt(K), 1/sqrt(K)), K = d_conv (PyTorch's Conv1d default, groups = C)
 *   mamba1 dt_proj.weight                U(-1/sqrt(dt_rank), 1/sqrt(dt_rank))
 *   dt bias (dt_proj.bias, dt_bias)      softplus^-1(dt), dt = exp(U(ln 1e-3, ln 1e-1))
 *   mamba1 A_log [E, N]                  row e = ln(1), ln(2), ..., ln(N)
 *   mamba2 A_log [H]                     ln(U(1, 16))
 */
import type { BlockConfig, ResolvedModel, WeightTensor } from "../../compiler/check/model.ts";
import type { Checkpoint, TensorMeta } from "./checkpoint.ts";
import { fail } from "./errors.ts";
import { detExp, detExpm1, detLog, Rng, streamSeed } from "./prng.ts";

export const INIT_STD = 0.02;
const DT_MIN = 1e-3;
const DT_MAX = 1e-1;
const A_MAX = 16;

/** How one tensor is initialized (data; `fill` turns it into values). */
export type Init =
  | { readonly kind: "const"; readonly value: number }
  | { readonly kind: "normal"; readonly std: number }
  | { readonly kind: "uniform"; readonly bound: number }
  | { readonly kind: "dt_bias" }
  | { readonly kind: "a_log_rows" }
  | { readonly kind: "a_log_heads" };

const RESIDUAL_OUT = new Set(["out_proj.weight", "o_proj.weight", "down_proj.weight"]);

function blockOf(model: ResolvedModel, w: WeightTensor): BlockConfig | undefined {
  return w.layer === null || w.sublayer === null ? undefined : model.layers[w.layer]?.sublayers[w.sublayer]?.block.config;
}

/** The init of tensor `w` of `model` (by its scheme-independent local name and its block kind). */
export function initOf(model: ResolvedModel, w: WeightTensor): Init {
  const cfg = blockOf(model, w);
  const local = w.local;
  const residuals = model.layers.reduce((n, l) => n + l.sublayers.length, 0);
  if (local === "A_log") return cfg?.kind === "mamba1" ? { kind: "a_log_rows" } : { kind: "a_log_heads" };
  if (local === "dt_bias" || local === "dt_proj.bias") return { kind: "dt_bias" };
  if (local === "dt_proj.weight") return { kind: "uniform", bound: 1 / Math.sqrt(w.shape[1]!) };
  if (local === "D") return { kind: "const", value: 1 };
  if (local.startsWith("conv1d.")) return { kind: "uniform", bound: 1 / Math.sqrt(cfg !== undefined && "dConv" in cfg ? cfg.dConv : 4) };
  if (local.endsWith(".bias")) return { kind: "const", value: 0 };
  const isNorm = local === "input_norm.weight" || local === "final_norm.weight" || local === "norm.weight" || local.endsWith("_layernorm.weight");
  if (isNorm) return { kind: "const", value: 1 };
  if (RESIDUAL_OUT.has(local)) return { kind: "normal", std: INIT_STD / Math.sqrt(Math.max(1, residuals)) };
  return { kind: "normal", std: INIT_STD };
}

/** softplus^-1(y) = ln(e^y - 1), for 0 < y <= 0.5. */
function invSoftplus(y: number): number {
  return detLog(detExpm1(y));
}

/** The values of a tensor of `shape` under `init`, drawn from `rng`. */
export function fill(init: Init, shape: readonly number[], rng: Rng): Float32Array<ArrayBuffer> {
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
      const lo = detLog(DT_MIN);
      const hi = detLog(DT_MAX);
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
      for (let i = 0; i < out.length; i++) out[i] = detLog(1 + (A_MAX - 1) * rng.uniform());
      return out;
  }
}

/** A checkpoint of random weights for `model` (dtype F32); `seed` is any safe integer. */
export function randomCheckpoint(model: ResolvedModel, seed: number): Checkpoint {
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
      return fill(initOf(model, w), w.shape, new Rng(streamSeed(seed, name)));
    },
    close: async () => {},
  };
}
