/**
 * A whole model as one primitive-op graph:
 *
 *   h = E[tokens]
 *   for each layer, each sublayer:  h = h + block(norm(h))        (pre-norm residual)
 *   logits = norm_f(h) W_lm^T                                      (W_lm = E when tied)
 *
 * Inputs, in order: `tokens` i32[S], `pos` i32[], the state slots (state.ts), then every
 * checkpoint tensor of the resolved model (`@name`). Outputs: `logits` [S, vocab], then the new
 * state slots under the same names. Prefill has S = "L"; decode is the same program with S = 1.
 */
import type { BlockDef, ResolvedModel, Sublayer } from "../check/model.ts";
import { assertNever, invariant } from "../diag/diagnostic.ts";
import type { Span } from "../diag/source.ts";
import { GraphBuilder } from "../ir/builder.ts";
import type { Graph, GraphOutput, ValueRef } from "../ir/graph.ts";
import type { Dim } from "../ir/types.ts";
import { lowerAttention } from "./attention.ts";
import { WeightTable, type BlockResult, type SublayerCtx } from "./context.ts";
import { lowerMamba1 } from "./mamba1.ts";
import { lowerMamba2 } from "./mamba2.ts";
import { lowerMlp } from "./mlp.ts";
import { stateSlots, weightDtype, type StateKind } from "./state.ts";

export type Program = "prefill" | "decode";

export function lowerModel(model: ResolvedModel, program: Program): Graph {
  const seq: Dim = program === "prefill" ? "L" : 1;
  const dtype = weightDtype(model);
  const b = new GraphBuilder(`${model.name}.${program}`).at([model.span]);

  const tokens = b.input("tokens", "tokens", { dtype: "i32", shape: [seq] });
  const pos = b.input("pos", "pos", { dtype: "i32", shape: [] });
  const slots = stateSlots(model);
  const stateIn = new Map(slots.map((slot) => [slot.name, b.input(slot.name, "state", slot.type)]));

  const weights = new WeightTable();
  for (const w of model.weights) {
    const owner = w.layer === null ? null : model.layers[w.layer]?.sublayers[w.sublayer ?? -1];
    b.at(owner ? sublayerSpans(owner) : [model.span]);
    const r = b.weight({ name: w.name, local: w.local, layer: w.layer, sublayer: w.sublayer, type: { dtype, shape: w.shape } });
    weights.set(w.layer, w.sublayer, w.local, r);
  }

  b.at([model.span]);
  let h = b.embedding(weights.get(null, null, "embedding.weight"), tokens);
  const stateOut: GraphOutput[] = [];
  for (const layer of model.layers) {
    layer.sublayers.forEach((sub, j) => {
      b.at(sublayerSpans(sub));
      const ctx: SublayerCtx = {
        b,
        model,
        seq,
        pos,
        eps: model.norm.eps,
        w: (local) => weights.get(layer.index, j, local),
        state: (kind: StateKind) => {
          const r = stateIn.get(`layers.${layer.index}.${kind}`);
          invariant(r !== undefined, `layer ${layer.index} has no ${kind} state`);
          return r;
        },
      };
      const normed = norm(b, model, h, (local) => weights.get(layer.index, j, `input_norm.${local}`));
      const res = lowerBlock(ctx, sub.block, normed);
      h = b.add(h, res.out);
      for (const slot of slots) {
        if (slot.layer !== layer.index || slot.sublayer !== j) continue;
        const v = res.state[slot.kind];
        invariant(v !== undefined, `${sub.block.config.kind} lowering returned no ${slot.kind} state`);
        stateOut.push({ name: slot.name, value: v });
      }
    });
  }

  b.at([model.span]);
  const final = norm(b, model, h, (local) => weights.get(null, null, `final_norm.${local}`));
  const head = weights.get(null, null, model.tied ? "embedding.weight" : "lm_head.weight");
  const logits = b.linear(final, head);
  return b.finish([{ name: "logits", value: logits }, ...stateOut]);
}

function lowerBlock(ctx: SublayerCtx, block: BlockDef, x: ValueRef): BlockResult {
  const cfg = block.config;
  switch (cfg.kind) {
    case "mamba1":
      return lowerMamba1(ctx, cfg, x);
    case "mamba2":
      return lowerMamba2(ctx, cfg, x);
    case "attention":
      return lowerAttention(ctx, cfg, x);
    case "mlp":
      return lowerMlp(ctx, cfg, x);
    default:
      return assertNever(cfg, "block kind");
  }
}

/** The model norm (`norm = rmsnorm(...)` or `layernorm(...)`) with weights `{prefix}.weight|bias`. */
function norm(b: GraphBuilder, model: ResolvedModel, x: ValueRef, w: (local: "weight" | "bias") => ValueRef): ValueRef {
  switch (model.norm.kind) {
    case "rmsnorm":
      return b.rmsnorm(x, w("weight"), model.norm.eps);
    case "layernorm":
      return b.layernorm(x, w("weight"), w("bias"), model.norm.eps);
    default:
      return assertNever(model.norm.kind, "norm kind");
  }
}

/** A sublayer's nodes point at its use in `layers` and at its block's binding. */
function sublayerSpans(sub: Sublayer): readonly Span[] {
  return [sub.span, sub.block.span];
}
