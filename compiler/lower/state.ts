/**
 * The recurrent state of a model, one slot per tensor, in layer order. The same list names the
 * state inputs and outputs of both programs, so prefill and decode can hand state to each other.
 *
 *   mamba1     layers.{i}.conv [d_inner, d_conv]   the last d_conv pre-conv inputs, oldest first
 *              layers.{i}.ssm  [d_inner, d_state]
 *   mamba2     layers.{i}.conv [conv_dim, d_conv]  conv_dim = d_inner + 2 * ngroups * d_state
 *              layers.{i}.ssm  [heads, headdim, d_state]
 *   attention  layers.{i}.k, layers.{i}.v [context, kv_heads, head_dim]   k after RoPE;
 *              rows 0..pos-1 are valid
 *
 * A layer holds at most one mixer (the checker enforces it for both naming schemes).
 */
import type { BlockConfig, ResolvedModel } from "../check/model.ts";
import { assertNever, invariant } from "../diag/diagnostic.ts";
import type { Dtype, TensorType } from "../ir/types.ts";

export type StateKind = "conv" | "ssm" | "k" | "v";

export interface StateSlot {
  /** `layers.{layer}.{kind}`: the graph input and output name. */
  readonly name: string;
  readonly layer: number;
  readonly sublayer: number;
  readonly kind: StateKind;
  readonly type: TensorType;
}

export function blockState(config: BlockConfig, context: number): readonly (readonly [StateKind, readonly number[]])[] {
  switch (config.kind) {
    case "mamba1":
      return [
        ["conv", [config.dInner, config.dConv]],
        ["ssm", [config.dInner, config.dState]],
      ];
    case "mamba2":
      return [
        ["conv", [config.convDim, config.dConv]],
        ["ssm", [config.heads, config.headdim, config.dState]],
      ];
    case "attention":
      return [
        ["k", [context, config.kvHeads, config.headDim]],
        ["v", [context, config.kvHeads, config.headDim]],
      ];
    case "mlp":
      return [];
    default:
      return assertNever(config, "block kind");
  }
}

/**
 * The element type the programs compute in: activations, accumulations and the recurrent state
 * (SSM and conv state, KV cache) are f32 for every spec.
 */
export function computeDtype(_model: ResolvedModel): Dtype {
  return "f32";
}

/**
 * The element type checkpoint tensors are stored in on the GPU: the spec's `dtype`. f16 halves
 * the bytes a decode step reads; kernels read f16 as f32 (the element-format table's `compute`),
 * and a checkpoint stored in F32 or BF16 is converted once, as it is uploaded.
 */
export function weightDtype(model: ResolvedModel): Dtype {
  return model.dtype;
}

export function stateSlots(model: ResolvedModel): StateSlot[] {
  const dtype = computeDtype(model);
  const slots: StateSlot[] = [];
  for (const layer of model.layers) {
    const stateful = layer.sublayers.filter((s) => blockState(s.block.config, model.context).length > 0);
    invariant(stateful.length <= 1, `layer ${layer.index} of ${model.name} has ${stateful.length} mixers`);
    layer.sublayers.forEach((s, j) => {
      for (const [kind, shape] of blockState(s.block.config, model.context)) {
        slots.push({ name: `layers.${layer.index}.${kind}`, layer: layer.index, sublayer: j, kind, type: { dtype, shape } });
      }
    });
  }
  return slots;
}
