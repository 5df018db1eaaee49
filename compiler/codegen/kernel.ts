/**
 * A kernel as data: the WGSL module and everything the runtime needs to launch it, from one
 * description. The `@group/@binding` declarations of the module are generated from `bindings`,
 * the list the runtime builds its bind group from, so the two cannot drift (TypeGPU's rule);
 * the uniform struct, its byte layout and the values the runtime writes come from `uniforms`.
 * The grid is a formula in L that the runtime evaluates; generated code holds no launch logic.
 *
 * Nothing here touches a GPU: runtime/device.ts is the only file that does.
 */
import type { Span } from "../diag/source.ts";
import type { OpName } from "../ir/ops.ts";
import { byteSize, DTYPES, elementsPerSlot, wgslElement } from "../../runtime/artifact/dtypes.ts";
import { bindingBytes } from "../../runtime/artifact/launch.ts";
import type { BindingSpec, Dispatch, KernelLimits, KernelSpec, StorageBindingSpec, UniformSpec } from "../../runtime/artifact/types.ts";
import { lines, u32, wgsl } from "./wgsl/template.ts";

// The kernel as data is the artifact's (runtime/artifact/types.ts): the runtime reads exactly what
// is generated here.
export type {
  BindingSpec,
  BufferRole,
  Dispatch,
  Extent,
  KernelLimits,
  KernelSpec,
  StorageBindingSpec,
  UniformBindingSpec,
  UniformField,
  UniformSpec,
} from "../../runtime/artifact/types.ts";
export { DEFAULT_LIMITS } from "../../runtime/artifact/types.ts";
export { bindingBytes, extentAt, foldGrid, uniformBytes, uniformData, workgroupCount } from "../../runtime/artifact/launch.ts";

/** A kernel that cannot be generated for this node or adapter; becomes a diagnostic at its spans. */
export class CodegenError extends Error {
  constructor(
    message: string,
    readonly spans: readonly Span[],
  ) {
    super(message);
    this.name = "CodegenError";
  }
}

/** `@group(0) @binding(i) var<...> name: type;` for one binding. */
export function bindingDecl(b: BindingSpec): string {
  const at = `@group(${b.group}) @binding(${b.binding})`;
  if (b.access === "uniform") return `${at} var<uniform> ${b.name}: Params;`;
  return `${at} var<storage, ${b.access}> ${b.name}: array<${wgslElement(b.dtype, b.lanes, b.packed)}>;`;
}

/** The device features a kernel needs: its bindings' (below) and its code's (`features`: subgroups). */
export function kernelFeatures(k: Pick<KernelSpec, "bindings" | "features">): string[] {
  return [...new Set([...bindingFeatures(k.bindings), ...(k.features ?? [])])].sort();
}

/** The device features a kernel's bindings need: shader-f16 for an f16 binding read natively, none when packed. */
export function bindingFeatures(bindings: readonly BindingSpec[]): string[] {
  const features = new Set<string>();
  for (const b of bindings) {
    const f = b.access === "uniform" || b.packed ? null : DTYPES[b.dtype].feature;
    if (f !== null) features.add(f);
  }
  return [...features].sort();
}

export interface ModuleParts {
  /** Comment lines (without `//`): math, shapes, thread mapping, spec lines. */
  readonly header: readonly string[];
  readonly bindings: readonly BindingSpec[];
  readonly uniforms: UniformSpec;
  readonly workgroupSize: number;
  /** Module-scope declarations: constants and helper functions. */
  readonly decls: readonly string[];
  /** The entry point's body; `wg` (flat workgroup index) and `lid` (local index) are in scope. */
  readonly body: string;
  /**
   * Device features the code uses (`subgroups`): the module enables them, and for subgroups
   * turns off the `subgroup_uniformity` diagnostic (the kernel calls subgroup operations in
   * control flow that is uniform per subgroup, not per workgroup, which the analysis cannot see).
   */
  readonly features?: readonly string[];
}

/**
 * The helper that unpacks four halves from a `vec2<u32>` word. Written inline as
 * `vec4<f32>(unpack2x16float(W[i].x), unpack2x16float(W[i].y))`, the word is indexed (and
 * bounds-clamped) twice, and lavapipe loads it twice: a packed-f16 GEMV then ran no faster than
 * the f32 one (bench/gemv.ts); through the helper the word is one load.
 */
export const UNPACK_HALVES4 = "unpack_halves4";
const UNPACK_HALVES4_DECL = `fn ${UNPACK_HALVES4}(w: vec2<u32>) -> vec4<f32> {
  return vec4<f32>(unpack2x16float(w.x), unpack2x16float(w.y));
}`;

/**
 * Halves [4 * hi, 4 * hi + 4) of a `vec4<u32>` word of 8 packed halves: a vec4 read (a norm's
 * weights, say) of a binding that a GEMV reads 8 halves at a time (operands.ts `load8`).
 */
export const UNPACK_QUAD8 = "unpack_quad8";
const UNPACK_QUAD8_DECL = `fn ${UNPACK_QUAD8}(w: vec4<u32>, hi: u32) -> vec4<f32> {
  return ${UNPACK_HALVES4}(select(w.xy, w.zw, hi == 1u));
}`;

