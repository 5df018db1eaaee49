/**
 * The bundler plugin's hot path: a `.hyb` file's text to the JavaScript module that
 * an import of a `.hyb` file (`import model from` it) gets, with no I/O and nothing but the compiler (no ts-morph,
 * no prettier: the module is a plain template around the artifact's JSON).
 *
 *   import { loadModel } from "hybridc/runtime";
 *   export const artifact = {...};                  the ModelArtifact, WGSL inlined as strings
 *   export function load(device, weights, options)  loadModel(device, artifact, weights, options)
 *   export default { name, artifact, load };
 *
 * A file with several models gives one of them: `?model=NAME` on the import, else the plugin's
 * `model` option when the file defines a model of that name, else the file's only model.
 * Problems (the spec's diagnostics, or no model chosen) come back as data for each bundler's
 * error and warning channels (report.ts).
 */
import { DEFAULT_LIMITS, type KernelLimits, type ModelArtifact } from "../../runtime/artifact/types.ts";
import type { ResolvedModel } from "../check/model.ts";
import { closestNames } from "../check/suggest.ts";
import { compile } from "../compile.ts";
import type { Diagnostic } from "../diag/diagnostic.ts";
import type { Span } from "../diag/source.ts";
import { buildModel } from "../index.ts";
import type { ScanAlgorithm } from "../passes/index.ts";
import { problemDiagnostics } from "../build.ts";
import type { SourceFile } from "../diag/source.ts";

export interface HybridcPluginOptions {
  /**
   * The device limits to generate kernels for (any of the six kernel limits; a GPUSupportedLimits
   * is fine); the others stay at WebGPU's defaults, which every device offers.
   */
  readonly limits?: Partial<KernelLimits>;
  /** Run the fusion passes (default true). */
  readonly fuse?: boolean;
  /** The prefill scan kernels (build.ts BuildOptions.scan): sequential (default) or chunked-parallel, for a discrete GPU. */
  readonly scan?: ScanAlgorithm;
  /** The model to take from a file that defines several (an import's `?model=NAME` wins). */
  readonly model?: string;
  /** The module the generated code imports `loadModel` from (default `hybridc/runtime`). */
  readonly runtime?: string;
}

/** A problem that is not a spec diagnostic: no model chosen in a multi-model file, or an unknown one. */
export interface PluginProblem {
  readonly message: string;
  readonly source: SourceFile;
  readonly span: Span;
}

export type ModuleResult =
  | { readonly ok: true; readonly code: string; readonly artifact: ModelArtifact; readonly warnings: readonly Diagnostic[] }
  | { readonly ok: false; readonly errors: readonly (Diagnostic | PluginProblem)[]; readonly warnings: readonly Diagnostic[] };

export const DEFAULT_RUNTIME = "hybridc/runtime";

/** `/abs/model.hyb?model=a&v=1` -> the file and the `model` parameter (other query parameters are the bundler's). */
export function parseId(id: string): { file: string; model: string | undefined } {
  const q = id.indexOf("?");
  if (q < 0) return { file: id, model: undefined };
  const model = new URLSearchParams(id.slice(q + 1)).get("model");
  return { file: id.slice(0, q), model: model ?? undefined };
}

/** Options checked once, when the plugin is made: a misspelled limit is an error, not a silent default. */
export function checkOptions(options: HybridcPluginOptions): void {
  for (const [name, value] of Object.entries(options.limits ?? {})) {
    if (!Object.hasOwn(DEFAULT_LIMITS, name)) {
      const near = closestNames(name, Object.keys(DEFAULT_LIMITS));
      throw new Error(`hybridc plugin: unknown limit '${name}'${near.length ? `; did you mean '${near[0]}'?` : ""} (limits: ${Object.keys(DEFAULT_LIMITS).join(", ")})`);
    }
    if (!Number.isSafeInteger(value) || (value as number) < 1) throw new Error(`hybridc plugin: limit ${name} must be a positive integer, got ${String(value)}`);
  }
  if (options.model !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(options.model)) throw new Error(`hybridc plugin: model must be a model name, got '${options.model}'`);
}

/**
 * The module of one model of a `.hyb` file. `path` names the file in diagnostics and artifacts;
 * `model` is the import's `?model=` choice.
 */
export function hybModule(text: string, path: string, options: HybridcPluginOptions = {}, model?: string): ModuleResult {
  const compiled = compile(text, { path });
  const warnings = compiled.diagnostics.filter((d) => d.severity === "warning");
  if (!compiled.ok) return { ok: false, errors: compiled.diagnostics.filter((d) => d.severity === "error"), warnings };
  const chosen = chooseModel(compiled.models, compiled.source, compiled.ast.models.map((m) => m.name.span), model, options.model);
  if ("message" in chosen) return { ok: false, errors: [chosen], warnings };
  const built = buildModel(chosen, compiled.source, { ...(options.limits ? { limits: options.limits } : {}), fuse: options.fuse ?? true, ...(options.scan ? { scan: options.scan } : {}) });
  if (!built.ok) {
    const problems = problemDiagnostics(compiled.source, built.problems);
    return { ok: false, errors: problems.filter((d) => d.severity === "error"), warnings: [...warnings, ...problems.filter((d) => d.severity === "warning")] };
  }
  return { ok: true, code: moduleCode(built.artifact, options.runtime ?? DEFAULT_RUNTIME), artifact: built.artifact, warnings };
}

/** The query's model, else the option's when the file has it, else the only one. */
function chooseModel(models: readonly ResolvedModel[], source: SourceFile, spans: readonly Span[], query: string | undefined, option: string | undefined): ResolvedModel | PluginProblem {
  const names = models.map((m) => m.name);
  const file = source.path.split(/[\\/]/).pop() ?? source.path;
  if (query !== undefined) {
    const m = models.find((x) => x.name === query);
    if (m) return m;
    const near = closestNames(query, names);
    return { message: `${file} defines no model '${query}'${near.length ? `; did you mean '${near[0]}'?` : ""} (it defines ${names.join(", ")})`, source, span: spans[0] ?? { start: 0, end: 0 } };
  }
  const byOption = models.find((x) => x.name === option);
  if (byOption) return byOption;
  if (models.length === 1) return models[0]!;
  const unknown = option === undefined ? "" : ` (none is the plugin's \`model\` option, '${option}')`;
  return {
    message: `${file} defines ${models.length} models (${names.join(", ")})${unknown}: import one as './${file}?model=${names[0]}', or set the plugin's \`model\` option`,
    source,
    span: spans[1] ?? spans[0] ?? { start: 0, end: 0 },
  };
}

/** The module text: data and one call into the runtime, nothing else. */
export function moduleCode(artifact: ModelArtifact, runtime: string): string {
  return `// ${artifact.source}: model ${artifact.model}, compiled by hybridc ${artifact.hybridc}
import { loadModel } from ${JSON.stringify(runtime)};
export const artifact = ${JSON.stringify(artifact)};
export function load(device, weights, options) {
  return loadModel(device, artifact, weights, options);
}
export default { name: ${JSON.stringify(artifact.model)}, artifact, load };
`;
}
