/**
 * Tiny Hugging Face checkpoint folders, one per importable family: a config.json with the
 * family's keys, and random weights under the tensor names of the family's modeling_*.py,
 * listed here by hand (not taken from the importer), written as safetensors (sharded with an
 * index, or in BF16, for some).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodeSafetensors, type TensorToWrite } from "../../runtime/weights/safetensors.ts";

type Shape = readonly number[];
type Tensors = [string, Shape][];

export interface Folder {
  readonly family: string;
  readonly config: Record<string, unknown>;
  readonly tensors: Tensors;
  /** How the folder stores them. */
  readonly layout: "single" | "sharded" | "bf16";
}

const lin = (name: string, out: number, inp: number): [string, Shape] => [`${name}.weight`, [out, inp]];

function mamba1(p: string, d: number, E: number, N: number, K: number, R: number, innerNorms: boolean): Tensors {
  return [
    lin(`${p}.in_proj`, 2 * E, d),
    [`${p}.conv1d.weight`, [E, 1, K]],
    [`${p}.conv1d.bias`, [E]],
    lin(`${p}.x_proj`, R + 2 * N, E),
    lin(`${p}.dt_proj`, E, R),
    [`${p}.dt_proj.bias`, [E]],
    [`${p}.A_log`, [E, N]],
    [`${p}.D`, [E]],
    lin(`${p}.out_proj`, d, E),
    ...(innerNorms ? ([[`${p}.dt_layernorm.weight`, [R]], [`${p}.b_layernorm.weight`, [N]], [`${p}.c_layernorm.weight`, [N]]] as Tensors) : []),
  ];
}

function mamba2(p: string, d: number, H: number, P: number, G: number, N: number, K: number): Tensors {
  const E = H * P;
  const conv = E + 2 * G * N;
  return [lin(`${p}.in_proj`, E + conv + H, d), [`${p}.conv1d.weight`, [conv, 1, K]], [`${p}.conv1d.bias`, [conv]], [`${p}.dt_bias`, [H]], [`${p}.A_log`, [H]], [`${p}.D`, [H]], [`${p}.norm.weight`, [E]], lin(`${p}.out_proj`, d, E)];
}

function attention(p: string, d: number, heads: number, kv: number, hd: number): Tensors {
  return [lin(`${p}.q_proj`, heads * hd, d), lin(`${p}.k_proj`, kv * hd, d), lin(`${p}.v_proj`, kv * hd, d), lin(`${p}.o_proj`, d, heads * hd)];
}

const swiglu = (p: string, d: number, I: number): Tensors => [lin(`${p}.gate_proj`, I, d), lin(`${p}.up_proj`, I, d), lin(`${p}.down_proj`, d, I)];

const D = 16;

