/**
 * Hugging Face configs for the import tests, written with the key names transformers' configuration_*.py
 * files publish (sizes of released models where they are known), and each config's parameter count
 * computed here from its keys, independently of the importer, by the module shapes of the
 * families' modeling_*.py (nn.Linear(in, out) holds out*in weights, plus out for a bias).
 */

export type HfConfig = Readonly<Record<string, unknown>>;

const linear = (inp: number, out: number, bias = false) => inp * out + (bias ? out : 0);

/** MambaMixer: in_proj, conv1d, x_proj, dt_proj, A_log, D, out_proj (+ Jamba's three inner norms). */
function mamba1Params(d: number, E: number, N: number, K: number, R: number, convBias: boolean, bias: boolean, innerNorms: boolean): number {
  return linear(d, 2 * E, bias) + E * K + (convBias ? E : 0) + linear(E, R + 2 * N) + linear(R, E, true) + E * N + E + linear(E, d, bias) + (innerNorms ? R + 2 * N : 0);
}

/** Mamba2Mixer: in_proj [z|xBC|dt], conv1d over xBC, dt_bias, A_log, D, gated norm, out_proj. */
function mamba2Params(d: number, H: number, P: number, G: number, N: number, K: number, convBias: boolean, bias: boolean): number {
  const E = H * P;
  const conv = E + 2 * G * N;
  return linear(d, E + conv + H, bias) + conv * K + (convBias ? conv : 0) + 3 * H + E + linear(E, d, bias);
}

function attentionParams(d: number, heads: number, kv: number, hd: number): number {
  return linear(d, heads * hd) + 2 * linear(d, kv * hd) + linear(heads * hd, d);
}

const num = (c: HfConfig, k: string) => c[k] as number;

function head(c: HfConfig, d: number, vocab: number, tiedDefault: boolean): number {
  const tied = (c["tie_word_embeddings"] as boolean | undefined) ?? tiedDefault;
  return vocab * d + d + (tied ? 0 : vocab * d);
}

export interface Case {
  readonly name: string;
  readonly config: HfConfig;
  readonly parameters: number;
}

// state-spaces/mamba-130m-hf
const mamba: HfConfig = {
  architectures: ["MambaForCausalLM"],
  model_type: "mamba",
  vocab_size: 50280,
  hidden_size: 768,
  state_size: 16,
  num_hidden_layers: 24,
  layer_norm_epsilon: 1e-5,
  expand: 2,
  conv_kernel: 4,
  use_bias: false,
  use_conv_bias: true,
  hidden_act: "silu",
  time_step_rank: 48,
  residual_in_fp32: true,
};

// mistralai/Mamba-Codestral-7B-v0.1 (n_groups 8), with Python's bare Infinity in time_step_limit.
const mamba2: HfConfig = {
  architectures: ["Mamba2ForCausalLM"],
  model_type: "mamba2",
  vocab_size: 32768,
  hidden_size: 4096,
  num_hidden_layers: 64,
  num_heads: 128,
  head_dim: 64,
  state_size: 128,
  n_groups: 8,
  expand: 2,
  conv_kernel: 4,
  chunk_size: 256,
  use_bias: false,
  use_conv_bias: true,
  layer_norm_epsilon: 1e-5,
  rms_norm: true,
  tie_word_embeddings: false,
  time_step_limit: [0.0, Infinity],
};

// ai21labs/Jamba-tiny-random's layout (attention period 4 offset 2) with dense MLPs (num_experts 1).
const jamba: HfConfig = {
  architectures: ["JambaForCausalLM"],
  model_type: "jamba",
  vocab_size: 65536,
  hidden_size: 128,
  intermediate_size: 256,
  num_hidden_layers: 8,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  attn_layer_period: 4,
  attn_layer_offset: 2,
  num_experts: 1,
  expert_layer_period: 2,
  expert_layer_offset: 1,
  mamba_d_state: 16,
  mamba_d_conv: 4,
  mamba_expand: 2,
  mamba_dt_rank: 8,
  mamba_conv_bias: true,
  mamba_proj_bias: false,
  rms_norm_eps: 1e-6,
  tie_word_embeddings: false,
  sliding_window: null,
};

// ibm-fms/Bamba-9B
const bamba: HfConfig = {
  architectures: ["BambaForCausalLM"],
  model_type: "bamba",
  vocab_size: 128256,
  hidden_size: 4096,
  intermediate_size: 14336,
  num_hidden_layers: 32,
  num_attention_heads: 32,
  num_key_value_heads: 8,
  attn_layer_indices: [9, 18, 27],
  mamba_n_heads: 128,
  mamba_d_head: 64,
  mamba_n_groups: 1,
  mamba_d_state: 128,
  mamba_d_conv: 4,
  mamba_expand: 2,
  mamba_chunk_size: 256,
  mamba_conv_bias: true,
  mamba_proj_bias: false,
  rms_norm_eps: 1e-5,
  rope_theta: 10000.0,
  tie_word_embeddings: false,
};

