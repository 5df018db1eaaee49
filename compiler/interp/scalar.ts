/**
 * Scalar definitions of the elementwise ops, in float64. These are the exact formulas of
 * reference/semantics.md (softplus with torch's threshold 20, exact-erf GELU).
 */
import { assertNever } from "../diag/diagnostic.ts";
import type { UnaryOp } from "../ir/ops.ts";

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

export function silu(x: number): number {
  return x * sigmoid(x);
}

/** torch.nn.functional.softplus with beta 1 and threshold 20. */
export function softplus(x: number): number {
  return x > 20 ? x : Math.log1p(Math.exp(x));
}

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/**
 * erf to full double precision. |x| < 3: the all-positive series
 * erf(x) = 2/sqrt(pi) e^{-x^2} sum_n 2^n x^{2n+1} / (1*3*...*(2n+1)), which has no cancellation;
 * otherwise 1 - erfc(x).
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return x;
  const ax = Math.abs(x);
  if (ax >= 3) return Math.sign(x) * (1 - erfc(ax));
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    if (Math.abs(term) <= 1e-17 * Math.abs(sum)) break;
  }
  return TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
}

/**
 * erfc(x) = 1 - erf(x). For x >= 3 the continued fraction
 * erfc(x) = e^{-x^2}/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), evaluated backwards.
 */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return x;
  if (x < 3) return 1 - erf(x);
  let f = x;
  for (let n = 80; n >= 1; n--) f = x + n / 2 / f;
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}

/** GELU with the exact erf: x/2 * (1 + erf(x / sqrt 2)), via erfc in the far negative tail. */
export function gelu(x: number): number {
  const y = x / Math.SQRT2;
  return y < -3 ? 0.5 * x * erfc(-y) : 0.5 * x * (1 + erf(y));
}

export function unaryFn(op: UnaryOp): (x: number) => number {
  switch (op) {
    case "neg":
      return (x) => -x;
    case "exp":
      return Math.exp;
    case "sigmoid":
      return sigmoid;
    case "silu":
      return silu;
    case "softplus":
      return softplus;
    case "relu":
      return (x) => Math.max(x, 0);
    case "gelu":
      return gelu;
    default:
      return assertNever(op, "unary op");
  }
}
