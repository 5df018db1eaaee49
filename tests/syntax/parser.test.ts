/** The parser, one grammar construct at a time: AST shape, values and spans. */
import { describe, expect, it } from "vitest";
import { unparen, type Expr, type RatioExpr, type RepeatExpr, type StackExpr } from "../../compiler/syntax/ast.ts";
import { expr, parseOk, parseText, spanOf, specs, stripSpans } from "./helpers.ts";

function as<K extends Expr["kind"]>(e: Expr, kind: K): Extract<Expr, { kind: K }> {
  expect(e.kind).toBe(kind);
  return e as Extract<Expr, { kind: K }>;
}

describe("file and model", () => {
  it("parses one model with its bindings in order", () => {
    const text = "model tiny {\n  vocab = 256\n  d_model = 64\n}\n";
    const file = parseOk(text);
    expect(file.kind).toBe("File");
    expect(file.span).toEqual({ start: 0, end: text.length });
    expect(file.models).toHaveLength(1);
    const m = file.models[0]!;
    expect(m.name).toEqual({ name: "tiny", span: spanOf(text, "tiny") });
    expect(m.span).toEqual({ start: 0, end: text.lastIndexOf("}") + 1 });
    expect(m.bindings.map((b) => b.name.name)).toEqual(["vocab", "d_model"]);
    const b = m.bindings[1]!;
    expect(b.kind).toBe("Binding");
    expect(b.name.span).toEqual(spanOf(text, "d_model"));
    expect(b.span).toEqual({ start: text.indexOf("d_model"), end: text.indexOf("64") + 2 });
  });

  it("parses several models and an empty model", () => {
    const file = parseOk("model a { x = 1 }\nmodel b {}\nmodel c { y = 2 z = 3 }");
    expect(file.models.map((m) => [m.name.name, m.bindings.length])).toEqual([
      ["a", 1],
      ["b", 0],
      ["c", 2],
    ]);
  });

  it("treats whitespace and newlines as insignificant", () => {
    const oneLine = parseOk("model m { a = f(x = 1, y = [b, c]) d = 2 * e + g }");
    const spread = parseOk("model\tm\r\n{\n\n a\n=\nf\n(\nx\n=\n1\n,\ny =\n[ b ,\n c ]\n)\r\n d=2*e+g}");
    expect(stripSpans(spread)).toEqual(stripSpans(oneLine));
  });

  it("lexes keywords only as whole words", () => {
    const file = parseOk("model m { models = truest + nonexistent + false_ + model_x }");
    const s = as(file.models[0]!.bindings[0]!.value, "Stack");
    expect(s.parts.map((p) => as(p, "Ref").name)).toEqual(["truest", "nonexistent", "false_", "model_x"]);
    expect(file.models[0]!.bindings[0]!.name.name).toBe("models");
  });

  it("parses every canonical spec without diagnostics", () => {
    for (const spec of specs()) {
      const { diags, file } = parseText(spec.text);
      expect(diags, spec.name).toEqual([]);
      expect(file.models, spec.name).toHaveLength(1);
      expect(file.models[0]!.bindings.at(-1)!.name.name).toBe("layers");
    }
  });
});

describe("literals", () => {
  it.each([
    ["16", 16],
    ["10_000", 10000],
    ["1e-5", 1e-5],
    ["0.125", 0.125],
    ["-4", -4],
    ["-0.5", -0.5],
    ["1E+3", 1000],
    ["2.5e2", 250],
    ["1_000.000_5", 1000.0005],
    ["0", 0],
  ])("number %s", (raw, value) => {
    const text = `model m { a = ${raw} }`;
    const n = as(valueOfText(text), "Number");
    expect(n).toEqual({ kind: "Number", value, raw, span: spanOf(text, raw) });
  });

  it("strings keep their content without quotes; the span covers the quotes", () => {
    const text = 'model m { a = "jamba" b = "" c = "with space and // not a comment" }';
    const b = parseOk(text).models[0]!.bindings;
    expect(b[0]!.value).toEqual({ kind: "String", value: "jamba", span: spanOf(text, '"jamba"') });
    expect(as(b[1]!.value, "String").value).toBe("");
    expect(as(b[2]!.value, "String").value).toBe("with space and // not a comment");
    expect(parseOk(text).comments).toEqual([]);
  });

  it("true, false, none", () => {
    const text = "model m { a = true b = false c = none }";
    const b = parseOk(text).models[0]!.bindings;
    expect(b[0]!.value).toEqual({ kind: "Bool", value: true, span: spanOf(text, "true") });
    expect(b[1]!.value).toEqual({ kind: "Bool", value: false, span: spanOf(text, "false") });
    expect(b[2]!.value).toEqual({ kind: "None", span: spanOf(text, "none") });
  });

  it("a bare name is a Ref", () => {
    const text = "model m { a = swiglu }";
    expect(valueOfText(text)).toEqual({ kind: "Ref", name: "swiglu", span: spanOf(text, "swiglu") });
  });
});

