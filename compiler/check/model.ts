/**
 * The resolved model: what the checker produces and every later stage consumes.
 * Every parameter is resolved (defaults applied, derived sizes computed); spans point back
 * at the `.hyb` text that set them so late stages can still report at the spec.
 */
import type { Dtype } from "../../runtime/artifact/dtypes.ts";
import type { Span } from "../diag/source.ts";

/** The `dtype` a spec may ask for (rows of the element-format table). */
export type ModelDtype = Extract<Dtype, "f32" | "f16">;
export type WeightsScheme = "mamba" | "jamba";
export type Activation = "swiglu" | "gelu" | "relu2";

export interface NormConfig {
  readonly kind: "rmsnorm" | "layernorm";
  readonly eps: number;
}

export interface Mamba1Config {
  readonly kind: "mamba1";
  readonly dState: number;
  readonly expand: number;
  readonly dConv: number;
  readonly dtRank: number;
  readonly convBias: boolean;
  /** Bias on in_proj and out_proj. */
  readonly bias: boolean;
  /** Jamba's RMSNorms on dt, B and C (eps = the model norm's eps). */
  readonly innerNorms: boolean;
  /** Derived: expand * d_model. */
  readonly dInner: number;
}

export interface Mamba2Config {
  readonly kind: "mamba2";
  readonly dState: number;
  readonly expand: number;
  readonly dConv: number;
  readonly headdim: number;
  readonly ngroups: number;
  readonly chunk: number;
  readonly convBias: boolean;
  readonly bias: boolean;
  readonly gatedNorm: boolean;
  readonly normBeforeGate: boolean;
  readonly normGroup: number;
  /** Derived: expand * d_model. */
  readonly dInner: number;
  /** Derived: d_inner / headdim. */
  readonly heads: number;
  /** Derived: channels that go through the conv, d_inner + 2 * ngroups * d_state. */
  readonly convDim: number;
}

export interface RopeConfig {
  readonly theta: number;
  /** Fraction of head_dim that is rotated (GPT-NeoX half-split style). */
  readonly fraction: number;
  /** Derived: fraction * head_dim, always even. */
  readonly rotaryDim: number;
}

export interface AttentionConfig {
  readonly kind: "attention";
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly rope: RopeConfig | null;
  /** Keys a query sees, itself included; null = full causal. */
  readonly window: number | null;
  readonly bias: boolean;
}

export interface MlpConfig {
  readonly kind: "mlp";
  readonly activation: Activation;
  readonly hidden: number;
  readonly bias: boolean;
}

export type BlockConfig = Mamba1Config | Mamba2Config | AttentionConfig | MlpConfig;
export type BlockKind = BlockConfig["kind"];

/** A block definition: `ssm = mamba1(d_state = 16)`. */
export interface BlockDef {
  readonly name: string;
  readonly config: BlockConfig;
  /** The binding `ssm = mamba1(...)`. */
  readonly span: Span;
  /** Span of each argument the user wrote, by DSL argument name. */
  readonly argSpans: Readonly<Record<string, Span>>;
}

/** One pre-norm residual sublayer: `x = x + block(norm(x))`. */
export interface Sublayer {
  /** The binding name of the block (`"ssm"`). */
  readonly name: string;
  readonly block: BlockDef;
  /** Where this use appears in `layers`. */
  readonly span: Span;
}

export interface Layer {
  readonly index: number;
  readonly sublayers: readonly Sublayer[];
}

/** Which role a tensor plays; later stages look tensors up by (layer, sublayer, local). */
export interface WeightTensor {
  /** Checkpoint name under the model's naming scheme. */
  readonly name: string;
  readonly shape: readonly number[];
  /** null for model-level tensors (embedding, final norm, LM head). */
  readonly layer: number | null;
  readonly sublayer: number | null;
  /**
   * Name relative to the owner, independent of the naming scheme. Sublayer tensors: the
   * sublayer's pre-norm is `input_norm.weight` (and `.bias` for layernorm); block tensors use
   * the DSL's relative names (`in_proj.weight`, `conv1d.bias`, `A_log`, `norm.weight`, ...).
   * Model tensors: `embedding.weight`, `final_norm.weight` (`.bias`), `lm_head.weight`.
   */
  readonly local: string;
}

export interface ResolvedModel {
  readonly name: string;
  readonly span: Span;
  readonly vocab: number;
  readonly dModel: number;
  readonly norm: NormConfig;
  readonly tied: boolean;
  readonly dtype: ModelDtype;
  readonly context: number;
  readonly weightsScheme: WeightsScheme;
  readonly blocks: readonly BlockDef[];
  readonly layers: readonly Layer[];
  readonly weights: readonly WeightTensor[];
  /** Total weight scalars; a tied embedding counts once. */
  readonly parameters: number;
  /** Spans of model-level parameters the user wrote, by name (`vocab`, `weights`, ...). */
  readonly paramSpans: Readonly<Record<string, Span>>;
}
