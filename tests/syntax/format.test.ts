/**
 * The formatter: the canonical specs are fixed points; messy inputs give exact, handwritten
 * outputs; every output is formatted again unchanged and parses to the same AST.
 */
import { describe, expect, it } from "vitest";
import { SourceFile } from "../../compiler/diag/source.ts";
import type { HybFile } from "../../compiler/syntax/ast.ts";
import { format, MAX_WIDTH } from "../../compiler/syntax/print.ts";
import { essence, fmt, parseOk, parseText, specs } from "./helpers.ts";

const lines = (...ls: string[]) => ls.join("\n") + "\n";

/** Formats `input`, checks the result is stable and means the same, and returns it. */
function check(input: string): string {
  const out = fmt(input);
  expect(fmt(out), "idempotent").toBe(out);
  expect(essence(parseOk(out)), "round trip").toEqual(essence(parseOk(input)));
  return out;
}

describe("canonical specs", () => {
  it.each(specs().map((s) => [s.name, s.text]))("%s is a fixed point", (_, text) => {
    expect(fmt(text)).toBe(text);
  });
});

describe("layout and spacing", () => {
  it("normalizes spacing, indentation and trailing commas; aligns `=` in a run", () => {
    const input = lines(
      "model   tiny{vocab=256 d_model=64",
      "ssm=mamba1( d_state=16,expand = 2 , )",
      "layers=2*[ssm+ffn,( ssm : attn=3:1 ,offset=1 ) ,]  }",
    );
    expect(check(input)).toBe(
      lines(
        "model tiny {",
        "  vocab   = 256",
        "  d_model = 64",
        "  ssm     = mamba1(d_state = 16, expand = 2)",
        "  layers  = 2 * [ssm + ffn, (ssm : attn = 3 : 1, offset = 1)]",
        "}",
      ),
    );
  });

  it("keeps numbers as written, parentheses, strings, literals", () => {
    const input = "model m { a=10_000 b=1e-5 c=0.125 d=-4 e=\"jamba\" f=true g=false h=none i=2*((x)+y) j=1E+3 }";
    expect(check(input)).toBe(
      lines(
        "model m {",
        "  a = 10_000",
        "  b = 1e-5",
        "  c = 0.125",
        "  d = -4",
        '  e = "jamba"',
        "  f = true",
        "  g = false",
        "  h = none",
        "  i = 2 * ((x) + y)",
        "  j = 1E+3",
        "}",
      ),
    );
  });

  it("prints empty lists, calls and models", () => {
    expect(check("model m{a=[ ] b=f( )}model n{}")).toBe(lines("model m {", "  a = []", "  b = f()", "}", "", "model n {", "}"));
  });

  it("one blank line between models, blank-line runs collapse, none after `{` or before `}`", () => {
    const input = lines(
      "",
      "",
      "model a {",
      "",
      "",
      "  x = 1",
      "",
      "",
      "",
      "  yy = 2",
      "  z = 3",
      "",
      "}",
      "model b { w = 4 }",
      "",
      "",
      "",
    );
    expect(check(input)).toBe(
      lines("model a {", "  x = 1", "", "  yy = 2", "  z  = 3", "}", "", "model b {", "  w = 4", "}"),
    );
  });

  it("CR LF line ends become LF", () => {
    expect(check("model m {\r\n  a = 1\r\n\r\n  b = 2\r\n}\r\n")).toBe(lines("model m {", "  a = 1", "", "  b = 2", "}"));
  });
});

