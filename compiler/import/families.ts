/**
 * One importer per Hugging Face `model_type`: the config's keys (transformers' defaults for
 * absent ones, read from each family's configuration_*.py) to a SpecPlan, or an ImportError
 * naming the feature the .hyb language cannot express and its config key. What each family
 * computes is transformers' modeling_*.py (the notes say where that differs from mamba_ssm):
 *   mamba       MambaForCausalLM     every layer Mamba-1; `backbone.*` names ("mamba")
 *   mamba2      Mamba2ForCausalLM    every layer Mamba-2; `backbone.*` names ("mamba")
 *   jamba       JambaForCausalLM     Mamba-1 (inner dt/B/C norms) or attention + SwiGLU MLP; MoE refused
 *   bamba       BambaForCausalLM     Mamba-2 or attention (RoPE on half the head) + SwiGLU MLP
 *   nemotron_h  NemotronHForCausalLM one op per layer: Mamba-2, attention (no RoPE) or ReLU² MLP; MoE refused
 *   falcon_h1   refused: attention and Mamba-2 in parallel in every layer, µP multipliers
 *   zamba2      Mamba-2 layers only; hybrid layers (shared transformer blocks) refused
 */
import { MAX_LAYERS } from "../check/layers.ts";
import { ImportError, integerExpand, type Config } from "./config.ts";
import { num, type BlockPlan } from "./spec.ts";

/** What a family decides; the name and the header are added by importConfig. */
export interface FamilyPlan {
  readonly architecture: string;
  readonly vocab: number;
  readonly dModel: number;
  readonly eps: number;
  readonly tied: boolean;
  readonly weights: "mamba" | "jamba";
  readonly blocks: readonly BlockPlan[];
  readonly layers: readonly (readonly string[])[];
  readonly notes: readonly string[];
  /** max_position_embeddings, when the family has attention and the config says. */
  readonly maxPositions?: number;
}

export type Family = (cfg: Config) => FamilyPlan;

// ---- blocks -------------------------------------------------------------------------------

interface Mamba1 {
  readonly dState: number;
  readonly expand: number;
  readonly dConv: number;
  readonly dtRank: number;
  readonly convBias: boolean;
  readonly bias: boolean;
  readonly innerNorms: boolean;
}

function mamba1(name: string, m: Mamba1): BlockPlan {
  return {
    name,
    kind: "mamba1",
    args: [
      ["d_state", num(m.dState)],
      ["expand", num(m.expand)],
      ["d_conv", num(m.dConv)],
      ["dt_rank", num(m.dtRank)],
      ...(m.convBias ? [] : [["conv_bias", "false"] as const]),
      ...(m.bias ? [["bias", "true"] as const] : []),
      ...(m.innerNorms ? [["inner_norms", "true"] as const] : []),
    ],
  };
}

interface Mamba2 {
  readonly dState: number;
  readonly expand: number;
  readonly dConv: number;
  readonly headdim: number;
  readonly ngroups: number;
  readonly chunk: number;
  readonly convBias: boolean;
  readonly bias: boolean;
}

/** The gated norm normalizes groups of d_inner / ngroups channels (the .hyb default, mamba_ssm's). */
function mamba2(name: string, m: Mamba2): BlockPlan {
  return {
    name,
    kind: "mamba2",
    args: [
      ["d_state", num(m.dState)],
      ["expand", num(m.expand)],
      ["d_conv", num(m.dConv)],
      ["headdim", num(m.headdim)],
      ["ngroups", num(m.ngroups)],
      ["chunk", num(m.chunk)],
      ...(m.convBias ? [] : [["conv_bias", "false"] as const]),
      ...(m.bias ? [["bias", "true"] as const] : []),
    ],
  };
}

interface Attention {
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  /** null: no positional encoding. */
  readonly rope: { readonly theta: number; readonly fraction: number } | null;
}

function attention(name: string, a: Attention): BlockPlan {
  const rope = a.rope === null ? "none" : a.rope.fraction === 1 ? num(a.rope.theta) : `rope(theta = ${num(a.rope.theta)}, fraction = ${num(a.rope.fraction)})`;
  return { name, kind: "attention", args: [["heads", num(a.heads)], ["kv_heads", num(a.kvHeads)], ["head_dim", num(a.headDim)], ["rope", rope]] };
}

