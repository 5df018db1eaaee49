/**
 * Hand-built ResolvedModels (DSL defaults and derived sizes applied as the checker does), random
 * weights with sensible scales, and helpers that run a lowered graph through the interpreter.
 */
import type {
  AttentionConfig,
  BlockConfig,
  Mamba1Config,
  Mamba2Config,
  MlpConfig,
  NormConfig,
  ResolvedModel,
  WeightTensor,
} from "../../compiler/check/model.ts";
import { run } from "../../compiler/interp/index.ts";
import type { Graph } from "../../compiler/ir/graph.ts";
import { stateSlots } from "../../compiler/lower/state.ts";
import { Rng } from "./prng.ts";

export function mamba1(dModel: number, o: Partial<Omit<Mamba1Config, "kind" | "dInner">> = {}): Mamba1Config {
  const expand = o.expand ?? 2;
  return {
    kind: "mamba1",
    dState: o.dState ?? 16,
    expand,
    dConv: o.dConv ?? 4,
    dtRank: o.dtRank ?? Math.ceil(dModel / 16),
    convBias: o.convBias ?? true,
    bias: o.bias ?? false,
    innerNorms: o.innerNorms ?? false,
    dInner: expand * dModel,
  };
}

export function mamba2(dModel: number, o: Partial<Omit<Mamba2Config, "kind" | "dInner" | "heads" | "convDim">> = {}): Mamba2Config {
  const expand = o.expand ?? 2;
  const dInner = expand * dModel;
  const headdim = o.headdim ?? 64;
  const ngroups = o.ngroups ?? 1;
  const dState = o.dState ?? 128;
  return {
    kind: "mamba2",
    dState,
    expand,
    dConv: o.dConv ?? 4,
    headdim,
    ngroups,
    chunk: o.chunk ?? 256,
    convBias: o.convBias ?? true,
    bias: o.bias ?? false,
    gatedNorm: o.gatedNorm ?? true,
    normBeforeGate: o.normBeforeGate ?? false,
    normGroup: o.normGroup ?? dInner / ngroups,
    dInner,
    heads: dInner / headdim,
    convDim: dInner + 2 * ngroups * dState,
  };
}

export function attention(
  dModel: number,
  o: { heads: number; kvHeads?: number; headDim?: number; rope?: { theta: number; fraction: number } | null; window?: number | null; bias?: boolean },
): AttentionConfig {
  const headDim = o.headDim ?? dModel / o.heads;
  const rope = o.rope ?? null;
  return {
    kind: "attention",
    heads: o.heads,
    kvHeads: o.kvHeads ?? o.heads,
    headDim,
    rope: rope === null ? null : { theta: rope.theta, fraction: rope.fraction, rotaryDim: rope.fraction * headDim },
    window: o.window ?? null,
    bias: o.bias ?? false,
  };
}

export function mlp(o: { activation?: MlpConfig["activation"]; hidden: number; bias?: boolean }): MlpConfig {
  return { kind: "mlp", activation: o.activation ?? "swiglu", hidden: o.hidden, bias: o.bias ?? false };
}

export interface ModelSpec {
  readonly name?: string;
  readonly vocab?: number;
  readonly dModel: number;
  readonly norm?: NormConfig;
  readonly tied?: boolean;
  readonly context?: number;
  /** Each layer is a list of sublayers. */
  readonly layers: readonly (readonly BlockConfig[])[];
}

