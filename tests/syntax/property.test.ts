/**
 * Properties, with fixed seeds so CI is deterministic:
 * (a) no input makes `compile` throw, and every diagnostic span lies inside the text;
 * (b) the same for mutations of the canonical specs, and `build` for those that compile clean
 *     to small models (mutate.ts: the generator and property `npm run fuzz` runs 10^5 times);
 * (c) on generated valid files the formatter is idempotent and keeps the AST and comments;
 * (d) pathological inputs (deep nesting, 200 KB) finish quickly.
 * These go through `compile`, so they cover the checker as well as the parser.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { renderDiagnostic } from "../../compiler/diag/render.ts";
import { compile } from "../../compiler/index.ts";
import { format } from "../../compiler/syntax/print.ts";
import { essence, fmt, parseOk, parseText } from "./helpers.ts";
import { checkMutant, corpus, mutantCases, mutate, type Outcome } from "./mutate.ts";

/** compile() must not throw; spans must be inside the text; the list is in source order. */
function compilesSafely(text: string): void {
  const r = compile(text);
  let last = 0;
  for (const d of r.diagnostics) {
    for (const s of [d.span, ...d.notes.flatMap((n) => (n.span ? [n.span] : []))]) {
      if (!(Number.isInteger(s.start) && Number.isInteger(s.end) && 0 <= s.start && s.start <= s.end && s.end <= text.length)) {
        throw new Error(`${d.code} span ${JSON.stringify(s)} outside text of length ${text.length}: ${d.message}`);
      }
    }
    if (d.span.start < last) throw new Error("diagnostics out of source order");
    last = d.span.start;
    renderDiagnostic(d);
  }
  if (r.ok && r.ast.models.length === 0) throw new Error("ok without a model");
  // Whatever parsed cleanly must also format stably.
  if (!r.diagnostics.some((d) => d.code.startsWith("HYB0"))) formatsStably(text);
}

/** format is idempotent, its output parses to the same models and comments, and is tidy. */
function formatsStably(text: string): void {
  const { file, source, diags } = parseText(text);
  const syntax = diags.filter((d) => d.code.startsWith("HYB0"));
  if (syntax.length > 0) throw new Error(`generated text has syntax errors: ${syntax.map((d) => d.message).join("; ")}\n${text}`);
  const out = format(file, source);
  expect(fmt(out)).toBe(out);
  expect(essence(parseOk(out))).toEqual(essence(file));
  expect(out.endsWith("\n") && !out.endsWith("\n\n")).toBe(true);
  expect(out).not.toMatch(/[ \t]+\n/);
  expect(out).not.toMatch(/\n\n\n/);
}

// ---------------------------------------------------------------------------------------------
// (a) arbitrary strings

const ALPHABET = [
  "model", "m", "x", "ssm", "offset", "true", "false", "none", "mamba1",
  "{", "}", "(", ")", "[", "]", "=", ":", "*", "+", ",",
  "1", "16", "-4", "10_000", "1e-5", "0.125", "1__0", "1e999", "1_",
  '"', '"s"', "/*", "*/", "//", "\n", " ", "\t", "\r\n", "@", "é", ".",
];
const tokenSoup = fc.array(fc.constantFrom(...ALPHABET), { maxLength: 60 }).map((ts) => ts.join(""));
const spacedSoup = fc.array(fc.constantFrom(...ALPHABET), { maxLength: 60 }).map((ts) => ts.join(" "));
const utf16 = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 80 });

describe("(a) arbitrary input never makes compile() throw", () => {
  it.each([
    ["ascii strings", fc.string({ maxLength: 120 }), 101],
    ["full unicode strings", fc.string({ unit: "binary", maxLength: 120 }), 102],
    ["UTF-16 code units, lone surrogates included", utf16, 103],
    ["token soup", tokenSoup, 104],
    ["spaced token soup", spacedSoup, 105],
  ] as const)("%s", (_, arb, seed) => {
    fc.assert(fc.property(arb, compilesSafely), { seed, numRuns: 400 });
  });
});

// ---------------------------------------------------------------------------------------------
// (b) mutations of the canonical specs (the generator and the property are shared with `npm run fuzz`)

