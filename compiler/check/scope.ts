/**
 * The names of one model: each binding is a model parameter, a block definition, a layer
 * group, or broken (already reported, so uses of it stay quiet). Duplicates and bindings
 * that are neither are reported here.
 */
import { assertNever, type Diagnostics } from "../diag/diagnostic.ts";
import { unparen, type Binding, type Call, type ModelDecl } from "../syntax/ast.ts";
import { BLOCK_KINDS, isBlockKind } from "./blocks.ts";
import type { BlockKind } from "./model.ts";
import { isParamName, NORM_KINDS, PARAM_NAMES, type ParamName } from "./params.ts";
import { closestNames, didYouMean, orList } from "./suggest.ts";
import { describe } from "./values.ts";

export type Entry =
  | { readonly kind: "param"; readonly name: ParamName; readonly binding: Binding }
  | { readonly kind: "block"; readonly blockKind: BlockKind; readonly call: Call; readonly binding: Binding }
  | { readonly kind: "group"; readonly binding: Binding }
  | { readonly kind: "broken"; readonly binding: Binding };

export interface Scope {
  /** The first binding of each name, in source order. */
  readonly entries: ReadonlyMap<string, Entry>;
  readonly params: Partial<Record<ParamName, Binding>>;
}

/** Functions that build parameter values, not blocks: a binding to one is a misspelled parameter. */
const PARAM_FUNCTIONS: readonly string[] = [...NORM_KINDS, "rope"];

export function buildScope(diags: Diagnostics, model: ModelDecl): Scope {
  const first = new Map<string, Binding>();
  for (const b of model.bindings) {
    const prev = first.get(b.name.name);
    if (prev) {
      diags.report("HYB1001", {
        span: b.name.span,
        message: `\`${b.name.name}\` is bound twice`,
        label: "bound again here",
        notes: [{ message: "first bound here", span: prev.name.span }],
        help: "bindings are order-independent, so each name is bound once; rename or remove one",
      });
    } else first.set(b.name.name, b);
  }
  const entries = new Map<string, Entry>();
  const params: Partial<Record<ParamName, Binding>> = {};
  for (const [name, b] of first) {
    if (isParamName(name)) {
      params[name] = b;
      entries.set(name, { kind: "param", name, binding: b });
    } else entries.set(name, classify(diags, b, first));
  }
  return { entries, params };
}

function classify(diags: Diagnostics, b: Binding, names: ReadonlyMap<string, Binding>): Entry {
  const v = unparen(b.value);
  const broken = { kind: "broken", binding: b } as const;
  switch (v.kind) {
    case "Error":
      return broken;
    case "Call":
      if (isBlockKind(v.callee.name)) return { kind: "block", blockKind: v.callee.name, call: v, binding: b };
      if (PARAM_FUNCTIONS.includes(v.callee.name)) return unknownParam(diags, b, describe(v));
      diags.report("HYB1003", {
        span: v.callee.span,
        message: `unknown block kind \`${v.callee.name}\``,
        label: "not a block kind",
        help: didYouMean(v.callee.name, BLOCK_KINDS) ?? `blocks are made with ${orList(BLOCK_KINDS.map((k) => `\`${k}(...)\``))}`,
      });
      return broken;
    case "Number":
    case "String":
    case "Bool":
    case "None":
      return unknownParam(diags, b, describe(v));
    case "Ref":
      // `dtyp = f16`: a word that names no binding, under a name close to a parameter.
      if (!names.has(v.name) && closestNames(b.name.name, PARAM_NAMES).length > 0) return unknownParam(diags, b, describe(v));
      return { kind: "group", binding: b };
    case "List":
    case "Ratio":
    case "Stack":
    case "Repeat":
    case "Paren":
      return { kind: "group", binding: b };
    default:
      return assertNever(v, "expression");
  }
}

function unknownParam(diags: Diagnostics, b: Binding, found: string): Entry {
  diags.report("HYB1012", {
    span: b.name.span,
    message: `unknown model parameter \`${b.name.name}\``,
    label: `set to ${found}`,
    help: didYouMean(b.name.name, PARAM_NAMES) ?? `model parameters are ${PARAM_NAMES.map((p) => `\`${p}\``).join(", ")}`,
  });
  return { kind: "broken", binding: b };
}
