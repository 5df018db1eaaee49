/**
 * The compiled artifact (runtime/artifact/types.ts) of optimized graphs: everything the runtime
 * needs to run one model, as plain JSON-able data. Per program:
 *
 *   load, call   the load-time kernels (constants from weights) and the per-call kernels, in
 *                dispatch order: KernelSpecs plus their spans as `file:line:col` strings
 *   buffers      every buffer the runtime allocates or borrows, by key, with its dtype and size in
 *                elements (`perL * L + fixed`); scratch values get no buffer of their own but
 *                share `arena:N` buffers by liveness (plan/liveness.ts), mapped in `scratch`
 *   outputs      where each graph output lies: buffer key, offset and strides (linear in L), shape
 *   state        the state slots (persistent, owned by the model's memory) and the state outputs
 *                that live outside their slot and are copied back after a call
 *   inputs       tokens and pos: the buffer a call writes, and its dtype
 *
 * and per model (`modelArtifact`): the vocabulary, context and attention windows, the limits
 * and features the kernels need, the weights (shape, storage dtype, init) and their layout.
 * Kernel names and bindings are those of plan/kernels.ts and codegen/request.ts. A node that
 * cannot be generated (no generator, over the limits, an unsupported layout) becomes an
 * ArtifactProblem with a diagnostic code and the node's spans; the build carries on so that one
 * run reports every such node. Nothing here does I/O.
 */
import {
  ARTIFACT_FORMAT,
  ARTIFACT_VERSION,
  type BufferArtifact,
  type BufferKind,
  type Extent,
  type InputArtifact,
  type KernelArtifact,
  type KernelLimits,
  type KernelSpec,
  type ModelArtifact,
  type OutputArtifact,
  type ProgramArtifact,
  type StateArtifact,
  type WeightArtifact,
} from "../../runtime/artifact/types.ts";
import { initOf } from "../check/init.ts";
import type { ResolvedModel } from "../check/model.ts";
import type { DiagCode } from "../diag/codes.ts";
import { invariant } from "../diag/diagnostic.ts";
import type { Span } from "../diag/source.ts";
import type { Graph, ValueRef } from "../ir/graph.ts";
import { typeOfRef } from "../ir/graph.ts";
import { concreteShape, isSymbolic, numel } from "../ir/types.ts";
import { weightDtype } from "../lower/state.ts";
import { planGraph } from "../plan/index.ts";
import { kernelsOf, type KernelInfo } from "../plan/kernels.ts";
import { quadWeights } from "../plan/quads.ts";
import { storage } from "../plan/storage.ts";
import { layouts } from "../plan/views.ts";
import { weightLayout, type WeightLayout } from "../plan/weights.ts";
import { VERSION } from "../version.ts";
import { generateKernel } from "./index.ts";
import { CodegenError, kernelFeatures } from "./kernel.ts";
import { KernelMemo } from "./memo.ts";
import { hasGenerator } from "./registry.ts";
import { bufferKey, requestFromGraph, type F16Mode } from "./request.ts";

export type { BufferArtifact, BufferKind, InputArtifact, KernelArtifact, ModelArtifact, OutputArtifact, ProgramArtifact, StateArtifact } from "../../runtime/artifact/types.ts";

/** A node that could not become a kernel: a diagnostic at its spans. */
export interface ArtifactProblem {
  readonly code: DiagCode;
  readonly message: string;
  readonly kernel: string;
  readonly spans: readonly Span[];
}

export type ArtifactResult = { readonly ok: true; readonly artifact: ProgramArtifact } | { readonly ok: false; readonly problems: readonly ArtifactProblem[] };

export interface ArtifactOptions {
  readonly limits: KernelLimits;
  /** The model's weight layout (plan/weights.ts); without it every weight is a buffer of its own. */
  readonly weights?: WeightLayout;
  /** `file.hyb:12:5` for a span; `offsets S-E` when absent. */
  readonly locate?: (s: Span) => string;
  /** How kernels read f16 weights (request.ts F16Mode; default packed, which every device runs). */
  readonly f16?: F16Mode;
  /** Kernels may use subgroup operations (the device has the `subgroups` feature); default false. */
  readonly subgroups?: boolean;
  /** Size the kernels' parallelism for a GPU (BuildOptions.target `gpu`); default false (a CPU adapter). */
  readonly gpu?: boolean;
  /** Kernels remembered across calls (memo.ts; a fresh one per program by default), or false to generate every kernel afresh (tests). */
  readonly memo?: KernelMemo | false;
}

/** The length at which scratch values are sized to pick arenas (best fit); any length gives a valid assignment. */
export const ARENA_L = 1024;

