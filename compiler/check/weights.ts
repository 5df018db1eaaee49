/**
 * Checkpoint tensors: the naming schemes ("mamba", "jamba"), the check that every layer fits
 * the chosen scheme, the full tensor list with shapes, and the parameter count.
 * Shapes (E = d_inner, N = d_state, R = dt_rank, K = d_conv, d = d_model, H = heads,
 * G = ngroups) follow the Hugging Face modules named in DSL.md.
 */
import { assertNever } from "../diag/diagnostic.ts";
import type { BlockConfig, BlockKind, Layer, NormConfig, Sublayer, WeightsScheme, WeightTensor } from "./model.ts";

type Shape = readonly number[];
/** A tensor relative to its owner: `[local name, shape]`. */
type Local = readonly [string, Shape];

/** A linear layer `name` with weight `[out, inp]` and, if `bias`, a bias `[out]`. */
function linear(name: string, out: number, inp: number, bias: boolean): Local[] {
  return bias ? [[`${name}.weight`, [out, inp]], [`${name}.bias`, [out]]] : [[`${name}.weight`, [out, inp]]];
}

function normTensors(name: string, norm: NormConfig, d: number): Local[] {
  const w: Local = [`${name}.weight`, [d]];
  switch (norm.kind) {
    case "rmsnorm":
      return [w];
    case "layernorm":
      return [w, [`${name}.bias`, [d]]];
    default:
      return assertNever(norm.kind, "norm kind");
  }
}

/** The tensors of one block, by the DSL's relative names. */
export function blockTensors(c: BlockConfig, d: number): Local[] {
  switch (c.kind) {
    case "mamba1": {
      const { dInner: E, dState: N, dtRank: R, dConv: K } = c;
      return [
        ...linear("in_proj", 2 * E, d, c.bias),
        ["conv1d.weight", [E, 1, K]],
        ...(c.convBias ? [["conv1d.bias", [E]] as Local] : []),
        ["x_proj.weight", [R + 2 * N, E]],
        ...linear("dt_proj", E, R, true),
        ["A_log", [E, N]],
        ["D", [E]],
        ...linear("out_proj", d, E, c.bias),
        ...(c.innerNorms ? ([["dt_layernorm.weight", [R]], ["b_layernorm.weight", [N]], ["c_layernorm.weight", [N]]] as Local[]) : []),
      ];
    }
    case "mamba2": {
      const { dInner: E, dState: N, ngroups: G, heads: H, dConv: K, convDim } = c;
      return [
        ...linear("in_proj", 2 * E + 2 * G * N + H, d, c.bias),
        ["conv1d.weight", [convDim, 1, K]],
        ...(c.convBias ? [["conv1d.bias", [convDim]] as Local] : []),
        ["dt_bias", [H]],
        ["A_log", [H]],
        ["D", [H]],
        ...(c.gatedNorm ? [["norm.weight", [E]] as Local] : []),
        ...linear("out_proj", d, E, c.bias),
      ];
    }
    case "attention": {
      const q = c.heads * c.headDim;
      const kv = c.kvHeads * c.headDim;
      return [...linear("q_proj", q, d, c.bias), ...linear("k_proj", kv, d, c.bias), ...linear("v_proj", kv, d, c.bias), ...linear("o_proj", d, q, c.bias)];
    }
    case "mlp": {
      const gate = c.activation === "swiglu" ? linear("gate_proj", c.hidden, d, c.bias) : [];
      return [...gate, ...linear("up_proj", c.hidden, d, c.bias), ...linear("down_proj", d, c.hidden, c.bias)];
    }
    default:
      return assertNever(c, "block config");
  }
}

export type ModelLocal = "embedding" | "final_norm" | "lm_head";

interface Naming {
  /** Prefix of a model tensor (`backbone.embeddings`). */
  readonly model: Readonly<Record<ModelLocal, string>>;
  /** Prefixes of a sublayer's pre-norm and of its block's tensors. */
  readonly sublayer: (i: number, kind: BlockKind) => { readonly norm: string; readonly block: string };
}

/** Where each block kind sits in a "jamba" layer. */
const JAMBA_ROLES = {
  mamba1: { norm: "input_layernorm", block: "mamba", mixer: true },
  mamba2: { norm: "input_layernorm", block: "mamba", mixer: true },
  attention: { norm: "input_layernorm", block: "self_attn", mixer: true },
  mlp: { norm: "pre_ff_layernorm", block: "feed_forward", mixer: false },
} as const satisfies Record<BlockKind, { norm: string; block: string; mixer: boolean }>;

export function isMixer(kind: BlockKind): boolean {
  return JAMBA_ROLES[kind].mixer;
}

const NAMING = {
  mamba: {
    model: { embedding: "backbone.embeddings", final_norm: "backbone.norm_f", lm_head: "lm_head" },
    sublayer: (i) => ({ norm: `backbone.layers.${i}.norm`, block: `backbone.layers.${i}.mixer` }),
  },
  jamba: {
    model: { embedding: "model.embed_tokens", final_norm: "model.final_layernorm", lm_head: "lm_head" },
    sublayer: (i, kind) => ({ norm: `model.layers.${i}.${JAMBA_ROLES[kind].norm}`, block: `model.layers.${i}.${JAMBA_ROLES[kind].block}` }),
  },
} as const satisfies Record<WeightsScheme, Naming>;