/** [local name, shape] of every tensor of a block (DSL "Checkpoint tensor names"). */
export function blockTensors(cfg: BlockConfig, D: number): [string, number[]][] {
  const lin = (name: string, out: number, inp: number, bias: boolean): [string, number[]][] =>
    bias ? [[`${name}.weight`, [out, inp]], [`${name}.bias`, [out]]] : [[`${name}.weight`, [out, inp]]];
  switch (cfg.kind) {
    case "mamba1": {
      const { dInner: Di, dState: N, dtRank: R } = cfg;
      return [
        ...lin("in_proj", 2 * Di, D, cfg.bias),
        ["conv1d.weight", [Di, 1, cfg.dConv]],
        ...(cfg.convBias ? [["conv1d.bias", [Di]] as [string, number[]]] : []),
        ["x_proj.weight", [R + 2 * N, Di]],
        ["dt_proj.weight", [Di, R]],
        ["dt_proj.bias", [Di]],
        ["A_log", [Di, N]],
        ["D", [Di]],
        ...lin("out_proj", D, Di, cfg.bias),
        ...(cfg.innerNorms
          ? ([
              ["dt_layernorm.weight", [R]],
              ["b_layernorm.weight", [N]],
              ["c_layernorm.weight", [N]],
            ] as [string, number[]][])
          : []),
      ];
    }
    case "mamba2": {
      const { dInner: Di, heads: H, convDim } = cfg;
      return [
        ...lin("in_proj", Di + convDim + H, D, cfg.bias),
        ["conv1d.weight", [convDim, 1, cfg.dConv]],
        ...(cfg.convBias ? [["conv1d.bias", [convDim]] as [string, number[]]] : []),
        ["dt_bias", [H]],
        ["A_log", [H]],
        ["D", [H]],
        ...(cfg.gatedNorm ? [["norm.weight", [Di]] as [string, number[]]] : []),
        ...lin("out_proj", D, Di, cfg.bias),
      ];
    }
    case "attention": {
      const { heads: H, kvHeads: K, headDim: hd } = cfg;
      return [...lin("q_proj", H * hd, D, cfg.bias), ...lin("k_proj", K * hd, D, cfg.bias), ...lin("v_proj", K * hd, D, cfg.bias), ...lin("o_proj", D, H * hd, cfg.bias)];
    }
    case "mlp":
      return [
        ...(cfg.activation === "swiglu" ? lin("gate_proj", cfg.hidden, D, cfg.bias) : []),
        ...lin("up_proj", cfg.hidden, D, cfg.bias),
        ...lin("down_proj", D, cfg.hidden, cfg.bias),
      ];
  }
}

/** A ResolvedModel as the checker would produce it (fake spans, DSL naming schemes). */
export function makeModel(spec: ModelSpec): ResolvedModel {
  const D = spec.dModel;
  const vocab = spec.vocab ?? 64;
  const norm = spec.norm ?? { kind: "rmsnorm", eps: 1e-5 };
  const tied = spec.tied ?? true;
  const scheme = spec.layers.every((l) => l.length === 1) ? "mamba" : "jamba";
  const sp = (start: number) => ({ start, end: start + 1 });
  const weights: WeightTensor[] = [];
  const normLocals = norm.kind === "layernorm" ? ["weight", "bias"] : ["weight"];
  const add = (name: string, shape: number[], layer: number | null, sublayer: number | null, local: string) =>
    weights.push({ name, shape, layer, sublayer, local });

  add(scheme === "mamba" ? "backbone.embeddings.weight" : "model.embed_tokens.weight", [vocab, D], null, null, "embedding.weight");
  const blocks = spec.layers.flat().map((config, i) => ({ name: `${config.kind}_${i}`, config, span: sp(1000 + i), argSpans: {} }));
  let k = 0;
  const layers = spec.layers.map((subs, i) => ({
    index: i,
    sublayers: subs.map((_, j) => {
      const block = blocks[k++]!;
      const mixer = block.config.kind !== "mlp";
      const normName =
        scheme === "mamba" ? `backbone.layers.${i}.norm` : `model.layers.${i}.${mixer ? "input_layernorm" : "pre_ff_layernorm"}`;
      for (const l of normLocals) add(`${normName}.${l}`, [D], i, j, `input_norm.${l}`);
      const dir =
        scheme === "mamba"
          ? `backbone.layers.${i}.mixer`
          : `model.layers.${i}.${block.config.kind === "attention" ? "self_attn" : mixer ? "mamba" : "feed_forward"}`;
      for (const [local, shape] of blockTensors(block.config, D)) add(`${dir}.${local}`, shape, i, j, local);
      return { name: block.name, block, span: sp(2000 + 10 * i + j) };
    }),
  }));
  for (const l of normLocals) add(scheme === "mamba" ? `backbone.norm_f.${l}` : `model.final_layernorm.${l}`, [D], null, null, `final_norm.${l}`);
  if (!tied) add("lm_head.weight", [vocab, D], null, null, "lm_head.weight");

  return {
    name: spec.name ?? "tiny",
    span: sp(0),
    vocab,
    dModel: D,
    norm,
    tied,
    dtype: "f32",
    context: spec.context ?? 128,
    weightsScheme: scheme,
    blocks,
    layers,
    weights,
    parameters: weights.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0),
    paramSpans: {},
  };
}

