/**
 * CST -> AST. Tolerates the holes that chevrotain's error recovery leaves (missing children,
 * tokens inserted with no position): those become `Error` nodes, already reported by the parser.
 */
import type { CstElement, CstNode, IToken } from "chevrotain";
import type { Diagnostics } from "../diag/diagnostic.ts";
import type { Span } from "../diag/source.ts";
import type * as A from "./ast.ts";

type Children = Record<string, CstElement[] | undefined>;

function isToken(e: CstElement | undefined): e is IToken {
  return e !== undefined && "image" in e;
}

function tokens(c: Children, name: string): IToken[] {
  return (c[name] ?? []).filter(isToken).filter((t) => !t.isInsertedInRecovery && Number.isFinite(t.startOffset));
}

function nodes(c: Children, name: string): CstNode[] {
  return (c[name] ?? []).filter((e): e is CstNode => !isToken(e));
}

export function tokenSpan(t: IToken): Span {
  return { start: t.startOffset, end: t.startOffset + t.image.length };
}

function nodeSpan(n: CstNode, fallback: Span): Span {
  const loc = n.location;
  if (loc && Number.isFinite(loc.startOffset) && Number.isFinite(loc.endOffset ?? NaN)) {
    return { start: loc.startOffset, end: loc.endOffset! + 1 };
  }
  return fallback;
}

const NUMBER_SHAPE = /^-?\d+(?:_\d+)*(?:\.\d+(?:_\d+)*)?(?:[eE][+-]?\d+(?:_\d+)*)?$/;

export class AstBuilder {
  constructor(private readonly diags: Diagnostics) {}

  file(cst: CstNode, comments: readonly A.Comment[], length: number): A.HybFile {
    const models = nodes(cst.children, "model").map((m) => this.model(m)).filter((m): m is A.ModelDecl => m !== null);
    return { kind: "File", models, comments, span: { start: 0, end: length } };
  }

  private model(n: CstNode): A.ModelDecl | null {
    const c = n.children;
    const name = tokens(c, "Identifier")[0];
    const kw = tokens(c, "Model")[0];
    if (!name || !kw) return null;
    const s = nodeSpan(n, tokenSpan(name));
    const bindings = nodes(c, "binding").map((b) => this.binding(b)).filter((b): b is A.Binding => b !== null);
    return { kind: "Model", name: { name: name.image, span: tokenSpan(name) }, bindings, span: s };
  }

  private binding(n: CstNode): A.Binding | null {
    const c = n.children;
    const name = tokens(c, "Identifier")[0];
    if (!name) return null;
    const nameSpan = tokenSpan(name);
    const exprNode = nodes(c, "expr")[0];
    const s = nodeSpan(n, nameSpan);
    const value = exprNode ? this.expr(exprNode) : errorAt({ start: s.end, end: s.end });
    return { kind: "Binding", name: { name: name.image, span: nameSpan }, value, span: s };
  }

  expr(n: CstNode): A.Expr {
    const parts = nodes(n.children, "term").map((t) => this.term(t));
    if (parts.length === 0) return errorAt(nodeSpan(n, { start: 0, end: 0 }));
    if (parts.length === 1) return parts[0]!;
    return { kind: "Stack", parts, span: nodeSpan(n, cover(parts)) };
  }

  private term(n: CstNode): A.Expr {
    const c = n.children;
    const factorNode = nodes(c, "factor")[0];
    const count = tokens(c, "NumberLiteral")[0];
    const s = nodeSpan(n, count ? tokenSpan(count) : { start: 0, end: 0 });
    const body = factorNode ? this.factor(factorNode) : errorAt({ start: s.end, end: s.end });
    if (!count) return body;
    const countLit = this.number(count);
    if (countLit.kind !== "Number") return body;
    return { kind: "Repeat", count: countLit, body, span: s };
  }

  private factor(n: CstNode): A.Expr {
    const c = n.children;
    const s = nodeSpan(n, { start: 0, end: 0 });
    const num = tokens(c, "NumberLiteral")[0];
    if (num) return this.number(num);
    const str = tokens(c, "StringLiteral")[0];
    if (str) return { kind: "String", value: str.image.slice(1, -1), span: tokenSpan(str) };
    const bad = tokens(c, "UnterminatedString")[0];
    if (bad) {
      this.diags.report("HYB0002", {
        span: tokenSpan(bad),
        message: "unterminated string",
        label: "this string has no closing `\"` on its line",
      });
      return errorAt(tokenSpan(bad));
    }
    const t = tokens(c, "True")[0] ?? tokens(c, "False")[0];
    if (t) return { kind: "Bool", value: t.image === "true", span: tokenSpan(t) };
    const none = tokens(c, "None")[0];
    if (none) return { kind: "None", span: tokenSpan(none) };
    const call = nodes(c, "callOrRef")[0];
    if (call) return this.callOrRef(call);
    const list = nodes(c, "list")[0];
    if (list) return this.list(list);
    const paren = nodes(c, "parenOrRatio")[0];
    if (paren) return this.parenOrRatio(paren);
    return errorAt(s);
  }

