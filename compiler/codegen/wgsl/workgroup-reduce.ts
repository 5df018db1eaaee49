/**
 * A tree reduction over one workgroup, shared by the families whose workgroup owns a row (the
 * wide row norms, softmax, the decode GEMVs' staged norm): every invocation passes its partial
 * value and gets the combination of all WG of them back. ceil(log2(WG)) rounds, each between
 * barriers, in WG f32 of workgroup memory; when WG is not a power of two, a round's upper half
 * is partly missing and only the values that exist fold in. Every invocation of the workgroup
 * must call it (uniform control flow), the same number of times.
 */
import { invariant } from "../../diag/diagnostic.ts";
import { pow2AtLeast } from "./common.ts";
import { u32, wgsl } from "./template.ts";

/** How two partial values combine. */
export type Combine = "sum" | "max";

/** `fn NAME(v: f32, lid: u32) -> f32` and its workgroup array `ARRAY` (one per reduction, so two can coexist). */
export function workgroupReduceDecl(WG: number, name = "reduce", array = "red", combine: Combine = "sum"): string {
  invariant(Number.isInteger(WG) && WG >= 1, `a tree reduction needs a workgroup, got ${WG}`);
  const step = combine === "sum" ? `${array}[lid] += ${array}[lid + h];` : `${array}[lid] = max(${array}[lid], ${array}[lid + h]);`;
  const whole = (WG & (WG - 1)) === 0;
  return wgsl`var<workgroup> ${array}: array<f32, ${u32(WG)}>;

fn ${name}(v: f32, lid: u32) -> f32 {
  ${array}[lid] = v;
  workgroupBarrier();
  for (var h = ${u32(Math.floor(pow2AtLeast(WG) / 2))}; h > 0u; h = h >> 1u) {
    if (${whole ? "lid < h" : wgsl`lid < h && lid + h < ${u32(WG)}`}) { ${step} }
    workgroupBarrier();
  }
  let r = ${array}[0u];
  workgroupBarrier();
  return r;
}`;
}