const offsets = (s: Span): string => `offsets ${s.start}-${s.end}`;

/** The artifact of one optimized program; every kernel that cannot be generated is a problem. */
export function programArtifact(g: Graph, options: ArtifactOptions): ArtifactResult {
  const locate = options.locate ?? offsets;
  // L = 2 is the general case for which views and kernels are decided (kernels() does the same).
  const lay = layouts(g, 2);
  const { constant } = storage(g, lay);
  const problems: ArtifactProblem[] = [];
  const memo = options.memo === false ? null : (options.memo ?? new KernelMemo());
  const gen = (k: KernelInfo): KernelArtifact | null => {
    const spec = generate(g, k, options, locate, problems, memo);
    return spec && { ...spec, locations: [...new Set(spec.spans.map(locate))] };
  };
  const load = kernelsOf(g, lay, constant, "load").map(gen);
  const call = kernelsOf(g, lay, constant, "call").map(gen);
  if (problems.length > 0) return { ok: false, problems: grouped(problems) };
  const kernels = [...load, ...call] as KernelArtifact[];
  const { buffers, scratch } = buffersOf(g, kernels);
  return {
    ok: true,
    artifact: {
      name: g.name,
      load: load as KernelArtifact[],
      call: call as KernelArtifact[],
      buffers,
      scratch,
      outputs: g.outputs.map((o) => outputOf(g, o.name, o.value)),
      state: stateInputs(g),
      stateCopies: stateCopies(g),
      inputs: inputsOf(g, kernels),
    },
  };
}

function generate(g: Graph, k: KernelInfo, options: ArtifactOptions, locate: (s: Span) => string, problems: ArtifactProblem[], memo: KernelMemo | null): KernelSpec | null {
  const spans = g.nodes[k.node]!.spans;
  if (!hasGenerator(k.op)) {
    problems.push({ code: "HYB5001", message: `no WGSL generator for ${k.op}`, kernel: k.name, spans });
    return null;
  }
  let req;
  try {
    req = requestFromGraph(g, k.node, { name: k.name, describeSpan: locate, ...(options.weights ? { weights: options.weights } : {}), ...(options.f16 ? { f16: options.f16 } : {}), ...(options.subgroups ? { subgroups: true } : {}), ...(options.gpu ? { gpu: true } : {}) });
  } catch (e) {
    if (!(e instanceof CodegenError)) throw e;
    // A weight over the binding limit that cannot be split into row windows is a limits problem; the rest are layouts.
    const code = e.message.includes("maxStorageBufferBindingSize") ? "HYB5002" : "HYB5003";
    problems.push({ code, message: `kernel ${k.name}: ${e.message}`, kernel: k.name, spans: e.spans });
    return null;
  }
  try {
    return memo ? memo.generate(req, options.limits) : generateKernel(req, options.limits);
  } catch (e) {
    if (!(e instanceof CodegenError)) throw e;
    problems.push({ code: "HYB5002", message: e.message.startsWith("kernel ") ? e.message : `kernel ${k.name}: ${e.message}`, kernel: k.name, spans: e.spans });
    return null;
  }
}

/**
 * One problem per cause, so a repeated layer does not repeat it: a missing generator once per op
 * (at its first node), any other problem once per code, spans and message (kernel name aside).
 */
function grouped(problems: readonly ArtifactProblem[]): ArtifactProblem[] {
  const groups = new Map<string, ArtifactProblem[]>();
  for (const p of problems) {
    const key = p.code === "HYB5001" ? `${p.code} ${p.message}` : `${p.code} ${spansKey(p.spans)} ${p.message.split(p.kernel).join("\0")}`;
    const g = groups.get(key);
    if (g) g.push(p);
    else groups.set(key, [p]);
  }
  return [...groups.values()].map((g) => {
    const p = g[0]!;
    if (p.code === "HYB5001") return { ...p, message: `${p.message} (${g.length === 1 ? "kernel" : `${g.length} kernels, first`} ${p.kernel})` };
    return g.length === 1 ? p : { ...p, message: `${p.message} (and ${g.length - 1} more kernel${g.length === 2 ? "" : "s"} of the same lines)` };
  });
}

const spansKey = (spans: readonly Span[]): string => spans.map((s) => `${s.start}-${s.end}`).join(",");

const maxExtent = (a: Extent | undefined, b: Extent): Extent => (a ? { perL: Math.max(a.perL, b.perL), fixed: Math.max(a.fixed, b.fixed) } : b);

function kindOf(key: string): BufferKind | "scratch" {
  const colon = key.indexOf(":");
  return colon < 0 ? "scratch" : (key.slice(0, colon) as BufferKind);
}