  number(t: IToken): A.NumberLit | A.ErrorExpr {
    const s = tokenSpan(t);
    const raw = t.image;
    if (!NUMBER_SHAPE.test(raw)) {
      this.diags.report("HYB0005", {
        span: s,
        message: `invalid number \`${raw}\``,
        label: "underscores may only separate digits",
        help: "write numbers like `16`, `10_000`, `1e-5` or `0.125`",
      });
      return errorAt(s);
    }
    const value = Number(raw.replace(/_/g, ""));
    if (!Number.isFinite(value)) {
      this.diags.report("HYB0005", { span: s, message: `number \`${raw}\` is too large`, label: "beyond the range of a 64-bit float" });
      return errorAt(s);
    }
    return { kind: "Number", value, raw, span: s };
  }

  private callOrRef(n: CstNode): A.Expr {
    const c = n.children;
    const name = tokens(c, "Identifier")[0];
    const s = nodeSpan(n, name ? tokenSpan(name) : { start: 0, end: 0 });
    if (!name) return errorAt(s);
    const ident = { name: name.image, span: tokenSpan(name) };
    if (!c["LParen"]) return { kind: "Ref", name: ident.name, span: ident.span };
    const args = nodes(c, "arg").map((a) => this.arg(a));
    let seenNamed: A.Arg | undefined;
    for (const a of args) {
      if (a.name) seenNamed ??= a;
      else if (seenNamed) {
        this.diags.report("HYB0006", {
          span: a.span,
          message: "positional argument after a named argument",
          label: "move this before the named arguments",
          notes: [{ message: "first named argument here", span: seenNamed.span }],
        });
      }
    }
    return { kind: "Call", callee: ident, args, span: s };
  }

  private arg(n: CstNode): A.Arg {
    const c = n.children;
    const name = tokens(c, "Identifier")[0];
    const exprNode = nodes(c, "expr")[0];
    const s = nodeSpan(n, name ? tokenSpan(name) : { start: 0, end: 0 });
    const value = exprNode ? this.expr(exprNode) : errorAt({ start: s.end, end: s.end });
    return name ? { kind: "Arg", name: { name: name.image, span: tokenSpan(name) }, value, span: s } : { kind: "Arg", value, span: s };
  }

  private list(n: CstNode): A.Expr {
    const items = nodes(n.children, "expr").map((e) => this.expr(e));
    return { kind: "List", items, span: nodeSpan(n, cover(items)) };
  }

  private parenOrRatio(n: CstNode): A.Expr {
    const c = n.children;
    const exprs = nodes(c, "expr").map((e) => this.expr(e));
    const s = nodeSpan(n, cover(exprs));
    const first = exprs[0] ?? errorAt(s);
    if (!c["Colon"]) return { kind: "Paren", inner: first, span: s };
    const nums = tokens(c, "NumberLiteral").map((t) => this.number(t));
    const right = exprs[1] ?? errorAt(s);
    const [lc, rc, off] = nums;
    if (!lc || lc.kind !== "Number" || !rc || rc.kind !== "Number") return errorAt(s);
    const offsetName = tokens(c, "Identifier")[0];
    if (offsetName && offsetName.image !== "offset") {
      this.diags.report("HYB0004", {
        span: tokenSpan(offsetName),
        message: `expected \`offset\`, found \`${offsetName.image}\``,
        label: "a ratio takes only `offset = N` after its counts",
      });
    }
    const ratio: A.RatioExpr = {
      kind: "Ratio",
      left: first,
      right,
      leftCount: lc,
      rightCount: rc,
      ...(off && off.kind === "Number" ? { offset: off } : {}),
      span: s,
    };
    return ratio;
  }
}

function errorAt(s: Span): A.ErrorExpr {
  return { kind: "Error", span: s };
}

function cover(items: readonly { span: Span }[]): Span {
  if (items.length === 0) return { start: 0, end: 0 };
  return { start: items[0]!.span.start, end: items[items.length - 1]!.span.end };
}
