/**
 * Checker diagnostics. Each fixture in fixtures/ carries its expected diagnostics as `//~`
 * annotations (see annotations.ts); the set must match exactly. Then a few diagnostics are
 * checked in full (notes, labels, spans), the huge-expansion guard is timed, and random
 * token soup is fed through to show the checker never throws.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compile, type Diagnostic } from "../../compiler/index.ts";
import { compare, parseAnnotations } from "./annotations.ts";

const FIXTURES = join(import.meta.dirname, "fixtures");
const fixtures = readdirSync(FIXTURES).filter((f) => f.endsWith(".hyb")).sort();

describe("fixtures", () => {
  for (const file of fixtures) {
    it(file, () => {
      const text = readFileSync(join(FIXTURES, file), "utf8");
      const result = compile(text, { path: file });
      const { unexpected, missing } = compare(result.diagnostics, parseAnnotations(text, file));
      expect({ unexpected, missing }).toEqual({ unexpected: [], missing: [] });
    });
  }

  it("annotate every code the checker can emit (HYB9999 aside)", () => {
    const dir = join(import.meta.dirname, "../../compiler/check");
    const emitted = new Set<string>();
    for (const f of readdirSync(dir).filter((f) => f.endsWith(".ts"))) {
      for (const m of readFileSync(join(dir, f), "utf8").matchAll(/report\("(HYB\d{4})"/g)) emitted.add(m[1]!);
    }
    emitted.delete("HYB9999");
    const annotated = new Set(fixtures.flatMap((f) => parseAnnotations(readFileSync(join(FIXTURES, f), "utf8"), f).map((a) => a.code)));
    expect([...emitted].filter((c) => !annotated.has(c)).sort()).toEqual([]);
    // Every checker code of the catalogue (1xxx names, 2xxx values, 3xxx layers, 4xxx weights);
    // HYB5004 (f16 ran in f32) is no longer reported: f16 runs for real.
    const catalogue = [
      ...Array.from({ length: 12 }, (_, i) => `HYB10${String(i + 1).padStart(2, "0")}`),
      ...Array.from({ length: 7 }, (_, i) => `HYB200${i + 1}`),
      ...Array.from({ length: 8 }, (_, i) => `HYB300${i + 1}`),
      "HYB4001",
    ];
    expect([...emitted].sort()).toEqual(catalogue);
  });
});

function only(text: string, code?: string): Diagnostic {
  const r = compile(text, { path: "t.hyb" });
  const list = code ? r.diagnostics.filter((d) => d.code === code) : r.diagnostics;
  expect(list.map((d) => d.code)).toHaveLength(1);
  return list[0]!;
}

function at(d: Diagnostic): string {
  return d.source.slice(d.span);
}

const model = (body: string) => `model m {\n  vocab = 256\n  d_model = 64\n${body}\n}\n`;

describe("diagnostics in full", () => {
  it("unknown argument: caret on the name, label, did-you-mean", () => {
    const d = only(model("  ssm = mamba1(d_stat = 16)\n  layers = ssm"));
    expect(d).toMatchObject({ code: "HYB1004", message: "unknown argument `d_stat` for `mamba1`", label: "unknown argument", help: "did you mean `d_state`?" });
    expect(at(d)).toBe("d_stat");
    expect(d.source.lineCol(d.span.start)).toEqual({ line: 4, col: 16 });
  });

  it("duplicate binding: note at the first binding", () => {
    const d = only(model("  ssm = mamba1()\n  ssm = mamba2()\n  layers = ssm"));
    expect(d.code).toBe("HYB1001");
    expect(d.source.lineCol(d.span.start)).toEqual({ line: 5, col: 3 });
    expect(d.notes).toHaveLength(1);
    expect(d.notes[0]!.message).toBe("first bound here");
    expect(d.source.lineCol(d.notes[0]!.span!.start)).toEqual({ line: 4, col: 3 });
  });

  it("duplicate argument: note at the first one", () => {
    const d = only(model("  ssm = mamba1(d_state = 8, d_state = 16)\n  layers = ssm"));
    expect(d.code).toBe("HYB1005");
    expect(at(d)).toBe("d_state");
    expect(d.notes.map((n) => [n.message, n.span && d.source.slice(n.span)])).toEqual([["first given here", "d_state = 8"]]);
  });

  it("divisibility with a defaulted argument: at the call, with a note naming the default", () => {
    const d = only("model m {\n  vocab = 256\n  d_model = 48\n  ssm = mamba2()\n  layers = ssm\n}\n");
    expect(d.code).toBe("HYB2003");
    expect(at(d)).toBe("mamba2");
    expect(d.label).toBe("the default `headdim` = 64 does not divide d_inner = 96");
    expect(d.notes.map((n) => n.message)).toEqual(["`headdim` defaults to 64", "`d_model` set here"]);
    expect(d.source.slice(d.notes[1]!.span!)).toBe("d_model = 48");
  });

  it("divisibility: at the offending argument, with notes at the related ones", () => {
    const d = only(model("  attn = attention(heads = 6, kv_heads = 4)\n  layers = attn"));
    expect(d.code).toBe("HYB2003");
    expect(at(d)).toBe("kv_heads = 4");
    expect(d.notes.map((n) => [n.message, n.span && d.source.slice(n.span)])).toEqual([["`heads` set here", "heads = 6"]]);
  });

  it("missing model parameters point at the model name", () => {
    const r = compile("model tiny { ssm = mamba1() }", { path: "t.hyb" });
    expect(r.diagnostics.map((d) => [d.code, d.message, d.source.slice(d.span)])).toEqual([
      ["HYB1006", "model `tiny` is missing `vocab`", "tiny"],
      ["HYB1006", "model `tiny` is missing `d_model`", "tiny"],
      ["HYB1006", "model `tiny` is missing `layers`", "tiny"],
    ]);
  });

  it("a cycle is reported once, at the reference that closes it", () => {
    const d = only(model("  ssm = mamba1()\n  a = [ssm, b]\n  b = [a]\n  layers = a"));
    expect(d).toMatchObject({ code: "HYB1009", message: "cyclic definition: `a` refers to itself (`a` -> `b` -> `a`)" });
    expect(d.source.lineCol(d.span.start)).toEqual({ line: 6, col: 8 });
    expect(d.notes[0]!.message).toBe("`a` defined here");
  });

  it("unused bindings are warnings: the model is still produced", () => {
    const r = compile(model("  ssm = mamba1()\n  extra = mamba1()\n  layers = ssm"));
    expect(r.ok).toBe(true);
    expect(r.models).toHaveLength(1);
    expect(r.diagnostics.map((d) => [d.code, d.severity, d.message])).toEqual([["HYB1010", "warning", "`extra` is defined but never used in `layers`"]]);
  });

  it("explicit weights scheme: error at `weights`, note at the layer", () => {
    const d = only(model('  ssm = mamba1()\n  ffn = mlp(hidden = 8)\n  weights = "mamba"\n  layers = [ssm, ssm + ffn]'));
    expect(d.code).toBe("HYB4001");
    expect(at(d)).toBe('"mamba"');
    expect(d.notes.map((n) => [n.message, n.span && d.source.slice(n.span)])).toEqual([["layer 1 comes from here", "ffn"]]);
  });
});

describe("robustness", () => {
  // A hang guard, not a speed measurement: building these expansions would never finish.
  it("refuses a huge expansion without building it", { timeout: 10_000 }, () => {
    const d = only(model("  a = mamba1()\n  b = attention(heads = 4)\n  layers = 99999999 * (a : b = 99999 : 1)"));
    expect(d.code).toBe("HYB3007");
  });

  it("nested group repetition is counted, not materialized", { timeout: 10_000 }, () => {
    const groups = Array.from({ length: 30 }, (_, i) => `  g${i} = 1000 * g${i + 1}`).join("\n");
    const d = only(model(`  ssm = mamba1()\n${groups}\n  g30 = ssm\n  layers = g0`));
    expect(d.code).toBe("HYB3007");
    expect(d.message).toContain("about 1.0e90 layers");
  });

  it("a model with a syntax error inside is checked but not produced", () => {
    const r = compile(model("  ssm = mamba1(d_state = )\n  ffn = mlp(hidden = 8)\n  layers = [ssm, ffn]"));
    expect(r.diagnostics.map((d) => d.code)).toEqual(["HYB0004"]);
    expect(r.models).toEqual([]);
  });

  it("a clean model next to a broken one is still produced", () => {
    const r = compile(`${model("  ssm = mamba1(d_stat = 1)\n  layers = ssm")}model ok {\n  vocab = 256\n  d_model = 64\n  ssm = mamba1()\n  layers = ssm\n}\n`);
    expect(r.diagnostics.map((d) => d.code)).toEqual(["HYB1004"]);
    expect(r.models.map((m) => m.name)).toEqual(["ok"]);
  });

  it("never throws and never reports an internal error on token soup", () => {
    const tokens = ["model", "m", "{", "}", "(", ")", "[", "]", "=", ",", ":", "*", "+", "-1", "0", "3", "1.5", "1e300", '"s"', "none", "true",
      "vocab", "d_model", "layers", "weights", "norm", "ssm", "ffn", "g", "mamba1", "mamba2", "attention", "mlp", "rope", "rmsnorm", "heads", "hidden", "offset", "swiglu"];
    const soup = fc.array(fc.constantFrom(...tokens), { maxLength: 60 }).map((ts) => `model m { vocab = 256 d_model = 64 ${ts.join(" ")} }`);
    fc.assert(
      fc.property(soup, (text) => {
        const r = compile(text);
        expect(r.diagnostics.filter((d) => d.code === "HYB9999").map((d) => d.message)).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });
});
