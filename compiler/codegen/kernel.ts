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
import { lines, u32, wgsl } from "./wgsl/template.ts";

/** What a storage array holds. */
export type Elem = "f32" | "vec4<f32>" | "i32" | "u32";

/** What a buffer is, for the runtime: read-only weights, persistent state, reused scratch, or model input/output. */
export type BufferRole = "weight" | "state" | "scratch" | "io";

/** A number of elements, `perL * L + fixed` (L = the prefill sequence length). */
export interface Extent {
  readonly perL: number;
  readonly fixed: number;
}

export interface StorageBindingSpec {
  readonly group: 0;
  readonly binding: number;
  /** The WGSL variable; the operands it holds, joined by `_` when views of one buffer share it. */
  readonly name: string;
  readonly access: "read" | "read_write";
  readonly elem: Elem;
  readonly role: BufferRole;
  /** The buffer it binds (see codegen/request.ts for the keys: `weight:NAME`, `state:NAME`, `%7#0`, ...). */
  readonly buffer: string;
  /** Scalar elements of that buffer. */
  readonly elements: Extent;
  /**
   * Only this part of the buffer is bound (element offset, a multiple of 64, and count): one of
   * the row windows of a weight over maxStorageBufferBindingSize. `of` names the operand whose
   * windows these are; the module reads them through `fn ${of}_at(i)` (see windowHelpers).
   */
  readonly window?: { readonly offset: number; readonly elements: number; readonly of: string };
}

export interface UniformBindingSpec {
  readonly group: 0;
  readonly binding: number;
  readonly name: "params";
  readonly access: "uniform";
  readonly elem: "Params";
  readonly role: "uniform";
}

export type BindingSpec = StorageBindingSpec | UniformBindingSpec;

/** A u32 the runtime passes per call. */
export type UniformField = "L" | "pos";

/** The uniform struct `Params`: its fields, in order, each a u32 at offset 4 * index. */
export interface UniformSpec {
  readonly fields: readonly UniformField[];
}

/**
 * Workgroups to launch: `ceil(L / lTile) * times`, or `times` when lTile is null. The runtime
 * folds the count into an (x, y) grid under maxComputeWorkgroupsPerDimension (`foldGrid`);
 * every kernel reads its flat index `wg = wid.x + wid.y * nwg.x`, and the few workgroups past
 * the count that a fold adds fall outside the data and do nothing.
 */
export interface Dispatch {
  readonly lTile: number | null;
  readonly times: number;
}

export interface KernelSpec {
  readonly name: string;
  readonly op: OpName;
  /** The graph node it computes, and the `.hyb` spans that node came from. */
  readonly node: number;
  readonly spans: readonly Span[];
  /** A complete WGSL module with one `@compute` entry point. */
  readonly wgsl: string;
  readonly entryPoint: "main";
  readonly workgroupSize: number;
  readonly bindings: readonly BindingSpec[];
  readonly uniforms: UniformSpec;
  readonly dispatch: Dispatch;
  /** The schedule it was generated with (tiles, vector width, ...), for the manifest and tests. */
  readonly schedule: Readonly<Record<string, number>>;
}

/** The adapter limits kernels must respect; a GPUSupportedLimits object is one. */
export interface KernelLimits {
  readonly maxComputeInvocationsPerWorkgroup: number;
  readonly maxComputeWorkgroupSizeX: number;
  readonly maxComputeWorkgroupStorageSize: number;
  readonly maxComputeWorkgroupsPerDimension: number;
  readonly maxStorageBuffersPerShaderStage: number;
  readonly maxStorageBufferBindingSize: number;
}

/** The WebGPU defaults: what every adapter offers. */
export const DEFAULT_LIMITS: KernelLimits = {
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupStorageSize: 16384,
  maxComputeWorkgroupsPerDimension: 65535,
  maxStorageBuffersPerShaderStage: 8,
  maxStorageBufferBindingSize: 134217728,
};

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

