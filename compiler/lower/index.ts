/**
 * Lowering: resolved model -> primitive-op IR graphs. Two programs per model:
 *   prefill  L tokens at positions pos..pos+L-1 (pos may be > 0: a prompt continues earlier state)
 *   decode   one token at position pos
 * Both read the state slots and return the new ones (state.ts), plus logits for every token.
 */
import type { ResolvedModel } from "../check/model.ts";
import type { Graph } from "../ir/graph.ts";
import { lowerModel } from "./model.ts";

export { lowerModel, type Program } from "./model.ts";
export { stateSlots, blockState, computeDtype, weightDtype, type StateSlot, type StateKind } from "./state.ts";

export function lowerPrefill(model: ResolvedModel): Graph {
  return lowerModel(model, "prefill");
}

export function lowerDecode(model: ResolvedModel): Graph {
  return lowerModel(model, "decode");
}
