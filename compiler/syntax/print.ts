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
 * - Comments are never dropped. Each one belongs to the innermost list or call that holds it,
 *   else to its binding, else to its model, else to the file. Within that scope it trails the
 *   element whose line it continues, or leads the next element on its own line. A comment
 *   inside an element but in no deeper list or call (`x = /* c *\/ 1`) trails that element.
 *
 * Meant for files that parsed without errors; on any other AST it still returns some text
 * (an `Error` node prints its source text) and does not throw.
 */
import { assertNever } from "../diag/diagnostic.ts";
import type { SourceFile, Span } from "../diag/source.ts";
import type * as A from "./ast.ts";

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
  last.code += sep + head!.code;
  last.comments.push(...head!.comments);
  return [...first, ...rest];
}

function wrap(open: string, lines: Line[], close: string): Line[] {
  lines[0]!.code = open + lines[0]!.code;
  lines[lines.length - 1]!.code += close;
  return lines;
}

// ---------------------------------------------------------------------------------------------
// Comment placement

/** Where the comments of one scope go, relative to its children (bindings, items, models). */
interface Slots {
  /** Own-line comments before child i. */
  readonly leading: A.Comment[][];
  /** Comments inside child i's span, for the child's own scope to place. */
  readonly inner: A.Comment[][];
  /** Comments continuing the line on which child i ends. */
  readonly trailing: A.Comment[][];
  /** Own-line comments after the last child. */
  readonly dangling: A.Comment[];
}

/**
 * Splits the comments of a scope (in source order) among its children (in source order).
 * A comment trails child i when it starts on the line where child i ends (or where the
 * previous trailing comment of child i ends), unless it comes after the comma that follows
 * child i and child i + 1 starts on the line where the comment ends: `[a, /* c *\/ b]` leads b.
 */
