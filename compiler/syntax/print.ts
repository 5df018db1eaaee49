/**
 * The formatter: a parsed file -> its canonical text (the style of the canonical specs).
 *
 * - `model NAME {`, bindings indented 2 spaces, `}`; one blank line between models.
 * - Blank lines between bindings are kept (a run collapses to one); none after `{` or before `}`.
 * - In a run of bindings (no blank line or own-line comment between them) the `=` signs are
 *   aligned, and trailing comments sit at (longest code line of the run) + 3.
 * - Tokens are spaced `a = b`, `f(x = 1, y = 2)`, `[a, b]`, `a + b`, `3 * x`,
 *   `(a : b = 3 : 1, offset = 4)`; numbers keep their spelling, parentheses are kept.
 * - A list or call is printed one item per line (trailing comma) when it holds a comment, or
 *   when it is outermost in a binding (or item) whose one-line form is wider than 100 columns.
 * - Comments are never dropped and keep their order. Each one belongs to the innermost list or
 *   call that holds it, else to its model, else to the file. Within that scope it trails the
 *   element (binding, item, model) whose line it continues, or leads the next one on its own
 *   line. A comment inside a binding or item but in no deeper list or call stays inline where
 *   it was (`x = /* c *\/ 1`); after an inline `//` comment the code goes on on the next line.
 *
 * Meant for files that parsed without errors; on any other AST it still returns some text
 * (an `Error` node prints its source text) and does not throw.
 */
import { assertNever } from "../diag/diagnostic.ts";
import type { SourceFile, Span } from "../diag/source.ts";
import type * as A from "./ast.ts";
import { cover, distribute, forEachContainer, placeInline, segments, texts, type Container, type Placement } from "./comments.ts";

/** Lines wider than this break their outermost list or call. */
export const MAX_WIDTH = 100;
const INDENT = 2;
/** Spaces between the longest code line of an alignment group and its trailing comments. */
const COMMENT_GAP = 3;

export function format(file: A.HybFile, source: SourceFile): string {
  return render(new Printer(file, source).file());
}

// ---------------------------------------------------------------------------------------------
// Lines

/** One output line. `group` ties lines whose trailing comments share a column. */
interface Line {
  indent: number;
  code: string;
  readonly comments: string[];
  group: number | undefined;
}

function line(indent: number, code: string): Line {
  return { indent, code, comments: [], group: undefined };
}

function render(lines: readonly Line[]): string {
  const width = new Map<number, number>();
  for (const l of lines) {
    if (l.group !== undefined) width.set(l.group, Math.max(width.get(l.group) ?? 0, l.indent + l.code.length));
  }
  const out = lines.map((l) => {
    const code = l.code === "" ? "" : " ".repeat(l.indent) + l.code;
    if (l.comments.length === 0) return code;
    const column = (l.group === undefined ? code.length : width.get(l.group)!) + COMMENT_GAP;
    return code.padEnd(column) + l.comments.join(" ");
  });
  return out.join("\n") + "\n";
}

/** Appends `next` to `first`, the last line of `first` continuing with `sep` and `next`'s first line. */
function join(first: Line[], sep: string, next: readonly Line[]): Line[] {
  const last = first[first.length - 1]!;
  const [head, ...rest] = next;
  last.code += (sep.endsWith(" ") || !head!.code.startsWith("//") ? sep : `${sep} `) + head!.code;
  last.comments.push(...head!.comments);
  return [...first, ...rest];
}

/**
 * Appends inline comments to the last line. A `//` comment ends its line: later comments go on
 * new lines at `indent`, and `open` tells the caller that code cannot follow on the last line.
 */
function appendInline(lines: Line[], comments: readonly A.Comment[], indent: number): { lines: Line[]; open: boolean } {
  if (comments.length === 0) return { lines, open: false };
  const out = [...lines];
  segments(comments).forEach((seg, i) => {
    const text = texts(seg).join(" ");
    if (i === 0) out[out.length - 1]!.code += ` ${text}`;
    else out.push(line(indent, text));
  });
  const last = comments[comments.length - 1];
  return { lines: out, open: last !== undefined && !last.block };
}