/** The default scheme: "mamba" when every layer is exactly one SSM sublayer, else "jamba". */
export function defaultScheme(layers: readonly Layer[]): WeightsScheme {
  const ssmOnly = layers.every((l) => l.sublayers.length === 1 && (l.sublayers[0]!.block.config.kind === "mamba1" || l.sublayers[0]!.block.config.kind === "mamba2"));
  return ssmOnly ? "mamba" : "jamba";
}

/** Why a layer does not fit the scheme, the sublayer that breaks it, and a fix; undefined if it fits. */
export interface Misfit {
  readonly reason: string;
  readonly at: Sublayer;
  /** The fix in words; a function, so that only the one layer reported pays for writing it. */
  readonly fix: () => string;
}

/** Names a message quotes from one layer; the rest are counted (a layer may have 10^4 sublayers). */
export const QUOTED_NAMES = 6;

/** `a + b + c`, or for a long layer its first QUOTED_NAMES names then `+ ... (9,994 more)`. */
export function quoteNames(names: readonly string[], sep: string): string {
  if (names.length <= QUOTED_NAMES) return names.join(sep);
  return `${names.slice(0, QUOTED_NAMES).join(sep)}${sep}... (${(names.length - QUOTED_NAMES).toLocaleString("en-US")} more)`;
}

export function misfit(layer: Layer, scheme: WeightsScheme): Misfit | undefined {
  const subs = layer.sublayers;
  const split = () => `give each sublayer its own layer: \`[${quoteNames(subs.map((s) => s.name), ", ")}]\``;
  switch (scheme) {
    case "mamba":
      if (subs.length === 1) return undefined;
      return { reason: `it has ${subs.length.toLocaleString("en-US")} sublayers, and "mamba" names exactly one per layer`, at: subs[1]!, fix: () => `use \`weights = "jamba"\`, or ${split()}` };
    case "jamba": {
      const fix = () => `a "jamba" layer is at most one mixer (mamba1, mamba2, attention) then at most one mlp; ${split()}`;
      let mixers = 0;
      let mlps = 0;
      for (const s of subs) {
        if (isMixer(s.block.config.kind)) {
          if (mixers > 0) return { reason: "it has two mixers, and \"jamba\" allows one mixer per layer", at: s, fix };
          if (mlps > 0) {
            const reordered = () => [...subs].sort((a, b) => Number(isMixer(b.block.config.kind)) - Number(isMixer(a.block.config.kind))).map((x) => x.name);
            return { reason: "its mlp comes before its mixer, and \"jamba\" puts the mixer first", at: s, fix: () => `put the mixer first: \`${quoteNames(reordered(), " + ")}\`` };
          }
          mixers++;
        } else {
          if (mlps > 0) return { reason: "it has two mlps, and \"jamba\" allows one mlp per layer", at: s, fix };
          mlps++;
        }
      }
      return undefined;
    }
    default:
      return assertNever(scheme, "weights scheme");
  }
}

export interface WeightsInput {
  readonly vocab: number;
  readonly dModel: number;
  readonly norm: NormConfig;
  readonly tied: boolean;
  readonly scheme: WeightsScheme;
  readonly layers: readonly Layer[];
}

/** Every tensor a checkpoint must hold, in order: embedding, layers, final norm, LM head. */
export function weightTensors(m: WeightsInput): WeightTensor[] {
  const naming: Naming = NAMING[m.scheme];
  const d = m.dModel;
  const out: WeightTensor[] = [];
  // Layers share their blocks: compute each block's tensor list (and shapes) once.
  const perBlock = new Map<BlockConfig, Local[]>();
  const tensorsOf = (cfg: BlockConfig) => perBlock.get(cfg) ?? perBlock.set(cfg, blockTensors(cfg, d)).get(cfg)!;
  const preNorm = normTensors("input_norm", m.norm, d);
  const modelTensor = (local: ModelLocal, t: Local) => {
    const suffix = t[0].slice(local.length);
    out.push({ name: naming.model[local] + suffix, shape: t[1], layer: null, sublayer: null, local: t[0] });
  };
  modelTensor("embedding", ["embedding.weight", [m.vocab, d]]);
  for (const layer of m.layers) {
    layer.sublayers.forEach((s, j) => {
      const cfg = s.block.config;
      const p = naming.sublayer(layer.index, cfg.kind);
      for (const [local, shape] of preNorm) {
        out.push({ name: p.norm + local.slice("input_norm".length), shape, layer: layer.index, sublayer: j, local });
      }
      for (const [local, shape] of tensorsOf(cfg)) {
        out.push({ name: `${p.block}.${local}`, shape, layer: layer.index, sublayer: j, local });
      }
    });
  }
  for (const t of normTensors("final_norm", m.norm, d)) modelTensor("final_norm", t);
  if (!m.tied) modelTensor("lm_head", ["lm_head.weight", [m.vocab, d]]);
  return out;
}

/** Sum of the shapes' products; undefined if it is not exact in a double (beyond 2^53 - 1). */
export function countParameters(weights: readonly WeightTensor[]): number | undefined {
  let total = 0;
  for (const w of weights) {
    let n = 1;
    for (const dim of w.shape) {
      n *= dim;
      if (!Number.isSafeInteger(n)) return undefined;
    }
    total += n;
    if (!Number.isSafeInteger(total)) return undefined;
  }
  return total;
}
