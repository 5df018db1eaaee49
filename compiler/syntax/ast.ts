/**
 * The abstract syntax of `.hyb` files: readonly plain data, every node with a span.
 * Grammar (../shared/DSL.md):
 *   file    := model+
 *   model   := 'model' IDENT '{' binding* '}'
 *   binding := IDENT '=' expr
 *   expr    := term ('+' term)*
 *   term    := INT '*' factor | factor
 *   factor  := NUMBER | STRING | BOOL | 'none' | IDENT | call | list | ratio | '(' expr ')'
 *   call    := IDENT '(' (arg (',' arg)*)? ')'
 *   arg     := IDENT '=' expr | expr
 *   list    := '[' (expr (',' expr)* ','?)? ']'
 *   ratio   := '(' expr ':' expr '=' INT ':' INT (',' 'offset' '=' INT)? ')'
 */
import type { Span } from "../diag/source.ts";

export interface Ident {
  readonly name: string;
  readonly span: Span;
}

export interface HybFile {
  readonly kind: "File";
  readonly models: readonly ModelDecl[];
  /** Every comment in the file, in source order (the formatter re-attaches them). */
  readonly comments: readonly Comment[];
  readonly span: Span;
}

export interface Comment {
  readonly kind: "Comment";
  /** The full text including `//` or `/* *\/`. */
  readonly text: string;
  readonly block: boolean;
  readonly span: Span;
}

export interface ModelDecl {
  readonly kind: "Model";
  readonly name: Ident;
  readonly bindings: readonly Binding[];
  readonly span: Span;
}

export interface Binding {
  readonly kind: "Binding";
  readonly name: Ident;
  readonly value: Expr;
  readonly span: Span;
}

export type Expr =
  | NumberLit
  | StringLit
  | BoolLit
  | NoneLit
  | Ref
  | Call
  | ListExpr
  | RatioExpr
  | StackExpr
  | RepeatExpr
  | ParenExpr
  | ErrorExpr;

export interface NumberLit {
  readonly kind: "Number";
  readonly value: number;
  /** The text as written (`10_000`, `1e-5`), kept for the formatter. */
  readonly raw: string;
  readonly span: Span;
}

export interface StringLit {
  readonly kind: "String";
  readonly value: string;
  readonly span: Span;
}

export interface BoolLit {
  readonly kind: "Bool";
  readonly value: boolean;
  readonly span: Span;
}

export interface NoneLit {
  readonly kind: "None";
  readonly span: Span;
}

/** A bare identifier: a binding name, or a word such as `swiglu` or `f16`. */
export interface Ref {
  readonly kind: "Ref";
  readonly name: string;
  readonly span: Span;
}

export interface Call {
  readonly kind: "Call";
  readonly callee: Ident;
  readonly args: readonly Arg[];
  readonly span: Span;
}

export interface Arg {
  readonly kind: "Arg";
  /** Absent for positional arguments. */
  readonly name?: Ident;
  readonly value: Expr;
  readonly span: Span;
}

export interface ListExpr {
  readonly kind: "List";
  readonly items: readonly Expr[];
  readonly span: Span;
}

/** `(a : b = 3 : 1, offset = 4)` */
export interface RatioExpr {
  readonly kind: "Ratio";
  readonly left: Expr;
  readonly right: Expr;
  readonly leftCount: NumberLit;
  readonly rightCount: NumberLit;
  readonly offset?: NumberLit;
  readonly span: Span;
}

/** `a + b + c`: sublayers of one layer. Always at least two parts. */
export interface StackExpr {
  readonly kind: "Stack";
  readonly parts: readonly Expr[];
  readonly span: Span;
}

/** `N * x` */
export interface RepeatExpr {
  readonly kind: "Repeat";
  readonly count: NumberLit;
  readonly body: Expr;
  readonly span: Span;
}

/** `( expr )`, kept so the formatter can keep the user's parentheses. */
export interface ParenExpr {
  readonly kind: "Paren";
  readonly inner: Expr;
  readonly span: Span;
}

/** Stands where the parser recovered from a syntax error; the error is already reported. */
export interface ErrorExpr {
  readonly kind: "Error";
  readonly span: Span;
}

/** Strip parentheses: `((x))` -> `x`. */
export function unparen(e: Expr): Expr {
  while (e.kind === "Paren") e = e.inner;
  return e;
}