function invSoftplus(y: number): number {
  return y + Math.log(-Math.expm1(-y));
}

/** Random weights by role: norms ~ 1, A_log = log U(1,16), softplus(dt bias) in [1e-3, 0.1], D ~ 1, projections N(0, 1/fan_in). */
export function randomWeights(model: ResolvedModel, seed: number): Record<string, Float64Array> {
  const rng = new Rng(seed);
  const out: Record<string, Float64Array> = {};
  for (const w of model.weights) {
    const n = w.shape.reduce((a, b) => a * b, 1);
    const l = w.local;
    let f: () => number;
    if (l === "A_log") f = () => Math.log(rng.uniform(1, 16));
    else if (l === "D") f = () => rng.uniform(0.5, 1.5);
    else if (l === "dt_proj.bias" || l === "dt_bias") f = () => invSoftplus(Math.exp(rng.uniform(Math.log(1e-3), Math.log(0.1))));
    else if (l.endsWith("norm.weight")) f = () => 1 + 0.1 * rng.normal();
    else if (l === "embedding.weight") f = () => rng.normal();
    else if (l === "conv1d.weight") f = () => rng.normal() / Math.sqrt(w.shape[2]!);
    else if (l.endsWith(".bias")) f = () => 0.1 * rng.normal();
    else f = () => rng.normal() / Math.sqrt(w.shape[1]!);
    out[w.name] = rng.array(n, f);
  }
  return out;
}

export function randomTokens(model: ResolvedModel, n: number, seed: number): number[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => rng.int(model.vocab));
}

export type State = Record<string, Float64Array>;

export function zeroState(model: ResolvedModel): State {
  const s: State = {};
  for (const slot of stateSlots(model)) s[slot.name] = new Float64Array(slot.type.shape.reduce<number>((a, d) => a * (d as number), 1));
  return s;
}

export interface StepResult {
  readonly logits: Float64Array;
  readonly state: State;
}

/** Runs a lowered graph (prefill or decode) on `tokens` starting at `pos` with `state`. */
export function runGraph(g: Graph, model: ResolvedModel, weights: Record<string, Float64Array>, tokens: readonly number[], pos: number, state: State): StepResult {
  const out = run(g, { inputs: { tokens: Float64Array.from(tokens), pos: Float64Array.of(pos), ...state }, weights });
  const next: State = {};
  for (const slot of stateSlots(model)) next[slot.name] = out[slot.name]!.data;
  return { logits: out["logits"]!.data, state: next };
}

/** Decode token by token with the decode graph; logits of every position concatenated. */
export function runDecode(g: Graph, model: ResolvedModel, weights: Record<string, Float64Array>, tokens: readonly number[], pos: number, state: State): StepResult {
  const logits = new Float64Array(tokens.length * model.vocab);
  let st = state;
  tokens.forEach((t, i) => {
    const r = runGraph(g, model, weights, [t], pos + i, st);
    logits.set(r.logits, i * model.vocab);
    st = r.state;
  });
  return { logits, state: st };
}
