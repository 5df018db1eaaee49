/**
 * Did-you-mean (compiler/check/suggest.ts): the banded distance equals Levenshtein's within its
 * bound, the rules for what is suggested, and hostile input that used to hang `check` (a
 * 1,000,000-character misspelled name; a 1,000,000-character file of unknown names), checked in
 * process. The assertions are on the diagnostics; the test timeout is the hang guard.
 */
import fc from "fast-check";
import { distance } from "fastest-levenshtein";
import { describe, expect, it } from "vitest";
import { boundedDistance, closestNames, MAX_EDITS, NameSuggester } from "../../compiler/check/suggest.ts";
import { compile } from "../../compiler/index.ts";

describe("boundedDistance", () => {
  it("is the Levenshtein distance when that is at most k, else k + 1", () => {
    const word = fc.string({ unit: fc.constantFrom("a", "b", "c", "_"), maxLength: 14 });
    fc.assert(
      fc.property(word, word, fc.integer({ min: 0, max: 10 }), (a, b, k) => {
        const d = distance(a, b);
        expect(boundedDistance(a, b, k)).toBe(d <= k ? d : k + 1);
      }),
      { numRuns: 3000 },
    );
  });

  it("is linear in the length for a fixed bound", () => {
    const body = "x".repeat(1_000_000);
    expect(boundedDistance(`a${body}b`, `c${body}d`, 3)).toBe(2);
    expect(boundedDistance(`a${body}b`, `${body}`, 3)).toBe(2);
  });
});

describe("closestNames", () => {
  it("keeps the rules: a third of the length, case and swaps count one, ties in order, prefixes", () => {
    expect(closestNames("d_stat", ["d_state", "d_conv"])).toEqual(["d_state"]);
    expect(closestNames("D_STATE", ["d_state"])).toEqual(["d_state"]);
    expect(closestNames("mpl", ["mlp", "ssm"])).toEqual(["mlp"]);
    expect(closestNames("ab", ["xy"])).toEqual([]);
    expect(closestNames("chunk_size", ["chunk", "headdim"])).toEqual(["chunk"]);
    expect(closestNames("sm", ["ssm", "sm2", "s", "smm"])).toEqual(["ssm", "sm2", "s"]);
  });

  it(`allows at most ${MAX_EDITS} edits, whatever the length`, () => {
    const name = "a".repeat(60);
    expect(closestNames(name, [`${"b".repeat(MAX_EDITS)}${"a".repeat(60 - MAX_EDITS)}`])).toHaveLength(1);
    expect(closestNames(name, [`${"b".repeat(MAX_EDITS + 1)}${"a".repeat(59 - MAX_EDITS)}`])).toEqual([]);
  });

  it("a suggester gives up once its budget is spent, and says nothing rather than something wrong", () => {
    const s = new NameSuggester(["alpha", "beta"], 10);
    expect(s.closest("alpah")).toEqual(["alpha"]);
    expect(s.closest("bta")).toEqual([]);
  });
});

const model = (body: string) => `model m {\n  vocab = 256\n  d_model = 64\n${body}\n}\n`;

describe("hostile names", { timeout: 60_000 }, () => {
  const long = "n".repeat(1_000_000);

  it("a 1,000,000-character name misspelled by one character gets its suggestion", () => {
    const r = compile(model(`  ${long}a = mamba1()\n  layers = ${long}b`));
    expect(r.diagnostics.map((d) => d.code)).toEqual(["HYB1010", "HYB1002"]);
    expect(r.diagnostics[1]!.help).toBe(`did you mean \`${long}a\`?`);
  });

  it("a 1,000,000-character name that differs at both ends, and one with no candidate", () => {
    const both = compile(model(`  a${long}a = mamba1()\n  layers = b${long}b`));
    expect(both.diagnostics.map((d) => [d.code, d.help?.length])).toEqual([
      ["HYB1010", "use it in `layers`, or remove it".length],
      ["HYB1002", `did you mean \`a${long}a\`?`.length],
    ]);
    const none = compile(model(`  ssm = mamba1(${long} = 1)\n  layers = ${long}`));
    expect(none.diagnostics.map((d) => [d.code, d.help])).toEqual([
      ["HYB1010", "use it in `layers`, or remove it"],
      ["HYB1004", "`mamba1` takes `d_state`, `expand`, `d_conv`, `dt_rank`, `conv_bias`, `bias` or `inner_norms`"],
      ["HYB1002", "bind it in this model: `name = mamba1(...)`"],
    ]);
  });

  it("a 1,000,000-character file of unknown names, each close to a binding", () => {
    const n = 30_000;
    const binds = Array.from({ length: n }, (_, i) => `  b${i} = mlp(hidden = 8)\n`).join("");
    const text = model(`${binds}  layers = [${Array.from({ length: n }, (_, i) => `c${i}`).join(", ")}]`);
    expect(text.length).toBeGreaterThan(1_000_000);
    const r = compile(text);
    const unknown = r.diagnostics.filter((d) => d.code === "HYB1002");
    expect(unknown).toHaveLength(n);
    expect(r.diagnostics.filter((d) => d.code === "HYB1010")).toHaveLength(n);
    expect(unknown[0]!.help).toBe("did you mean `b0`?");
    // The budget runs out part-way: the later names get the plain help, never a wrong suggestion.
    for (const d of unknown) expect([`did you mean \`b${d.message.slice("unknown name `c".length, -1)}\`?`, "bind it in this model: `name = mamba1(...)`"]).toContain(d.help);
  });
});