export function extentAt(e: Extent, L: number): number {
  return e.perL * L + e.fixed;
}

export function workgroupCount(d: Dispatch, L: number): number {
  return (d.lTile === null ? 1 : Math.ceil(L / d.lTile)) * d.times;
}

/** The grid for `count` workgroups: (count, 1, 1) when it fits, else (max, ceil(count / max), 1). */
export function foldGrid(count: number, maxPerDimension: number): [number, number, number] {
  if (count <= maxPerDimension) return [count, 1, 1];
  const y = Math.ceil(count / maxPerDimension);
  if (y > maxPerDimension) throw new RangeError(`${count} workgroups exceed ${maxPerDimension}^2`);
  return [maxPerDimension, y, 1];
}

/** Bytes of the uniform buffer: one u32 per field, padded to 16. */
export function uniformBytes(u: UniformSpec): number {
  return Math.max(16, Math.ceil((4 * u.fields.length) / 16) * 16);
}

/** The uniform buffer's contents for one call. */
export function uniformData(u: UniformSpec, values: Readonly<Record<UniformField, number>>): ArrayBuffer {
  const buf = new ArrayBuffer(uniformBytes(u));
  const view = new Uint32Array(buf);
  u.fields.forEach((f, i) => (view[i] = values[f]));
  return buf;
}

/** Bytes the buffer bound as `b` needs at length L (the whole buffer, also for a window): whole vec4s, never 0. */
export function bindingBytes(b: StorageBindingSpec, L: number): number {
  return Math.max(16, Math.ceil(extentAt(b.elements, L) / 4) * 16);
}

/** `@group(0) @binding(i) var<...> name: type;` for one binding. */
export function bindingDecl(b: BindingSpec): string {
  const at = `@group(${b.group}) @binding(${b.binding})`;
  if (b.access === "uniform") return `${at} var<uniform> ${b.name}: ${b.elem};`;
  return `${at} var<storage, ${b.access}> ${b.name}: array<${b.elem}>;`;
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
}

/** The complete module: header comment, uniform struct, bindings (from the spec), helpers, entry point. */
export function assembleModule(p: ModuleParts): string {
  const struct = p.uniforms.fields.length > 0 && `struct Params {\n${p.uniforms.fields.map((f) => `  ${f}: u32,`).join("\n")}\n}`;
  const entry = wgsl`@compute @workgroup_size(${String(p.workgroupSize)})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let wg = wid.x + wid.y * nwg.x;
${lines([p.body], 2)}
}`;
  const sections = [p.header.map((l) => (l === "" ? "//" : `// ${l}`)).join("\n"), struct, p.bindings.map(bindingDecl).join("\n"), ...windowHelpers(p.bindings), ...p.decls, entry];
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
    const unit = ws[0]!.elem === "vec4<f32>" ? 4 : 1;
    const read = (w: StorageBindingSpec): string => {
      const start = w.window!.offset / unit;
      return start === 0 ? `${w.name}[i]` : wgsl`${w.name}[i - ${u32(start)}]`;
    };
    const branches = ws.slice(0, -1).map((w) => wgsl`  if (i < ${u32((w.window!.offset + w.window!.elements) / unit)}) { return ${read(w)}; }`);
    return [`fn ${of}_at(i: u32) -> ${ws[0]!.elem} {`, ...branches, `  return ${read(ws[ws.length - 1]!)};`, "}"].join("\n");
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
    const bytes = b.window ? 4 * b.window.elements : bindingBytes(b, 0);
    if (bytes > limits.maxStorageBufferBindingSize) {
      throw new CodegenError(
        `kernel ${spec.name}: binding ${b.name} (${b.buffer}, ${bytes} bytes) exceeds maxStorageBufferBindingSize (${limits.maxStorageBufferBindingSize}); build the model's weight layout for this adapter's limits`,
        spec.spans,
      );
    }
  }
}