function mlp(name: string, activation: "swiglu" | "relu2" | "gelu", hidden: number, bias: boolean): BlockPlan {
  return { name, kind: "mlp", positional: activation, args: [["hidden", num(hidden)], ...(bias ? [["bias", "true"] as const] : [])] };
}

// ---- checks shared by families --------------------------------------------------------------

/** The SSM's activation (conv and gate): the .hyb blocks use SiLU. */
function requireSilu(cfg: Config, key: string, fallback: string): void {
  const act = cfg.string(key, fallback);
  if (act !== "silu" && act !== "swish") cfg.refuse(key, `activation ${act}: the .hyb SSM blocks and SwiGLU use SiLU`);
}

/** dt clamped after softplus (`time_step_limit` other than (0, inf)): the .hyb blocks do not clamp. */
function requireNoDtLimit(cfg: Config, key: string): void {
  const r = cfg.range(key);
  if (r !== undefined && !(r[0] === 0 && r[1] === Infinity)) cfg.refuse(key, "dt clamped to a range after softplus");
}

/** No rope scaling (linear, dynamic, yarn, ...): .hyb RoPE is the plain one. */
function requireNoRopeScaling(cfg: Config): void {
  if (cfg.has("rope_scaling")) cfg.refuse("rope_scaling", "RoPE scaling");
  const p = cfg.object("rope_parameters");
  const type = p?.["rope_type"] ?? p?.["type"];
  if (type !== undefined && type !== null && type !== "default") cfg.refuse("rope_parameters", `RoPE scaling of type ${String(type)}`);
}

/** rope_theta from rope_parameters (transformers 5) or the top-level key (older configs). */
function ropeTheta(cfg: Config, fallback: number): number {
  const t = cfg.object("rope_parameters")?.["rope_theta"];
  if (t !== undefined && t !== null) {
    if (typeof t !== "number" || !(t > 0) || !Number.isFinite(t)) cfg.refuse("rope_parameters", "a rope_theta that is not a positive number");
    return t;
  }
  return cfg.number("rope_theta", fallback);
}

/** Attention windows other than full causal are refused: these families build a full causal mask. */
function requireNoWindow(cfg: Config): void {
  if (cfg.has("sliding_window")) {
    cfg.refuse("sliding_window", `sliding-window attention: transformers' ${cfg.family} attention builds a full causal mask and leaves the window to some kernels only, so the window the checkpoint expects is ambiguous`);
  }
}

/** num_key_value_heads: transformers' default when absent, the query heads when null (its "backward compatibility"). */
function kvHeads(cfg: Config, absent: number, heads: number): number {
  if (Object.hasOwn(cfg.raw, "num_key_value_heads") && cfg.raw["num_key_value_heads"] === null) return heads;
  return cfg.size("num_key_value_heads", absent);
}

/**
 * A family whose layers are all SSMs (mamba, mamba2): a per-layer type list that says anything
 * else is a layout this importer does not know for it; refused rather than ignored.
 */
function requireSsmLayers(cfg: Config): void {
  for (const key of ["layer_types", "layers_block_type"]) {
    const other = cfg.strings(key)?.find((t) => t !== "mamba" && t !== "mamba2" && t !== "linear_attention");
    if (other !== undefined) cfg.refuse(key, `a layer of type "${other}" in a ${cfg.family} model (hybridc imports its layers as Mamba blocks only)`);
  }
}

function layerCount(cfg: Config, fallback: number): number {
  const n = cfg.size("num_hidden_layers", fallback);
  if (n > MAX_LAYERS) cfg.refuse("num_hidden_layers", `more layers than the .hyb limit of ${MAX_LAYERS.toLocaleString("en-US")}`);
  return n;
}

const SSM_NOTE_TORCH_FLOOR =
  "transformers' CPU path also clamps dt >= time_step_min; its CUDA kernels (mamba_ssm), and this spec, do not";

/**
 * With ngroups > 1 the .hyb gated norm normalizes each group (mamba_ssm, with which the models
 * were trained); transformers' Mamba2 and Bamba mixers normalize all of d_inner at once.
 */
const GROUPED_NORM_NOTE =
  "gated norm over d_inner / ngroups channels as mamba_ssm trained it; transformers' Mamba2Mixer spans all of d_inner (its PR #40861)";

// ---- families -------------------------------------------------------------------------------

