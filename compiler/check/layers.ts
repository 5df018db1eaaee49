/**
 * Layer expansion, in two steps so that a huge stack is refused before it is built:
 * 1. `Expander` checks a layer expression and builds a small tree with the number of layers
 *    each node expands to (groups are memoized, so the tree is a DAG as small as the text);
 * 2. `materialize` flattens the tree, only when the total is within `MAX_LAYERS`.
 */
import { assertNever, type Diagnostics, type Note } from "../diag/diagnostic.ts";
import type { Span } from "../diag/source.ts";
import { unparen, type Binding, type Expr, type ListExpr, type NumberLit, type RatioExpr, type Ref, type RepeatExpr, type StackExpr } from "../syntax/ast.ts";
import { isBlockKind } from "./blocks.ts";
import type { BlockDef, Layer, Sublayer } from "./model.ts";
import { ratioPeriod } from "./ratio.ts";
import type { Scope } from "./scope.ts";
import { NameSuggester } from "./suggest.ts";
import { describe } from "./values.ts";

export const MAX_LAYERS = 100_000;

/** A checked layer expression; `count` = layers it expands to (may be astronomically large). */
type Tree =
  | { readonly kind: "layer"; readonly sublayers: readonly Sublayer[]; readonly count: number }
  | { readonly kind: "seq"; readonly items: readonly Tree[]; readonly count: number }
  | { readonly kind: "repeat"; readonly times: number; readonly body: Tree; readonly count: number }
  | {
      readonly kind: "ratio";
      readonly left: readonly Sublayer[];
      readonly right: readonly Sublayer[];
      readonly leftCount: number;
      readonly rightCount: number;
      readonly offset: number | undefined;
      readonly count: number;
    };

export interface LayersResult {
  /** undefined when `layers` is missing or has errors (all reported). */
  readonly layers: readonly Layer[] | undefined;
  /** Block and group names reachable from `layers`. */
  readonly used: ReadonlySet<string>;
}

/** Expand `layers`, then check the groups `layers` does not reach (for their errors). */
export function expandLayers(diags: Diagnostics, scope: Scope, blocks: ReadonlyMap<string, BlockDef>): LayersResult {
  const x = new Expander(diags, scope, blocks);
  const binding = scope.params.layers;
  let layers: Layer[] | undefined;
  if (binding) {
    const tree = x.expr(binding.value);
    if (tree && tree.count > MAX_LAYERS) {
      diags.report("HYB3007", {
        span: binding.value.span,
        message: `\`layers\` expands to ${formatCount(tree.count)} layers, more than the limit of ${formatCount(MAX_LAYERS)}`,
        label: "too many layers",
      });
    } else if (tree) {
      const out: (readonly Sublayer[])[] = [];
      materialize(tree, out);
      layers = out.map((sublayers, index) => ({ index, sublayers }));
    }
  }
  x.tracking = false;
  for (const entry of scope.entries.values()) if (entry.kind === "group") x.group(entry.binding, undefined);
  return { layers, used: x.used };
}

class Expander {
  /** Names met while `tracking`, i.e. while expanding `layers` itself. */
  readonly used = new Set<string>();
  tracking = true;
  private readonly memo = new Map<string, Tree | null>();
  /** Groups being expanded, outermost first: a name met again closes a cycle. */
  private readonly active: string[] = [];
  /** Did-you-mean over the block and group names, built at the first unknown name, shared by all. */
  private suggester: NameSuggester | undefined;

  constructor(
    private readonly diags: Diagnostics,
    private readonly scope: Scope,
    private readonly blocks: ReadonlyMap<string, BlockDef>,
  ) {}

  /** null: an error, already reported. */
  expr(e: Expr): Tree | null {
    switch (e.kind) {
      case "Paren":
        return this.expr(e.inner);
      case "Error":
        return null;
      case "Ref":
        return this.ref(e);
      case "List":
        return this.list(e);
      case "Repeat":
        return this.repeat(e);
      case "Stack": {
        const sublayers = this.stack(e);
        return sublayers && { kind: "layer", sublayers, count: 1 };
      }
      case "Ratio":
        return this.ratio(e);
      case "Call":
        this.diags.report("HYB3001", {
          span: e.span,
          message: `a block call cannot be used directly in a layer stack`,
          label: "bind this block to a name first",
          help: `write \`name = ${e.callee.name}(...)\` in the model and use \`name\` here`,
        });
        return null;
      case "Number":
      case "String":
      case "Bool":
      case "None":
        this.diags.report("HYB3001", {
          span: e.span,
          message: `expected a layer, found ${describe(e)}`,
          label: "not a layer",
          help: "layers are block names, lists `[...]`, repetitions `N * x`, stacks `a + b` and ratios `(a : b = 3 : 1)`",
        });
        return null;
      default:
        return assertNever(e, "expression");
    }
  }

