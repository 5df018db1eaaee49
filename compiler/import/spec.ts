/**
 * A spec to write, as data (what a family's importer decides), and its text: the layer list in
 * the most readable form that expands to exactly it (`N * x`, a ratio with its offset, or an
 * explicit list with runs), run through the formatter, then compiled and compared with the plan.
 * A spec that does not compile, or expands to other layers, is a bug here, never written.
 */
import { ratioPeriod } from "../check/ratio.ts";
import { compile } from "../compile.ts";
import { Diagnostics, InternalCompilerError } from "../diag/diagnostic.ts";
import { SourceFile } from "../diag/source.ts";
import { parse } from "../syntax/index.ts";
import { format } from "../syntax/print.ts";
import type { ResolvedModel } from "../check/model.ts";
import { ImportError } from "./config.ts";

export type BlockKind = "mamba1" | "mamba2" | "attention" | "mlp";

export interface BlockPlan {
  /** The binding name (`ssm`, `attn`, `ffn`). */
  readonly name: string;
  readonly kind: BlockKind;
  /** A positional first argument (the mlp's activation). */
  readonly positional?: string;
  /** Named arguments in order, values as .hyb text. */
  readonly args: readonly (readonly [string, string])[];
}

export interface SpecPlan {
  readonly name: string;
  /** Comment lines above the model (without `// `). */
  readonly header: readonly string[];
  readonly vocab: number;
  readonly dModel: number;
  readonly eps: number;
  readonly tied: boolean;
  readonly weights: "mamba" | "jamba";
  readonly context?: number;
  readonly blocks: readonly BlockPlan[];
  /** Each layer's sublayers, by binding name. */
  readonly layers: readonly (readonly string[])[];
  /** Comment lines inside the model, above the blocks (without `// `). */
  readonly notes: readonly string[];
}

/** A number as .hyb text: integers with `_` thousands (`10_000`), small fractions as `1e-5`. */
export function num(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) {
    const s = String(Math.abs(n)).replace(/\B(?=(\d{3})+$)/g, "_");
    return n < 0 ? `-${s}` : s;
  }
  const plain = String(n);
  if (!plain.includes("e") && !(Math.abs(n) < 1e-3)) return plain;
  return n.toExponential().replace("e+", "e");
}

const withParens = (t: string): string => (t.includes("+") ? `(${t})` : t);

/** `k * x` (x parenthesized when it is a `+` layer), or x alone. */
function times(k: number, t: string): string {
  return k === 1 ? t : `${k} * ${withParens(t)}`;
}

/** One period as a ratio, when it has exactly two kinds and a ratio (with some offset) yields it. */
function asRatio(period: readonly string[]): string | undefined {
  const kinds = [...new Set(period)];
  if (kinds.length !== 2) return undefined;
  const count = (k: string) => period.filter((x) => x === k).length;
  // Left is the majority (the minority is the second kind when the counts are equal).
  const [a, b] = count(kinds[0]!) >= count(kinds[1]!) ? [kinds[0]!, kinds[1]!] : [kinds[1]!, kinds[0]!];
  const ca = count(a);
  const cb = count(b);
  for (const offset of [undefined, ...period.keys()]) {
    const sides = ratioPeriod(ca, cb, offset);
    if (sides.every((s, i) => (s === "left" ? a : b) === period[i])) {
      return `(${a} : ${b} = ${ca} : ${cb}${offset === undefined ? "" : `, offset = ${offset}`})`;
    }
  }
  return undefined;
}

/** The layer list as the shortest of: `N * x`, `N * (a : b = A : B, offset = j)`, `[runs...]`. */
export function layersExpr(layers: readonly (readonly string[])[]): string {
  const texts = layers.map((l) => l.join(" + "));
  const n = texts.length;
  if (texts.every((t) => t === texts[0])) return times(n, texts[0]!);
  const list = runs(texts);
  // A short list reads better than a ratio: `[ssm + ffn, attn + ffn]`.
  if (n <= 4) return `[${list.join(", ")}]`;
  // The smallest period as a ratio; a period of two reads better as a list: `3 * [ssm, mlp]`.
  let p = 2;
  while (p < n && (n % p !== 0 || !texts.every((t, i) => t === texts[i % p]))) p++;
  const ratio = p >= 3 && p <= 256 ? asRatio(texts.slice(0, p)) : undefined;
  if (ratio !== undefined) return n === p ? ratio : `${n / p} * ${ratio}`;
  // One repeated unit needs no brackets around it: `3 * [ssm, mlp]`.
  return list.length === 1 ? list[0]! : `[${list.join(", ")}]`;
}

/** Longest unit repeated from a position, at most this many layers long (`3 * [ssm, mlp]`). */
const MAX_UNIT = 8;

