/**
 * Typed readers of AST values. Each reader either returns the value or reports why not and
 * returns `undefined`; an `Error` node (a syntax error, already reported) gives `undefined`
 * silently, so nothing cascades from a recovered parse.
 */
import { assertNever, type Diagnostics } from "../diag/diagnostic.ts";
import { unparen, type Expr } from "../syntax/ast.ts";
import { closestNames, code, orList } from "./suggest.ts";

/** "a string", "the name `ssm`": what the user wrote, for "expected X, found Y". */
export function describe(e: Expr): string {
  switch (e.kind) {
    case "Number":
      return `the number \`${e.raw}\``;
    case "String":
      return "a string";
    case "Bool":
      return `\`${String(e.value)}\``;
    case "None":
      return "`none`";
    case "Ref":
      return `the name \`${e.name}\``;
    case "Call":
      return `a call to \`${e.callee.name}\``;
    case "List":
      return "a list";
    case "Ratio":
      return "a ratio";
    case "Stack":
      return "a `+` stack";
    case "Repeat":
      return "a repetition";
    case "Paren":
      return describe(e.inner);
    case "Error":
      return "an invalid expression";
    default:
      return assertNever(e, "expression");
  }
}

/** `what` is the thing being set, already quoted: "`d_state`". */
function wrongType(diags: Diagnostics, e: Expr, what: string, expected: string): undefined {
  diags.report("HYB2001", {
    span: e.span,
    message: `expected ${expected} for ${what}, found ${describe(e)}`,
    label: `expected ${expected}`,
  });
  return undefined;
}

/** An integer >= `min` (default 1): sizes, counts, `context`. */
export function readInt(diags: Diagnostics, expr: Expr, what: string, min = 1): number | undefined {
  const e = unparen(expr);
  if (e.kind === "Error") return undefined;
  if (e.kind !== "Number") return wrongType(diags, e, what, "an integer");
  if (!Number.isInteger(e.value)) {
    diags.report("HYB2006", {
      span: e.span,
      message: `${what} must be an integer, found \`${e.raw}\``,
      label: "not a whole number",
    });
    return undefined;
  }
  if (e.value < min) {
    diags.report("HYB2002", {
      span: e.span,
      message: `${what} must be at least ${min}, found \`${e.raw}\``,
      label: "too small",
    });
    return undefined;
  }
  if (!Number.isSafeInteger(e.value)) {
    diags.report("HYB2002", {
      span: e.span,
      message: `${what} is too large: \`${e.raw}\` is beyond 2^53 - 1`,
      label: "too large",
    });
    return undefined;
  }
  return e.value;
}

export interface NumberRange {
  /** Exclusive lower bound. */
  readonly above?: number;
  /** Inclusive upper bound. */
  readonly atMost?: number;
  /** Says the range in words: "must be positive", "must lie in (0, 1]". */
  readonly rule: string;
}

/** A real number in a range: `eps`, RoPE `theta` and `fraction`. */
export function readNumber(diags: Diagnostics, expr: Expr, what: string, range: NumberRange): number | undefined {
  const e = unparen(expr);
  if (e.kind === "Error") return undefined;
  if (e.kind !== "Number") return wrongType(diags, e, what, "a number");
  const low = range.above !== undefined && !(e.value > range.above);
  const high = range.atMost !== undefined && e.value > range.atMost;
  if (low || high) {
    diags.report("HYB2002", {
      span: e.span,
      message: `${what} ${range.rule}, found \`${e.raw}\``,
      label: low ? "too small" : "too large",
    });
    return undefined;
  }
  // It reaches a kernel as an f32 literal (eps, theta, fraction): past f32's range the shader
  // would not compile, and a tiny nonzero value would silently become 0.
  const magnitude = Math.abs(e.value);
  if (magnitude > F32_MAX || (magnitude > 0 && magnitude < F32_MIN)) {
    diags.report("HYB2002", {
      span: e.span,
      message: `${what} must be a 32-bit float (the kernels compute in f32: from ${F32_MIN.toExponential(2)} to ${F32_MAX.toExponential(2)}), found \`${e.raw}\``,
      label: magnitude > F32_MAX ? "too large for f32" : "too small for f32: it would be 0",
    });
    return undefined;
  }
  return e.value;
}

/** The largest finite f32, and the smallest positive one (a subnormal): the range a kernel's literal holds. */
const F32_MAX = 3.4028234663852886e38;
const F32_MIN = 2 ** -149;

export function readBool(diags: Diagnostics, expr: Expr, what: string): boolean | undefined {
  const e = unparen(expr);
  if (e.kind === "Error") return undefined;
  if (e.kind !== "Bool") return wrongType(diags, e, what, "`true` or `false`");
  return e.value;
}

/**
 * One word of a fixed set, written as a bare word (`f16`) or a string (`"f16"`).
 * `noun` names the set in messages: "unknown activation `swiglo`".
 */
export function readWord<T extends string>(
  diags: Diagnostics,
  expr: Expr,
  what: string,
  noun: string,
  options: readonly T[],
  /** How options are written in messages: `f16`, or `"mamba"` for string-valued ones. */
  show: (o: string) => string = code,
): T | undefined {
  const e = unparen(expr);
  if (e.kind === "Error") return undefined;
  const word = e.kind === "Ref" ? e.name : e.kind === "String" ? e.value : undefined;
  const expected = orList(options.map(show));
  if (word === undefined) return wrongType(diags, e, what, expected);
  const found = options.find((o) => o === word);
  if (found !== undefined) return found;
  diags.report("HYB2004", {
    span: e.span,
    message: `unknown ${noun} \`${word}\``,
    label: `expected ${expected}`,
    help: closestNames(word, options).length > 0 ? `did you mean ${orList(closestNames(word, options).map(show))}?` : `${what} must be ${expected}`,
  });
  return undefined;
}
