/**
 * The on-disk form of a ModelArtifact, as `hybridc build -o DIR` writes it under `DIR/<model>/`:
 *
 *   manifest.json                  the artifact, each kernel's `wgsl` replaced by `file`, the
 *                                  path of its module
 *   prefill/NN-<kernel>.wgsl       one module per per-call kernel, NN = dispatch order
 *   prefill/load-NN-<kernel>.wgsl  the load-time kernels (constants computed from weights)
 *   decode/...                     the same for the decode program
 *
 * `artifactFiles` returns paths and texts (the CLI writes them); `readArtifactFiles` is its
 * inverse over any way of reading a file (Node's fs in runtime/node.ts, fetch in `fetchArtifact`),
 * validated by parseArtifact. Keys are written in a fixed order and nothing depends on time or
 * place, so equal artifacts give equal bytes.
 */
import { ArtifactError, checkArtifactHeader, parseArtifact } from "./parse.ts";
import type { BindingSpec, Extent, KernelArtifact, ModelArtifact, ProgramArtifact, WeightInit } from "./types.ts";

export const MANIFEST = "manifest.json";

export interface ArtifactFile {
  readonly path: string;
  readonly text: string;
}

/** The files of one model, paths relative to its directory; manifest.json first. */
export function artifactFiles(a: ModelArtifact): ArtifactFile[] {
  const files: ArtifactFile[] = [];
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
    return programEntry(p, kernelsAs(p.load, "load-"), kernelsAs(p.call, ""));
  };
  const manifest = {
    format: a.format,
    version: a.version,
    hybridc: a.hybridc,
    source: a.source,
    model: a.model,
    vocab: a.vocab,
    context: a.context,
    attention: a.attention,
    weightsScheme: a.weightsScheme,
    tied: a.tied,
    limits: Object.fromEntries(Object.keys(a.limits).sort().map((k) => [k, a.limits[k as keyof typeof a.limits]])),
    features: a.features,
    weights: a.weights.map((w) => ({ name: w.name, shape: w.shape, dtype: w.dtype, init: initEntry(w.init) })),
    weightBuffers: a.weightBuffers.map((b) => ({ key: b.key, dtype: b.dtype, elements: b.elements, tensors: b.tensors.map((t) => ({ name: t.name, offset: t.offset, shape: t.shape, ...(t.quads ? { quads: true as const } : {}) })) })),
    prefill: program("prefill"),
    decode: program("decode"),
  };
  return [{ path: MANIFEST, text: `${jsonText(manifest)}\n` }, ...files];
}

/**
 * A built model back from its files: `manifestText` is its manifest.json, `readFile(path)` returns
 * the text of a file of the model's directory (a path the manifest names, relative to it).
 */
export async function readArtifactFiles(manifestText: string, readFile: (path: string) => string | Promise<string>, label = MANIFEST): Promise<ModelArtifact> {
  let m: unknown;
  try {
    m = JSON.parse(manifestText);
  } catch (e) {
    throw new ArtifactError(`${label}: not JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  checkArtifactHeader(m, label); // format and version, before any file is read
  const withCode = async (p: unknown, which: string): Promise<unknown> => {
    if (p === null || typeof p !== "object") return p;
    const program = p as Record<string, unknown>;
    const kernels = async (list: unknown): Promise<unknown> => {
      if (!Array.isArray(list)) return list;
      return Promise.all(
        list.map(async (k: unknown) => {
          if (k === null || typeof k !== "object") return k;
          const { file, ...rest } = k as { file?: unknown };
          if (typeof file !== "string" || !/^(prefill|decode)\/[^/\\]+\.wgsl$/.test(file) || file.includes("..")) {
            throw new ArtifactError(`${label}: ${which} kernel ${JSON.stringify((k as { name?: unknown }).name)} has no valid "file" (a path like "${which}/00-name.wgsl")`);
          }
          let wgsl: string;
          try {
            wgsl = await readFile(file);
          } catch (e) {
            throw new ArtifactError(`${label}: cannot read ${file}: ${e instanceof Error ? e.message : String(e)}`);
          }
          return { ...rest, wgsl };
        }),
      );
    };
    return { ...program, load: await kernels(program["load"]), call: await kernels(program["call"]) };
  };
  const o = m as Record<string, unknown>;
  return parseArtifact({ ...o, prefill: await withCode(o["prefill"], "prefill"), decode: await withCode(o["decode"], "decode") }, label);
}

/** JSON, one line per entry, with any array or object that fits in `width` columns on one line (diffs stay readable). */
export function jsonText(value: unknown, indent = "", width = 200): string {
  const flat = JSON.stringify(value);
  if (value === null || typeof value !== "object" || indent.length + flat.length <= width) return flat;
  const inner = `${indent}  `;
  if (Array.isArray(value)) return `[\n${value.map((x) => inner + jsonText(x, inner, width)).join(",\n")}\n${indent}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, x]) => x !== undefined);
  return `{\n${entries.map(([k, x]) => `${inner}${JSON.stringify(k)}: ${jsonText(x, inner, width)}`).join(",\n")}\n${indent}}`;
}