describe("calls", () => {
  it("without arguments", () => {
    const c = as(expr("mamba1()"), "Call");
    expect(c.callee.name).toBe("mamba1");
    expect(c.args).toEqual([]);
  });

  it("with positional and named arguments, spans included", () => {
    const text = "model m { a = mlp(swiglu, hidden = 2048) }";
    const c = as(valueOfText(text), "Call");
    expect(c.span).toEqual({ start: text.indexOf("mlp"), end: text.indexOf(")") + 1 });
    expect(c.callee).toEqual({ name: "mlp", span: spanOf(text, "mlp") });
    const [pos, named] = c.args;
    expect(pos!.name).toBeUndefined();
    expect(pos!.value).toEqual({ kind: "Ref", name: "swiglu", span: spanOf(text, "swiglu") });
    expect(pos!.span).toEqual(spanOf(text, "swiglu"));
    expect(named!.name).toEqual({ name: "hidden", span: spanOf(text, "hidden") });
    expect(named!.span).toEqual(spanOf(text, "hidden = 2048"));
    expect(as(named!.value, "Number").value).toBe(2048);
  });

  it("accepts a trailing comma", () => {
    const withComma = as(expr("attention(heads = 8, kv_heads = 2,)"), "Call");
    const without = as(expr("attention(heads = 8, kv_heads = 2)"), "Call");
    expect(stripSpans(withComma)).toEqual(stripSpans(without));
    expect(withComma.args.map((a) => a.name?.name)).toEqual(["heads", "kv_heads"]);
    expect(as(expr("f(x,)"), "Call").args).toHaveLength(1);
  });

  it("nests calls and takes any expression as an argument", () => {
    const c = as(expr("attention(heads = 4, rope = rope(theta = 10_000, fraction = 0.5), window = none)"), "Call");
    const rope = as(c.args[1]!.value, "Call");
    expect(rope.callee.name).toBe("rope");
    expect(rope.args.map((a) => [a.name?.name, as(a.value, "Number").raw])).toEqual([
      ["theta", "10_000"],
      ["fraction", "0.5"],
    ]);
    expect(c.args[2]!.value.kind).toBe("None");
    const g = as(expr("g(a + b, [c], 2 * d)"), "Call");
    expect(g.args.map((a) => a.value.kind)).toEqual(["Stack", "List", "Repeat"]);
  });

  it("a name followed by `(` on the next line is still a call", () => {
    expect(expr("f\n(x)").kind).toBe("Call");
  });
});

describe("lists", () => {
  it("empty, simple, nested", () => {
    expect(as(expr("[]"), "List").items).toEqual([]);
    const text = "model m { a = [ssm, [attn, ffn]] }";
    const l = as(valueOfText(text), "List");
    expect(l.span).toEqual(spanOf(text, "[ssm, [attn, ffn]]"));
    expect(l.items[0]).toEqual({ kind: "Ref", name: "ssm", span: spanOf(text, "ssm") });
    const inner = as(l.items[1]!, "List");
    expect(inner.span).toEqual(spanOf(text, "[attn, ffn]"));
    expect(inner.items.map((i) => as(i, "Ref").name)).toEqual(["attn", "ffn"]);
  });

  it("accepts a trailing comma", () => {
    expect(stripSpans(expr("[a, b,]"))).toEqual(stripSpans(expr("[a, b]")));
    expect(as(expr("[a,]"), "List").items).toHaveLength(1);
  });
});

describe("ratios", () => {
  it("without offset", () => {
    const text = "model m { a = (ssm : attn + ffn = 5 : 1) }";
    const r = as(valueOfText(text), "Ratio") as RatioExpr;
    expect(r.span).toEqual(spanOf(text, "(ssm : attn + ffn = 5 : 1)"));
    expect(as(r.left, "Ref").name).toBe("ssm");
    const right = as(r.right, "Stack");
    expect(right.parts.map((p) => as(p, "Ref").name)).toEqual(["attn", "ffn"]);
    expect(r.leftCount).toEqual({ kind: "Number", value: 5, raw: "5", span: spanOf(text, "5") });
    expect(r.rightCount).toEqual({ kind: "Number", value: 1, raw: "1", span: spanOf(text, "1") });
    expect(r.offset).toBeUndefined();
  });

  it("with offset", () => {
    const text = "model m { a = (ssm + ffn : attn + ffn = 7 : 1, offset = 4) }";
    const r = as(valueOfText(text), "Ratio");
    expect(as(r.left, "Stack").parts).toHaveLength(2);
    expect([r.leftCount.value, r.rightCount.value]).toEqual([7, 1]);
    expect(r.offset).toEqual({ kind: "Number", value: 4, raw: "4", span: spanOf(text, "4") });
  });

  it("operands may be any expression", () => {
    const r = as(expr("([a, b] : 2 * c = 1 : 1)"), "Ratio");
    expect(r.left.kind).toBe("List");
    expect(r.right.kind).toBe("Repeat");
  });
});

