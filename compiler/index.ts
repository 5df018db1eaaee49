/**
 * The compiler's programmatic entry. The stages, top to bottom:
 *   source text --parse--> AST --check--> resolved models                     compile()  (compile.ts)
 *   resolved model --lower--> prefill + decode IR --optimize--> fused IR      programs()
 *   fused IR --plan--> views, storage, scratch by liveness, kernel list       (codegen/artifact.ts)
 *            --codegen--> one WGSL module + bindings + grid per kernel         (codegen/wgsl/)
 *            --> the artifact the runtime runs (runtime/artifact/types.ts)    build()
 * User errors come back as diagnostics; nothing here throws on bad input and nothing does I/O.
 */
import { parseArtifact } from "../runtime/artifact/parse.ts";
import type { ModelArtifact } from "../runtime/artifact/types.ts";
import { BuildError, kernelLimits, problemDiagnostics, scanOf, type BuildOptions, type BuildResult } from "./build.ts";
import type { ResolvedModel } from "./check/model.ts";
import { modelArtifact, type ArtifactProblem } from "./codegen/artifact.ts";
import { compile } from "./compile.ts";
import { InternalCompilerError, type Diagnostic } from "./diag/diagnostic.ts";
import type { SourceFile, Span } from "./diag/source.ts";
import type { Graph } from "./ir/graph.ts";
import { lowerDecode, lowerPrefill } from "./lower/index.ts";
import { optimize, type OptimizeOptions } from "./passes/index.ts";

/** A model's two programs, lowered and optimized; `{ fuse: false }` is `--no-fuse`. */
export interface Programs {
  readonly prefill: Graph;
  readonly decode: Graph;
}

export function programs(model: ResolvedModel, options: OptimizeOptions = {}): Programs {
  return { prefill: optimize(lowerPrefill(model), options), decode: optimize(lowerDecode(model), options) };
}

/**
 * A spec's text to the artifacts the runtime runs, one per model, with the diagnostics of every
 * stage; `hybridc build -o DIR` writes exactly these (runtime/artifact/files.ts).
 */
export function build(text: string, options: BuildOptions = {}): BuildResult {
  const compiled = compile(text, options);
  if (!compiled.ok) return { ...compiled, artifacts: [] };
  const artifacts: ModelArtifact[] = [];
  const problems: Diagnostic[] = [];
  for (const model of compiled.models) {
    const r = buildModel(model, compiled.source, options);
    if (r.ok) artifacts.push(r.artifact);
    else problems.push(...problemDiagnostics(compiled.source, r.problems));
  }
  const ok = !problems.some((d) => d.severity === "error");
  return { ...compiled, diagnostics: [...compiled.diagnostics, ...problems], ok, artifacts: ok ? artifacts : [] };
}

/** One model's artifact, or the kernels that could not be generated. */
export function buildModel(
  model: ResolvedModel,
  source: SourceFile,
  options: Omit<BuildOptions, "path"> = {},
): { readonly ok: true; readonly artifact: ModelArtifact } | { readonly ok: false; readonly problems: readonly ArtifactProblem[] } {
  const file = source.path.split(/[\\/]/).pop() ?? source.path;
  const locate = (s: Span): string => {
    const { line, col } = source.lineCol(s.start);
    return `${file}:${line}:${col}`;
  };
  const target = options.target ?? "cpu";
  const scan = options.scan ?? scanOf(target);
  const fuse = options.fuse ?? true;
  const r = modelArtifact(model, programs(model, { fuse, scan }), {
    // One weight layout per model and target: an unfused build takes the fused programs' (artifact.ts).
    ...(fuse ? {} : { layoutGraphs: programs(model, { fuse: true, scan }) }),
    limits: kernelLimits(options.limits),
    locate,
    source: file,
    ...(options.f16 ? { f16: options.f16 } : {}),
    ...(options.subgroups ? { subgroups: true } : {}),
    ...(target === "gpu" ? { gpu: true } : {}),
  });
  if (!r.ok) return r;
  // Through the runtime's own validation: what the compiler emits is what the runtime accepts.
  try {
    return { ok: true, artifact: parseArtifact(r.artifact, `the artifact of model ${model.name}`) };
  } catch (e) {
    throw new InternalCompilerError(`the code generator produced an artifact the runtime rejects: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** One model's artifact; a BuildError with the diagnostics when it cannot be built (tests, benchmarks, scripts). */
export function artifactOf(model: ResolvedModel, source: SourceFile, options: Omit<BuildOptions, "path"> = {}): ModelArtifact {
  const r = buildModel(model, source, options);
  if (r.ok) return r.artifact;
  throw new BuildError(problemDiagnostics(source, r.problems));
}

export { compile, type CompileOptions, type CompileResult } from "./compile.ts";
export { BuildError, kernelLimits, scanFor, scanOf, subgroupsFor, targetFor, type BuildOptions, type BuildResult, type Target } from "./build.ts";
export type { ResolvedModel } from "./check/model.ts";
export type { Diagnostic } from "./diag/diagnostic.ts";
export { SourceFile } from "./diag/source.ts";
export { renderDiagnostic, renderDiagnostics, toJson } from "./diag/render.ts";
export { lowerPrefill, lowerDecode, stateSlots, type StateSlot } from "./lower/index.ts";
export { optimize, PASSES, type OptimizeOptions, type Pass, type ScanAlgorithm } from "./passes/index.ts";
export { planGraph, kernels, type Plan, type KernelInfo } from "./plan/index.ts";
export { VERSION } from "./version.ts";
export { importConfig, ImportError, IMPORT_FAMILIES, type ImportOptions, type ImportResult } from "./import/index.ts";
export type { ModelArtifact, ProgramArtifact, KernelArtifact, KernelLimits } from "../runtime/artifact/types.ts";
