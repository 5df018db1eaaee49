/**
 * Model parameters (`vocab`, `d_model`, `norm`, ...): the table of names, and the reader that
 * applies defaults and reports missing required ones.
 */
import { assertNever, type Diagnostics } from "../diag/diagnostic.ts";
import type { Span } from "../diag/source.ts";
import { unparen, type Binding, type Expr, type ModelDecl } from "../syntax/ast.ts";
import { readArgs, type CallSpec } from "./args.ts";
import type { ModelDtype, NormConfig, WeightsScheme } from "./model.ts";
import { didYouMean } from "./suggest.ts";
import { describe, readBool, readInt, readWord } from "./values.ts";

export interface ParamSpec {
  readonly required: boolean;
  /** An example binding, for "add `vocab = 256`". */
  readonly example: string;
}

export const PARAMS = {
  vocab: { required: true, example: "vocab = 256" },
  d_model: { required: true, example: "d_model = 512" },
  norm: { required: false, example: "norm = rmsnorm(eps = 1e-5)" },
  tied: { required: false, example: "tied = true" },
  dtype: { required: false, example: "dtype = f32" },
  context: { required: false, example: "context = 2048" },
  weights: { required: false, example: 'weights = "jamba"' },
  layers: { required: true, example: "layers = 4 * ssm" },
} as const satisfies Record<string, ParamSpec>;

export type ParamName = keyof typeof PARAMS;
export const PARAM_NAMES = Object.keys(PARAMS) as ParamName[];

export function isParamName(name: string): name is ParamName {
  return Object.hasOwn(PARAMS, name);
}

export const NORM_KINDS = ["rmsnorm", "layernorm"] as const satisfies readonly NormConfig["kind"][];
export const MODEL_DTYPES = ["f32", "f16"] as const satisfies readonly ModelDtype[];
export const SCHEMES = ["mamba", "jamba"] as const satisfies readonly WeightsScheme[];

const NORM_CALL = {
  args: { eps: { type: "number", default: 1e-5, range: { above: 0, rule: "must be positive" } } },
} as const satisfies CallSpec;

/** The parameters as written; `undefined` where missing (reported) or wrong (reported). */
export interface ModelParams {
  readonly vocab: number | undefined;
  readonly dModel: number | undefined;
  readonly norm: NormConfig | undefined;
  readonly tied: boolean | undefined;
  readonly dtype: ModelDtype | undefined;
  readonly context: number | undefined;
  /** undefined: not written (the default depends on the layers) or wrong. */
  readonly weights: WeightsScheme | undefined;
  /** The bindings the user wrote, by name. */
  readonly bindings: Readonly<Partial<Record<ParamName, Binding>>>;
}

export function readParams(diags: Diagnostics, model: ModelDecl, bindings: Partial<Record<ParamName, Binding>>): ModelParams {
  for (const name of PARAM_NAMES) {
    if (PARAMS[name].required && !bindings[name]) {
      diags.report("HYB1006", {
        span: model.name.span,
        message: `model \`${model.name.name}\` is missing \`${name}\``,
        label: `no \`${name}\` binding`,
        help: `add \`${PARAMS[name].example}\``,
      });
    }
  }
  const value = <T>(name: ParamName, fallback: T | undefined, read: (e: Expr) => T | undefined): T | undefined => {
    const b = bindings[name];
    return b ? read(b.value) : fallback;
  };
  return {
    vocab: value("vocab", undefined, (e) => readInt(diags, e, "`vocab`")),
    dModel: value("d_model", undefined, (e) => readInt(diags, e, "`d_model`")),
    norm: value("norm", { kind: "rmsnorm", eps: 1e-5 }, (e) => readNorm(diags, e)),
    tied: value("tied", true, (e) => readBool(diags, e, "`tied`")),
    dtype: value("dtype", "f32", (e) => readWord(diags, e, "`dtype`", "dtype", MODEL_DTYPES)),
    context: value("context", 2048, (e) => readInt(diags, e, "`context`")),
    weights: value("weights", undefined, (e) => readWord(diags, e, "`weights`", "weights naming scheme", SCHEMES, (o) => `\`"${o}"\``)),
    bindings,
  };
}

/** `rmsnorm(eps = 1e-6)`, `layernorm()`, or a bare `rmsnorm` / `layernorm`. */
function readNorm(diags: Diagnostics, expr: Expr): NormConfig | undefined {
  const e = unparen(expr);
  switch (e.kind) {
    case "Error":
      return undefined;
    case "Ref":
    case "String": {
      const kind = readWord(diags, e, "`norm`", "norm", NORM_KINDS);
      return kind && { kind, eps: NORM_CALL.args.eps.default };
    }
    case "Call": {
      const kind = NORM_KINDS.find((k) => k === e.callee.name);
      if (kind === undefined) {
        diags.report("HYB2004", {
          span: e.callee.span,
          message: `unknown norm \`${e.callee.name}\``,
          label: "expected `rmsnorm` or `layernorm`",
          help: didYouMean(e.callee.name, NORM_KINDS) ?? "write `rmsnorm(eps = 1e-5)` or `layernorm(eps = 1e-5)`",
        });
        return undefined;
      }
      const a = readArgs<"eps">(diags, e, kind, NORM_CALL);
      return a.failed ? undefined : { kind, eps: a.num("eps") };
    }
    case "Number":
    case "Bool":
    case "None":
    case "List":
    case "Ratio":
    case "Stack":
    case "Repeat":
      diags.report("HYB2001", {
        span: e.span,
        message: `expected \`rmsnorm(eps = ...)\` or \`layernorm(eps = ...)\` for \`norm\`, found ${describe(e)}`,
        label: "expected a norm",
      });
      return undefined;
    case "Paren":
      return readNorm(diags, e.inner);
    default:
      return assertNever(e, "expression");
  }
}

/** Spans of the parameters the user wrote (whole bindings), for `ResolvedModel.paramSpans`. */
export function paramSpans(p: ModelParams): Record<string, Span> {
  return Object.fromEntries(Object.entries(p.bindings).map(([k, b]) => [k, b.span]));
}