export const FOLDERS: readonly Folder[] = [
  {
    family: "mamba",
    config: { model_type: "mamba", vocab_size: 64, hidden_size: D, state_size: 8, num_hidden_layers: 2, expand: 2, conv_kernel: 4, use_bias: false, use_conv_bias: true, time_step_rank: "auto", eos_token_id: 0 },
    tensors: [
      ["backbone.embeddings.weight", [64, D]],
      ...[0, 1].flatMap((i): Tensors => [[`backbone.layers.${i}.norm.weight`, [D]], ...mamba1(`backbone.layers.${i}.mixer`, D, 2 * D, 8, 4, 1, false)]),
      ["backbone.norm_f.weight", [D]],
    ],
    layout: "single",
  },
  {
    family: "mamba2",
    config: { model_type: "mamba2", vocab_size: 64, hidden_size: D, num_heads: 4, head_dim: 8, state_size: 8, n_groups: 2, num_hidden_layers: 2, expand: 2, conv_kernel: 4, chunk_size: 8, tie_word_embeddings: false, time_step_limit: [0.0, Infinity] },
    tensors: [
      ["backbone.embeddings.weight", [64, D]],
      ...[0, 1].flatMap((i): Tensors => [[`backbone.layers.${i}.norm.weight`, [D]], ...mamba2(`backbone.layers.${i}.mixer`, D, 4, 8, 2, 8, 4)]),
      ["backbone.norm_f.weight", [D]],
      ["lm_head.weight", [64, D]],
    ],
    layout: "bf16",
  },
  {
    family: "jamba",
    config: {
      model_type: "jamba", vocab_size: 64, hidden_size: D, intermediate_size: 24, num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 2,
      attn_layer_period: 2, attn_layer_offset: 1, num_experts: 1, mamba_d_state: 8, mamba_d_conv: 4, mamba_expand: 2, mamba_dt_rank: 2, rms_norm_eps: 1e-6,
    },
    tensors: [
      ["model.embed_tokens.weight", [64, D]],
      ...[0, 1, 2, 3].flatMap((i): Tensors => [
        [`model.layers.${i}.input_layernorm.weight`, [D]],
        ...(i % 2 === 1 ? attention(`model.layers.${i}.self_attn`, D, 4, 2, 4) : mamba1(`model.layers.${i}.mamba`, D, 2 * D, 8, 4, 2, true)),
        [`model.layers.${i}.pre_ff_layernorm.weight`, [D]],
        ...swiglu(`model.layers.${i}.feed_forward`, D, 24),
      ]),
      ["model.final_layernorm.weight", [D]],
      ["lm_head.weight", [64, D]],
    ],
    layout: "sharded",
  },
  {
    family: "bamba",
    config: {
      model_type: "bamba", vocab_size: 280, hidden_size: D, intermediate_size: 24, num_hidden_layers: 3, num_attention_heads: 2, num_key_value_heads: 1, attn_layer_indices: [1],
      mamba_n_heads: 4, mamba_d_head: 8, mamba_n_groups: 1, mamba_d_state: 8, mamba_d_conv: 4, mamba_expand: 2, mamba_chunk_size: 8, rope_theta: 10000.0, eos_token_id: 2,
    },
    tensors: [
      ["model.embed_tokens.weight", [280, D]],
      ...[0, 1, 2].flatMap((i): Tensors => [
        [`model.layers.${i}.input_layernorm.weight`, [D]],
        ...(i === 1 ? attention(`model.layers.${i}.self_attn`, D, 2, 1, 8) : mamba2(`model.layers.${i}.mamba`, D, 4, 8, 1, 8, 4)),
        [`model.layers.${i}.pre_ff_layernorm.weight`, [D]],
        ...swiglu(`model.layers.${i}.feed_forward`, D, 24),
      ]),
      ["model.final_layernorm.weight", [D]],
      ["lm_head.weight", [280, D]],
    ],
    layout: "single",
  },
  {
    // transformers' own saves name Nemotron-H `model.*` (the Hub's checkpoints `backbone.*`).
    family: "nemotron_h",
    config: {
      model_type: "nemotron_h", vocab_size: 64, hidden_size: D, hybrid_override_pattern: "M*-M-", mamba_num_heads: 4, mamba_head_dim: 8, n_groups: 2, ssm_state_size: 8,
      conv_kernel: 4, chunk_size: 8, num_attention_heads: 2, num_key_value_heads: 1, head_dim: 8, intermediate_size: 24, mlp_hidden_act: "relu2",
    },
    tensors: [
      ["model.embeddings.weight", [64, D]],
      ...[..."M*-M-"].flatMap((c, i): Tensors => [
        [`model.layers.${i}.norm.weight`, [D]],
        ...(c === "M" ? mamba2(`model.layers.${i}.mixer`, D, 4, 8, 2, 8, 4) : c === "*" ? attention(`model.layers.${i}.mixer`, D, 2, 1, 8) : [lin(`model.layers.${i}.mixer.up_proj`, 24, D), lin(`model.layers.${i}.mixer.down_proj`, D, 24)]),
      ]),
      ["model.norm_f.weight", [D]],
      ["lm_head.weight", [64, D]],
    ],
    layout: "single",
  },
  {
    family: "zamba2",
    config: { model_type: "zamba2", vocab_size: 64, hidden_size: D, num_hidden_layers: 2, layers_block_type: ["mamba", "mamba"], n_mamba_heads: 4, mamba_d_state: 8, mamba_ngroups: 1, mamba_expand: 2, mamba_d_conv: 4, chunk_size: 8 },
    tensors: [
      ["model.embed_tokens.weight", [64, D]],
      ...[0, 1].flatMap((i): Tensors => [[`model.layers.${i}.input_layernorm.weight`, [D]], ...mamba2(`model.layers.${i}.mamba`, D, 4, 8, 1, 8, 4)]),
      ["model.final_layernorm.weight", [D]],
    ],
    layout: "single",
  },
];

