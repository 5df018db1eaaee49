/**
 * What a block lowering sees: the builder (already pointed at the sublayer's spans), the
 * sequence dim of this program, the `pos` input, and lookups of its weights and state by
 * scheme-independent local name.
 */
import type { ResolvedModel } from "../check/model.ts";
import { invariant } from "../diag/diagnostic.ts";
import type { GraphBuilder } from "../ir/builder.ts";
import type { ValueRef } from "../ir/graph.ts";
import type { Dim } from "../ir/types.ts";
import type { StateKind } from "./state.ts";

export interface SublayerCtx {
  readonly b: GraphBuilder;
  readonly model: ResolvedModel;
  /** `"L"` in prefill, 1 in decode. */
  readonly seq: Dim;
  /** Position of the first token of this call (tokens already processed). */
  readonly pos: ValueRef;
  /** Epsilon of every norm in the model (the model norm's). */
  readonly eps: number;
  /** A weight of this sublayer by local name (`in_proj.weight`); missing is a compiler bug. */
  readonly w: (local: string) => ValueRef;
  /** The incoming state of this sublayer's layer. */
  readonly state: (kind: StateKind) => ValueRef;
}

/** What a block returns: its output [S, d_model] and its new state by kind. */
export interface BlockResult {
  readonly out: ValueRef;
  readonly state: Partial<Record<StateKind, ValueRef>>;
}

/** `x W^T (+ b)` for the projection `name` (`in_proj`), with a bias when the block has one. */
export function proj(s: SublayerCtx, x: ValueRef, name: string, bias: boolean): ValueRef {
  const y = s.b.linear(x, s.w(`${name}.weight`));
  return bias ? s.b.add(y, s.w(`${name}.bias`)) : y;
}

/** Weight refs keyed by (layer, sublayer, local). */
export class WeightTable {
  private readonly map = new Map<string, ValueRef>();

  private static key(layer: number | null, sublayer: number | null, local: string): string {
    return `${layer ?? "-"}/${sublayer ?? "-"}/${local}`;
  }

  set(layer: number | null, sublayer: number | null, local: string, r: ValueRef): void {
    const k = WeightTable.key(layer, sublayer, local);
    invariant(!this.map.has(k), `weight ${k} listed twice in the resolved model`);
    this.map.set(k, r);
  }

  get(layer: number | null, sublayer: number | null, local: string): ValueRef {
    const r = this.map.get(WeightTable.key(layer, sublayer, local));
    invariant(r !== undefined, `the resolved model has no weight ${local} for layer ${layer ?? "-"} sublayer ${sublayer ?? "-"}`);
    return r;
  }
}
