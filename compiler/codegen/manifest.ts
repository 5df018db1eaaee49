/**
 * The on-disk form of a ModelArtifact, as `hybridc build -o DIR` writes it under `DIR/<model>/`:
 *
 *   manifest.json               format + version, the hybridc version, the spec file's name, the
 *                               limits the kernels were generated for, the weight tensors with
 *                               their shapes and their layout in weight buffers (plan/weights.ts),
 *                               and both programs (artifact.ts) with each kernel's `wgsl`
 *                               replaced by the name of its file
 *   prefill/NN-<kernel>.wgsl    one module per per-call kernel, NN = dispatch order
 *   prefill/load-NN-<kernel>.wgsl   the load-time kernels (constants computed from weights)
 *   decode/...                  the same for the decode program
 *
 * Pure: it returns paths and texts; the CLI writes them. Keys are written in a fixed order and
 * nothing depends on time or place, so equal artifacts give equal bytes.
 */
import type { KernelArtifact, ModelArtifact, ProgramArtifact } from "./artifact.ts";
import type { Extent, KernelLimits } from "./kernel.ts";
/** What `hybridc build` records next to the programs. */
export interface ManifestMeta {
  /** The hybridc version that built it. */
  readonly hybridc: string;
  /** The spec file's name (no directory, so builds do not depend on where they ran). */
  readonly source: string;
  readonly limits: KernelLimits;
}

export const MANIFEST_FORMAT = "hybridc-artifact";
export const MANIFEST_VERSION = 1;

/** The files of one model, paths relative to `DIR/<model>/`; manifest.json first. */
export function manifestFiles(a: ModelArtifact, meta: ManifestMeta): { readonly path: string; readonly text: string }[] {
  const files: { path: string; text: string }[] = [];
  const program = (which: "prefill" | "decode") => {
    const p = a[which];
    const kernelsAs = (list: readonly KernelArtifact[], prefix: string) => {
      const width = Math.max(2, String(list.length - 1).length);
      return list.map((k, i) => {
        const path = `${which}/${prefix}${String(i).padStart(width, "0")}-${k.name}.wgsl`;
        files.push({ path, text: k.wgsl });
        return kernelEntry(k, path);
      });
    };
    return {
      name: p.name,
      load: kernelsAs(p.load, "load-"),
      call: kernelsAs(p.call, ""),
      buffers: p.buffers.map((b) => ({ key: b.key, kind: b.kind, elements: extentEntry(b.elements) })),
      scratch: p.scratch,
      outputs: p.outputs.map((o) => ({ name: o.name, buffer: o.buffer, offset: extentEntry(o.offset), strides: o.strides.map(extentEntry), shape: o.shape })),
      state: p.state.map((s) => ({ name: s.name, shape: s.shape, bytes: s.bytes })),
      stateCopies: p.stateCopies,
      inputs: p.inputs.map((i) => ({ name: i.name, role: i.role, buffer: i.buffer, elem: i.elem })),
    };
  };
  const limits: Record<string, number> = {};
  for (const k of Object.keys(meta.limits).sort() as (keyof KernelLimits)[]) limits[k] = meta.limits[k];
  const manifest = {
    format: MANIFEST_FORMAT,
    version: MANIFEST_VERSION,
    hybridc: meta.hybridc,
    model: a.model,
    source: meta.source,
    limits,
    weights: a.weights.map((w) => ({ name: w.name, shape: w.shape })),
    weightBuffers: a.weightBuffers.map((b) => ({ key: b.key, elements: b.elements, tensors: b.tensors.map((t) => ({ name: t.name, offset: t.offset, shape: t.shape })) })),
    programs: { prefill: program("prefill"), decode: program("decode") },
  };
  return [{ path: "manifest.json", text: `${jsonText(manifest)}\n` }, ...files];
}

/** JSON, one line per entry, with any array or object that fits in `width` columns on one line (diffs stay readable). */
export function jsonText(value: unknown, indent = "", width = 200): string {
  const flat = JSON.stringify(value);
  if (value === null || typeof value !== "object" || indent.length + flat.length <= width) return flat;
  const inner = `${indent}  `;
  if (Array.isArray(value)) return `[\n${value.map((v) => inner + jsonText(v, inner, width)).join(",\n")}\n${indent}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  return `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${jsonText(v, inner, width)}`).join(",\n")}\n${indent}}`;
}

const extentEntry = (e: Extent): Extent => ({ perL: e.perL, fixed: e.fixed });

function kernelEntry(k: KernelArtifact, wgsl: string): Record<string, unknown> {
  return {
    name: k.name,
    op: k.op,
    node: k.node,
    wgsl,
    entryPoint: k.entryPoint,
    workgroupSize: k.workgroupSize,
    bindings: k.bindings.map((b) =>
      b.access === "uniform"
        ? { group: b.group, binding: b.binding, name: b.name, access: b.access, elem: b.elem, role: b.role }
        : {
            group: b.group,
            binding: b.binding,
            name: b.name,
            access: b.access,
            elem: b.elem,
            role: b.role,
            buffer: b.buffer,
            elements: extentEntry(b.elements),
            ...(b.window ? { window: { offset: b.window.offset, elements: b.window.elements, of: b.window.of } } : {}),
          },
    ),
    uniforms: { fields: k.uniforms.fields },
    dispatch: { lTile: k.dispatch.lTile, times: k.dispatch.times },
    schedule: Object.fromEntries(Object.keys(k.schedule).sort().map((s) => [s, k.schedule[s]])),
    spans: k.spans.map((s) => ({ start: s.start, end: s.end })),
    locations: k.locations,
  };
}

/**
 * A built model back from its files (the inverse of manifestFiles): `readFile(path)` returns the
 * text of a file of the model's directory. Throws when the text is no hybridc manifest of this
 * format version; the contents are otherwise trusted (they are what manifestFiles wrote).
 */
export function readManifest(text: string, readFile: (path: string) => string): { readonly artifact: ModelArtifact; readonly limits: KernelLimits; readonly hybridc: string } {
  const m = JSON.parse(text) as {
    format?: unknown;
    version?: unknown;
    hybridc: string;
    model: string;
    limits: KernelLimits;
    weights: ModelArtifact["weights"];
    weightBuffers: ModelArtifact["weightBuffers"];
    programs: Record<"prefill" | "decode", Omit<ProgramArtifact, "load" | "call"> & { load: KernelArtifact[]; call: KernelArtifact[] }>;
  };
  if (m.format !== MANIFEST_FORMAT) throw new Error(`not a hybridc build manifest (format ${JSON.stringify(m.format)})`);
  if (m.version !== MANIFEST_VERSION) throw new Error(`manifest version ${String(m.version)} is not supported (this hybridc reads version ${MANIFEST_VERSION})`);
  const program = (p: (typeof m.programs)["prefill"]): ProgramArtifact => {
    const withCode = (k: KernelArtifact): KernelArtifact => ({ ...k, wgsl: readFile(k.wgsl) });
    return { ...p, load: p.load.map(withCode), call: p.call.map(withCode) };
  };
  return {
    artifact: { model: m.model, weights: m.weights, weightBuffers: m.weightBuffers, prefill: program(m.programs.prefill), decode: program(m.programs.decode) },
    limits: m.limits,
    hybridc: m.hybridc,
  };
}