describe("(b) mutated canonical specs", () => {
  it("never make compile() or build() throw or report HYB9999; clean small ones build", { timeout: 60_000 }, () => {
    const seen = new Map<Outcome, number>();
    fc.assert(
      fc.property(mutantCases(), (c) => {
        const o = checkMutant(c);
        seen.set(o, (seen.get(o) ?? 0) + 1);
      }),
      { seed: 201, numRuns: 300 },
    );
    // Not vacuous: mutants fail to parse, fail to check, check clean, and build.
    for (const o of ["syntax errors", "errors", "clean", "built"] as const) expect(seen.get(o) ?? 0, o).toBeGreaterThan(0);
  });

  it("the mutations: characters, lines, truncation and tokens", () => {
    const text = "model m {\n  vocab = 256\n}\n";
    expect(mutate(text, { op: "replaceChar", at: 0, what: "\u00ff" })).toBe("\u00ffodel m {\n  vocab = 256\n}\n");
    expect(mutate(text, { op: "duplicateLine", at: 1 })).toBe("model m {\n  vocab = 256\n  vocab = 256\n}\n");
    expect(mutate(text, { op: "swapLines", at: 0 })).toBe("  vocab = 256\nmodel m {\n}\n");
    expect(mutate(text, { op: "deleteLine", at: 2 })).toBe("model m {\n  vocab = 256\n");
    expect(mutate(text, { op: "truncate", at: 13 })).toBe("model m {\n  v");
    expect(mutate(text, { op: "replacePiece", at: 10, what: "1_099_511_627_776" })).toBe("model m {\n  vocab = 1_099_511_627_776\n}\n");
    expect(corpus().filter((t) => /\blayers\s*=\s*1 \*/.test(t)).length).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------------------------------------
// (c) generated valid files: the formatter is idempotent and round-trips

const KEYWORDS = new Set(["model", "true", "false", "none"]);
const ident = fc.stringMatching(/^[a-z_][a-z0-9_]{0,7}$/).filter((s) => !KEYWORDS.has(s));
const number = fc.oneof(fc.constantFrom("16", "10_000", "1e-5", "0.125", "-4", "2E+3", "1_000.5", "0", "-0.25e-3"), fc.nat({ max: 100_000 }).map(String));
const count = fc.oneof(fc.constantFrom("2", "4", "10_000"), fc.integer({ min: 1, max: 64 }).map(String));
const stringLit = fc.stringMatching(/^[a-zA-Z0-9 _.:/*-]{0,12}$/).map((s) => `"${s}"`);
const atom: fc.Arbitrary<string[]> = fc.oneof(
  number.map((n) => [n]),
  stringLit.map((s) => [s]),
  fc.constantFrom("true", "false", "none").map((w) => [w]),
  ident.map((n) => [n]),
);

type Tokens = string[];
const commaList = (items: Tokens[], trailing: boolean): Tokens => [...items.flatMap((it, i) => (i === 0 ? it : [",", ...it])), ...(trailing && items.length > 0 ? [","] : [])];

/** expr := term ('+' term)*, nesting at most `depth` lists, calls, ratios or parentheses. */
function exprArb(depth: number): fc.Arbitrary<Tokens> {
  const term = termArb(depth);
  return fc.array(term, { minLength: 1, maxLength: 3 }).map((ts) => ts.flatMap((t, i) => (i === 0 ? t : ["+", ...t])));
}

function termArb(depth: number): fc.Arbitrary<Tokens> {
  const factor = factorArb(depth);
  return fc.oneof({ weight: 3, arbitrary: factor }, { weight: 1, arbitrary: fc.tuple(count, factor).map(([n, f]) => [n, "*", ...f]) });
}

function factorArb(depth: number): fc.Arbitrary<Tokens> {
  if (depth <= 0) return atom;
  const inner = exprArb(depth - 1);
  const call = fc
    .tuple(ident, fc.array(inner, { maxLength: 2 }), fc.array(fc.tuple(ident, inner), { maxLength: 2 }), fc.boolean())
    .map(([callee, pos, named, trailing]) => [callee, "(", ...commaList([...pos, ...named.map(([n, v]) => [n, "=", ...v])], trailing), ")"]);
  const list = fc.tuple(fc.array(inner, { maxLength: 3 }), fc.boolean()).map(([items, trailing]) => ["[", ...commaList(items, trailing), "]"]);
  const ratio = fc
    .tuple(inner, inner, count, count, fc.option(count))
    .map(([l, r, a, b, off]) => ["(", ...l, ":", ...r, "=", a, ":", b, ...(off === null ? [] : [",", "offset", "=", off]), ")"]);
  const paren = inner.map((e) => ["(", ...e, ")"]);
  return fc.oneof({ weight: 4, arbitrary: atom }, { weight: 2, arbitrary: call }, { weight: 2, arbitrary: list }, { weight: 1, arbitrary: ratio }, { weight: 1, arbitrary: paren });
}

const binding = fc.tuple(ident, exprArb(3)).map(([n, v]) => [n, "=", ...v]);
const model = fc.tuple(ident, fc.array(binding, { maxLength: 5 })).map(([n, bs]) => ["model", n, "{", ...bs.flat(), "}"]);
const fileTokens = fc.array(model, { minLength: 1, maxLength: 2 }).map((ms) => ms.flat());

const COMMENTS = ["/* c */", "/**/", "/* a // b */", "/* two\n   lines */", "/* , ] ) */"];
const separatorAtom = fc.oneof(
  { weight: 12, arbitrary: fc.constant(" ") },
  { weight: 4, arbitrary: fc.constant("") },
  { weight: 4, arbitrary: fc.constant("\n") },
  { weight: 1, arbitrary: fc.constantFrom("\n\n", "\n\n\n", "\t", "  \r\n") },
  { weight: 2, arbitrary: fc.constantFrom(...COMMENTS).map((c) => ` ${c} `) },
  { weight: 2, arbitrary: fc.constantFrom("// note", "// x /* y", "//").map((c) => ` ${c}\n`) },
);
/** Usually one piece of space or comment between two tokens, sometimes two (a line comment, then a block one). */
const separator = fc.oneof(
  { weight: 5, arbitrary: separatorAtom },
  { weight: 1, arbitrary: fc.tuple(separatorAtom, separatorAtom).map(([a, b]) => a + b) },
);
const PUNCT = /^[{}()[\]=,:*+]$/;

/** Joins tokens with random whitespace and comments; glues two tokens only around punctuation. */
const validText = fileTokens.chain((tokens) =>
  fc.tuple(fc.array(separator, { minLength: tokens.length + 1, maxLength: tokens.length + 1 })).map(([seps]) => {
    let out = seps[0]!.trimStart();
    tokens.forEach((t, i) => {
      const sep = seps[i + 1]!;
      const next = tokens[i + 1];
      const glue = sep === "" && next !== undefined && !(PUNCT.test(t.slice(-1)) || PUNCT.test(next[0]!)) ? " " : sep;
      out += t + (next === undefined ? sep : glue);
    });
    return out;
  }),
);

describe("(c) formatting generated valid files", () => {
  it("is idempotent, keeps the AST and the comments, and compile() does not throw", () => {
    fc.assert(
      fc.property(validText, (text) => {
        formatsStably(text);
        compile(text);
      }),
      { seed: 301, numRuns: 400 },
    );
  });

  it("is stable on the output of a previous formatting (narrow and wide files)", () => {
    // Long names push bindings past 100 columns so the line-breaking paths run too.
    const wide = fc.tuple(fc.array(fc.tuple(fc.stringMatching(/^[a-z]{20,40}$/), exprArb(2)), { minLength: 1, maxLength: 5 }), fc.boolean());
    fc.assert(
      fc.property(wide, ([bindings, comment]) => {
        const body = bindings.map(([n, v]) => `${n} = ${v.join(" ")}${comment ? " // c" : ""}`);
        formatsStably(`model m {\n${body.join("\n")}\n}\n`);
      }),
      { seed: 302, numRuns: 200 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// (d) pathological sizes finish

describe("(d) large and deep inputs", () => {
  it("5,000 nested brackets", { timeout: 10_000 }, () => {
    for (const open of ["[", "(", "{"]) compilesSafely(`model m { a = ${open.repeat(5000)} }`);
    compilesSafely(`model m { a = ${"[".repeat(5000)}x${"]".repeat(5000)} }`);
    compilesSafely(`model m { a = ${"f(".repeat(5000)}${")".repeat(5000)} }`);
  });

  it("200 KB of random tokens", { timeout: 15_000 }, () => {
    const [text] = fc.sample(fc.array(fc.constantFrom(...ALPHABET), { minLength: 70_000, maxLength: 70_000 }).map((ts) => ts.join(" ")), { seed: 401, numRuns: 1 });
    expect(text!.length).toBeGreaterThan(200_000);
    compilesSafely(text!.slice(0, 200_000));
  });

  it("200 KB of random characters", { timeout: 15_000 }, () => {
    const [text] = fc.sample(fc.string({ unit: "binary", minLength: 200_000, maxLength: 200_000 }), { seed: 402, numRuns: 1 });
    compilesSafely(text!);
  });

  it("a long flat list and many bindings", { timeout: 15_000 }, () => {
    compilesSafely(`model m {\n  a = [${"x, ".repeat(10_000)}]\n}\n`);
    compilesSafely(`model m {\n${Array.from({ length: 2000 }, (_, i) => `  b${i} = mamba1(d_state = ${i})`).join("\n")}\n}\n`);
  });
});