describe("comments", () => {
  it("file comments, own-line and trailing comments, aligned per run", () => {
    const input = lines(
      "",
      "",
      "// Header comment.",
      "",
      "",
      "",
      "// Second paragraph.",
      "model m {",
      "",
      "  // leading comment",
      "",
      "",
      "  vocab = 256   // bytes",
      "  d_model = 64 // width",
      "",
      "",
      "",
      "  /* block */ ssm = mamba2()",
      "  layers = 4 * ssm // the stack",
      "  // dangling at the end",
      "",
      "}",
      "// trailing file comment",
    );
    expect(check(input)).toBe(
      lines(
        "// Header comment.",
        "",
        "// Second paragraph.",
        "model m {",
        "  // leading comment",
        "",
        "  vocab   = 256   // bytes",
        "  d_model = 64    // width",
        "",
        "  /* block */",
        "  ssm    = mamba2()",
        "  layers = 4 * ssm    // the stack",
        "  // dangling at the end",
        "}",
        "",
        "// trailing file comment",
      ),
    );
  });

  it("comments in the model header, after `}`, and between models", () => {
    const input = lines(
      "/* a */ /* b */ model /* c */ m // d",
      "{ /* e */",
      "  x = 1 } // f",
      "// g",
      "",
      "model n { // h",
      "}",
    );
    expect(check(input)).toBe(
      lines(
        "/* a */ /* b */",
        "model m {   /* c */ // d",
        "  /* e */",
        "  x = 1",
        "}   // f",
        "",
        "// g",
        "",
        "model n {   // h",
        "}",
      ),
    );
  });

  it("a comment inside a list or call makes it one item per line; comments attach to the nearest item", () => {
    const input = lines(
      "model m {",
      "  ssm = mamba2(d_state = 64, // small state",
      "    headdim = 32)",
      "  layers = [ssm, /* the attention layer */ attn + ffn, ssm /* x */, /* y */ ]",
      "  x = f(/* nothing */)",
      "  y = [a,",
      "    // own line before b",
      "    b",
      "    // before the bracket",
      "  ]",
      "}",
    );
    expect(check(input)).toBe(
      lines(
        "model m {",
        "  ssm    = mamba2(",
        "    d_state = 64,   // small state",
        "    headdim = 32,",
        "  )",
        "  layers = [",
        "    ssm,",
        "    /* the attention layer */",
        "    attn + ffn,",
        "    ssm,          /* x */ /* y */",
        "  ]",
        "  x      = f(",
        "    /* nothing */",
        "  )",
        "  y      = [",
        "    a,",
        "    // own line before b",
        "    b,",
        "    // before the bracket",
        "  ]",
        "}",
      ),
    );
  });

  it("only the list or call holding the comment breaks, and its parents", () => {
    const input = "model m { a = f(x = [1, 2], y = g(z = 3 /* z */), w = [4]) b = [[1, 2], [3, // three\n 4]] }";
    expect(check(input)).toBe(
      lines(
        "model m {",
        "  a = f(",
        "    x = [1, 2],",
        "    y = g(",
        "      z = 3,   /* z */",
        "    ),",
        "    w = [4],",
        "  )",
        "  b = [",
        "    [1, 2],",
        "    [",
        "      3,   // three",
        "      4,",
        "    ],",
        "  ]",
        "}",
      ),
    );
  });

  it("a comment in a binding but in no list or call stays inline, in order", () => {
    const input = lines(
      "model m {",
      "  a /* name */ = /* value */ 1",
      "  layers = 4 * // four times",
      "    (ssm /* the mixer */ : attn = 3 : 1)",
      "  c = /* before */ f(x = 1) + [a, // in list",
      "  b]",
      "  d = [(x /* in ratio */ : y = 1 : 1), (z // line in paren",
      ")]",
      "  e = ( // after paren",
      "  x + // plus",
      "  // more",
      "  y)",
      "  f = 2 /* two */ * x /* x */ + /* y */ y",
      "}",
    );
    expect(check(input)).toBe(
      lines(
        "model m {",
        "  a      = /* name */ /* value */ 1",
        "  layers = 4 * // four times",
        "    (ssm /* the mixer */ : attn = 3 : 1)",
        "  c      = /* before */ f(x = 1) + [",
        "    a,   // in list",
        "    b,",
        "  ]",
        "  d      = [",
        "    (x /* in ratio */ : y = 1 : 1),",
        "    (z // line in paren",
        "    ),",
        "  ]",
        "  e      = ( // after paren",
        "    x + // plus",
        "      // more",
        "      y)",
        "  f      = 2 /* two */ * x /* x */ + /* y */ y",
        "}",
      ),
    );
  });

  it("inline comments keep their order around a line comment", () => {
    const input = "model m {\n  a = x // b\n    /* c */ + (y /* d */ // e\n  )\n}\n";
    expect(check(input)).toBe(lines("model m {", "  a = x + // b", "    /* c */ (y /* d */ // e", "    )", "}"));
  });

  it("multi-line block comments keep their inner lines", () => {
    const input = lines("/*", " * Title", " */", "model m {", "      /* one", "         two */", "  a = 1 /* x", "  y */", "}");
    expect(check(input)).toBe(lines("/*", " * Title", " */", "model m {", "  /* one", "         two */", "  a = 1   /* x", "  y */", "}"));
  });

  it("a trailing line comment never swallows code", () => {
    const input = "model m { a = [x, // c\ny] }";
    const out = check(input);
    expect(out).toBe(lines("model m {", "  a = [", "    x,   // c", "    y,", "  ]", "}"));
  });
});

