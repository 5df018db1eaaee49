/**
 * The flat grid shared by the row-wise families (embedding, norms, elementwise): `count`
 * independent work items, item `f = wg * WG + lid` for the flat workgroup index `wg`, with
 * `count = perL * L + fixed` (only the first axes' L makes it vary). The launch formula
 * `ceil(L / lTile) * times` is chosen so that it always covers `count` items:
 *
 *   fixed count            lTile = null, times = ceil(count / WG)
 *   perL >= WG             lTile = 1,    times = ceil(perL / WG)       (>= perL / WG per row)
 *   perL <  WG             lTile = floor(WG / perL), times = 1          (lTile rows fit one workgroup)
 *
 * Items past `count` (the rounding, and the fold of foldGrid) return at once.
 */
import { CodegenError, type Dispatch, type UniformSpec } from "../kernel.ts";
import type { Span } from "../../diag/source.ts";
import type { Dim, Shape } from "../../ir/types.ts";
import { u32, wgsl } from "./template.ts";

export interface FlatGrid {
  readonly dispatch: Dispatch;
  readonly uniforms: UniformSpec;
  /** u32 expression: the number of items. */
  readonly count: string;
}

/** Items `dims` (at most one "L"), WG per workgroup. */
export function flatGrid(dims: Shape, WG: number, spans: readonly Span[]): FlatGrid {
  const ls = dims.filter((d) => d === "L").length;
  if (ls > 1) throw new CodegenError("a kernel over L^2 items is not supported", spans);
  const fixed = dims.reduce<number>((a, d) => (d === "L" ? a : a * d), 1);
  if (ls === 0) {
    return { dispatch: { lTile: null, times: Math.max(1, Math.ceil(fixed / WG)) }, uniforms: { fields: [] }, count: wgsl`${u32(fixed)}` };
  }
  const dispatch = fixed >= WG ? { lTile: 1, times: Math.ceil(fixed / WG) } : { lTile: Math.floor(WG / fixed), times: 1 };
  return { dispatch, uniforms: { fields: ["L"] }, count: fixed === 1 ? "params.L" : wgsl`params.L * ${u32(fixed)}` };
}

/** A dim as a u32 expression. */
export function dimExpr(d: Dim): string {
  return d === "L" ? "params.L" : wgsl`${u32(d)}`;
}

/**
 * Statements that split the flat index `flat` (a u32 expression) into one index per dim, row-major,
 * named `${prefix}0`, `${prefix}1`, ...; returns the statements and the index expressions (`0u`
 * for unit dims, which the accessors skip).
 */
export function unflatten(flat: string, dims: Shape, prefix: string): { readonly code: string; readonly ix: string[] } {
  const ix = dims.map((d, i) => (d === 1 ? "0u" : `${prefix}${i}`));
  const live = dims.map((d, i) => i).filter((i) => dims[i] !== 1);
  if (live.length === 0) return { code: "", ix };
  const out: string[] = [`${live.length === 1 ? "let" : "var"} ${prefix}r = ${flat};`];
  for (let k = live.length - 1; k >= 1; k--) {
    const i = live[k]!;
    out.push(`let ${prefix}${i} = ${prefix}r % ${dimExpr(dims[i]!)};`, `${prefix}r = ${prefix}r / ${dimExpr(dims[i]!)};`);
  }
  out.push(`let ${prefix}${live[0]} = ${prefix}r;`);
  return { code: out.join("\n"), ix };
}