/**
 * Buffers by key, sized to their largest binding (a state slot also to its value). Scratch keys
 * share the arenas of the buffer plan: two scratch values share one only when their lifetimes
 * (writer to last reader) do not overlap, so no kernel binds one arena twice.
 */
function buffersOf(g: Graph, kernels: readonly KernelSpec[]): { buffers: BufferArtifact[]; scratch: Record<string, string> } {
  const arenaOf = scratchArenas(g);
  const sizes = new Map<string, { dtype: BufferArtifact["dtype"]; elements: Extent }>();
  const scratch: Record<string, string> = {};
  const grow = (key: string, dtype: BufferArtifact["dtype"], elements: Extent, by: string, spans: readonly Span[]): void => {
    const had = sizes.get(key);
    // An arena holds scratch values of one dtype (all f32 today); a mix would need byte-sized arenas.
    if (had && had.dtype !== dtype) throw new CodegenError(`${g.name}: buffer ${key} is bound as ${had.dtype} and as ${dtype} (by ${by})`, spans);
    sizes.set(key, { dtype, elements: maxExtent(had?.elements, elements) });
  };
  for (const s of kernels) {
    for (const b of s.bindings) {
      if (b.access === "uniform") continue;
      let key = b.buffer;
      if (kindOf(key) === "scratch") {
        const arena = arenaOf.get(key);
        if (arena === undefined) throw new CodegenError(`${g.name}: scratch buffer ${key} of kernel ${s.name} has no arena`, s.spans);
        scratch[key] = arena;
        key = arena;
      }
      grow(key, b.dtype, b.elements, s.name, s.spans);
    }
  }
  for (const n of stateInputs(g)) grow(`state:${n.name}`, n.dtype, { perL: 0, fixed: numel(n.shape) }, "its state slot", g.nodes[0]!.spans);
  const buffers = [...sizes].map(([key, { dtype, elements }]) => ({ key, kind: kindOf(key) as BufferKind, dtype, elements }));
  return { buffers, scratch };
}

/** Scratch buffer key -> `arena:N`, from the liveness plan sized at ARENA_L. */
function scratchArenas(g: Graph): Map<string, string> {
  const plan = planGraph(g, { L: ARENA_L });
  const out = new Map<string, string>();
  plan.values.forEach((results, node) =>
    results.forEach((v, index) => {
      const base: ValueRef = { node, index };
      if (v.storage.kind !== "scratch" || v.buffer === null || v.layout.base.node !== node || v.layout.base.index !== index) return;
      out.set(bufferKey(v.storage, base), `arena:${v.buffer}`);
    }),
  );
  return out;
}

/** An output's window, offset and strides as extents in L (checked linear at a third length). */
function outputOf(g: Graph, name: string, value: ValueRef): OutputArtifact {
  const at = (L: number) => layouts(g, L)[value.node]![value.index]!;
  const [a, b, c] = [at(2), at(3), at(5)];
  const linear = (x2: number, x3: number, x5: number): Extent => {
    const e = { perL: x3 - x2, fixed: x2 - 2 * (x3 - x2) };
    if (e.perL * 5 + e.fixed !== x5) throw new CodegenError(`${g.name}: output ${name} has a layout that is not linear in L`, g.nodes[value.node]!.spans);
    return e;
  };
  const lay2 = layouts(g, 2);
  const st = storage(g, lay2).of[a.base.node]![a.base.index]!;
  return {
    name,
    buffer: bufferKey(st, a.base),
    dtype: typeOfRef(g, value).dtype,
    offset: linear(a.offset, b.offset, c.offset),
    strides: a.strides.map((s, d) => linear(s, b.strides[d]!, c.strides[d]!)),
    shape: typeOfRef(g, value).shape,
  };
}

function stateInputs(g: Graph): StateArtifact[] {
  return g.nodes.flatMap((n) => {
    if (n.op !== "input" || n.attrs.role !== "state") return [];
    const shape = n.attrs.type.shape;
    invariant(!isSymbolic(shape), `${g.name}: state ${n.attrs.name} has a shape that depends on L`);
    return [{ name: n.attrs.name, dtype: n.attrs.type.dtype, shape: concreteShape(shape, 1) }];
  });
}

function stateCopies(g: Graph): string[] {
  const lay = layouts(g, 2);
  const { of } = storage(g, lay);
  const names = new Set(stateInputs(g).map((s) => s.name));
  return g.outputs.flatMap((o) => {
    const base = lay[o.value.node]![o.value.index]!.base;
    return names.has(o.name) && bufferKey(of[base.node]![base.index]!, base) !== `state:${o.name}` ? [o.name] : [];
  });
}