const extentEntry = (e: Extent): Extent => ({ perL: e.perL, fixed: e.fixed });

function initEntry(i: WeightInit): WeightInit {
  switch (i.kind) {
    case "const":
      return { kind: i.kind, value: i.value };
    case "normal":
      return { kind: i.kind, std: i.std };
    case "uniform":
      return { kind: i.kind, bound: i.bound };
    case "dt_bias":
      return { kind: i.kind, dtMin: i.dtMin, dtMax: i.dtMax };
    case "a_log_rows":
      return { kind: i.kind };
    case "a_log_heads":
      return { kind: i.kind, aMax: i.aMax };
  }
}

function programEntry(p: ProgramArtifact, load: unknown[], call: unknown[]): Record<string, unknown> {
  return {
    name: p.name,
    load,
    call,
    buffers: p.buffers.map((b) => ({ key: b.key, kind: b.kind, dtype: b.dtype, elements: extentEntry(b.elements) })),
    scratch: Object.fromEntries(Object.entries(p.scratch)),
    outputs: p.outputs.map((o) => ({ name: o.name, buffer: o.buffer, dtype: o.dtype, offset: extentEntry(o.offset), strides: o.strides.map(extentEntry), shape: o.shape })),
    state: p.state.map((s) => ({ name: s.name, dtype: s.dtype, shape: s.shape })),
    stateCopies: p.stateCopies,
    inputs: p.inputs.map((i) => ({ name: i.name, role: i.role, buffer: i.buffer, dtype: i.dtype })),
  };
}

function bindingEntry(b: BindingSpec): Record<string, unknown> {
  if (b.access === "uniform") return { group: b.group, binding: b.binding, name: b.name, access: b.access, role: b.role };
  return {
    group: b.group,
    binding: b.binding,
    name: b.name,
    access: b.access,
    dtype: b.dtype,
    lanes: b.lanes,
    role: b.role,
    buffer: b.buffer,
    elements: extentEntry(b.elements),
    ...(b.window ? { window: { offset: b.window.offset, elements: b.window.elements, of: b.window.of } } : {}),
  };
}

function kernelEntry(k: KernelArtifact, file: string): Record<string, unknown> {
  return {
    name: k.name,
    op: k.op,
    node: k.node,
    file,
    entryPoint: k.entryPoint,
    workgroupSize: k.workgroupSize,
    bindings: k.bindings.map(bindingEntry),
    uniforms: { fields: k.uniforms.fields },
    dispatch: { lTile: k.dispatch.lTile, times: k.dispatch.times },
    schedule: Object.fromEntries(Object.keys(k.schedule).sort().map((s) => [s, k.schedule[s]])),
    ...(k.features && k.features.length > 0 ? { features: k.features } : {}),
    spans: k.spans.map((s) => ({ start: s.start, end: s.end })),
    locations: k.locations,
  };
}

/**
 * A built model served over HTTP (a browser, Deno): `dir` is the URL of the directory that
 * `hybridc build -o DIR` wrote for the model (its manifest.json and .wgsl files).
 */
export async function fetchArtifact(dir: string | URL, init?: RequestInit): Promise<ModelArtifact> {
  // Relative to the page in a browser (`location`); absolute elsewhere.
  const page = (globalThis as { location?: { href: string } }).location?.href;
  const base = new URL(String(dir).endsWith("/") ? String(dir) : `${String(dir)}/`, page);
  const text = async (path: string): Promise<string> => {
    const url = new URL(path, base);
    const r = await fetch(url, init);
    if (!r.ok) throw new ArtifactError(`${url.href}: HTTP ${r.status} ${r.statusText}`);
    return r.text();
  };
  return readArtifactFiles(await text(MANIFEST), text, new URL(MANIFEST, base).href);
}