/** Own-line comments as lines: comments that follow each other on one source line stay together. */
function commentLines(comments: readonly A.Comment[], indent: number, lineOf: (offset: number) => number): { lines: Line[]; spans: Span[] } {
  const lines: Line[] = [];
  const spans: Span[] = [];
  let lastLine: number | undefined;
  for (const c of comments) {
    const startLine = lineOf(c.span.start);
    if (lastLine === startLine && lines.length > 0) {
      lines[lines.length - 1]!.code += " " + c.text;
      spans[spans.length - 1] = { start: spans[spans.length - 1]!.start, end: c.span.end };
    } else {
      lines.push(line(indent, c.text));
      spans.push(c.span);
    }
    lastLine = lineOf(c.span.end);
  }
  return { lines, spans };
}

// ---------------------------------------------------------------------------------------------
// The printer

class Printer {
  private readonly text: string;
  private readonly comments: readonly A.Comment[];
  private nextGroup = 0;

  constructor(
    private readonly ast: A.HybFile,
    private readonly source: SourceFile,
  ) {
    this.text = source.text;
    this.comments = [...ast.comments].sort((a, b) => a.span.start - b.span.start);
  }

  private lineOf = (offset: number): number => this.source.lineCol(offset).line;

  private group(): number {
    return this.nextGroup++;
  }

  /** A blank line in the source between two offsets (only whitespace lies between them). */
  private blankBetween(from: number, to: number): boolean {
    return from < to && this.lineOf(to) - this.lineOf(from) >= 2;
  }

  file(): Line[] {
    const models = this.ast.models;
    const slots = distribute(models, this.comments, this.lineOf);
    const out: Line[] = [];
    let prevEnd: number | undefined;
    let prevIsModel = false;
    const element = (lines: Line[], s: Span, isModel: boolean) => {
      if (prevEnd !== undefined && (prevIsModel || this.blankBetween(prevEnd, s.start))) out.push(line(0, ""));
      out.push(...lines);
      prevEnd = s.end;
      prevIsModel = isModel;
    };
    const ownLine = (comments: readonly A.Comment[]) => {
      const { lines, spans } = commentLines(comments, 0, this.lineOf);
      lines.forEach((l, i) => element([l], spans[i]!, false));
    };
    models.forEach((m, i) => {
      ownLine(slots.leading[i]!);
      const trailing = slots.trailing[i]!;
      const lines = this.model(m, slots.inner[i]!);
      // A trailing chain is on one source line, so a `//` in it can only be last.
      lines[lines.length - 1]!.comments.push(...texts(trailing));
      element(lines, { start: m.span.start, end: Math.max(m.span.end, ...trailing.map((c) => c.span.end)) }, true);
    });
    ownLine(slots.dangling);
    return out;
  }

