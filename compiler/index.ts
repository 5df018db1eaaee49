/**
 * The compiler's programmatic entry. The stages, top to bottom:
 *   source text --parse--> AST --check--> resolved models                     compile()
 *   resolved model --lower--> prefill + decode IR --optimize--> fused IR      programs()
 *   fused IR + a length --plan--> kernels, buffers, bytes per token            planGraph()
 * (later stages: generate WGSL + bindings).
 * User errors come back as diagnostics; nothing here throws on bad input.
 */
import { check } from "./check/index.ts";
import type { ResolvedModel } from "./check/model.ts";
import { Diagnostics, type Diagnostic } from "./diag/diagnostic.ts";
import type { Graph } from "./ir/graph.ts";
import { lowerDecode, lowerPrefill } from "./lower/index.ts";
import { optimize, type OptimizeOptions } from "./passes/index.ts";
import { SourceFile } from "./diag/source.ts";
import type { HybFile } from "./syntax/ast.ts";
import { parse } from "./syntax/index.ts";

export interface CompileOptions {
  /** Shown in diagnostics; defaults to `<input>`. */
  readonly path?: string;
}

export interface CompileResult {
  readonly source: SourceFile;
  readonly ast: HybFile;
  /** The models that checked clean (all of them when `ok`). */
  readonly models: readonly ResolvedModel[];
  /** In source order. */
  readonly diagnostics: readonly Diagnostic[];
  /** No errors (warnings allowed). */
  readonly ok: boolean;
}

export function compile(text: string, options: CompileOptions = {}): CompileResult {
  const source = new SourceFile(options.path ?? "<input>", text);
  const diags = new Diagnostics(source);
  const ast = parse(diags);
  // The checker also runs on a recovered AST: `Error` nodes are skipped silently, so one run
  // reports syntax and semantic errors together without repeating either.
  const models = check(ast, diags);
  return { source, ast, models, diagnostics: diags.sorted(), ok: !diags.hasErrors };
}

/** A model's two programs, lowered and optimized; `{ fuse: false }` is `--no-fuse`. */
export interface Programs {
  readonly prefill: Graph;
  readonly decode: Graph;
}

export function programs(model: ResolvedModel, options: OptimizeOptions = {}): Programs {
  return { prefill: optimize(lowerPrefill(model), options), decode: optimize(lowerDecode(model), options) };
}

export type { ResolvedModel } from "./check/model.ts";
export type { Diagnostic } from "./diag/diagnostic.ts";
export { SourceFile } from "./diag/source.ts";
export { renderDiagnostic, renderDiagnostics, toJson } from "./diag/render.ts";
export { lowerPrefill, lowerDecode, stateSlots, type StateSlot } from "./lower/index.ts";
export { optimize, PASSES, type OptimizeOptions, type Pass } from "./passes/index.ts";
export { planGraph, kernels, type Plan, type KernelInfo } from "./plan/index.ts";
