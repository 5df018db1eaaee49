/**
 * Call arguments, read against a table (`CallSpec`): unknown, duplicate and positional
 * arguments are reported here; each value is read with its type. `Args` then hands the
 * resolvers typed values with the table's defaults applied.
 */
import { assertNever, invariant, type Diagnostics } from "../diag/diagnostic.ts";
import type { Span } from "../diag/source.ts";
import { unparen, type Arg, type Call, type Expr, type Ident } from "../syntax/ast.ts";
import type { Activation } from "./model.ts";
import { code, didYouMean, orList } from "./suggest.ts";
import { describe, readBool, readInt, readNumber, readWord, type NumberRange } from "./values.ts";

export const ACTIVATIONS = ["swiglu", "gelu", "relu2"] as const satisfies readonly Activation[];

/** A default computed by the resolver, described for notes: "ceil(d_model / 16)". */
export interface Derived {
  readonly derived: string;
}

export type ArgSpec =
  | { readonly type: "size"; readonly default: number | "required" | Derived }
  | { readonly type: "bool"; readonly default: boolean }
  | { readonly type: "window"; readonly default: null }
  | { readonly type: "rope"; readonly default: null }
  | { readonly type: "activation"; readonly default: Activation }
  | { readonly type: "number"; readonly default: number; readonly range: NumberRange };

export interface CallSpec {
  /** The argument a positional value fills (only `mlp` has one: its activation). */
  readonly positional?: string;
  readonly args: Readonly<Record<string, ArgSpec>>;
}

export interface RopeArg {
  readonly theta: number;
  readonly fraction: number;
  /** The whole `rope = ...` value, and the `fraction` argument when written. */
  readonly span: Span;
  readonly fractionSpan?: Span;
}

type ArgValue = number | boolean | null | RopeArg | Activation;

const ROPE_CALL = {
  args: {
    theta: { type: "number", default: 10_000, range: { above: 0, rule: "must be positive" } },
    fraction: { type: "number", default: 1, range: { above: 0, atMost: 1, rule: "must lie in (0, 1]" } },
  },
} as const satisfies CallSpec;

/** Typed access to the arguments of one call, defaults applied from the table. */
export class Args<N extends string> {
  constructor(
    readonly callee: Ident,
    private readonly spec: CallSpec,
    private readonly values: ReadonlyMap<string, ArgValue>,
    private readonly written: ReadonlyMap<string, Arg>,
    /** Some argument was wrong (already reported): cross-argument checks are skipped. */
    readonly failed: boolean,
  ) {}

  given(n: N): boolean {
    return this.written.has(n);
  }

  /** The span of the written argument (`d_state = 16`), if written. */
  span(n: N): Span | undefined {
    return this.written.get(n)?.span;
  }

  /** The default in words, for notes: "64", "ceil(d_model / 16)". */
  defaultText(n: N): string {
    const d = this.specOf(n).default;
    return typeof d === "object" && d !== null ? d.derived : String(d);
  }

  int(n: N, derived?: () => number): number {
    const v = this.raw(n, derived);
    invariant(typeof v === "number", `argument ${n} is not an integer`);
    return v;
  }

  /** A real-valued argument (`eps`, `theta`, `fraction`). */
  num(n: N): number {
    const v = this.raw(n);
    invariant(typeof v === "number", `argument ${n} is not a number`);
    return v;
  }

  bool(n: N): boolean {
    const v = this.raw(n);
    invariant(typeof v === "boolean", `argument ${n} is not a boolean`);
    return v;
  }

  window(n: N): number | null {
    const v = this.raw(n);
    invariant(v === null || typeof v === "number", `argument ${n} is not a window`);
    return v;
  }

  rope(n: N): RopeArg | null {
    const v = this.raw(n);
    invariant(v === null || (typeof v === "object" && "theta" in v), `argument ${n} is not a rope`);
    return v;
  }

  activation(n: N): Activation {
    const v = this.raw(n);
    invariant(ACTIVATIONS.some((a) => a === v), `argument ${n} is not an activation`);
    return v as Activation;
  }

  /** Spans of the written arguments, by name. */
  spans(): Record<string, Span> {
    return Object.fromEntries([...this.written].map(([k, a]) => [k, a.span]));
  }

  private specOf(n: N): ArgSpec {
    const s = this.spec.args[n];
    invariant(s !== undefined, `no argument ${n} in the table`);
    return s;
  }

  private raw(n: N, derived?: () => number): ArgValue {
    const v = this.values.get(n);
    if (v !== undefined) return v;
    const d = this.specOf(n).default;
    if (d === "required" || (typeof d === "object" && d !== null)) {
      invariant(derived !== undefined, `argument ${n} has no value and no derivation`);
      return derived();
    }
    return d;
  }
}

/**
 * Read the arguments of `call` against `spec`. `owner` names the callee in messages
 * (`mamba1`). Missing required arguments are reported at the callee.
 */
