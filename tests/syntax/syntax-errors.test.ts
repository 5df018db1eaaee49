/**
 * Every syntax diagnostic (HYB0001-HYB0007): code, line:col, message, and recovery (several
 * errors in one run, good bindings kept in the AST).
 */
import { describe, expect, it } from "vitest";
import { renderDiagnostic } from "../../compiler/diag/render.ts";
import { MAX_NESTING } from "../../compiler/syntax/index.ts";
import { parseText } from "./helpers.ts";

/** `CODE line:col` for each diagnostic, in source order. */
function where(text: string): string[] {
  const { diags, source } = parseText(text);
  return diags.map((d) => {
    const { line, col } = source.lineCol(d.span.start);
    return `${d.code} ${line}:${col}`;
  });
}

function only(text: string) {
  const { diags } = parseText(text);
  expect(diags).toHaveLength(1);
  return diags[0]!;
}

/** Binding names and value kinds of each model. */
function shape(text: string): string[][] {
  return parseText(text).file.models.map((m) => [m.name.name, ...m.bindings.map((b) => `${b.name.name}:${b.value.kind}`)]);
}

describe("HYB0001 invalid character", () => {
  it("reports the character and skips it", () => {
    const text = "model m {\n  a = 1 @\n  b = 2\n}";
    expect(where(text)).toEqual(["HYB0001 2:9"]);
    expect(only(text).message).toBe("invalid character `@`");
    expect(shape(text)).toEqual([["m", "a:Number", "b:Number"]]);
  });

  it("merges a run of invalid characters into one diagnostic", () => {
    const d = only("model m { a = 1 @#$ b = 2 }");
    expect(d.message).toBe("invalid characters `@#$`");
    expect(d.span).toEqual({ start: 16, end: 19 });
  });

  it("reports separate runs separately", () => {
    expect(where("model m {\n  a = 1 @\n  b = 2 #\n}")).toEqual(["HYB0001 2:9", "HYB0001 3:9"]);
  });

  it("non-ASCII letters and astral characters are invalid, counted in UTF-16 columns", () => {
    expect(where("model m {\n  a = 1 é\n}")).toEqual(["HYB0001 2:9"]);
    const d = only("model m {\n  a = 1 😀\n}");
    expect(d.span.end - d.span.start).toBe(2);
  });

  it("does not add a syntax error for a value that was only an invalid character", () => {
    // `a = é` leaves `a =` without a value: the invalid character is the one mistake.
    expect(where("model m {\n  a = é\n  b = 2\n}")).toEqual(["HYB0001 2:7"]);
    expect(where("model m { a = 1. }")).toEqual(["HYB0001 1:16"]);
  });
});

describe("HYB0002 unterminated string", () => {
  it("stops at the end of the line and recovers on the next", () => {
    const text = 'model m {\n  weights = "jamba\n  b = 2\n}';
    expect(where(text)).toEqual(["HYB0002 2:13"]);
    expect(only(text).span).toEqual({ start: text.indexOf('"'), end: text.indexOf("jamba") + 5 });
    expect(shape(text)).toEqual([["m", "weights:Error", "b:Number"]]);
  });
});

describe("HYB0003 unterminated block comment", () => {
  it("points at the `/*` and reports nothing that the comment swallowed", () => {
    const text = "model m {\n  a = 1\n  /* oops\n}\n";
    expect(where(text)).toEqual(["HYB0003 3:3"]);
    expect(only(text).span).toEqual({ start: text.indexOf("/*"), end: text.indexOf("/*") + 2 });
    expect(where("model m { a = /* x")).toEqual(["HYB0003 1:15"]);
  });
});