/** MambaForCausalLM (transformers MambaConfig defaults). */
export const mambaFamily: Family = (cfg) => {
  const d = cfg.size("hidden_size", 768);
  requireSsmLayers(cfg);
  requireSilu(cfg, "hidden_act", "silu");
  const expand = cfg.number("expand", 2);
  const dInner = Math.trunc(expand * d);
  const block = mamba1(
    "ssm",
    {
      dState: cfg.size("state_size", 16),
      expand: integerExpand(dInner, d, ["expand", "hidden_size"]),
      dConv: cfg.size("conv_kernel", 4),
      dtRank: cfg.sizeOrAuto("time_step_rank", "auto", () => Math.ceil(d / 16)),
      convBias: cfg.bool("use_conv_bias", true),
      bias: cfg.bool("use_bias", true),
      innerNorms: false,
    },
  );
  return {
    architecture: "MambaForCausalLM",
    vocab: cfg.size("vocab_size", 50280),
    dModel: d,
    eps: cfg.number("layer_norm_epsilon", 1e-5),
    tied: cfg.bool("tie_word_embeddings", true),
    weights: "mamba",
    blocks: [block],
    layers: Array.from({ length: layerCount(cfg, 32) }, () => ["ssm"]),
    notes: [],
  };
};

/** Mamba2ForCausalLM (transformers Mamba2Config defaults). */
export const mamba2Family: Family = (cfg) => {
  const d = cfg.size("hidden_size", 4096);
  requireSsmLayers(cfg);
  requireSilu(cfg, "hidden_act", "silu");
  requireNoDtLimit(cfg, "time_step_limit");
  if (!cfg.bool("rms_norm", true)) cfg.refuse("rms_norm", "Mamba-2 without its gated RMSNorm (transformers' Mamba2Mixer still applies the norm, mamba_ssm does not)");
  const dInner = Math.trunc(cfg.number("expand", 2) * d);
  const heads = cfg.size("num_heads", 128);
  const headdim = cfg.size("head_dim", 64);
  if (heads * headdim !== dInner) {
    throw new ImportError(`num_heads * head_dim = ${heads} * ${headdim} = ${heads * headdim} differs from expand * hidden_size = ${dInner}; transformers' Mamba2Mixer needs them equal`, "num_heads");
  }
  const ngroups = cfg.size("n_groups", 8);
  return {
    architecture: "Mamba2ForCausalLM",
    vocab: cfg.size("vocab_size", 32768),
    dModel: d,
    eps: cfg.number("layer_norm_epsilon", 1e-5),
    tied: cfg.bool("tie_word_embeddings", false),
    weights: "mamba",
    blocks: [
      mamba2(
        "ssm",
        {
          dState: cfg.size("state_size", 128),
          expand: integerExpand(dInner, d, ["expand", "hidden_size"]),
          dConv: cfg.size("conv_kernel", 4),
          headdim,
          ngroups,
          chunk: cfg.size("chunk_size", 256),
          convBias: cfg.bool("use_conv_bias", true),
          bias: cfg.bool("use_bias", false),
        },
      ),
    ],
    layers: Array.from({ length: layerCount(cfg, 64) }, () => ["ssm"]),
    notes: ngroups > 1 ? [GROUPED_NORM_NOTE] : [],
  };
};

