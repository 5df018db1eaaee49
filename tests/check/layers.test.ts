/** Layer expansion: ratios, lists, repetition, stacks, groups and parentheses. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ratioPeriod } from "../../compiler/check/ratio.ts";
import { compile } from "../../compiler/index.ts";

/** Expand `layers` with blocks a (mamba1), b (mamba2), ssm, attn, ffn; layers as `a`, `ssm+ffn`. */
function expand(layers: string, extra = ""): string[] {
  const text = `model m {
  vocab = 256
  d_model = 64
  a = mamba1()
  b = mamba2(headdim = 32)
  ssm = mamba1()
  attn = attention(heads = 4)
  ffn = mlp(hidden = 128)
${extra}
  layers = ${layers}
}`;
  const r = compile(text);
  const errors = r.diagnostics.filter((d) => d.severity === "error").map((d) => `${d.code} ${d.message}`);
  expect(errors).toEqual([]);
  return r.models[0]!.layers.map((l) => l.sublayers.map((s) => s.name).join("+"));
}

const rep = (n: number, x: string): string[] => Array.from({ length: n }, () => x);

describe("ratios", () => {
  it("5 : 3 is [a, a, b, a, a, b, a, b]", () => {
    expect(expand("(a : b = 5 : 3)")).toEqual(["a", "a", "b", "a", "a", "b", "a", "b"]);
  });

  it("1 : 1 is [a, b] (equal counts: the second is the minority)", () => {
    expect(expand("(a : b = 1 : 1)")).toEqual(["a", "b"]);
  });

  it("2 : 2 is [a, b, a, b]", () => {
    expect(expand("(a : b = 2 : 2)")).toEqual(["a", "b", "a", "b"]);
  });

  it("1 : 3 is [b, b, b, a] (the first kind is the minority)", () => {
    expect(expand("(a : b = 1 : 3)")).toEqual(["b", "b", "b", "a"]);
  });

  it("3 : 1 is [a, a, a, b]", () => {
    expect(expand("(a : b = 3 : 1)")).toEqual(["a", "a", "a", "b"]);
  });

  it("10 : 1 puts the minority last", () => {
    expect(expand("(a : b = 10 : 1)")).toEqual([...rep(10, "a"), "b"]);
  });

  it("7 : 1, offset = 4 is Jamba's placement", () => {
    expect(expand("(ssm : attn = 7 : 1, offset = 4)")).toEqual(["ssm", "ssm", "ssm", "ssm", "attn", "ssm", "ssm", "ssm"]);
  });

  it("offset = 0 puts the first minority first; offset = p - 1 is the default for m = 1", () => {
    expect(expand("(ssm : attn = 3 : 1, offset = 0)")).toEqual(["attn", "ssm", "ssm", "ssm"]);
    expect(expand("(ssm : attn = 3 : 1, offset = 3)")).toEqual(expand("(ssm : attn = 3 : 1)"));
  });

  it("offset rotates a period with several minority layers", () => {
    // Base [a, a, b, a, a, b, a, b]: the first b (position 2) moves to 0, the rest rotates with it.
    expect(expand("(a : b = 5 : 3, offset = 0)")).toEqual(["b", "a", "a", "b", "a", "b", "a", "a"]);
  });

  it("4 * (ssm : attn = 7 : 1) has attention at 7, 15, 23, 31", () => {
    const layers = expand("4 * (ssm : attn = 7 : 1)");
    expect(layers).toHaveLength(32);
    expect(layers.flatMap((l, i) => (l === "attn" ? [i] : []))).toEqual([7, 15, 23, 31]);
  });

  it("operands may be stacks, in parentheses or not", () => {
    expect(expand("(ssm + ffn : attn + ffn = 2 : 1)")).toEqual(["ssm+ffn", "ssm+ffn", "attn+ffn"]);
    expect(expand("((ssm + ffn) : (attn) + ffn = 1 : 1)")).toEqual(["ssm+ffn", "attn+ffn"]);
  });

  it("operands may be groups that expand to exactly one layer", () => {
    expect(expand("(mixer : one = 1 : 2)", "  mixer = ssm + ffn\n  one = [attn]")).toEqual(["attn", "attn", "ssm+ffn"]);
  });
});

