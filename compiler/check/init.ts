/**
 * How `--init random` fills each tensor of a model, as Mamba and Hugging Face initialize them
 * (data: the artifact carries it, runtime/weights/random.ts draws the values):
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
import type { WeightInit } from "../../runtime/artifact/types.ts";
import type { BlockConfig, ResolvedModel, WeightTensor } from "./model.ts";

export const INIT_STD = 0.02;
const DT_MIN = 1e-3;
const DT_MAX = 1e-1;
const A_MAX = 16;

const RESIDUAL_OUT = new Set(["out_proj.weight", "o_proj.weight", "down_proj.weight"]);

function blockOf(model: ResolvedModel, w: WeightTensor): BlockConfig | undefined {
  return w.layer === null || w.sublayer === null ? undefined : model.layers[w.layer]?.sublayers[w.sublayer]?.block.config;
}

/** The init of tensor `w` of `model` (by its scheme-independent local name and its block kind). */
export function initOf(model: ResolvedModel, w: WeightTensor): WeightInit {
  const cfg = blockOf(model, w);
  const local = w.local;
  const residuals = model.layers.reduce((n, l) => n + l.sublayers.length, 0);
  if (local === "A_log") return cfg?.kind === "mamba1" ? { kind: "a_log_rows" } : { kind: "a_log_heads", aMax: A_MAX };
  if (local === "dt_bias" || local === "dt_proj.bias") return { kind: "dt_bias", dtMin: DT_MIN, dtMax: DT_MAX };
  if (local === "dt_proj.weight") return { kind: "uniform", bound: 1 / Math.sqrt(w.shape[1]!) };
  if (local === "D") return { kind: "const", value: 1 };
  if (local.startsWith("conv1d.")) return { kind: "uniform", bound: 1 / Math.sqrt(cfg !== undefined && "dConv" in cfg ? cfg.dConv : 4) };
  if (local.endsWith(".bias")) return { kind: "const", value: 0 };
  const isNorm = local === "input_norm.weight" || local === "final_norm.weight" || local === "norm.weight" || local.endsWith("_layernorm.weight");
  if (isNorm) return { kind: "const", value: 1 };
  if (RESIDUAL_OUT.has(local)) return { kind: "normal", std: INIT_STD / Math.sqrt(Math.max(1, residuals)) };
  return { kind: "normal", std: INIT_STD };
}