describe("stacks, repetition and parentheses", () => {
  it("`+` makes one flat Stack of all its parts", () => {
    const text = "model m { a = ssm + ffn + norm_block }";
    const s = as(valueOfText(text), "Stack") as StackExpr;
    expect(s.parts.map((p) => as(p, "Ref").name)).toEqual(["ssm", "ffn", "norm_block"]);
    expect(s.span).toEqual(spanOf(text, "ssm + ffn + norm_block"));
  });

  it("`N *` repeats a factor", () => {
    const text = "model m { a = 24 * ssm }";
    const r = as(valueOfText(text), "Repeat") as RepeatExpr;
    expect(r.count).toEqual({ kind: "Number", value: 24, raw: "24", span: spanOf(text, "24") });
    expect(r.body).toEqual({ kind: "Ref", name: "ssm", span: spanOf(text, "ssm") });
    expect(r.span).toEqual(spanOf(text, "24 * ssm"));
    expect(as(expr("4 * [ssm + ffn, attn + ffn]"), "Repeat").body.kind).toBe("List");
    expect(as(expr("4 * (ssm : attn = 3 : 1)"), "Repeat").body.kind).toBe("Ratio");
    expect(as(expr("10_000 * x"), "Repeat").count.value).toBe(10000);
  });

  it("`*` binds tighter than `+`", () => {
    const s = as(expr("2 * ssm + ffn"), "Stack");
    expect(s.parts.map((p) => p.kind)).toEqual(["Repeat", "Ref"]);
    const t = as(expr("ssm + 3 * ffn"), "Stack");
    expect(t.parts.map((p) => p.kind)).toEqual(["Ref", "Repeat"]);
  });

  it("parentheses are kept as Paren nodes", () => {
    const text = "model m { a = 2 * (ssm + ffn) }";
    const r = as(valueOfText(text), "Repeat");
    const p = as(r.body, "Paren");
    expect(p.span).toEqual(spanOf(text, "(ssm + ffn)"));
    expect(as(p.inner, "Stack").parts).toHaveLength(2);
    const nested = expr("((x))");
    expect(as(as(nested, "Paren").inner, "Paren").inner.kind).toBe("Ref");
    expect(unparen(nested).kind).toBe("Ref");
  });
});

describe("comments", () => {
  it("collects both kinds in source order and keeps them out of the AST", () => {
    const text = [
      "// leading line comment",
      "/* block */ model m { // after brace",
      "  a = /* inside */ 1 // trailing   ",
      "  b = [x, /* in a list",
      "          over two lines */ y]",
      "}",
      "// final",
    ].join("\n");
    const file = parseOk(text);
    expect(file.comments.map((c) => [c.text, c.block])).toEqual([
      ["// leading line comment", false],
      ["/* block */", true],
      ["// after brace", false],
      ["/* inside */", true],
      ["// trailing", false],
      ["/* in a list\n          over two lines */", true],
      ["// final", false],
    ]);
    expect(file.comments[3]!.span).toEqual(spanOf(text, "/* inside */"));
    expect(file.comments[0]!.kind).toBe("Comment");
    const clean = parseOk("model m { a = 1 b = [x, y] }");
    expect(stripSpans(file.models)).toEqual(stripSpans(clean.models));
  });

  it("a line comment ends at a CR LF line end", () => {
    const file = parseOk("// one\r\nmodel m { a = 1 } // two\r\n");
    expect(file.comments.map((c) => c.text)).toEqual(["// one", "// two"]);
  });

  it("`//` and `/*` inside a block comment do not start new comments", () => {
    const file = parseOk("/* a // b /* c */ model m { a = 1 }");
    expect(file.comments.map((c) => c.text)).toEqual(["/* a // b /* c */"]);
  });
});

function valueOfText(text: string): Expr {
  return parseOk(text).models[0]!.bindings[0]!.value;
}
