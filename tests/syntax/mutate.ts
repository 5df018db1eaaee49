/**
 * Mutation fuzzing of the canonical specs, one generator and one property for both users:
 * tests/syntax/property.test.ts runs a few hundred cases in CI, `npm run fuzz` (bench/fuzz.ts)
 * runs 10^5 and prints the figures.
 *
 * A case is a spec of specs/*.hyb, or its one-period variant (the leading repetition count of
 * `layers` set to 1, so it is small enough to build), then 1 to 4 mutations: characters
 * (any UTF-16 code unit or byte, or one the grammar cares about) inserted, deleted, replaced or
 * duplicated; lines deleted, duplicated or swapped; the text truncated; tokens deleted,
 * duplicated, swapped, inserted or replaced (names, punctuation, numbers at the edges of every
 * size rule). The property (`checkMutant`): `compile` never throws, reports no HYB9999, keeps
 * every span inside the text and the list in source order; a mutant without syntax errors
 * formats stably; and, for the cases that ask for it, a mutant that compiles clean to small
 * models goes through `build` (fused or not), which never throws nor reports HYB9999 either.
 * Plain errors, no test framework: the fuzz script runs it outside vitest.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import type { ResolvedModel } from "../../compiler/check/model.ts";
import { assertNever, type Diagnostic } from "../../compiler/diag/diagnostic.ts";
import { build, compile } from "../../compiler/index.ts";
import { format } from "../../compiler/syntax/print.ts";
import { essence, parseText, ROOT } from "./helpers.ts";

/** The canonical specs, then their one-period variants (`layers = 4 * x` -> `layers = 1 * x`). */
export function corpus(): string[] {
  const dir = join(ROOT, "specs");
  const texts = readdirSync(dir)
    .filter((f) => f.endsWith(".hyb"))
    .sort()
    .map((f) => readFileSync(join(dir, f), "utf8"));
  return [...texts, ...texts.map((t) => t.replace(/(\blayers\s*=\s*)\d[\d_]*\s*\*/, "$11 *"))];
}

export type Mutation =
  | { readonly op: "deleteChar" | "duplicateChar" | "deleteLine" | "duplicateLine" | "swapLines" | "truncate"; readonly at: number }
  | { readonly op: "insertChar" | "replaceChar"; readonly at: number; readonly what: string }
  | { readonly op: "deletePiece" | "duplicatePiece" | "swapPieces"; readonly at: number }
  | { readonly op: "insertPiece" | "replacePiece"; readonly at: number; readonly what: string };

/** Characters the lexer and the grammar treat specially. */
const CHARS = [..."{}()[]=,:*+\"/-_.e0159 \n\t\r@#é"];
/** Tokens: keywords, names of the specs and the language, and numbers at the edges of the rules. */
export const PIECES = [
  "model", "m", "x", "ssm", "attn", "ffn", "layers", "vocab", "d_model", "context", "weights", "norm", "tied", "dtype",
  "mamba1", "mamba2", "attention", "mlp", "rope", "rmsnorm", "layernorm", "swiglu", "gelu", "relu2", "offset",
  "d_state", "expand", "d_conv", "headdim", "ngroups", "chunk", "heads", "kv_heads", "head_dim", "window", "hidden", "dt_rank",
  "true", "false", "none", '"mamba"', '"jamba"', "f16", "f32", "{", "}", "(", ")", "[", "]", "=", ",", ":", "*", "+",
  "0", "1", "2", "3", "7", "-1", "0.5", "1e-5", "1e300", "1e999", "1_", "10_000", "65_536", "1_000_000",
  "2_147_483_648", "4_294_967_296", "1_099_511_627_776", "9_007_199_254_740_991", "9_007_199_254_740_993",
  "/*", "*/", "//", "\n",
];

const anyChar = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...CHARS) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xff }).map((c) => String.fromCharCode(c)) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) },
);

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constantFrom("deleteChar" as const, "duplicateChar" as const), at: fc.nat() }),
  fc.record({ op: fc.constantFrom("insertChar" as const, "replaceChar" as const), at: fc.nat(), what: anyChar }),
  fc.record({ op: fc.constantFrom("deleteLine" as const, "duplicateLine" as const, "swapLines" as const, "truncate" as const), at: fc.nat() }),
  fc.record({ op: fc.constantFrom("deletePiece" as const, "duplicatePiece" as const, "swapPieces" as const), at: fc.nat() }),
  fc.record({ op: fc.constantFrom("insertPiece" as const, "replacePiece" as const), at: fc.nat(), what: fc.constantFrom(...PIECES) }),
);

/** Tokens (and the whitespace and comments between them) of a text, for token-level mutations. */
const piecesOf = (t: string): string[] => t.match(/\s+|\/\/[^\n]*|\/\*[\s\S]*?\*\/|"[^"\n]*"|[A-Za-z_][A-Za-z0-9_]*|-?[0-9][0-9_.eE]*|./g) ?? [];