function inputsOf(g: Graph, kernels: readonly KernelSpec[]): InputArtifact[] {
  return g.nodes.flatMap((n): InputArtifact[] => {
    if (n.op !== "input" || (n.attrs.role !== "tokens" && n.attrs.role !== "pos")) return [];
    const key = `input:${n.attrs.name}`;
    const bound = kernels.some((s) => s.bindings.some((x) => x.access !== "uniform" && x.buffer === key));
    return [{ name: n.attrs.name, role: n.attrs.role, buffer: bound ? key : null, dtype: n.attrs.type.dtype }];
  });
}

export type ModelArtifactResult = { readonly ok: true; readonly artifact: ModelArtifact } | { readonly ok: false; readonly problems: readonly ArtifactProblem[] };

/** The tensors of `model` as the artifact lists them: name, shape, GPU storage dtype, init. */
export function weightArtifacts(model: ResolvedModel): WeightArtifact[] {
  const dtype = weightDtype(model);
  return model.weights.map((w) => ({ name: w.name, shape: [...w.shape], dtype, init: initOf(model, w) }));
}

/** The window of every attention sublayer (null: full causal), in layer order. */
export function attentionWindows(model: ResolvedModel): (number | null)[] {
  return model.layers.flatMap((l) => l.sublayers.flatMap((s) => (s.block.config.kind === "attention" ? [s.block.config.window] : [])));
}

export interface ModelArtifactOptions extends ArtifactOptions {
  /** The spec file's name, recorded in the artifact. */
  readonly source?: string;
  /**
   * More programs whose readers decide which weights are stored in row quads: an unfused build
   * passes the fused ones, so that both builds of a model lay its weights out alike (one upload
   * serves either; a weight is in quads only where every reader in both allows it).
   */
  readonly layoutGraphs?: { readonly prefill: Graph; readonly decode: Graph };
}

/** Both programs, generated against one weight layout made from the model's full weight list for `options.limits`. */
export function modelArtifact(model: ResolvedModel, graphs: { readonly prefill: Graph; readonly decode: Graph }, options: ModelArtifactOptions): ModelArtifactResult {
  const weights = weightArtifacts(model);
  // Row quads serve a CPU adapter's decode GEMVs; a GPU's warps read rows whole (plan/quads.ts).
  const dtypes = new Map(weights.map((w) => [w.name, w.dtype]));
  const readers = [graphs, ...(options.layoutGraphs ? [options.layoutGraphs] : [])].flatMap((p) => [p.prefill, p.decode]);
  const quads = options.gpu ? new Set<string>() : quadWeights(readers, (name) => dtypes.get(name)!);
  const layout = weightLayout(weights, options.limits, quads);
  const memo = options.memo ?? new KernelMemo();
  const prefill = programArtifact(graphs.prefill, { ...options, weights: layout, memo });
  const decode = programArtifact(graphs.decode, { ...options, weights: layout, memo });
  if (!prefill.ok || !decode.ok) {
    // The decode program repeats the prefill's problems at the same nodes: report each once.
    const seen = new Set<string>();
    const problems = [...(prefill.ok ? [] : prefill.problems), ...(decode.ok ? [] : decode.problems)].filter((p) => {
      const key = `${p.code} ${p.message.replace(/ \(.*\)$/, "")} ${spansKey(p.spans)}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    return { ok: false, problems };
  }
  const kernels = [prefill.artifact, decode.artifact].flatMap((p) => [...p.load, ...p.call]);
  return {
    ok: true,
    artifact: {
      format: ARTIFACT_FORMAT,
      version: ARTIFACT_VERSION,
      hybridc: VERSION,
      source: options.source ?? "<input>",
      model: model.name,
      vocab: model.vocab,
      context: model.context,
      attention: attentionWindows(model),
      weightsScheme: model.weightsScheme,
      tied: model.tied,
      limits: limitsOf(options.limits),
      features: featuresOf(kernels),
      weights,
      weightBuffers: layout.buffers,
      prefill: prefill.artifact,
      decode: decode.artifact,
    },
  };
}

/** Only the limits kernels are generated against (a GPUSupportedLimits has dozens), in a fixed order. */
function limitsOf(l: KernelLimits): KernelLimits {
  return {
    maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
    maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
    maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
    maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
    maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
  };
}

/** The device features the kernels need: those their bindings read natively (shader-f16 for f16 read as f16, none packed) and their code uses (subgroups). */
function featuresOf(kernels: readonly KernelSpec[]): string[] {
  return [...new Set(kernels.flatMap((k) => kernelFeatures(k)))].sort();
}