// nvidia/Nemotron-H-8B-Base-8K
const nemotronH: HfConfig = {
  architectures: ["NemotronHForCausalLM"],
  model_type: "nemotron_h",
  vocab_size: 131072,
  hidden_size: 4096,
  num_hidden_layers: 52,
  hybrid_override_pattern: "M-M-M-M*-M-M-M-M-M*-M-M-M-M-M*-M-M-M-M-M*-M-M-M-M-M-",
  num_attention_heads: 32,
  num_key_value_heads: 8,
  attention_head_dim: 128,
  intermediate_size: 21504,
  mlp_hidden_act: "relu2",
  mamba_num_heads: 128,
  mamba_head_dim: 64,
  ssm_state_size: 128,
  n_groups: 8,
  conv_kernel: 4,
  chunk_size: 128,
  use_conv_bias: true,
  use_bias: false,
  mlp_bias: false,
  attention_bias: false,
  layer_norm_epsilon: 1e-5,
  tie_word_embeddings: false,
};

// A Zamba2 config whose layers are all Mamba-2 (hybrid layers are refused).
const zamba2: HfConfig = {
  architectures: ["Zamba2ForCausalLM"],
  model_type: "zamba2",
  vocab_size: 32000,
  hidden_size: 1024,
  num_hidden_layers: 6,
  layers_block_type: ["mamba", "mamba", "mamba", "mamba", "mamba", "mamba"],
  mamba_d_state: 64,
  mamba_d_conv: 4,
  mamba_expand: 2,
  mamba_ngroups: 1,
  n_mamba_heads: 32,
  chunk_size: 256,
  add_bias_linear: false,
  rms_norm_eps: 1e-5,
  tie_word_embeddings: true,
};

function mambaCount(c: HfConfig): number {
  const d = num(c, "hidden_size");
  const E = num(c, "expand") * d;
  const layer = d + mamba1Params(d, E, num(c, "state_size"), num(c, "conv_kernel"), num(c, "time_step_rank"), c["use_conv_bias"] as boolean, c["use_bias"] as boolean, false);
  return num(c, "num_hidden_layers") * layer + head(c, d, num(c, "vocab_size"), true);
}

function mamba2Count(c: HfConfig): number {
  const d = num(c, "hidden_size");
  const layer = d + mamba2Params(d, num(c, "num_heads"), num(c, "head_dim"), num(c, "n_groups"), num(c, "state_size"), num(c, "conv_kernel"), true, false);
  return num(c, "num_hidden_layers") * layer + head(c, d, num(c, "vocab_size"), false);
}

function jambaCount(c: HfConfig): number {
  const d = num(c, "hidden_size");
  const E = num(c, "mamba_expand") * d;
  const ssm = mamba1Params(d, E, num(c, "mamba_d_state"), num(c, "mamba_d_conv"), num(c, "mamba_dt_rank"), true, false, true);
  const attn = attentionParams(d, num(c, "num_attention_heads"), num(c, "num_key_value_heads"), d / num(c, "num_attention_heads"));
  const ffn = 3 * d * num(c, "intermediate_size");
  let total = head(c, d, num(c, "vocab_size"), false);
  for (let i = 0; i < num(c, "num_hidden_layers"); i++) total += 2 * d + ffn + (i % num(c, "attn_layer_period") === num(c, "attn_layer_offset") ? attn : ssm);
  return total;
}

function bambaCount(c: HfConfig): number {
  const d = num(c, "hidden_size");
  const ssm = mamba2Params(d, num(c, "mamba_n_heads"), num(c, "mamba_d_head"), num(c, "mamba_n_groups"), num(c, "mamba_d_state"), num(c, "mamba_d_conv"), true, false);
  const attn = attentionParams(d, num(c, "num_attention_heads"), num(c, "num_key_value_heads"), d / num(c, "num_attention_heads"));
  const ffn = 3 * d * num(c, "intermediate_size");
  const attnAt = c["attn_layer_indices"] as number[];
  let total = head(c, d, num(c, "vocab_size"), false);
  for (let i = 0; i < num(c, "num_hidden_layers"); i++) total += 2 * d + ffn + (attnAt.includes(i) ? attn : ssm);
  return total;
}