export function mutate(text: string, m: Mutation): string {
  const at = m.at % (text.length + 1);
  switch (m.op) {
    case "deleteChar":
      return text.slice(0, at) + text.slice(at + 1);
    case "duplicateChar":
      return text.slice(0, at) + text.slice(at, at + 1) + text.slice(at);
    case "insertChar":
      return text.slice(0, at) + m.what + text.slice(at);
    case "replaceChar":
      return text.slice(0, at) + m.what + text.slice(at + 1);
    case "truncate":
      return text.slice(0, at);
    case "deleteLine":
    case "duplicateLine":
    case "swapLines": {
      const lines = text.split("\n");
      const k = m.at % lines.length;
      if (m.op === "deleteLine") lines.splice(k, 1);
      else if (m.op === "duplicateLine") lines.splice(k, 0, lines[k]!);
      else if (k + 1 < lines.length) [lines[k], lines[k + 1]] = [lines[k + 1]!, lines[k]!];
      return lines.join("\n");
    }
    case "deletePiece":
    case "duplicatePiece":
    case "swapPieces":
      return editPieces(text, m.at, (pieces, k) => {
        if (m.op === "deletePiece") pieces.splice(k, 1);
        else if (m.op === "duplicatePiece") pieces.splice(k, 0, pieces[k] ?? "");
        else if (k + 1 < pieces.length) [pieces[k], pieces[k + 1]] = [pieces[k + 1]!, pieces[k]!];
      });
    case "insertPiece":
      return editPieces(text, m.at, (pieces, k) => pieces.splice(k, 0, m.what));
    case "replacePiece":
      return editPieces(text, m.at, (pieces, k) => pieces.splice(k, 1, m.what));
    default:
      return assertNever(m, "mutation");
  }
}

function editPieces(text: string, at: number, edit: (pieces: string[], k: number) => void): string {
  const pieces = piecesOf(text);
  edit(pieces, at % (pieces.length + 1));
  return pieces.join("");
}

export interface MutantCase {
  readonly text: string;
  /** Also build it (when it compiles clean to small models), and with the fusion passes or not. */
  readonly build: false | { readonly fuse: boolean };
}

/**
 * Cases over `texts` (default: the corpus). About one case in `buildEvery` asks for a build: a
 * build costs 50-500 ms against a few ms for a compile, so this keeps 10^5 cases within minutes.
 */
export function mutantCases(texts: readonly string[] = corpus(), buildEvery = 8): fc.Arbitrary<MutantCase> {
  return fc
    .tuple(fc.constantFrom(...texts), fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.nat({ max: buildEvery - 1 }), fc.boolean())
    .map(([spec, ms, pick, fuse]) => ({ text: ms.reduce(mutate, spec), build: pick === 0 ? { fuse } : false }));
}

/** Models small enough to build in a test: few layers (build time grows with them). */
export const BUILD_LAYERS = 8;

export type Outcome = "syntax errors" | "errors" | "clean" | "built" | "build errors";

/** The property; throws an Error naming what broke, or returns what happened to the mutant. */
export function checkMutant(c: MutantCase): Outcome {
  const { text } = c;
  const r = compile(text);
  checkDiagnostics(text, r.diagnostics, "compile");
  if (r.ok && r.ast.models.length === 0) throw new Error("compile: ok without a model");
  const syntax = r.diagnostics.some((d) => d.code.startsWith("HYB0"));
  if (!syntax) formatsStably(text);
  if (!r.ok) return syntax ? "syntax errors" : "errors";
  if (c.build === false || !r.models.every(small)) return "clean";
  const b = build(text, { fuse: c.build.fuse });
  checkDiagnostics(text, b.diagnostics, "build");
  if (b.ok && b.artifacts.length !== r.models.length) throw new Error(`build: ${b.artifacts.length} artifacts for ${r.models.length} models`);
  return b.ok ? "built" : "build errors";
}

const small = (m: ResolvedModel): boolean => m.layers.length <= BUILD_LAYERS;

/** No HYB9999; every span inside the text; the list in source order; every diagnostic renders. */
function checkDiagnostics(text: string, ds: readonly Diagnostic[], stage: string): void {
  let last = 0;
  for (const d of ds) {
    if (d.code === "HYB9999") throw new Error(`${stage}: internal error reported: ${d.message}`);
    for (const s of [d.span, ...d.notes.flatMap((n) => (n.span ? [n.span] : []))]) {
      if (!(Number.isInteger(s.start) && Number.isInteger(s.end) && 0 <= s.start && s.start <= s.end && s.end <= text.length)) {
        throw new Error(`${stage}: ${d.code} span ${JSON.stringify(s)} outside a text of length ${text.length}: ${d.message}`);
      }
    }
    if (stage === "compile" && d.span.start < last) throw new Error(`${stage}: diagnostics out of source order`);
    last = d.span.start;
  }
}

/** A text without syntax errors formats to a fixed point that parses to the same models and comments. */
function formatsStably(text: string): void {
  const first = parseText(text);
  const out = format(first.file, first.source);
  const again = parseText(out);
  if (again.diags.some((d) => d.code.startsWith("HYB0"))) throw new Error(`format: its output has syntax errors:\n${out}`);
  if (format(again.file, again.source) !== out) throw new Error(`format: not idempotent on:\n${text}`);
  if (JSON.stringify(essence(again.file)) !== JSON.stringify(essence(first.file))) throw new Error(`format: changed the models or comments of:\n${text}`);
}