/** A small deterministic generator (mulberry32) and normal draws. */
function rng(seed: number): { uniform: () => number; normal: () => number } {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { uniform, normal: () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform()) };
}

/** Values by the tensor's role: A_log = log U(1, 16), softplus(dt bias) in [1e-3, 0.1], norms and D near 1, projections N(0, 1/fan_in). */
export function randomTensor(name: string, shape: Shape, seed: number): Float32Array {
  const r = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const f = (): number => {
    if (name.endsWith("A_log")) return Math.log(1 + 15 * r.uniform());
    if (name.endsWith(".D")) return 0.5 + r.uniform();
    if (name.endsWith("dt_bias") || name.endsWith("dt_proj.bias")) {
      const y = Math.exp(Math.log(1e-3) + r.uniform() * Math.log(100));
      return y + Math.log(-Math.expm1(-y));
    }
    if (/norm(_f)?\.weight$/.test(name)) return 1 + 0.1 * r.normal();
    if (name.includes("embed")) return r.normal();
    if (name.endsWith("conv1d.weight")) return r.normal() / Math.sqrt(shape[2]!);
    if (name.endsWith(".bias")) return 0.1 * r.normal();
    return r.normal() / Math.sqrt(shape[1]!);
  };
  return Float32Array.from({ length: n }, f);
}

/** Write `f` into `dir` (config.json, its safetensors, and `extra` files); returns the tensors written. */
export function writeFolder(dir: string, f: Folder, extra: Record<string, string> = {}): Map<string, Float32Array> {
  mkdirSync(dir, { recursive: true });
  const json = JSON.stringify(f.config, (_k, v: unknown) => (v === Infinity ? "__inf__" : v), 2).replace(/"__inf__"/g, "Infinity");
  writeFileSync(join(dir, "config.json"), json);
  const values = new Map(f.tensors.map(([name, shape], i) => [name, randomTensor(name, shape, 1000 + i)]));
  const toWrite = (names: readonly [string, Shape][]): TensorToWrite[] => names.map(([name, shape]) => ({ name, shape, dtype: f.layout === "bf16" ? "BF16" : "F32", data: values.get(name)! }));
  if (f.layout === "sharded") {
    const half = Math.ceil(f.tensors.length / 2);
    const shards = [f.tensors.slice(0, half), f.tensors.slice(half)];
    const files = shards.map((_, i) => `model-0000${i + 1}-of-00002.safetensors`);
    shards.forEach((s, i) => writeFileSync(join(dir, files[i]!), encodeSafetensors(toWrite(s))));
    const weight_map = Object.fromEntries(shards.flatMap((s, i) => s.map(([name]) => [name, files[i]!])));
    writeFileSync(join(dir, "model.safetensors.index.json"), JSON.stringify({ metadata: {}, weight_map }));
  } else writeFileSync(join(dir, "model.safetensors"), encodeSafetensors(toWrite(f.tensors)));
  for (const [file, text] of Object.entries(extra)) writeFileSync(join(dir, file), text);
  return values;
}