  /** The index of the first comment starting at or after `offset` (comments are sorted). */
  private commentFrom(offset: number): number {
    let lo = 0;
    let hi = this.comments.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.comments[mid]!.span.start < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Only space and block comments lie between the two offsets. */
  private glued = (from: number, to: number): boolean => {
    for (let k = this.commentFrom(from); k < this.comments.length && this.comments[k]!.span.start < to; k++) {
      if (!this.comments[k]!.block) return false;
    }
    return this.nextToken(from) >= to;
  };

  /** The offset of the first character at or after `from` that is neither space nor comment. */
  private nextToken(from: number): number {
    let i = from;
    let k = this.commentFrom(i);
    while (i < this.text.length) {
      const c = this.comments[k];
      if (c && c.span.start === i) {
        i = Math.max(i + 1, c.span.end);
        k++;
      } else if (/\s/.test(this.text[i]!)) i++;
      else break;
    }
    return i;
  }

  /** The offset of the `,` right after `s`, if there is one. */
  private commaAfter(s: Span): number | undefined {
    const at = this.nextToken(s.end);
    return this.text[at] === "," ? at : undefined;
  }

  /** Offset just after the model's `{`, or after its name if there is none. */
  private bodyStart(m: A.ModelDecl): number {
    const at = this.nextToken(m.name.span.end);
    return this.text[at] === "{" ? at + 1 : m.name.span.end;
  }

  private model(m: A.ModelDecl, comments: readonly A.Comment[]): Line[] {
    const bodyStart = this.bodyStart(m);
    const firstStart = m.bindings[0]?.span.start ?? Infinity;
    // Comments before `{`, or after it on its line and before the first binding, trail the header.
    const header: A.Comment[] = [];
    let chainLine = this.lineOf(bodyStart - 1);
    for (const c of comments) {
      if (c.span.start >= firstStart) break;
      if (c.span.start < bodyStart) header.push(c);
      else if (this.lineOf(c.span.start) === chainLine) header.push(c);
      else break;
      chainLine = this.lineOf(c.span.end);
    }
    const [first = [], ...more] = segments(header);
    const head = line(0, `model ${m.name.name} {`);
    head.comments.push(...texts(first));
    const preface = more.map((seg) => ({ line: line(INDENT, texts(seg).join(" ")), span: cover(seg) }));
    return [head, ...this.body(m.bindings, comments.slice(header.length), preface), line(0, "}")];
  }

  /** The bindings of a model with their comments, blank lines and aligned runs. */
  private body(bindings: readonly A.Binding[], comments: readonly A.Comment[], preface: readonly { line: Line; span: Span }[]): Line[] {
    const slots = distribute(bindings, comments, this.lineOf);
    type Element =
      | { readonly kind: "comment"; readonly line: Line; readonly span: Span }
      | { readonly kind: "binding"; readonly binding: A.Binding; readonly placement: Placement; readonly trailing: A.Comment[]; readonly span: Span };
    const elements: Element[] = preface.map((p) => ({ kind: "comment", ...p }));
    const ownLine = (cs: readonly A.Comment[]) => {
      const { lines, spans } = commentLines(cs, INDENT, this.lineOf);
      lines.forEach((l, i) => elements.push({ kind: "comment", line: l, span: spans[i]! }));
    };
    bindings.forEach((b, i) => {
      ownLine(slots.leading[i]!);
      const trailing = slots.trailing[i]!;
      const end = Math.max(b.span.end, ...trailing.map((c) => c.span.end));
      elements.push({ kind: "binding", binding: b, placement: this.placement(b, slots.inner[i]!), trailing, span: { start: b.span.start, end } });
    });
    ownLine(slots.dangling);

    // Runs: consecutive bindings with no blank line and no own-line comment between them.
    const blankBefore = elements.map((e, k) => k > 0 && this.blankBetween(elements[k - 1]!.span.end, e.span.start));
    const runs: Extract<Element, { kind: "binding" }>[][] = [];
    elements.forEach((e, k) => {
      if (e.kind !== "binding") return;
      if (k === 0 || blankBefore[k] || elements[k - 1]!.kind !== "binding") runs.push([]);
      runs[runs.length - 1]!.push(e);
    });
    const runOf = new Map<Element, { width: number; group: number }>();
    for (const run of runs) {
      const info = { width: Math.max(...run.map((e) => e.binding.name.name.length)), group: this.group() };
      for (const e of run) runOf.set(e, info);
    }

    const out: Line[] = [];
    elements.forEach((e, k) => {
      if (blankBefore[k]) out.push(line(0, ""));
      if (e.kind === "comment") {
        out.push(e.line);
        return;
      }
      const { width, group } = runOf.get(e)!;
      const lines = this.binding(e.binding, width, e.placement);
      const last = lines[lines.length - 1]!;
      // A trailing chain is on one source line, so a `//` in it can only be last.
      last.comments.push(...texts(e.trailing));
      last.group = group;
      out.push(...lines);
    });
    return out;
  }

  private binding(b: A.Binding, nameWidth: number, placement: Placement): Line[] {
    const prefix = `${b.name.name.padEnd(nameWidth)} = `;
    const tooWide = INDENT + prefix.length + flat(b.value, this.source).length > MAX_WIDTH;
    const lines = this.expr(b.value, INDENT, tooWide, placement);
    lines[0]!.code = prefix + lines[0]!.code;
    return lines;
  }

  /** Hands each comment of a binding to the innermost list or call holding it, else inline. */
  private placement(b: A.Binding, comments: readonly A.Comment[]): Placement {
    const containers: Container[] = [];
    forEachContainer(b.value, (c) => containers.push(c));
    const p: Placement = { byContainer: new Map(), before: new Map(), after: new Map(), end: new Map() };
    for (const c of comments) {
      // Containers come in pre-order, so the last one holding the comment is the innermost.
      let owner: Container | undefined;
      for (const k of containers) if (k.span.start <= c.span.start && c.span.end <= k.span.end) owner = k;
      if (owner) p.byContainer.set(owner, [...(p.byContainer.get(owner) ?? []), c]);
      else placeInline(b, c, p, this.glued);
    }
    return p;
  }

  /** Does any comment lie inside this span? (Comments never overlap, so the first one to start in it decides.) */
  private holdsComment(s: Span): boolean {
    const c = this.comments[this.commentFrom(s.start)];
    return c !== undefined && c.span.end <= s.end;
  }

  /**
   * The lines of an expression starting at column `indent`; the first line's indent is the
   * caller's (it is appended to a prefix). `breakOuter`: break the outermost lists and calls.
   * Inline comments before the expression come first; after a `//` one the expression starts
   * on a new line, indented one step.
   */
  private expr(e: A.Expr, indent: number, breakOuter: boolean, p: Placement): Line[] {
    const before = p.before.get(e) ?? [];
    const lastLineComment = before.findLastIndex((c) => !c.block);
    const own = this.bare(e, lastLineComment < 0 ? indent : indent + INDENT, breakOuter, p);
    const inline = before.slice(lastLineComment + 1);
    if (inline.length > 0) own[0]!.code = `${texts(inline).join(" ")} ${own[0]!.code}`;
    // A paren or ratio prints its `end` comments before its `)`; no other node has any.
    const end = e.kind === "Paren" || e.kind === "Ratio" ? [] : (p.end.get(e) ?? []);
    const lines = appendInline(own, [...end, ...(p.after.get(e) ?? [])], indent + INDENT).lines;
    if (lastLineComment < 0) return lines;
    // Each `//` comment ends a line: the first continues the caller's line, the others stand alone.
    const heads = segments(before.slice(0, lastLineComment + 1)).map((seg, i) => line(i === 0 ? indent : indent + INDENT, texts(seg).join(" ")));
    lines[0]!.indent = indent + INDENT;
    return [...heads, ...lines];
  }

  /** The expression itself, without the inline comments before it. */
  private bare(e: A.Expr, indent: number, breakOuter: boolean, p: Placement): Line[] {
    switch (e.kind) {
      case "Number":
      case "String":
      case "Bool":
      case "None":
      case "Ref":
      case "Error":
        return [line(indent, flat(e, this.source))];
      case "List":
        return this.container(e, `[`, `]`, e.items, indent, breakOuter, p);
      case "Call":
        return this.container(e, `${e.callee.name}(`, `)`, e.args, indent, breakOuter, p);
      case "Stack":
        return e.parts
          .map((part) => this.expr(part, indent, breakOuter, p))
          .reduce((acc, lines) => join(acc, " + ", lines));
      case "Repeat":
        return join(this.expr(e.count, indent, breakOuter, p), " * ", this.expr(e.body, indent, breakOuter, p));
      case "Paren":
        return this.closeParen(e, join([line(indent, "")], "(", this.expr(e.inner, indent, breakOuter, p)), indent, p);
      case "Ratio": {
        const part = (x: A.Expr) => this.expr(x, indent, breakOuter, p);
        let lines = join([line(indent, "")], "(", part(e.left));
        lines = join(lines, " : ", part(e.right));
        lines = join(lines, " = ", part(e.leftCount));
        lines = join(lines, " : ", part(e.rightCount));
        if (e.offset) lines = join(lines, ", offset = ", part(e.offset));
        return this.closeParen(e, lines, indent, p);
      }
      default:
        return assertNever(e, "expression");
    }
  }

  /** Inline comments after the last part of a paren or ratio, then its `)`. */
  private closeParen(e: A.ParenExpr | A.RatioExpr, lines: Line[], indent: number, p: Placement): Line[] {
    const { lines: out, open } = appendInline(lines, p.end.get(e) ?? [], indent + INDENT);
    if (open) return [...out, line(indent, ")")];
    out[out.length - 1]!.code += ")";
    return out;
  }

  private container(
    node: Container,
    open: string,
    close: string,
    items: readonly (A.Expr | A.Arg)[],
    indent: number,
    breakOuter: boolean,
    p: Placement,
  ): Line[] {
    if (!breakOuter && !this.holdsComment(node.span)) return [line(indent, flat(node, this.source))];
    const inner = indent + INDENT;
    const slots = distribute(items, p.byContainer.get(node) ?? [], this.lineOf, (i) => this.commaAfter(items[i]!.span));
    const out: Line[] = [line(indent, open)];
    let group: number | undefined;
    items.forEach((item, i) => {
      const leading = commentLines(slots.leading[i]!, inner, this.lineOf).lines;
      // Own-line comments end a run of aligned trailing comments, as between bindings.
      if (leading.length > 0 || group === undefined) group = this.group();
      out.push(...leading);
      for (const c of slots.inner[i]!) placeInline(item, c, p, this.glued);
      const prefix = item.kind === "Arg" && item.name ? `${item.name.name} = ` : "";
      const value = item.kind === "Arg" ? item.value : item;
      const tooWide = inner + prefix.length + flat(value, this.source).length + 1 > MAX_WIDTH;
      const lines = this.expr(value, inner, tooWide, p);
      lines[0]!.code = prefix + lines[0]!.code;
      const last = lines[lines.length - 1]!;
      last.code += ",";
      last.comments.push(...texts(slots.trailing[i]!));
      last.group = group;
      out.push(...lines);
    });
    out.push(...commentLines(slots.dangling, inner, this.lineOf).lines);
    out.push(line(indent, close));
    return out;
  }
}

/** The one-line form of an expression. */
export function flat(e: A.Expr, source: SourceFile): string {
  switch (e.kind) {
    case "Number":
      return e.raw;
    case "String":
      return `"${e.value}"`;
    case "Bool":
      return e.value ? "true" : "false";
    case "None":
      return "none";
    case "Ref":
      return e.name;
    case "Call":
      return `${e.callee.name}(${e.args.map((a) => (a.name ? `${a.name.name} = ` : "") + flat(a.value, source)).join(", ")})`;
    case "List":
      return `[${e.items.map((x) => flat(x, source)).join(", ")}]`;
    case "Ratio": {
      const offset = e.offset ? `, offset = ${e.offset.raw}` : "";
      return `(${flat(e.left, source)} : ${flat(e.right, source)} = ${e.leftCount.raw} : ${e.rightCount.raw}${offset})`;
    }
    case "Stack":
      return e.parts.map((p) => flat(p, source)).join(" + ");
    case "Repeat":
      return `${e.count.raw} * ${flat(e.body, source)}`;
    case "Paren":
      return `(${flat(e.inner, source)})`;
    case "Error":
      // Only on files with syntax errors: echo what was there.
      return source.slice(e.span).replace(/\s+/g, " ").trim();
    default:
      return assertNever(e, "expression");
  }
}