function nemotronCount(c: HfConfig): number {
  const d = num(c, "hidden_size");
  const per: Record<string, number> = {
    M: mamba2Params(d, num(c, "mamba_num_heads"), num(c, "mamba_head_dim"), num(c, "n_groups"), num(c, "ssm_state_size"), num(c, "conv_kernel"), true, false),
    "*": attentionParams(d, num(c, "num_attention_heads"), num(c, "num_key_value_heads"), num(c, "attention_head_dim")),
    "-": 2 * d * num(c, "intermediate_size"),
  };
  let total = head(c, d, num(c, "vocab_size"), false);
  for (const ch of c["hybrid_override_pattern"] as string) total += d + per[ch]!;
  return total;
}

function zamba2Count(c: HfConfig): number {
  const d = num(c, "hidden_size");
  const H = num(c, "n_mamba_heads");
  const P = (num(c, "mamba_expand") * d) / H;
  const layer = d + mamba2Params(d, H, P, num(c, "mamba_ngroups"), num(c, "mamba_d_state"), num(c, "mamba_d_conv"), true, false);
  return num(c, "num_hidden_layers") * layer + head(c, d, num(c, "vocab_size"), true);
}

export const IMPORTED: readonly Case[] = [
  { name: "mamba", config: mamba, parameters: mambaCount(mamba) },
  { name: "mamba2", config: mamba2, parameters: mamba2Count(mamba2) },
  { name: "jamba", config: jamba, parameters: jambaCount(jamba) },
  { name: "bamba", config: bamba, parameters: bambaCount(bamba) },
  { name: "nemotron_h", config: nemotronH, parameters: nemotronCount(nemotronH) },
  { name: "zamba2", config: zamba2, parameters: zamba2Count(zamba2) },
];

export interface Refusal {
  readonly name: string;
  readonly config: HfConfig;
  /** The config key the message must name, and words of the feature it must name. */
  readonly key: string;
  readonly feature: RegExp;
}

export const REFUSED: readonly Refusal[] = [
  // tiiuae/Falcon-H1-0.5B-Base's sizes.
  {
    name: "falcon_h1 (parallel attention and Mamba-2)",
    config: { model_type: "falcon_h1", hidden_size: 1024, num_hidden_layers: 36, num_attention_heads: 8, num_key_value_heads: 2, mamba_n_heads: 24, mamba_d_head: 64, mamba_d_ssm: 1536, embedding_multiplier: 5.656854249492381 },
    key: "num_attention_heads",
    feature: /parallel mixers/,
  },
  // Zyphra/Zamba2-1.2B-like: shared transformer blocks at the hybrid layers.
  {
    name: "zamba2 (shared transformer blocks)",
    config: { ...zamba2, layers_block_type: ["mamba", "mamba", "hybrid", "mamba", "mamba", "hybrid"], num_mem_blocks: 1 },
    key: "layers_block_type",
    feature: /shared transformer blocks: layers 2, 5/,
  },
  { name: "jamba (mixture of experts)", config: { ...jamba, num_experts: 16, num_experts_per_tok: 2 }, key: "num_experts", feature: /mixture-of-experts MLPs on layers 1, 3, 5, 7/ },
  { name: "nemotron_h (MoE layers)", config: { ...nemotronH, hybrid_override_pattern: "MEM*EM", num_hidden_layers: 6 }, key: "hybrid_override_pattern", feature: /mixture-of-experts layers at 1, 4/ },
  { name: "mamba2 (a layer_types list with attention)", config: { ...mamba2, layer_types: ["mamba", "attention"] }, key: "layer_types", feature: /a layer of type "attention" in a mamba2 model/ },
  { name: "jamba (MoE as num_local_experts)", config: { ...jamba, num_experts: undefined, num_local_experts: 4 }, key: "num_local_experts", feature: /mixture-of-experts/ },
  { name: "mamba2 (dt clamp)", config: { ...mamba2, time_step_limit: [0.001, 0.1] }, key: "time_step_limit", feature: /dt clamped/ },
  { name: "bamba (RoPE scaling)", config: { ...bamba, rope_scaling: { type: "linear", factor: 2.0 } }, key: "rope_scaling", feature: /RoPE scaling/ },
  { name: "jamba (sliding window)", config: { ...jamba, sliding_window: 4096 }, key: "sliding_window", feature: /sliding-window attention/ },
  { name: "nemotron_h (Nano v2: 128 heads of 80 on 4480)", config: { ...nemotronH, hidden_size: 4480, mamba_head_dim: 80 }, key: "mamba_num_heads", feature: /not a whole multiple of `hidden_size` = 4480/ },
];

/** Python's json.dumps: bare Infinity where JSON has no literal for it. */
export function pythonJson(config: HfConfig): string {
  return JSON.stringify(config, (_k, v: unknown) => (v === Infinity ? "__inf__" : v), 2).replace(/"__inf__"/g, "Infinity");
}