/** JambaForCausalLM: attention where i % attn_layer_period == attn_layer_offset, an MLP after every mixer. */
export const jambaFamily: Family = (cfg) => {
  const d = cfg.size("hidden_size", 4096);
  const n = layerCount(cfg, 32);
  requireSilu(cfg, "hidden_act", "silu");
  requireNoWindow(cfg);
  // transformers maps num_local_experts to num_experts.
  const expertsKey = !cfg.has("num_experts") && cfg.has("num_local_experts") ? "num_local_experts" : "num_experts";
  const experts = cfg.size(expertsKey, 16);
  const ePeriod = cfg.size("expert_layer_period", 2);
  const eOffset = cfg.index("expert_layer_offset", 1);
  const moe = Array.from({ length: n }, (_, i) => i).filter((i) => experts > 1 && i % ePeriod === eOffset);
  if (moe.length > 0) {
    cfg.refuse(expertsKey, `mixture-of-experts MLPs on layers ${moe.slice(0, 6).join(", ")}${moe.length > 6 ? ", ..." : ""} (expert_layer_period = ${ePeriod}, expert_layer_offset = ${eOffset}): the .hyb language has no MoE block`);
  }
  const period = cfg.size("attn_layer_period", 8);
  const offset = cfg.index("attn_layer_offset", 4);
  const heads = cfg.size("num_attention_heads", 32);
  const headDim = cfg.has("head_dim") ? cfg.size("head_dim", undefined) : d / heads;
  if (!Number.isInteger(headDim)) throw new ImportError(`hidden_size = ${d} is not divisible by num_attention_heads = ${heads}`, "num_attention_heads");
  const expand = cfg.size("mamba_expand", 2);
  return {
    architecture: "JambaForCausalLM",
    vocab: cfg.size("vocab_size", 65536),
    dModel: d,
    eps: cfg.number("rms_norm_eps", 1e-6),
    tied: cfg.bool("tie_word_embeddings", false),
    weights: "jamba",
    blocks: [
      mamba1("ssm", {
        dState: cfg.size("mamba_d_state", 16),
        expand,
        dConv: cfg.size("mamba_d_conv", 4),
        dtRank: cfg.sizeOrAuto("mamba_dt_rank", "auto", () => Math.ceil(d / 16)),
        convBias: cfg.bool("mamba_conv_bias", true),
        bias: cfg.bool("mamba_proj_bias", false),
        innerNorms: true,
      }),
      attention("attn", { heads, kvHeads: kvHeads(cfg, 8, heads), headDim, rope: null }),
      mlp("ffn", "swiglu", cfg.size("intermediate_size", 14336), false),
    ],
    layers: Array.from({ length: n }, (_, i) => [i % period === offset ? "attn" : "ssm", "ffn"]),
    notes: [],
    maxPositions: cfg.size("max_position_embeddings", 262144),
  };
};

/** BambaForCausalLM: attention at attn_layer_indices (RoPE on half of each head), an MLP after every mixer. */
export const bambaFamily: Family = (cfg) => {
  const d = cfg.size("hidden_size", 4096);
  const n = layerCount(cfg, 32);
  requireSilu(cfg, "hidden_act", "silu");
  requireNoDtLimit(cfg, "time_step_limit");
  requireNoRopeScaling(cfg);
  const attnAt = new Set(cfg.indices("attn_layer_indices") ?? []);
  for (const i of attnAt) if (i >= n) throw new ImportError(`attn_layer_indices holds ${i}, but the model has ${n} layers (num_hidden_layers)`, "attn_layer_indices");
  const expand = cfg.size("mamba_expand", 2);
  const dInner = expand * d;
  const mHeads = cfg.size("mamba_n_heads", 128);
  const headdim = cfg.sizeOrAuto("mamba_d_head", "auto", () => dInner / mHeads);
  if (!Number.isInteger(headdim) || headdim * mHeads !== dInner) {
    throw new ImportError(`mamba_n_heads * mamba_d_head must equal mamba_expand * hidden_size = ${dInner}`, "mamba_d_head");
  }
  const ngroups = cfg.size("mamba_n_groups", 1);
  const heads = cfg.size("num_attention_heads", 32);
  const headDim = cfg.has("head_dim") ? cfg.size("head_dim", undefined) : d / heads;
  if (!Number.isInteger(headDim)) throw new ImportError(`hidden_size = ${d} is not divisible by num_attention_heads = ${heads}`, "num_attention_heads");
  return {
    architecture: "BambaForCausalLM",
    vocab: cfg.size("vocab_size", 128000),
    dModel: d,
    eps: cfg.number("rms_norm_eps", 1e-5),
    tied: cfg.bool("tie_word_embeddings", false),
    weights: "jamba",
    blocks: [
      mamba2(
        "ssm",
        {
          dState: cfg.size("mamba_d_state", 256),
          expand,
          dConv: cfg.size("mamba_d_conv", 4),
          headdim,
          ngroups,
          chunk: cfg.size("mamba_chunk_size", 256),
          convBias: cfg.bool("mamba_conv_bias", true),
          bias: cfg.bool("mamba_proj_bias", false),
        },
      ),
      // BambaConfig hard-codes partial_rotary_factor = 0.5.
      attention("attn", { heads, kvHeads: kvHeads(cfg, 8, heads), headDim, rope: { theta: ropeTheta(cfg, 10000), fraction: 0.5 } }),
      mlp("ffn", "swiglu", cfg.size("intermediate_size", 14336), false),
    ],
    layers: Array.from({ length: n }, (_, i) => [attnAt.has(i) ? "attn" : "ssm", "ffn"]),
    notes: ngroups > 1 ? [GROUPED_NORM_NOTE] : [],
    maxPositions: cfg.size("max_position_embeddings", 262144),
  };
};

