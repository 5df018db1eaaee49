/**
 * The front end: source text --parse--> AST --check--> resolved models, with every diagnostic.
 * Its own module so that commands that stop here (`check`, `expand`, `fmt`) load no middle or
 * back end; compiler/index.ts continues from it through code generation.
 */
import { check } from "./check/index.ts";
import type { ResolvedModel } from "./check/model.ts";
import { Diagnostics, type Diagnostic } from "./diag/diagnostic.ts";
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