  /** Check a group binding once; `use` is the reference being resolved, if any. */
  group(binding: Binding, use: Ref | undefined): Tree | null {
    const name = binding.name.name;
    const at = this.active.indexOf(name);
    if (at >= 0) {
      const cycle = [...this.active.slice(at), name].map((n) => `\`${n}\``).join(" -> ");
      this.diags.report("HYB1009", {
        span: use?.span ?? binding.name.span,
        message: `cyclic definition: \`${name}\` refers to itself (${cycle})`,
        label: `refers back to \`${name}\``,
        notes: [{ message: `\`${name}\` defined here`, span: binding.name.span }],
      });
      return null;
    }
    const done = this.memo.get(name);
    if (done !== undefined) return done;
    this.active.push(name);
    const tree = this.expr(binding.value);
    this.active.pop();
    this.memo.set(name, tree);
    return tree;
  }

  private layerNames(): NameSuggester {
    this.suggester ??= new NameSuggester([...this.scope.entries.values()].filter((x) => x.kind !== "param").map((x) => x.binding.name.name));
    return this.suggester;
  }

  private ref(e: Ref): Tree | null {
    const entry = this.scope.entries.get(e.name);
    if (entry === undefined) {
      this.diags.report("HYB1002", {
        span: e.span,
        message: `unknown name \`${e.name}\``,
        label: "not bound in this model",
        help:
          this.layerNames().didYouMean(e.name) ??
          (isBlockKind(e.name) ? `\`${e.name}\` is a block kind: bind it first, \`name = ${e.name}(...)\`, and use \`name\`` : "bind it in this model: `name = mamba1(...)`"),
      });
      return null;
    }
    if (this.tracking) this.used.add(e.name);
    switch (entry.kind) {
      case "param":
        this.diags.report("HYB3001", {
          span: e.span,
          message: `\`${e.name}\` is a model parameter, not a layer`,
          label: "not a layer",
          notes: [{ message: `\`${e.name}\` set here`, span: entry.binding.span }],
        });
        return null;
      case "broken":
        return null;
      case "block": {
        const block = this.blocks.get(e.name);
        return block ? { kind: "layer", sublayers: [{ name: e.name, block, span: e.span }], count: 1 } : null;
      }
      case "group":
        return this.group(entry.binding, e);
      default:
        return assertNever(entry, "scope entry");
    }
  }

  private list(e: ListExpr): Tree | null {
    if (e.items.length === 0) {
      this.diags.report("HYB3008", { span: e.span, message: "empty list of layers", label: "needs at least one layer" });
      return null;
    }
    const items = e.items.map((i) => this.expr(i));
    if (!items.every((i): i is Tree => i !== null)) return null;
    return { kind: "seq", items, count: items.reduce((n, i) => n + i.count, 0) };
  }

  private repeat(e: RepeatExpr): Tree | null {
    const times = wholeAtLeast(e.count, 1);
    if (times === undefined) {
      this.diags.report("HYB3006", {
        span: e.count.span,
        message: `a repetition count must be a whole number of at least 1, found \`${e.count.raw}\``,
        label: "invalid count",
      });
    }
    const body = this.expr(e.body);
    if (times === undefined || body === null) return null;
    return { kind: "repeat", times, body, count: times * body.count };
  }

  private stack(e: StackExpr): readonly Sublayer[] | null {
    const parts = e.parts.map((p) => this.single(p, "stack"));
    if (!parts.every((p): p is readonly Sublayer[] => p !== null)) return null;
    return parts.flat();
  }