/** Nemotron-H layer kinds, in every spelling transformers has read. */
const NEMOTRON_KINDS: Readonly<Record<string, "ssm" | "attn" | "mlp" | "moe">> = {
  M: "ssm",
  mamba: "ssm",
  linear_attention: "ssm",
  "*": "attn",
  attention: "attn",
  full_attention: "attn",
  "-": "mlp",
  mlp: "mlp",
  E: "moe",
  moe: "moe",
};

function nemotronLayers(cfg: Config): { kinds: ("ssm" | "attn" | "mlp" | "moe")[]; key: string } {
  for (const key of ["layers_block_type", "layer_types"]) {
    const list = cfg.strings(key);
    if (list === undefined) continue;
    return {
      key,
      kinds: list.map((t) => NEMOTRON_KINDS[t] ?? cfg.refuse(key, `layer type "${t}" (known: mamba, attention, mlp, moe)`)),
    };
  }
  const key = "hybrid_override_pattern";
  const pattern = cfg.has(key) ? cfg.string(key, "") : "M-M-M-M*-M-M-M-M-M*-M-M-M-M-M*-M-M-M-M-M*-M-M-M-M-M-";
  return { key, kinds: [...pattern].map((c) => NEMOTRON_KINDS[c] ?? cfg.refuse(key, `layer character "${c}" (known: M, *, -, E)`)) };
}

/** NemotronHForCausalLM: one op per layer (`backbone.layers.{i}.mixer`), one norm each. */
export const nemotronHFamily: Family = (cfg) => {
  const d = cfg.size("hidden_size", 4096);
  const { kinds, key } = nemotronLayers(cfg);
  if (kinds.length === 0) cfg.refuse(key, "a model with no layers");
  const moe = kinds.flatMap((k, i) => (k === "moe" ? [i] : []));
  if (moe.length > 0) cfg.refuse(key, `mixture-of-experts layers at ${moe.slice(0, 6).join(", ")}${moe.length > 6 ? ", ..." : ""}: the .hyb language has no MoE block`);
  requireSilu(cfg, "mamba_hidden_act", "silu");
  requireNoWindow(cfg);
  const dtKey = cfg.has("mamba_dt_limit") ? "mamba_dt_limit" : "time_step_limit";
  requireNoDtLimit(cfg, dtKey);
  const pick = (legacy: string, current: string) => (cfg.has(legacy) ? legacy : current);
  const mHeads = cfg.size("mamba_num_heads", 128);
  const headdim = cfg.size("mamba_head_dim", 64);
  const expand = integerExpand(mHeads * headdim, d, ["mamba_num_heads", "mamba_head_dim"]);
  const act = cfg.string("mlp_hidden_act", "relu2");
  if (act !== "relu2" && act !== "gelu") cfg.refuse("mlp_hidden_act", `MLP activation ${act} (the .hyb non-gated MLPs are relu2 and gelu)`);
  if (cfg.bool("attention_bias", false)) cfg.refuse("attention_bias", "attention biases (transformers' Nemotron-H attention has none)");
  const heads = cfg.size("num_attention_heads", 32);
  const used = new Set(kinds);
  const blocks: BlockPlan[] = [];
  if (used.has("ssm")) {
    blocks.push(
      mamba2(
        "ssm",
        {
          dState: cfg.size("ssm_state_size", 128),
          expand,
          dConv: cfg.size(pick("mamba_d_conv", "conv_kernel"), 4),
          headdim,
          ngroups: cfg.size(pick("mamba_n_groups", "n_groups"), 8),
          chunk: cfg.size(pick("mamba_chunk_size", "chunk_size"), 128),
          convBias: cfg.bool(pick("mamba_conv_bias", "use_conv_bias"), true),
          bias: cfg.bool("use_bias", false),
        },
      ),
    );
  }
  if (used.has("attn")) {
    const headDim = cfg.size(pick("attention_head_dim", "head_dim"), 128);
    blocks.push(attention("attn", { heads, kvHeads: kvHeads(cfg, 8, heads), headDim, rope: null }));
  }
  if (used.has("mlp")) blocks.push(mlp("mlp", act === "gelu" ? "gelu" : "relu2", cfg.size("intermediate_size", 21504), cfg.bool("mlp_bias", false)));
  return {
    architecture: "NemotronHForCausalLM",
    vocab: cfg.size("vocab_size", 131072),
    dModel: d,
    eps: cfg.number("layer_norm_epsilon", 1e-5),
    tied: cfg.bool("tie_word_embeddings", false),
    weights: "mamba",
    blocks,
    layers: kinds.map((k) => [k]),
    notes: used.has("ssm") ? [SSM_NOTE_TORCH_FLOOR] : [],
    maxPositions: cfg.size("max_position_embeddings", 4096),
  };
};

