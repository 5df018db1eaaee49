/**
 * `hybridc import`: for each family, a config written from transformers' published key names
 * imports to a spec whose `hybridc expand --json` parameter count is the count the config implies
 * (tests/import/configs.ts computes it from the keys); what the .hyb language cannot express is
 * refused with one line naming the feature and the config key; the CLI prints or writes the
 * spec, never replaces a file without --force, and reads Python's bare `Infinity`.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { compile } from "../../compiler/compile.ts";
import { format } from "../../compiler/syntax/print.ts";
import { parse } from "../../compiler/syntax/index.ts";
import { Diagnostics } from "../../compiler/diag/diagnostic.ts";
import { SourceFile } from "../../compiler/diag/source.ts";
import { ImportError, importConfig } from "../../compiler/import/index.ts";
import { layersExpr } from "../../compiler/import/spec.ts";
import { IMPORTED, REFUSED, pythonJson } from "./configs.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const BIN = join(ROOT, "bin", "hybridc.js");
const dir = mkdtempSync(join(tmpdir(), "hybridc-import-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: readonly string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("hybridc import: each family's config to a spec with the parameters the config implies", () => {
  it("expand --json of every imported spec counts the config's parameters", () => {
    const files: string[] = [];
    for (const c of IMPORTED) {
      mkdirSync(join(dir, c.name), { recursive: true });
      writeFileSync(join(dir, c.name, "config.json"), pythonJson(c.config));
      const r = cli(["import", c.name, "-o", `${c.name}.hyb`]);
      expect(r.stderr, c.name).toBe("");
      expect([r.code, r.stdout], c.name).toEqual([0, `${c.name}.hyb\n`]);
      files.push(`${c.name}.hyb`);
    }
    const r = cli(["expand", "--json", ...files]);
    expect(r.code, r.stderr).toBe(0);
    const models = (JSON.parse(r.stdout) as { models: { name: string; parameters: number }[] }).models;
    expect(models.map((m) => m.parameters)).toEqual(IMPORTED.map((c) => c.parameters));
    // The released sizes their names give (Mamba 130M, Codestral 7B, Bamba 9.78B, Nemotron-H 8B).
    expect(models.map((m) => Math.round(m.parameters / 1e7) / 100)).toEqual([0.13, 7.29, 0.02, 9.78, 8.1, 0.07]);
  });

  it.each(IMPORTED)("$name: the spec is formatted, names the weights scheme and the model after its folder", (c) => {
    const r = importConfig(pythonJson(c.config), { defaultName: "some-model" });
    const source = new SourceFile("x.hyb", r.text);
    expect(format(parse(new Diagnostics(source)), source)).toBe(r.text);
    expect(r.model.name).toBe("some_model");
    expect(r.model.weightsScheme).toBe(["mamba", "mamba2", "nemotron_h"].includes(c.name) ? "mamba" : "jamba");
    expect(compile(r.text).ok).toBe(true);
  });

  it("the specs state the details: Jamba's ratio and inner norms, Bamba's half RoPE, Nemotron-H's runs", () => {
    const [, mamba2, jamba, bamba, nemotron] = IMPORTED.map((c) => importConfig(c.config).text);
    expect(jamba).toContain("layers = 2 * (ssm + ffn : attn + ffn = 3 : 1, offset = 2)");
    expect(jamba).toMatch(/ssm\s+= mamba1\(d_state = 16, expand = 2, d_conv = 4, dt_rank = 8, inner_norms = true\)/);
    expect(jamba).toContain("norm    = rmsnorm(eps = 1e-6)");
    expect(jamba).toContain("rope = none");
    expect(bamba).toContain("rope = rope(theta = 10_000, fraction = 0.5)");
    expect(bamba).toContain("9 * (ssm + ffn),");
    expect(mamba2).toMatch(/ngroups = 8/);
    expect(nemotron).toContain("3 * [ssm, mlp],");
    expect(nemotron).toContain("mlp  = mlp(relu2, hidden = 21_504)");
    // The layer list the header states is the one the spec expands to.
    const m = importConfig(IMPORTED[4]!.config).model;
    expect(m.layers.flatMap((l, i) => (l.sublayers[0]!.name === "attn" ? [i] : []))).toEqual([7, 18, 29, 40]);
  });

  it("vocab_size is the embedding's rows, as transformers builds it (no padding to pad_vocab_size_multiple)", () => {
    const r = importConfig({ ...IMPORTED[0]!.config, vocab_size: 50277, pad_vocab_size_multiple: 8 });
    expect(r.model.vocab).toBe(50277);
    expect(r.text).toContain("// vocab = vocab_size as transformers builds the embedding (it does not pad to\n  // pad_vocab_size_multiple = 8, which mamba_ssm would)");
  });

  it("model names are identifiers that are not .hyb words: a folder called model, 130m or mamba-2.8b", () => {
    const one = { ...IMPORTED[0]!.config, num_hidden_layers: 1 };
    expect(["model", "none", "130m", "state-spaces/mamba-2.8b-hf", "--"].map((name) => importConfig(one, { name }).model.name)).toEqual(["model_", "none_", "m_130m", "mamba_2_8b_hf", "imported"]);
    expect(importConfig(one).text).toContain("// 1 layer, each ssm\n");
  });

  it.each(REFUSED)("$name: refused in one line naming the feature and the config key", (c) => {
    let error: unknown;
    try {
      importConfig(c.config);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ImportError);
    const e = error as ImportError;
    expect(e.key).toBe(c.key);
    expect(e.message).toMatch(c.feature);
    expect(e.message).toContain(`\`${c.key}\``);
    expect(e.message).not.toContain("\n");
  });

  it("the CLI: refusals exit 1 naming the file, an existing file needs --force, bad options exit 2", () => {
    writeFileSync(join(dir, "falcon.json"), JSON.stringify(REFUSED[0]!.config));
    const refused = cli(["import", "falcon.json"]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe("");
    expect(refused.stderr).toMatch(/^hybridc: cannot import falcon\.json: parallel mixers: .*\(config key `num_attention_heads` = 8\)\n$/);

    writeFileSync(join(dir, "mamba.json"), JSON.stringify(IMPORTED[0]!.config));
    writeFileSync(join(dir, "taken.hyb"), "keep me");
    const clobber = cli(["import", "mamba.json", "-o", "taken.hyb"]);
    expect(clobber.code).toBe(2);
    expect(clobber.stderr).toContain("refusing to replace taken.hyb: it exists; use --force");
    expect(readFileSync(join(dir, "taken.hyb"), "utf8")).toBe("keep me");
    const forced = cli(["import", "mamba.json", "-o", "taken.hyb", "--force", "--name", "m130"]);
    expect(forced.code).toBe(0);
    expect(readFileSync(join(dir, "taken.hyb"), "utf8")).toContain("model m130 {");

    writeFileSync(join(dir, "jamba.json"), JSON.stringify(IMPORTED[2]!.config));
    const printed = cli(["import", "jamba.json", "--context", "512"]);
    expect(printed.code).toBe(0);
    expect(printed.stdout).toMatch(/^\/\/ Imported by hybridc \S+ from hybridc-import-\w+\/jamba\.json \(model_type "jamba",\s+(\/\/\s+)?JambaForCausalLM\)\.\n/);
    expect(printed.stdout).toContain("  context = 512\n");
    expect(printed.stdout).toContain("\nmodel hybridc_import_");
  });

  it("the CLI: usage errors and unreadable or invalid configs", () => {
    expect(cli(["import", "nope.json"])).toMatchObject({ code: 2, stderr: expect.stringContaining("cannot read nope.json: no such file or directory") });
    writeFileSync(join(dir, "bad.json"), "{ not json");
    expect(cli(["import", "bad.json"])).toMatchObject({ code: 1, stderr: expect.stringContaining("cannot import bad.json: not valid JSON") });
    writeFileSync(join(dir, "ssm.json"), JSON.stringify({ d_model: 768, n_layer: 24, vocab_size: 50277, ssm_cfg: {} }));
    expect(cli(["import", "ssm.json"]).stderr).toContain("no `model_type`: not a Hugging Face transformers config (this looks like a mamba_ssm config");
    writeFileSync(join(dir, "llama.json"), JSON.stringify({ model_type: "llama" }));
    expect(cli(["import", "llama.json"]).stderr).toContain('model_type "llama" is not one hybridc imports (it imports mamba, mamba2, jamba, bamba, nemotron_h, falcon_h1, zamba2)');
    writeFileSync(join(dir, "typo.json"), JSON.stringify({ ...IMPORTED[0]!.config, hidden_size: "768" }));
    expect(cli(["import", "typo.json"]).stderr).toContain('`hidden_size` must be a positive integer, got "768"');
    expect(cli(["import", "mamba.json", "--name", "9lives"])).toMatchObject({ code: 2, stderr: expect.stringContaining("--name must be an identifier") });
    expect(cli(["import", "mamba.json", "--force"])).toMatchObject({ code: 2, stderr: expect.stringContaining("--force only applies to -o FILE") });
  });
});

describe("hostile configs: an ImportError or a spec, never an internal error", () => {
  it("sizes that make no model are the checker's message as an ImportError", () => {
    const bad = { ...IMPORTED[2]!.config, num_attention_heads: 6, num_key_value_heads: 4, hidden_size: 96 };
    expect(() => importConfig(bad)).toThrow(ImportError);
    expect(() => importConfig(bad)).toThrow(/^its sizes make no valid model: .*heads.*\(in the imported spec: attn = attention\(/);
    expect(() => importConfig({ ...IMPORTED[0]!.config, hidden_size: 2 ** 40 })).toThrow(ImportError);
  });

  it("every key of every family's config set to odd values (0, -1, 1.5, 2^40, a string, a list, null)", () => {
    const odd: unknown[] = [0, -1, 1.5, 2 ** 40, "x", [1], null, true];
    let specs = 0;
    let refusals = 0;
    for (const c of IMPORTED) {
      for (const key of Object.keys(c.config)) {
        for (const v of odd) {
          try {
            importConfig({ ...c.config, [key]: v });
            specs++;
          } catch (e) {
            if (!(e instanceof ImportError)) throw new Error(`${c.name}: ${key} = ${JSON.stringify(v)}: ${String(e)}`);
            expect(e.message).not.toContain("\n");
            refusals++;
          }
        }
      }
    }
    expect(specs).toBeGreaterThan(0);
    expect(refusals).toBeGreaterThan(0);
  });
});

describe("the layer list in its most readable form", () => {
  const L = (s: string) => s.split(" ").map((t) => t.split("+"));
  it.each([
    ["ssm ssm ssm ssm", "4 * ssm"],
    ["ssm+ffn attn+ffn", "[ssm + ffn, attn + ffn]"],
    ["ssm ssm ssm attn ssm ssm ssm attn", "2 * (ssm : attn = 3 : 1)"],
    ["ssm attn ssm ssm ssm ssm attn ssm ssm ssm", "2 * (ssm : attn = 4 : 1, offset = 1)"],
    ["ssm attn ssm ssm ssm ssm ssm attn ssm ssm", "[ssm, attn, 5 * ssm, attn, 2 * ssm]"],
    ["ssm mlp ssm mlp ssm attn mlp ssm mlp", "[2 * [ssm, mlp], ssm, attn, mlp, ssm, mlp]"],
    ["ssm mlp ssm mlp ssm mlp", "3 * [ssm, mlp]"],
  ])("%s -> %s", (layers, expected) => {
    expect(layersExpr(L(layers))).toBe(expected);
  });
});