/**
 * The list as runs: at each position the unit of up to MAX_UNIT layers whose repetitions cover
 * the most layers (`3 * [ssm, mlp]`, `4 * ssm`), else the one layer.
 */
function runs(texts: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < texts.length; ) {
    let best = { unit: 1, reps: 1 };
    for (let u = 1; u <= MAX_UNIT && i + 2 * u <= texts.length; u++) {
      let reps = 1;
      while (i + (reps + 1) * u <= texts.length && texts.slice(i + reps * u, i + (reps + 1) * u).every((t, k) => t === texts[i + k])) reps++;
      if (reps > 1 && reps * u > best.unit * best.reps) best = { unit: u, reps };
    }
    const unit = texts.slice(i, i + best.unit);
    out.push(best.unit === 1 ? times(best.reps, unit[0]!) : `${best.reps} * [${unit.join(", ")}]`);
    i += best.unit * best.reps;
  }
  return out;
}

/** Where the layers that are not the most common kind sit: `attn + ffn at 4, 12, 20, 28`. */
export function layerSummary(layers: readonly (readonly string[])[]): string[] {
  const texts = layers.map((l) => l.join(" + "));
  const at = new Map<string, number[]>();
  texts.forEach((t, i) => at.set(t, [...(at.get(t) ?? []), i]));
  const kinds = [...at.entries()].sort((x, y) => y[1].length - x[1].length);
  const count = `${texts.length} layer${texts.length === 1 ? "" : "s"}`;
  const lines = [`${count}${kinds.length === 1 ? `, each ${kinds[0]![0]}` : `: ${kinds[0]![0]}, except`}`];
  for (const [t, idx] of kinds.slice(1)) lines.push(...wrap(`  ${t} at ${idx.join(", ")}`, 96));
  return lines;
}

/** `line` cut at spaces into lines of at most `width`; continuations start with `indent`. */
function wrap(line: string, width: number, indent = "    "): string[] {
  const out: string[] = [];
  let rest = line;
  while (rest.length > width) {
    const cut = rest.lastIndexOf(" ", width);
    if (cut <= indent.length) break;
    out.push(rest.slice(0, cut));
    rest = `${indent}${rest.slice(cut + 1)}`;
  }
  out.push(rest);
  return out;
}

function blockText(b: BlockPlan): string {
  const args = [...(b.positional ? [b.positional] : []), ...b.args.map(([k, v]) => `${k} = ${v}`)];
  return `${b.name} = ${b.kind}(${args.join(", ")})`;
}

/** The plan as formatted .hyb text, checked: it compiles and expands to the planned layers. */
export function specText(plan: SpecPlan, path: string): { readonly text: string; readonly model: ResolvedModel } {
  const lines = [
    ...plan.header.flatMap((l) => wrap(l, 96)).map((l) => `// ${l}`.trimEnd()),
    `model ${plan.name} {`,
    `  vocab = ${num(plan.vocab)}`,
    `  d_model = ${num(plan.dModel)}`,
    `  norm = rmsnorm(eps = ${num(plan.eps)})`,
    `  tied = ${plan.tied}`,
    `  weights = "${plan.weights}"`,
    ...(plan.context !== undefined ? [`  context = ${num(plan.context)}`] : []),
    "",
    ...plan.notes.flatMap((l) => wrap(l, 94, "")).map((l) => `  // ${l}`.trimEnd()),
    ...plan.blocks.map((b) => `  ${blockText(b)}`),
    "",
    `  layers = ${layersExpr(plan.layers)}`,
    "}",
    "",
  ];
  const raw = lines.join("\n");
  const source = new SourceFile(path, raw);
  const diags = new Diagnostics(source);
  const ast = parse(diags);
  if (diags.hasErrors) throw new InternalCompilerError(`the imported spec does not parse:\n${diags.sorted().map((d) => d.message).join("\n")}\n${raw}`);
  const text = format(ast, source);
  const r = compile(text, { path });
  if (!r.ok || r.models.length !== 1) {
    // Sizes the config gives that make no valid model (kv heads that do not divide the heads, a
    // tensor too large for WebGPU): the checker's first error, as the config's problem.
    const first = r.diagnostics.find((d) => d.severity === "error");
    if (first === undefined) throw new InternalCompilerError(`the imported spec defines ${r.models.length} models:\n${text}`);
    const { line } = r.source.lineCol(first.span.start);
    throw new ImportError(`its sizes make no valid model: ${first.message} (in the imported spec: ${text.split("\n")[line - 1]!.trim()})`);
  }
  const model = r.models[0]!;
  const got = model.layers.map((l) => l.sublayers.map((s) => s.name).join(" + "));
  const want = plan.layers.map((l) => l.join(" + "));
  if (got.join("\n") !== want.join("\n")) throw new InternalCompilerError(`the imported spec expands to other layers than planned:\n${text}`);
  return { text, model };
}