function distribute(
  children: readonly { readonly span: Span }[],
  comments: readonly A.Comment[],
  lineOf: (offset: number) => number,
  commaAfter: (i: number) => number | undefined = () => undefined,
): Slots {
  const slots: Slots = {
    leading: children.map(() => []),
    inner: children.map(() => []),
    trailing: children.map(() => []),
    dangling: [],
  };
  let next = 0;
  let chainLine: number | undefined;
  const leadsNext = (c: A.Comment): boolean => {
    const comma = commaAfter(next - 1);
    const following = children[next];
    return comma !== undefined && comma < c.span.start && following !== undefined && lineOf(following.span.start) === lineOf(c.span.end);
  };
  for (const c of comments) {
    while (next < children.length && children[next]!.span.end <= c.span.start) {
      chainLine = lineOf(children[next]!.span.end);
      next++;
    }
    const child = children[next];
    if (child && child.span.start <= c.span.start && c.span.end <= child.span.end) {
      slots.inner[next]!.push(c);
    } else if (next > 0 && chainLine !== undefined && lineOf(c.span.start) === chainLine && !leadsNext(c)) {
      slots.trailing[next - 1]!.push(c);
      chainLine = lineOf(c.span.end);
    } else {
      chainLine = undefined;
      (child ? slots.leading[next]! : slots.dangling).push(c);
    }
  }
  return slots;
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

/**
 * Comments that will share one line after code, in order: a `//` comment ends a line, so the
 * comments after it start the next group (printed on lines of their own).
 */
function segments(comments: readonly A.Comment[]): A.Comment[][] {
  const out: A.Comment[][] = [];
  let current: A.Comment[] = [];
  for (const c of comments) {
    current.push(c);
    if (!c.block) {
      out.push(current);
      current = [];
    }
  }
  if (current.length > 0) out.push(current);
  return out;
}

function texts(comments: readonly A.Comment[]): string[] {
  return comments.map((c) => c.text);
}

function cover(comments: readonly A.Comment[]): Span {
  return { start: comments[0]!.span.start, end: comments[comments.length - 1]!.span.end };
}

type Container = A.ListExpr | A.Call;

/** The comments of one binding: those of each list or call in it, and the rest. */
interface BindingComments {
  readonly byContainer: Map<Container, A.Comment[]>;
  readonly rest: A.Comment[];
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
      | { readonly kind: "binding"; readonly binding: A.Binding; readonly bc: BindingComments; readonly trailing: A.Comment[]; readonly span: Span };
    const elements: Element[] = preface.map((p) => ({ kind: "comment", ...p }));
    const ownLine = (cs: readonly A.Comment[]) => {
      const { lines, spans } = commentLines(cs, INDENT, this.lineOf);
      lines.forEach((l, i) => elements.push({ kind: "comment", line: l, span: spans[i]! }));
    };
    bindings.forEach((b, i) => {
      ownLine(slots.leading[i]!);
      const bc = this.bindingComments(b.value, slots.inner[i]!);
      const end = Math.max(b.span.end, ...slots.trailing[i]!.map((c) => c.span.end));
      // Comments moved out of the value join those after it; a `//` comment ends the line, so
      // any after it go on their own lines below.
      const [first = [], ...more] = segments([...bc.rest, ...slots.trailing[i]!]);
      elements.push({ kind: "binding", binding: b, bc, trailing: first, span: { start: b.span.start, end } });
      for (const seg of more) elements.push({ kind: "comment", line: line(INDENT, texts(seg).join(" ")), span: { start: end, end } });
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
      const lines = this.binding(e.binding, width, e.bc);
      const last = lines[lines.length - 1]!;
      last.comments.push(...texts(e.trailing));
      last.group = group;
      out.push(...lines);
    });
    return out;
  }

  private binding(b: A.Binding, nameWidth: number, bc: BindingComments): Line[] {
    const prefix = `${b.name.name.padEnd(nameWidth)} = `;
    const tooWide = INDENT + prefix.length + flat(b.value, this.source).length > MAX_WIDTH;
    const lines = this.expr(b.value, INDENT, tooWide, bc);
    lines[0]!.code = prefix + lines[0]!.code;
    return lines;
  }

  /** Hands each comment to the innermost list or call holding it; the others stay with the binding. */
  private bindingComments(value: A.Expr, comments: readonly A.Comment[]): BindingComments {
    const containers: Container[] = [];
    forEachContainer(value, (c) => containers.push(c));
    const byContainer = new Map<Container, A.Comment[]>();
    const rest: A.Comment[] = [];
    for (const c of comments) {
      // Containers come in pre-order, so the last one holding the comment is the innermost.
      let owner: Container | undefined;
      for (const k of containers) if (k.span.start <= c.span.start && c.span.end <= k.span.end) owner = k;
      if (!owner) rest.push(c);
      else {
        const list = byContainer.get(owner) ?? [];
        list.push(c);
        byContainer.set(owner, list);
      }
    }
    return { byContainer, rest };
  }

  /** Does any comment lie inside this span? (Comments never overlap, so the first one to start in it decides.) */
  private holdsComment(s: Span): boolean {
    const c = this.comments[this.commentFrom(s.start)];
    return c !== undefined && c.span.end <= s.end;
  }

  /**
   * The lines of an expression starting at column `indent`; the first line's indent is the
   * caller's (it is appended to a prefix). `breakOuter`: break the outermost lists and calls.
   */
  private expr(e: A.Expr, indent: number, breakOuter: boolean, bc: BindingComments): Line[] {
    switch (e.kind) {
      case "Number":
      case "String":
      case "Bool":
      case "None":
      case "Ref":
      case "Error":
        return [line(indent, flat(e, this.source))];
      case "List":
        return this.container(e, `[`, `]`, e.items, indent, breakOuter, bc);
      case "Call":
        return this.container(e, `${e.callee.name}(`, `)`, e.args, indent, breakOuter, bc);
      case "Stack":
        return e.parts
          .map((p) => this.expr(p, indent, breakOuter, bc))
          .reduce((acc, lines) => join(acc, " + ", lines));
      case "Repeat":
        return wrap(`${e.count.raw} * `, this.expr(e.body, indent, breakOuter, bc), "");
      case "Paren":
        return wrap("(", this.expr(e.inner, indent, breakOuter, bc), ")");
      case "Ratio": {
        const left = this.expr(e.left, indent, breakOuter, bc);
        const right = this.expr(e.right, indent, breakOuter, bc);
        const counts = ` = ${e.leftCount.raw} : ${e.rightCount.raw}${e.offset ? `, offset = ${e.offset.raw}` : ""}`;
        return wrap("(", join(left, " : ", right), counts + ")");
      }
      default:
        return assertNever(e, "expression");
    }
  }

  private container(
    node: Container,
    open: string,
    close: string,
    items: readonly (A.Expr | A.Arg)[],
    indent: number,
    breakOuter: boolean,
    bc: BindingComments,
  ): Line[] {
    if (!breakOuter && !this.holdsComment(node.span)) return [line(indent, flat(node, this.source))];
    const inner = indent + INDENT;
    const slots = distribute(items, bc.byContainer.get(node) ?? [], this.lineOf, (i) => this.commaAfter(items[i]!.span));
    const out: Line[] = [line(indent, open)];
    let group: number | undefined;
    items.forEach((item, i) => {
      const leading = commentLines(slots.leading[i]!, inner, this.lineOf).lines;
      // Own-line comments end a run of aligned trailing comments, as between bindings.
      if (leading.length > 0 || group === undefined) group = this.group();
      out.push(...leading);
      const prefix = item.kind === "Arg" && item.name ? `${item.name.name} = ` : "";
      const value = item.kind === "Arg" ? item.value : item;
      const tooWide = inner + prefix.length + flat(value, this.source).length + 1 > MAX_WIDTH;
      const lines = this.expr(value, inner, tooWide, bc);
      lines[0]!.code = prefix + lines[0]!.code;
      const last = lines[lines.length - 1]!;
      last.code += ",";
      const [first = [], ...more] = segments([...slots.inner[i]!, ...slots.trailing[i]!]);
      last.comments.push(...texts(first));
      last.group = group;
      out.push(...lines);
      if (more.length > 0) group = undefined;
      for (const seg of more) out.push(line(inner, texts(seg).join(" ")));
    });
    out.push(...commentLines(slots.dangling, inner, this.lineOf).lines);
    out.push(line(indent, close));
    return out;
  }
}

/** Calls `f` on every list and call in `e`, parents before children. */
function forEachContainer(e: A.Expr, f: (c: Container) => void): void {
  switch (e.kind) {
    case "Number":
    case "String":
    case "Bool":
    case "None":
    case "Ref":
    case "Error":
      return;
    case "List":
      f(e);
      for (const item of e.items) forEachContainer(item, f);
      return;
    case "Call":
      f(e);
      for (const a of e.args) forEachContainer(a.value, f);
      return;
    case "Stack":
      for (const p of e.parts) forEachContainer(p, f);
      return;
    case "Repeat":
      forEachContainer(e.body, f);
      return;
    case "Paren":
      forEachContainer(e.inner, f);
      return;
    case "Ratio":
      forEachContainer(e.left, f);
      forEachContainer(e.right, f);
      return;
    default:
      assertNever(e, "expression");
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