  private ratio(e: RatioExpr): Tree | null {
    const left = this.single(e.left, "ratio");
    const right = this.single(e.right, "ratio");
    const lc = this.ratioCount(e.leftCount);
    const rc = this.ratioCount(e.rightCount);
    if (lc === undefined || rc === undefined) return null;
    const p = lc + rc;
    let offset: number | undefined;
    if (e.offset) {
      offset = wholeAtLeast(e.offset, 0);
      if (offset === undefined || offset >= p) {
        this.diags.report("HYB3005", {
          span: e.offset.span,
          message: `a ratio offset must be a whole number from 0 to ${formatCount(p - 1)}, found \`${e.offset.raw}\``,
          label: `the period is ${formatCount(p)} layers`,
        });
        return null;
      }
    }
    if (left === null || right === null) return null;
    return { kind: "ratio", left, right, leftCount: lc, rightCount: rc, offset, count: p };
  }

  private ratioCount(n: NumberLit): number | undefined {
    const v = wholeAtLeast(n, 1);
    if (v === undefined) {
      this.diags.report("HYB3004", {
        span: n.span,
        message: `a ratio count must be a whole number of at least 1, found \`${n.raw}\``,
        label: "invalid count",
      });
    }
    return v;
  }

  /** A `+` part or a ratio operand: exactly one layer. */
  private single(e: Expr, where: "stack" | "ratio"): readonly Sublayer[] | null {
    const u = unparen(e);
    switch (u.kind) {
      case "Stack":
        return this.stack(u);
      case "List":
      case "Ratio":
      case "Repeat":
        // Inner errors first; if there are none, the shape itself is the error.
        if (this.expr(u) !== null) this.notSingle(u.span, where, describe(u), undefined);
        return null;
      case "Ref": {
        const tree = this.ref(u);
        if (tree === null) return null;
        const one = singleLayer(tree);
        if (one) return one;
        const entry = this.scope.entries.get(u.name);
        this.notSingle(u.span, where, `\`${u.name}\`, which expands to ${formatCount(tree.count)} layers`, entry && { message: `\`${u.name}\` defined here`, span: entry.binding.name.span });
        return null;
      }
      default: {
        const tree = this.expr(u);
        return tree && singleLayer(tree);
      }
    }
  }

  private notSingle(span: Span, where: "stack" | "ratio", found: string, definedAt: Note | undefined): void {
    const notes = definedAt ? [definedAt] : [];
    if (where === "stack") {
      this.diags.report("HYB3002", {
        span,
        message: `each part of \`+\` must be a single block or stack, found ${found}`,
        label: "not a single sublayer",
        notes,
        help: "stack inside each layer instead: `[a + ffn, b + ffn]`, or repeat a stacked layer: `4 * (a + ffn)`",
      });
    } else {
      this.diags.report("HYB3003", {
        span,
        message: `each side of a ratio must be a single layer, found ${found}`,
        label: "not a single layer",
        notes,
        help: "a ratio operand is one block or one `+` stack: `(ssm + ffn : attn + ffn = 7 : 1)`",
      });
    }
  }
}

function wholeAtLeast(n: NumberLit, min: number): number | undefined {
  return Number.isInteger(n.value) && n.value >= min ? n.value : undefined;
}

/** The sublayers of a tree that expands to exactly one layer. */
function singleLayer(t: Tree): readonly Sublayer[] | null {
  if (t.count !== 1) return null;
  switch (t.kind) {
    case "layer":
      return t.sublayers;
    case "seq":
      return t.items[0] ? singleLayer(t.items[0]) : null;
    case "repeat":
      return singleLayer(t.body);
    case "ratio":
      return null;
    default:
      return assertNever(t, "layer tree");
  }
}

function materialize(t: Tree, out: (readonly Sublayer[])[]): void {
  switch (t.kind) {
    case "layer":
      out.push(t.sublayers);
      return;
    case "seq":
      for (const item of t.items) materialize(item, out);
      return;
    case "repeat": {
      const start = out.length;
      materialize(t.body, out);
      const n = out.length - start;
      for (let r = 1; r < t.times; r++) for (let k = 0; k < n; k++) out.push(out[start + k]!);
      return;
    }
    case "ratio":
      for (const side of ratioPeriod(t.leftCount, t.rightCount, t.offset)) out.push(side === "left" ? t.left : t.right);
      return;
    default:
      assertNever(t, "layer tree");
  }
}

/** `1,000,000`; beyond exact integers, an order of magnitude. */
export function formatCount(n: number): string {
  if (Number.isSafeInteger(n)) return n.toLocaleString("en-US");
  if (Number.isFinite(n)) return `about ${n.toExponential(1).replace("e+", "e")}`;
  return "more than 1e308";
}