export function readArgs<N extends string>(diags: Diagnostics, call: Call, owner: string, spec: CallSpec): Args<N> {
  const written = new Map<string, Arg>();
  const values = new Map<string, ArgValue>();
  let failed = false;
  let positionals = 0;
  const names = Object.keys(spec.args);
  for (const arg of call.args) {
    if (unparen(arg.value).kind === "Error" && !arg.name) {
      failed = true;
      continue;
    }
    const name = arg.name?.name ?? positionalName(diags, arg, owner, spec, positionals++, names);
    if (name === undefined) {
      failed = true;
      continue;
    }
    const argSpec = spec.args[name];
    const where = arg.name?.span ?? arg.span;
    if (argSpec === undefined) {
      diags.report("HYB1004", {
        span: where,
        message: `unknown argument \`${name}\` for \`${owner}\``,
        label: "unknown argument",
        help: didYouMean(name, names) ?? `\`${owner}\` takes ${orList(names.map(code))}`,
      });
      failed = true;
      continue;
    }
    const first = written.get(name);
    if (first) {
      diags.report("HYB1005", {
        span: where,
        message: `argument \`${name}\` given twice`,
        label: "given again here",
        notes: [{ message: "first given here", span: first.span }],
      });
      failed = true;
      continue;
    }
    written.set(name, arg);
    const v = readValue(diags, arg.value, `\`${name}\``, argSpec);
    if (v === undefined) failed = true;
    else values.set(name, v);
  }
  for (const [name, s] of Object.entries(spec.args)) {
    if (s.default === "required" && !written.has(name)) {
      diags.report("HYB1007", {
        span: call.callee.span,
        message: `\`${owner}\` needs the argument \`${name}\``,
        label: `missing \`${name}\``,
        help: `add it: \`${owner}(${name} = ...)\``,
      });
      failed = true;
    }
  }
  return new Args<N>(call.callee, spec, values, written, failed);
}

function positionalName(diags: Diagnostics, arg: Arg, owner: string, spec: CallSpec, index: number, names: readonly string[]): string | undefined {
  if (spec.positional !== undefined && index === 0) return spec.positional;
  diags.report("HYB1011", {
    span: arg.span,
    message:
      spec.positional !== undefined
        ? `\`${owner}\` takes one positional argument (its ${spec.positional}), found a second`
        : `\`${owner}\` takes no positional arguments`,
    label: "positional argument",
    help: names.length === 1 ? `name it: \`${owner}(${names[0]!} = ...)\`` : `name it: \`${owner}(name = value)\`, where name is one of ${orList(names.map(code))}`,
  });
  return undefined;
}

function readValue(diags: Diagnostics, expr: Expr, what: string, spec: ArgSpec): ArgValue | undefined {
  switch (spec.type) {
    case "size":
      return readInt(diags, expr, what);
    case "bool":
      return readBool(diags, expr, what);
    case "number":
      return readNumber(diags, expr, what, spec.range);
    case "activation":
      return readWord(diags, expr, what, "activation", ACTIVATIONS);
    case "window":
      return unparen(expr).kind === "None" ? null : readInt(diags, expr, what);
    case "rope":
      return readRope(diags, expr, what);
    default:
      return assertNever(spec, "argument type");
  }
}

/** `none`, a theta (`10_000`, fraction 1), or `rope(theta = 1e4, fraction = 0.5)`. */
function readRope(diags: Diagnostics, expr: Expr, what: string): RopeArg | null | undefined {
  const e = unparen(expr);
  switch (e.kind) {
    case "Error":
      return undefined;
    case "None":
      return null;
    case "Number": {
      const theta = readNumber(diags, e, `the RoPE theta ${what}`, ROPE_CALL.args.theta.range);
      return theta === undefined ? undefined : { theta, fraction: 1, span: e.span };
    }
    case "Call": {
      if (e.callee.name !== "rope") {
        diags.report("HYB2004", {
          span: e.callee.span,
          message: `unknown function \`${e.callee.name}\` for ${what}`,
          label: "expected `rope(...)`",
          help: didYouMean(e.callee.name, ["rope"]) ?? "write `rope(theta = 10_000, fraction = 0.5)`, a theta, or `none`",
        });
        return undefined;
      }
      const a = readArgs<keyof typeof ROPE_CALL.args>(diags, e, "rope", ROPE_CALL);
      if (a.failed) return undefined;
      const fractionSpan = a.span("fraction");
      return { theta: a.num("theta"), fraction: a.num("fraction"), span: e.span, ...(fractionSpan ? { fractionSpan } : {}) };
    }
    case "String":
    case "Bool":
    case "Ref":
    case "List":
    case "Ratio":
    case "Stack":
    case "Repeat":
    case "Paren":
      diags.report("HYB2001", {
        span: e.span,
        message: `expected \`none\`, a theta or \`rope(...)\` for ${what}, found ${describe(e)}`,
        label: "expected `none`, a number or `rope(theta = ..., fraction = ...)`",
      });
      return undefined;
    default:
      return assertNever(e, "expression");
  }
}