/** Falcon-H1: refused, naming the first feature the .hyb language lacks. */
export const falconH1Family: Family = (cfg) =>
  cfg.refuse(
    cfg.has("num_attention_heads") ? "num_attention_heads" : "mamba_n_heads",
    "parallel mixers: every Falcon-H1 layer runs attention and Mamba-2 side by side on the same normed input and sums them " +
      "(with µP multipliers such as embedding_multiplier and ssm_multipliers); a .hyb layer is a sequence of residual sublayers",
  );

/** Zamba2: a stack of Mamba-2 layers imports; hybrid layers (shared transformer blocks) are refused. */
export const zamba2Family: Family = (cfg) => {
  const d = cfg.size("hidden_size", 2560);
  const types = cfg.strings("layers_block_type");
  if (types === undefined) return cfg.refuse("layers_block_type", "shared transformer blocks: absent, Zamba2's default layer list has hybrid layers");
  const hybrid = types.flatMap((t, i) => (t === "mamba" ? [] : [i]));
  if (hybrid.length > 0) {
    const what = types[hybrid[0]!] === "hybrid" ? "" : ` (unknown layer type "${types[hybrid[0]!]}")`;
    cfg.refuse(
      "layers_block_type",
      `shared transformer blocks${what}: layers ${hybrid.slice(0, 6).join(", ")}${hybrid.length > 6 ? ", ..." : ""} run one of num_mem_blocks weight-tied attention + MLP blocks on concat(hidden, embeddings), with per-layer LoRA adapters; the .hyb language has no shared blocks`,
    );
  }
  const n = layerCount(cfg, 54);
  if (n !== types.length) throw new ImportError(`num_hidden_layers = ${n} but layers_block_type lists ${types.length} layers`, "num_hidden_layers");
  const eps = cfg.number("rms_norm_eps", 1e-5);
  // Zamba2MambaMixer's gated norm has eps 1e-5 whatever rms_norm_eps says; .hyb has one eps.
  if (eps !== 1e-5) cfg.refuse("rms_norm_eps", "an eps other than 1e-5 (Zamba2's gated norm inside Mamba-2 keeps 1e-5; the .hyb language has one eps)");
  if (!cfg.bool("use_conv_bias", true)) cfg.refuse("use_conv_bias", "no conv bias (Zamba2's conv1d always has one)");
  requireNoDtLimit(cfg, "time_step_limit");
  const expand = cfg.size("mamba_expand", 2);
  const mHeads = cfg.size("n_mamba_heads", 8);
  const dInner = expand * d;
  if (dInner % mHeads !== 0) throw new ImportError(`mamba_expand * hidden_size = ${dInner} is not divisible by n_mamba_heads = ${mHeads}`, "n_mamba_heads");
  return {
    architecture: "Zamba2ForCausalLM",
    vocab: cfg.size("vocab_size", 32000),
    dModel: d,
    eps,
    tied: cfg.bool("tie_word_embeddings", true),
    // `model.layers.{i}.mamba.*` and `input_layernorm`: the "jamba" names of a mixer-only layer.
    weights: "jamba",
    blocks: [
      mamba2(
        "ssm",
        {
          dState: cfg.size("mamba_d_state", 64),
          expand,
          dConv: cfg.size("mamba_d_conv", 4),
          headdim: dInner / mHeads,
          ngroups: cfg.size("mamba_ngroups", 1),
          chunk: cfg.size("chunk_size", 256),
          convBias: true,
          bias: cfg.bool("add_bias_linear", false),
        },
      ),
    ],
    layers: types.map(() => ["ssm"]),
    notes: [SSM_NOTE_TORCH_FLOOR],
  };
};

export const FAMILIES: Readonly<Record<string, Family>> = {
  mamba: mambaFamily,
  mamba2: mamba2Family,
  jamba: jambaFamily,
  bamba: bambaFamily,
  nemotron_h: nemotronHFamily,
  falcon_h1: falconH1Family,
  zamba2: zamba2Family,
};