describe("HYB0004 syntax errors", () => {
  it("missing `)`: at the end of the line where it is missing", () => {
    const text = "model m {\n  a = f(x = 1\n  b = 2\n}";
    expect(where(text)).toEqual(["HYB0004 2:14"]);
    const d = only(text);
    expect(d.message).toBe("expected `)`, found `b`");
    expect(d.label).toBe("expected here");
    expect(d.span).toEqual({ start: text.indexOf("1\n") + 1, end: text.indexOf("1\n") + 1 });
  });

  it("missing `)` before the closing brace on the next line", () => {
    expect(where("model m {\n  a = f(x = 1\n}")).toEqual(["HYB0004 2:14"]);
  });

  it("missing `]` and missing `)` of a ratio", () => {
    expect(where("model m {\n  a = [x, y\n  b = 2\n}")).toEqual(["HYB0004 2:12"]);
    expect(where("model m {\n  a = (x : y = 3 : 1\n  b = 2\n}")).toEqual(["HYB0004 2:21"]);
  });

  it("missing `=`: on the unexpected token when it is on the same line", () => {
    const text = "model m {\n  a 16\n  b = 2\n}";
    expect(where(text)).toEqual(["HYB0004 2:5"]);
    expect(only(text).message).toBe("expected `=`, found `16`");
    expect(shape(text)).toEqual([["m", "a:Number", "b:Number"]]);
  });

  it("missing `=` at the end of a line: after the name", () => {
    expect(where("model m {\n  a\n  b = 2\n}")).toEqual(["HYB0004 2:4"]);
    expect(shape("model m {\n  a\n  b = 2\n}")).toEqual([["m", "a:Error", "b:Number"]]);
  });

  it("missing value at the end of a line: the caret is after `=`, not on the next line", () => {
    const text = "model m {\n  a =\n  b = 2\n}";
    expect(where(text)).toEqual(["HYB0004 2:6"]);
    const d = only(text);
    expect(d.message).toBe("expected a value (a number, string, name, call, list or ratio), found `b`");
    // The next binding is not taken as the value: it survives.
    expect(shape(text)).toEqual([["m", "a:Error", "b:Number"]]);
    expect(renderDiagnostic(d)).toBe(
      [
        "test.hyb:2:6: error[HYB0004]: expected a value (a number, string, name, call, list or ratio), found `b`",
        "  |",
        "2 |   a =",
        "  |      ^ expected here",
      ].join("\n"),
    );
  });

  it("missing value before `}` and at the end of the file", () => {
    expect(where("model m {\n  a =\n}")).toEqual(["HYB0004 2:6"]);
    expect(where("model m {\n  a =")).toEqual(["HYB0004 2:6"]);
  });

  it("missing operand after `+` or `*` at the end of a line keeps the next binding", () => {
    const plus = "model m {\n  a = ssm +\n  b = 2\n}";
    expect(where(plus)).toEqual(["HYB0004 2:12"]);
    expect(shape(plus)).toEqual([["m", "a:Stack", "b:Number"]]);
    const star = "model m {\n  a = 4 *\n  b = 2\n}";
    expect(where(star)).toEqual(["HYB0004 2:10"]);
    expect(shape(star)).toEqual([["m", "a:Repeat", "b:Number"]]);
  });

  it("`name =` on the same line is not taken for the next binding", () => {
    const text = "model m { x = [heads = 4] y = 2 }";
    expect(where(text)).toEqual(["HYB0004 1:22"]);
    expect(only(text).message).toBe("expected `]`, found `=`");
    expect(shape(text)).toEqual([["m", "x:List", "y:Number"]]);
  });

  it("a ratio operand `name =` is not mistaken for a new binding", () => {
    expect(where("model m { a = (x : y = 3 : 1) b = (x + y : z + w = 1 : 2, offset = 1) }")).toEqual([]);
  });

  it("junk after a model, on the junk itself", () => {
    const same = "model m { a = 1 } junk";
    expect(where(same)).toEqual(["HYB0004 1:19"]);
    expect(only(same).message).toBe("expected `model` or end of file, found `junk`");
    expect(where("model m { a = 1 }\njunk")).toEqual(["HYB0004 2:1"]);
    const binding = "model m { a = 1 }\nb = 2";
    expect(where(binding)).toEqual(["HYB0004 2:1"]);
    expect(only(binding).message).toBe("expected `model` or end of file, found `b`");
  });

  it("junk between models: the next model still parses", () => {
    const text = "model m { a = 1 } } model n { b = 2 }";
    expect(where(text)).toEqual(["HYB0004 1:19"]);
    expect(shape(text)).toEqual([
      ["m", "a:Number"],
      ["n", "b:Number"],
    ]);
  });

  it("`model {` without a name", () => {
    const text = "model {\n  a = 1\n}";
    expect(where(text)).toEqual(["HYB0004 1:7"]);
    expect(only(text).message).toBe("expected a name, found `{`");
    expect(where("model m { a = 1 }\nmodel")).toEqual(["HYB0004 2:6"]);
  });

  it("missing `}` at the end of the file", () => {
    const text = "model m {\n  a = 1\n";
    expect(where(text)).toEqual(["HYB0004 2:8"]);
    expect(only(text).message).toBe("expected `}`, found end of file");
  });

  it("a ratio takes only `offset`, and needs both counts", () => {
    const text = "model m {\n  a = (ssm : attn = 3 : 1, ofset = 2)\n}";
    expect(where(text)).toEqual(["HYB0004 2:28"]);
    expect(only(text).message).toBe("expected `offset`, found `ofset`");
    expect(where("model m {\n  a = (ssm : attn = 3)\n}")).toEqual(["HYB0004 2:22"]);
  });

  it("empty items in lists and calls", () => {
    expect(where("model m {\n  a = f(,)\n  b = [,]\n  c = f(x = 1,,)\n  d = ()\n}")).toEqual([
      "HYB0004 2:9",
      "HYB0004 3:8",
      "HYB0004 4:15",
      "HYB0004 5:8",
    ]);
  });

  it("nesting too deep is refused before parsing", () => {
    const depth = 100;
    const text = `model m { a = ${"[".repeat(depth)}${"]".repeat(depth)} }`;
    // The model's `{` is the first level.
    const tooDeepAt = text.indexOf("[") + MAX_NESTING - 1;
    expect(where(text)).toEqual([`HYB0004 1:${tooDeepAt + 1}`]);
    expect(only(text).message).toBe(`brackets nested more than ${MAX_NESTING} deep`);
    const fine = MAX_NESTING - 1;
    expect(where(`model m { a = ${"[".repeat(fine)}${"]".repeat(fine)} }`)).toEqual([]);
    expect(where(`model m { a = ${"(".repeat(depth)}x${")".repeat(depth)} }`)).toHaveLength(1);
  });

  it("recovers: two broken bindings give two errors, the good ones stay in the AST", () => {
    const text = ["model m {", "  vocab = 256", "  a = f(x = )", "  d_model = 64", "  b = [1 2]", "  layers = 4 * ssm", "}"].join("\n");
    expect(where(text)).toEqual(["HYB0004 3:13", "HYB0004 5:10"]);
    expect(shape(text)).toEqual([["m", "vocab:Number", "a:Call", "d_model:Number", "b:List", "layers:Repeat"]]);
  });

  it("recovers across several kinds of mistakes in one run", () => {
    const text = ["model m {", "  a = f(x = 1", "  b = [1, 2", "  c = 3", "  d =", "}", "model n { e = 1__0 }"].join("\n");
    expect(where(text)).toEqual(["HYB0004 2:14", "HYB0004 3:12", "HYB0004 5:6", "HYB0005 7:15"]);
    expect(shape(text)).toEqual([
      ["m", "a:Call", "b:List", "c:Number", "d:Error"],
      ["n", "e:Error"],
    ]);
  });
});

