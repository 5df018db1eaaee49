/**
 * `parse`: source text -> AST, reporting lexical and syntax errors into `diags`.
 * Never throws on any input: deep nesting is refused before the recursive parser sees it.
 */
import type { IRecognitionException, IToken } from "chevrotain";
import type { Diagnostics } from "../diag/diagnostic.ts";
import type { Span } from "../diag/source.ts";
import type { Comment, HybFile } from "./ast.ts";
import { AstBuilder, tokenSpan } from "./build-ast.ts";
import { isEof, parseTokens } from "./parser.ts";
import * as T from "./tokens.ts";

/** Brackets nested deeper than this are refused (the parser is recursive). */
export const MAX_NESTING = 64;

export function parse(diags: Diagnostics): HybFile {
  const text = diags.source.text;
  const lexed = T.hybLexer.tokenize(text);
  reportLexErrors(lexed.errors, diags);

  const comments: Comment[] = [];
  for (const t of lexed.groups["comments"] ?? []) {
    const block = t.tokenType !== T.LineComment;
    if (t.tokenType === T.UnterminatedBlockComment) {
      diags.report("HYB0003", {
        span: { start: t.startOffset, end: t.startOffset + 2 },
        message: "unterminated block comment",
        label: "this `/*` is never closed by `*/`",
      });
    }
    comments.push({ kind: "Comment", text: t.image.replace(/\s+$/, ""), block, span: tokenSpan(t) });
  }

  const tooDeep = findTooDeep(lexed.tokens);
  if (tooDeep) {
    diags.report("HYB0004", {
      span: tokenSpan(tooDeep),
      message: `brackets nested more than ${MAX_NESTING} deep`,
      label: "too deep",
    });
    return { kind: "File", models: [], comments, span: { start: 0, end: text.length } };
  }

  const { cst, errors } = parseTokens(lexed.tokens);
  const unclosedComment = comments.some((c) => c.block && !c.text.endsWith("*/"));
  reportParseErrors(errors, lexed.tokens, lexed.errors, unclosedComment, diags);
  const file = new AstBuilder(diags).file(cst, comments, text.length);
  if (file.models.length === 0 && errors.length === 0 && lexed.errors.length === 0) {
    diags.report("HYB0007", {
      span: { start: 0, end: 0 },
      message: "no model in this file",
      help: "declare one: `model my_model { vocab = 256  d_model = 256  ssm = mamba1()  layers = 4 * ssm }`",
    });
  }
  return file;
}

function reportLexErrors(errors: readonly { offset: number; length: number }[], diags: Diagnostics): void {
  // Chevrotain reports each bad character run; merge adjacent ones into one diagnostic.
  let pending: Span | undefined;
  const flush = () => {
    if (!pending) return;
    const chars = diags.source.slice(pending);
    diags.report("HYB0001", {
      span: pending,
      message: `invalid character${chars.length > 1 ? "s" : ""} \`${chars.length > 20 ? chars.slice(0, 17) + "..." : chars}\``,
      label: "not part of any token",
    });
    pending = undefined;
  };
  for (const e of errors) {
    const s = { start: e.offset, end: e.offset + Math.max(1, e.length) };
    if (pending && s.start <= pending.end) pending = { start: pending.start, end: Math.max(pending.end, s.end) };
    else {
      flush();
      pending = s;
    }
  }
  flush();
}

function findTooDeep(tokens: readonly IToken[]): IToken | undefined {
  let depth = 0;
  for (const t of tokens) {
    const tt = t.tokenType;
    if (tt === T.LParen || tt === T.LBracket || tt === T.LBrace) {
      if (++depth > MAX_NESTING) return t;
    } else if (tt === T.RParen || tt === T.RBracket || tt === T.RBrace) depth = Math.max(0, depth - 1);
  }
  return undefined;
}

function reportParseErrors(
  errors: readonly IRecognitionException[],
  tokens: readonly IToken[],
  lexErrors: readonly { offset: number }[],
  unclosedComment: boolean,
  diags: Diagnostics,
): void {
  const seen = new Set<number>();
  const src = diags.source;
  const textEnd = src.text.length;
  for (const e of errors) {
    const tok = e.token;
    const prev = previousToken(tok, tokens);
    let s: Span;
    let label: string | undefined;
    const tokStart = isEof(tok) || !Number.isFinite(tok.startOffset) ? textEnd : tok.startOffset;
    const prevEnd = prev ? prev.startOffset + prev.image.length : undefined;
    // Follow-on errors: the real mistake is an invalid character dropped between the two tokens
    // (`a = é`), or a `/*` that swallowed the rest of the file, both reported already.
    const from = prevEnd ?? 0;
    const lexError = lexErrors[firstAtOrAfter(lexErrors, from)];
    if (lexError && lexError.offset < tokStart) continue;
    if (unclosedComment && isEof(tok)) continue;
    // At file level nothing is missing: the token itself is out of place (junk after a model).
    const outOfPlace = e.context.ruleStack.length <= 1;
    // A missing token at the end of a line is reported where it is missing, not at the next line.
    if (outOfPlace && !isEof(tok) && Number.isFinite(tok.startOffset)) {
      s = tokenSpan(tok);
    } else if (prevEnd !== undefined && (isEof(tok) || src.lineCol(prevEnd).line < src.lineCol(tokStart).line)) {
      s = { start: prevEnd, end: prevEnd };
      label = "expected here";
    } else if (isEof(tok) || !Number.isFinite(tok.startOffset)) {
      s = { start: textEnd, end: textEnd };
    } else {
      s = tokenSpan(tok);
    }
    if (seen.has(s.start)) continue;
    seen.add(s.start);
    diags.report("HYB0004", { span: s, message: e.message, ...(label ? { label } : {}) });
  }
}

/** Index of the first lexer error at or after `offset` (chevrotain reports them in order). */
function firstAtOrAfter(errors: readonly { offset: number }[], offset: number): number {
  let lo = 0;
  let hi = errors.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (errors[mid]!.offset < offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The last real token before `tok` (chevrotain's `previousToken` is not set on every exception). */
function previousToken(tok: IToken, tokens: readonly IToken[]): IToken | undefined {
  const at = isEof(tok) || !Number.isFinite(tok.startOffset) ? Infinity : tok.startOffset;
  let lo = 0;
  let hi = tokens.length - 1;
  let best: IToken | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const t = tokens[mid]!;
    if (t.startOffset < at) {
      best = t;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return best;
}