describe("long lines", () => {
  it("a binding over 100 columns breaks its outermost list or call, one item per line", () => {
    const input =
      "model m { layers = [ssm_block_one + ffn, ssm_block_two + ffn, ssm_block_three + ffn, attn_block + ffn, ssm_block_one + ffn] " +
      "attn = attention(heads = 12, kv_heads = 4, rope = rope(theta = 10_000, fraction = 0.5), window = 4096, bias = false) }";
    expect(check(input)).toBe(
      lines(
        "model m {",
        "  layers = [",
        "    ssm_block_one + ffn,",
        "    ssm_block_two + ffn,",
        "    ssm_block_three + ffn,",
        "    attn_block + ffn,",
        "    ssm_block_one + ffn,",
        "  ]",
        "  attn   = attention(",
        "    heads = 12,",
        "    kv_heads = 4,",
        "    rope = rope(theta = 10_000, fraction = 0.5),",
        "    window = 4096,",
        "    bias = false,",
        "  )",
        "}",
      ),
    );
  });

  it("an item still too wide breaks in turn", () => {
    const long = (c: string) => c.repeat(28);
    const input = `model m { x = [[${long("a")}, ${long("b")}, ${long("c")}], f(${long("d")}, ${long("e")}, ${long("f")}, ${long("g")})] }`;
    expect(check(input)).toBe(
      lines(
        "model m {",
        "  x = [",
        `    [${long("a")}, ${long("b")}, ${long("c")}],`,
        "    f(",
        `      ${long("d")},`,
        `      ${long("e")},`,
        `      ${long("f")},`,
        `      ${long("g")},`,
        "    ),",
        "  ]",
        "}",
      ),
    );
  });

  it("exactly 100 columns stays on one line, 101 breaks", () => {
    const prefix = "  a = [";
    const fits = `${prefix}${"x".repeat(MAX_WIDTH - prefix.length - 1)}]`;
    expect(fits.length).toBe(MAX_WIDTH);
    expect(check(`model m {\n${fits}\n}`)).toBe(lines("model m {", fits, "}"));
    const over = `${prefix}${"x".repeat(MAX_WIDTH - prefix.length)}]`;
    expect(check(`model m {\n${over}\n}`)).toBe(lines("model m {", "  a = [", `    ${"x".repeat(MAX_WIDTH - prefix.length)},`, "  ]", "}"));
  });

  it("padding from the run counts toward the width", () => {
    const value = `[${"x".repeat(88)}]`;
    expect(`  a = ${value}`.length).toBe(96);
    // Alone, `a` fits; padded to `a_long` it does not.
    expect(check(`model m { a = ${value} }`)).toBe(lines("model m {", `  a = ${value}`, "}"));
    expect(check(`model m { a_long = 1 a = ${value} }`)).toBe(
      lines("model m {", "  a_long = 1", "  a      = [", `    ${"x".repeat(88)},`, "  ]", "}"),
    );
  });
});

describe("robustness", () => {
  it("does not throw on a recovered AST and keeps what it can", () => {
    const { file, source, diags } = parseText("model m {\n  a = f(x = \n  b = [1 2]\n  c = 3 // c\n}\njunk");
    expect(diags.length).toBeGreaterThan(0);
    const out = format(file, source);
    expect(out).toContain("c = 3");
    expect(out).toContain("// c");
  });

  it("does not throw on an empty or hand-built AST", () => {
    const source = new SourceFile("x.hyb", "");
    const empty: HybFile = { kind: "File", models: [], comments: [], span: { start: 0, end: 0 } };
    expect(format(empty, source)).toBe("\n");
    const odd: HybFile = {
      kind: "File",
      models: [
        {
          kind: "Model",
          name: { name: "m", span: { start: 50, end: 40 } },
          bindings: [{ kind: "Binding", name: { name: "a", span: { start: 0, end: 0 } }, value: { kind: "Error", span: { start: 3, end: 99 } }, span: { start: 0, end: 0 } }],
          span: { start: 0, end: 0 },
        },
      ],
      comments: [{ kind: "Comment", text: "// c", block: false, span: { start: 7, end: 2 } }],
      span: { start: 0, end: 0 },
    };
    expect(() => format(odd, source)).not.toThrow();
  });
});
