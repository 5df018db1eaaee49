/**
 * The checker: AST -> resolved models. Name resolution, defaults, derived sizes, value and
 * divisibility checks, layer expansion (lists, repetition, `+` stacks, ratios), the weights
 * naming scheme and the full tensor list. Reports into `diags`; returns only models that
 * checked clean.
 */
import type { Diagnostics } from "../diag/diagnostic.ts";
import type { HybFile } from "../syntax/ast.ts";
import type { ResolvedModel } from "./model.ts";

export function check(file: HybFile, diags: Diagnostics): ResolvedModel[] {
  void file;
  void diags;
  return [];
}
