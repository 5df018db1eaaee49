/**
 * Where the formatter puts each comment: which scope owns it (the file, a model, a list or
 * call, or inline in a binding or item) and, within that scope, which element it leads or
 * trails, from spans and line numbers only. print.ts turns the result into lines.
 */
import { assertNever } from "../diag/diagnostic.ts";
import type { Span } from "../diag/source.ts";
import type * as A from "./ast.ts";

/** Where the comments of one scope go, relative to its children (bindings, items, models). */
export interface Slots {
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
export function distribute(
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

/**
 * Comments that will share one line after code, in order: a `//` comment ends a line, so the
 * comments after it start the next group (printed on lines of their own).
 */
export function segments(comments: readonly A.Comment[]): A.Comment[][] {
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

export function texts(comments: readonly A.Comment[]): string[] {
  return comments.map((c) => c.text);
}

export function cover(comments: readonly A.Comment[]): Span {
  return { start: comments[0]!.span.start, end: comments[comments.length - 1]!.span.end };
}

export type Container = A.ListExpr | A.Call;

/** Where the comments inside one binding go. */
export interface Placement {
  /** The comments of each list or call, placed around its items (see `distribute`). */
  readonly byContainer: Map<Container, A.Comment[]>;
  /** Comments printed inline just before a node. */
  readonly before: Map<Node, A.Comment[]>;
  /** Block comments printed inline just after a node (they followed it with no token between). */
  readonly after: Map<Node, A.Comment[]>;
  /** Comments printed inline after a node's last child (before the `)` of a paren or ratio). */
  readonly end: Map<Node, A.Comment[]>;
}

export type Node = A.Binding | A.Arg | A.Expr;

export function isContainer(n: Node): n is Container {
  return n.kind === "List" || n.kind === "Call";
}

/** The children of a node in source order, as far as inline comments are concerned. */
export function childrenOf(n: Node): readonly Node[] {
  switch (n.kind) {
    case "Binding":
    case "Arg":
      return [n.value];
    case "Stack":
      return n.parts;
    case "Repeat":
      return [n.count, n.body];
    case "Paren":
      return [n.inner];
    case "Ratio":
      return [n.left, n.right, n.leftCount, n.rightCount, ...(n.offset ? [n.offset] : [])];
    case "List":
    case "Call":
    case "Number":
    case "String":
    case "Bool":
    case "None":
    case "Ref":
    case "Error":
      return [];
    default:
      return assertNever(n, "node");
  }
}

/**
 * Places a comment that lies in `root` but in no list or call: a block comment right after a
 * child (nothing but space and block comments between) stays after it, any other goes before
 * the next child, or at the end. `glued(from, to)`: only space and block comments lie between.
 */
export function placeInline(root: Node, c: A.Comment, into: Placement, glued: (from: number, to: number) => boolean): void {
  let node = root;
  for (;;) {
    const holder = childrenOf(node).find((k) => !isContainer(k) && k.span.start <= c.span.start && c.span.end <= k.span.end);
    if (!holder) break;
    node = holder;
  }
  const kids = childrenOf(node);
  const prev = kids.findLast((k) => k.span.end <= c.span.start);
  const next = kids.find((k) => k.span.start >= c.span.end);
  const [map, key] =
    c.block && prev && glued(prev.span.end, c.span.start) ? [into.after, prev] : next ? [into.before, next] : [into.end, node];
  map.set(key, [...(map.get(key) ?? []), c]);
}

/** Calls `f` on every list and call in `e`, parents before children. */
export function forEachContainer(e: A.Expr, f: (c: Container) => void): void {
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