/** The complete module: header comment, uniform struct, bindings (from the spec), helpers, entry point. */
export function assembleModule(p: ModuleParts): string {
  const struct = p.uniforms.fields.length > 0 && `struct Params {\n${p.uniforms.fields.map((f) => `  ${f}: u32,`).join("\n")}\n}`;
  const entry = wgsl`@compute @workgroup_size(${String(p.workgroupSize)})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let wg = wid.x + wid.y * nwg.x;
${lines([p.body], 2)}
}`;
  // WGSL's `enable` directives come first: f16 read natively needs `enable f16;`.
  const subgroups = (p.features ?? []).includes("subgroups") && "enable subgroups;\ndiagnostic(off, subgroup_uniformity);";
  const enable = bindingFeatures(p.bindings).includes("shader-f16") && "enable f16;";
  // Four packed halves read as one vec2<u32> word (operands.ts): loaded once, unpacked twice.
  const uses = (fn: string): boolean => [...p.decls, p.body].some((t) => t.includes(`${fn}(`));
  const quad8 = uses(UNPACK_QUAD8) && UNPACK_QUAD8_DECL;
  const halves = (quad8 || uses(UNPACK_HALVES4)) && UNPACK_HALVES4_DECL;
  const sections = [enable, subgroups, p.header.map((l) => (l === "" ? "//" : `// ${l}`)).join("\n"), struct, p.bindings.map(bindingDecl).join("\n"), ...windowHelpers(p.bindings), halves, quad8, ...p.decls, entry];
  return sections.filter((s): s is string => typeof s === "string" && s !== "").join("\n\n") + "\n";
}

/**
 * For each windowed operand, `fn NAME_at(i: u32) -> ELEM`: element i of the whole buffer (in
 * units of the binding's elem) read from the window that holds it. Windows hold whole rows, so
 * a workgroup's reads mostly take one branch.
 */
export function windowHelpers(bindings: readonly BindingSpec[]): string[] {
  const byOperand = new Map<string, StorageBindingSpec[]>();
  for (const b of bindings) {
    if (b.access === "uniform" || b.window === undefined) continue;
    const list = byOperand.get(b.window.of);
    if (list) list.push(b);
    else byOperand.set(b.window.of, [b]);
  }
  return [...byOperand].map(([of, ws]) => {
    const unit = elementsPerSlot(ws[0]!.dtype, ws[0]!.lanes, ws[0]!.packed);
    const read = (w: StorageBindingSpec): string => {
      const start = w.window!.offset / unit;
      return start === 0 ? `${w.name}[i]` : wgsl`${w.name}[i - ${u32(start)}]`;
    };
    const branches = ws.slice(0, -1).map((w) => wgsl`  if (i < ${u32((w.window!.offset + w.window!.elements) / unit)}) { return ${read(w)}; }`);
    return [`fn ${of}_at(i: u32) -> ${wgslElement(ws[0]!.dtype, ws[0]!.lanes, ws[0]!.packed)} {`, ...branches, `  return ${read(ws[ws.length - 1]!)};`, "}"].join("\n");
  });
}

/** What a generator decides; `buildKernel` turns it into the KernelSpec (module assembled once, here). */
export interface KernelParts extends ModuleParts {
  readonly name: string;
  readonly node: { readonly id: number; readonly op: OpName; readonly spans: readonly Span[] };
  readonly dispatch: Dispatch;
}

/** `S` is the family's schedule interface (every field a number). */
export function buildKernel<S extends { readonly [K in keyof S]: number }>(k: KernelParts & { readonly schedule: S }): KernelSpec {
  return {
    name: k.name,
    op: k.node.op,
    node: k.node.id,
    spans: k.node.spans,
    wgsl: assembleModule(k),
    entryPoint: "main",
    workgroupSize: k.workgroupSize,
    bindings: k.bindings,
    uniforms: k.uniforms,
    dispatch: k.dispatch,
    schedule: { ...k.schedule } as Readonly<Record<string, number>>,
    ...(k.features && k.features.length > 0 ? { features: [...k.features].sort() } : {}),
  };
}

/** Throws a CodegenError when the kernel does not fit the adapter. */
export function checkLimits(spec: KernelSpec, limits: KernelLimits): void {
  const storage = spec.bindings.filter((b) => b.access !== "uniform").length;
  if (storage > limits.maxStorageBuffersPerShaderStage) {
    throw new CodegenError(
      `kernel ${spec.name} (${spec.op}) needs ${storage} storage buffers; the adapter allows ${limits.maxStorageBuffersPerShaderStage} per stage`,
      spec.spans,
    );
  }
  const wgMax = Math.min(limits.maxComputeInvocationsPerWorkgroup, limits.maxComputeWorkgroupSizeX);
  if (spec.workgroupSize > wgMax) {
    throw new CodegenError(`kernel ${spec.name}: workgroup of ${spec.workgroupSize} exceeds the adapter's ${wgMax}`, spec.spans);
  }
  for (const b of spec.bindings) {
    if (b.access === "uniform" || b.elements.perL !== 0) continue; // L-dependent sizes are checked per call
    const bytes = b.window ? byteSize(b.dtype, b.window.elements) : bindingBytes(b, 0);
    if (bytes > limits.maxStorageBufferBindingSize) {
      throw new CodegenError(
        `kernel ${spec.name}: binding ${b.name} (${b.buffer}, ${bytes} bytes) exceeds maxStorageBufferBindingSize (${limits.maxStorageBufferBindingSize}); build the model's weight layout for this adapter's limits`,
        spec.spans,
      );
    }
  }
}