describe("HYB0005 invalid number", () => {
  it.each([
    ["1__0", "invalid number `1__0`"],
    ["1_", "invalid number `1_`"],
    ["1._5", "invalid number `1._5`"],
    ["1e999", "number `1e999` is too large"],
    ["-1e999", "number `-1e999` is too large"],
  ])("%s", (raw, message) => {
    const text = `model m {\n  a = ${raw}\n}`;
    expect(where(text)).toEqual(["HYB0005 2:7"]);
    const d = only(text);
    expect(d.message).toBe(message);
    expect(d.span).toEqual({ start: text.indexOf(raw), end: text.indexOf(raw) + raw.length });
  });

  it("as a repetition count or ratio count", () => {
    expect(where("model m {\n  a = 1__0 * ssm\n  b = (x : y = 1_ : 1)\n}")).toEqual(["HYB0005 2:7", "HYB0005 3:16"]);
  });

  it("valid underscores are fine", () => {
    expect(where("model m { a = 10_000 b = 1_000.000_1 c = 1e1_0 }")).toEqual([]);
  });
});

describe("HYB0006 positional argument after a named one", () => {
  it("reports each late positional argument, with a note at the first named one", () => {
    const text = "model m {\n  a = f(x = 1, 2, y = 3, 4)\n}";
    expect(where(text)).toEqual(["HYB0006 2:16", "HYB0006 2:26"]);
    const d = parseText(text).diags[0]!;
    expect(d.notes).toEqual([{ message: "first named argument here", span: { start: text.indexOf("x = 1"), end: text.indexOf("x = 1") + 5 } }]);
  });

  it("positional arguments first are fine", () => {
    expect(where("model m { a = mlp(swiglu, hidden = 512) }")).toEqual([]);
  });
});

describe("HYB0007 no model", () => {
  it.each([
    ["an empty file", ""],
    ["only whitespace", "  \n\n\t"],
    ["only comments", "// a comment\n/* and a block */\n"],
  ])("%s", (_, text) => {
    expect(where(text)).toEqual(["HYB0007 1:1"]);
  });

  it("is not added on top of other errors", () => {
    expect(where("junk")).toEqual(["HYB0004 1:1"]);
    expect(where("@")).toEqual(["HYB0001 1:1"]);
  });
});
