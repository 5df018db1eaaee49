/**
 * A tree reduction over one workgroup, shared by the families whose workgroup owns a row (the
 * wide row norms, softmax): every invocation passes its partial value and gets the combination
 * of all WG of them back. WG must be a power of two; log2(WG) rounds, each between barriers, in
 * WG f32 of workgroup memory. Every invocation of the workgroup must call it (uniform control
 * flow), the same number of times.
 */
import { invariant } from "../../diag/diagnostic.ts";
import { u32, wgsl } from "./template.ts";

/** How two partial values combine. */
export type Combine = "sum" | "max";

/** `fn NAME(v: f32, lid: u32) -> f32` and its workgroup array `ARRAY` (one per reduction, so two can coexist). */
export function workgroupReduceDecl(WG: number, name = "reduce", array = "red", combine: Combine = "sum"): string {
  invariant(WG >= 1 && (WG & (WG - 1)) === 0, `a tree reduction needs a power-of-two workgroup, got ${WG}`);
  const step = combine === "sum" ? `${array}[lid] += ${array}[lid + h];` : `${array}[lid] = max(${array}[lid], ${array}[lid + h]);`;
  return wgsl`var<workgroup> ${array}: array<f32, ${u32(WG)}>;

fn ${name}(v: f32, lid: u32) -> f32 {
  ${array}[lid] = v;
  workgroupBarrier();
  for (var h = ${u32(Math.floor(WG / 2))}; h > 0u; h = h >> 1u) {
    if (lid < h) { ${step} }
    workgroupBarrier();
  }
  let r = ${array}[0u];
  workgroupBarrier();
  return r;
}`;
}