describe("ratioPeriod (the definition, directly)", () => {
  it("has p layers, m of them the minority, and honours the offset", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), fc.nat(), (l, r, o) => {
        const p = l + r;
        const minority = l < r ? "left" : "right";
        const m = Math.min(l, r);
        const base = ratioPeriod(l, r);
        expect(base).toHaveLength(p);
        expect(base.filter((s) => s === minority)).toHaveLength(m);
        // Spread evenly: the minority never comes twice in a row unless it is not the minority by count.
        if (m < p - m) for (let k = 1; k < p; k++) expect(base[k] === minority && base[k - 1] === minority).toBe(false);
        const j = o % p;
        const rotated = ratioPeriod(l, r, j);
        expect(rotated[j]).toBe(minority);
        expect([...rotated, ...rotated].join(",")).toContain(base.join(","));
      }),
    );
  });
});

describe("lists, repetition, stacks, groups, parentheses", () => {
  it("nested lists flatten in order", () => {
    expect(expand("[a, [b, [ssm, attn]], ffn]")).toEqual(["a", "b", "ssm", "attn", "ffn"]);
  });

  it("repetition splices a list and repeats a single layer", () => {
    expect(expand("2 * [a, b]")).toEqual(["a", "b", "a", "b"]);
    expect(expand("[3 * a, b]")).toEqual(["a", "a", "a", "b"]);
    expect(expand("2 * (a : b = 1 : 1)")).toEqual(["a", "b", "a", "b"]);
    expect(expand("2 * [2 * a, b]")).toEqual(["a", "a", "b", "a", "a", "b"]);
  });

  it("repetition of a stack repeats the whole layer", () => {
    expect(expand("2 * (ssm + ffn)")).toEqual(["ssm+ffn", "ssm+ffn"]);
  });

  it("`+` binds looser than `*`: 2 * a + ffn is a stack of a repetition, refused", () => {
    const r = compile("model m { vocab = 256 d_model = 64 a = mamba1() ffn = mlp(hidden = 8) layers = 2 * a + ffn }");
    expect(r.diagnostics.map((d) => d.code)).toEqual(["HYB3002"]);
  });

  it("stacks of stacks flatten into one layer", () => {
    expect(expand("[(ssm) + (ffn), ((attn + ffn))]")).toEqual(["ssm+ffn", "attn+ffn"]);
    // Three sublayers do not fit the default "jamba" scheme, but the message shows the flat layer.
    const r = compile("model m { vocab = 256 d_model = 64 s = mamba1() f = mlp(hidden = 8) layers = (s + f) + (f) }");
    expect(r.diagnostics.map((d) => d.message)).toEqual([
      'layer 0 (`s + f + f`) does not fit the "jamba" weights naming scheme: it has two mlps, and "jamba" allows one mlp per layer',
    ]);
  });

  it("groups expand where they are used, and may nest", () => {
    expect(expand("8 * unit", "  unit = ssm + ffn")).toEqual(rep(8, "ssm+ffn"));
    expect(expand("[period, attn + ffn]", "  unit = ssm + ffn\n  period = 2 * unit")).toEqual(["ssm+ffn", "ssm+ffn", "attn+ffn"]);
    expect(expand("2 * outer", "  inner = [a, b]\n  outer = [inner, inner]")).toEqual(["a", "b", "a", "b", "a", "b", "a", "b"]);
  });

  it("a group that expands to one layer can be a sublayer", () => {
    expect(expand("[mix + ffn]", "  mix = [ssm]")).toEqual(["ssm+ffn"]);
  });

  it("parentheses are transparent", () => {
    expect(expand("((2 * [(a), ((b))]))")).toEqual(["a", "b", "a", "b"]);
    expect(expand("((a : b = 3 : 1))")).toEqual(["a", "a", "a", "b"]);
  });

  it("layer indices and sublayer spans point back at the text", () => {
    const text = "model m {\n  vocab = 256\n  d_model = 64\n  ssm = mamba1()\n  ffn = mlp(hidden = 8)\n  unit = ssm + ffn\n  layers = 2 * unit\n}";
    const r = compile(text);
    const m = r.models[0]!;
    expect(m.layers.map((l) => l.index)).toEqual([0, 1]);
    const sub = m.layers[1]!.sublayers[1]!;
    expect(sub.name).toBe("ffn");
    expect(sub.block.config.kind).toBe("mlp");
    expect(r.source.slice(sub.span)).toBe("ffn");
    expect(r.source.lineCol(sub.span.start)).toEqual({ line: 6, col: 16 });
  });
});
