/** Shared helpers of the syntax tests: parse a text, strip spans, format, read the specs. */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Diagnostics, type Diagnostic } from "../../compiler/diag/diagnostic.ts";
import { SourceFile } from "../../compiler/diag/source.ts";
import type { Expr, HybFile } from "../../compiler/syntax/ast.ts";
import { parse } from "../../compiler/syntax/index.ts";
import { format } from "../../compiler/syntax/print.ts";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface Parsed {
  readonly file: HybFile;
  readonly source: SourceFile;
  /** In source order. */
  readonly diags: readonly Diagnostic[];
}

export function parseText(text: string): Parsed {
  const source = new SourceFile("test.hyb", text);
  const diags = new Diagnostics(source);
  const file = parse(diags);
  return { file, source, diags: diags.sorted() };
}

/** Parses a text that must be free of syntax errors. */
export function parseOk(text: string): HybFile {
  const { file, diags } = parseText(text);
  if (diags.length > 0) throw new Error(`unexpected diagnostics:\n${diags.map((d) => `${d.code} ${d.message}`).join("\n")}`);
  return file;
}

/** The value of the one binding `name` of the first model. */
export function valueOf(text: string, name = "a"): Expr {
  const b = parseOk(text).models[0]!.bindings.find((x) => x.name.name === name);
  if (!b) throw new Error(`no binding ${name}`);
  return b.value;
}

/** Parses `model m { a = <expr> }` and returns the value of `a`. */
export function expr(src: string): Expr {
  return valueOf(`model m { a = ${src} }`);
}

/** The same data without any `span` (deeply), for comparing ASTs of different texts. */
export function stripSpans(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(stripSpans);
  if (x !== null && typeof x === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x)) if (k !== "span") out[k] = stripSpans(v);
    return out;
  }
  return x;
}

/** What the formatter must preserve: the models (spans aside) and the comments, in order. */
export function essence(file: HybFile): unknown {
  return { models: stripSpans(file.models), comments: file.comments.map((c) => c.text) };
}

/** Formats a text that must parse cleanly. */
export function fmt(text: string): string {
  const { file, source, diags } = parseText(text);
  if (diags.length > 0) throw new Error(`cannot format, diagnostics:\n${diags.map((d) => `${d.code} ${d.message}`).join("\n")}`);
  return format(file, source);
}

/** `offset` of the n-th (0-based) occurrence of `needle` in `text`. */
export function offsetOf(text: string, needle: string, nth = 0): number {
  let at = -1;
  for (let i = 0; i <= nth; i++) {
    at = text.indexOf(needle, at + 1);
    if (at < 0) throw new Error(`${JSON.stringify(needle)} occurs fewer than ${nth + 1} times`);
  }
  return at;
}

/** The span of the n-th occurrence of `needle`. */
export function spanOf(text: string, needle: string, nth = 0): { start: number; end: number } {
  const start = offsetOf(text, needle, nth);
  return { start, end: start + needle.length };
}

export interface Spec {
  readonly name: string;
  readonly text: string;
}

export function specs(): Spec[] {
  const dir = join(ROOT, "specs");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".hyb"))
    .sort()
    .map((name) => ({ name, text: readFileSync(join(dir, name), "utf8") }));
}
