/**
 * The `hybridc` executable end to end: spawned as a user runs it (`node bin/hybridc.js`),
 * checking exit codes, what goes to stdout and stderr, and that files are only written when asked.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliEnv } from "./env.js";
import { CODES } from "../../compiler/diag/codes.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BIN = join(ROOT, "bin", "hybridc.js");
const SPEC_3TO1 = join(ROOT, "specs", "hybrid-3to1.hyb");
const VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;

/** The environment without anything that decides colors, so each test states its own. */
const baseEnv = (): NodeJS.ProcessEnv => cliEnv();

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function hybridc(args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: { ...baseEnv(), ...opts.env },
    encoding: "utf8",
    timeout: 60_000,
  });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Node prints stack frames as `    at fn (file:line:col)`. */
const STACK_FRAME = /^\s+at .+:\d+:\d+\)?$/m;
const ANSI = /\x1b\[/;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "hybridc-cli-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Writes a file in the temp dir and returns its name (relative to the temp dir). */
function fixture(name: string, text: string | Uint8Array): string {
  writeFileSync(join(dir, name), text);
  return name;
}

const VALID = `model tiny {
  vocab = 256
  d_model = 64
  ssm = mamba1(d_state = 16)
  layers = 2 * ssm
}
`;
// One syntax error (the stray comma); the rest of the model is intact after recovery.
const BAD = VALID.replace("vocab = 256", "vocab = 256,");

describe("help and version", () => {
  it("prints the tool's help with every command", () => {
    for (const flag of ["--help", "-h"]) {
      const r = hybridc([flag]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^hybridc - /);
      for (const cmd of ["check", "expand", "fmt", "explain"]) expect(r.stdout).toMatch(new RegExp(`^  ${cmd} `, "m"));
      expect(r.stderr).toBe("");
    }
  });

  it("prints help for each command, as `CMD --help` and `help CMD`", () => {
    for (const cmd of ["check", "expand", "fmt", "explain"]) {
      const r = hybridc([cmd, "--help"]);
      expect(r.code, cmd).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: hybridc ${cmd} `));
      expect(hybridc(["help", cmd]).stdout).toBe(r.stdout);
    }
  });

  it("prints the package version", () => {
    const r = hybridc(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`hybridc ${VERSION}\n`);
  });
});

describe("usage errors exit 2", () => {
  it("no command: the help on stderr", () => {
    const r = hybridc([]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^hybridc - /);
  });

  it("unknown command, with a suggestion", () => {
    const r = hybridc(["chek", "x.hyb"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^hybridc: unknown command 'chek'; did you mean 'check'\?$/m);
  });

  it("unknown flag", () => {
    const r = hybridc(["check", "--jsn", SPEC_3TO1]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("'--jsn'");
    expect(r.stderr).toContain("hybridc check --help");
  });

  it("missing file argument", () => {
    for (const cmd of ["check", "expand", "fmt"]) {
      const r = hybridc([cmd]);
      expect(r.code, cmd).toBe(2);
      expect(r.stderr).toMatch(/^hybridc: missing FILE argument$/m);
    }
  });

  it("unknown reporter", () => {
    const r = hybridc(["check", "--reporter", "xml", SPEC_3TO1]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown reporter 'xml'");
  });

  it("a missing file, a directory and a binary file: one line each, no stack trace", () => {
    fixture("garbage.hyb", Uint8Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256));
    fixture("latin1.hyb", Uint8Array.from([0x6d, 0x6f, 0x64, 0x65, 0x6c, 0x20, 0xe9, 0x0a]));
    mkdirSync(join(dir, "adir.hyb"), { recursive: true });
    const cases = [
      ["nope.hyb", "no such file or directory"],
      ["adir.hyb", "is a directory"],
      ["garbage.hyb", "binary file"],
      ["latin1.hyb", "not valid UTF-8"],
    ] as const;
    for (const [file, reason] of cases) {
      for (const cmd of ["check", "expand", "fmt"]) {
        const r = hybridc([cmd, file], { cwd: dir });
        expect(r.code, `${cmd} ${file}`).toBe(2);
        expect(r.stderr).toMatch(new RegExp(`^hybridc: cannot read ${file}: .*${reason}`, "m"));
        expect(r.stderr).not.toMatch(STACK_FRAME);
      }
    }
  });
});

describe("check", () => {
  it("passes every canonical spec", () => {
    const specs = readdirSync(join(ROOT, "specs")).filter((f) => f.endsWith(".hyb")).map((f) => join("specs", f));
    const r = hybridc(["check", ...specs]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(`no problems in ${specs.length} files\n`);
    expect(r.code).toBe(0);
  });

  it("prints file:line:col: error[CODE] first, a code frame, a summary, and exits 1", () => {
    fixture("bad.hyb", BAD);
    const r = hybridc(["check", "--no-color", "bad.hyb"], { cwd: dir });
    expect(r.code).toBe(1);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toMatch(/^bad\.hyb:2:14: error\[HYB0004\]: /);
    expect(r.stdout).toContain("2 |   vocab = 256,\n  |              ^");
    expect(r.stdout).toMatch(/^1 error in 1 file\n$/m);
    expect(r.stdout.endsWith("in 1 file\n")).toBe(true);
    expect(r.stderr).toBe("");
  });

  it("counts over several files and still reports the readable ones", () => {
    fixture("bad.hyb", BAD);
    fixture("ok.hyb", VALID);
    const r = hybridc(["check", "--no-color", "bad.hyb", "ok.hyb", "bad.hyb"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/\n\d+ errors in 3 files\n$/);
    // An unreadable file makes it a usage error (2), but the others are still checked.
    const r2 = hybridc(["check", "--no-color", "bad.hyb", "nope.hyb"], { cwd: dir });
    expect(r2.code).toBe(2);
    expect(r2.stdout).toMatch(/^bad\.hyb:2:14: error\[HYB0004\]/);
    expect(r2.stderr).toContain("cannot read nope.hyb");
  });

  it("reports checker errors with their code (unknown block kind)", () => {
    fixture("kind.hyb", VALID.replace("mamba1(d_state = 16)", "mamba3(d_state = 16)"));
    const r = hybridc(["check", "--no-color", "kind.hyb"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^kind\.hyb:4:9: error\[HYB1003\]: /);
  });

  it("allows warnings: an unused block is a warning, exit 0", () => {
    fixture("unused.hyb", VALID.replace("  layers", "  extra = mlp(hidden = 128)\n  layers"));
    const r = hybridc(["check", "--no-color", "unused.hyb"], { cwd: dir });
    expect(r.stdout).toMatch(/^unused\.hyb:5:3: warning\[HYB1010\]: /);
    expect(r.stdout).toMatch(/\n1 warning in 1 file\n$/);
    expect(r.code).toBe(0);
  });

  it("--reporter json prints {diagnostics:[...]} and nothing else", () => {
    fixture("bad.hyb", BAD);
    const r = hybridc(["check", "--reporter", "json", "bad.hyb"], { cwd: dir });
    expect(r.code).toBe(1);
    const json = JSON.parse(r.stdout) as { diagnostics: { code: string; file: string; start: { line: number; col: number } }[] };
    expect(Object.keys(json)).toEqual(["diagnostics"]);
    expect(json.diagnostics[0]).toMatchObject({ code: "HYB0004", severity: "error", file: "bad.hyb", start: { line: 2, col: 14, offset: BAD.indexOf(",") } });
    const clean = hybridc(["check", "--reporter", "json", SPEC_3TO1]);
    expect(clean.code).toBe(0);
    expect(JSON.parse(clean.stdout)).toEqual({ diagnostics: [] });
  });

  it("--reporter github prints workflow commands", () => {
    fixture("bad.hyb", BAD);
    const r = hybridc(["check", "--reporter", "github", "bad.hyb"], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout.split("\n")[0]).toMatch(/^::error file=bad\.hyb,line=2,endLine=2,col=14,endColumn=15,title=HYB0004::/);
  });

  it("colors: off in a pipe, on with --color or FORCE_COLOR, off with --no-color or NO_COLOR", () => {
    fixture("bad.hyb", BAD);
    const run = (args: string[], env: NodeJS.ProcessEnv = {}) => hybridc(["check", ...args, "bad.hyb"], { cwd: dir, env }).stdout;
    expect(run([])).not.toMatch(ANSI);
    expect(run(["--color"])).toMatch(ANSI);
    expect(run([], { FORCE_COLOR: "1" })).toMatch(ANSI);
    expect(run(["--no-color"], { FORCE_COLOR: "1" })).not.toMatch(ANSI);
    expect(run([], { NO_COLOR: "1", FORCE_COLOR: "1" })).not.toMatch(ANSI);
    // The last of --color / --no-color wins.
    expect(run(["--color", "--no-color"])).not.toMatch(ANSI);
  });
});

describe("internal errors exit 3", () => {
  it("print one message asking for a report, and a stack trace only with HYBRIDC_DEBUG=1", () => {
    const r = hybridc(["check", SPEC_3TO1], { env: { HYBRIDC_FAULT: "internal" } });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^hybridc: internal error: /);
    expect(r.stderr).toContain("please report this with the input file");
    expect(r.stderr).not.toMatch(STACK_FRAME);
    const debug = hybridc(["check", SPEC_3TO1], { env: { HYBRIDC_FAULT: "internal", HYBRIDC_DEBUG: "1" } });
    expect(debug.code).toBe(3);
    expect(debug.stderr).toMatch(STACK_FRAME);
  });
});

interface ExpandJson {
  models: { name: string; layers: string[][]; parameters: number; weights: { name: string; shape: number[] }[] }[];
}

describe("expand", () => {
  it("--json gives the resolved model in the exact shape", () => {
    const r = hybridc(["expand", "--json", SPEC_3TO1]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout.endsWith("}\n")).toBe(true);
    const json = JSON.parse(r.stdout) as ExpandJson;
    expect(r.stdout).toBe(JSON.stringify(json, null, 2) + "\n");
    expect(Object.keys(json)).toEqual(["models"]);
    expect(json.models).toHaveLength(1);
    const m = json.models[0]!;
    expect(Object.keys(m)).toEqual(["name", "layers", "parameters", "weights"]);
    expect(m.name).toBe("hybrid_3to1");
    // 4 * (ssm : attn + ffn = 3 : 1): 16 layers, attention + MLP at 3, 7, 11, 15.
    expect(m.layers).toHaveLength(16);
    expect(m.layers[3]).toEqual(["attn", "ffn"]);
    m.layers.forEach((l, i) => expect(l, `layer ${i}`).toEqual(i % 4 === 3 ? ["attn", "ffn"] : ["ssm"]));
    for (const w of m.weights) expect(Object.keys(w)).toEqual(["name", "shape"]);
    const shape = (name: string) => m.weights.find((w) => w.name === name)?.shape;
    // Jamba naming (not every layer is one SSM sublayer); tied, so no lm_head.
    expect(shape("model.embed_tokens.weight")).toEqual([256, 256]);
    expect(shape("lm_head.weight")).toBeUndefined();
    // mamba2, d_model 256, expand 2, d_state 64, headdim 32: in_proj rows [z | x | B | C | dt] = 512 + 512 + 64 + 64 + 16.
    expect(shape("model.layers.0.mamba.in_proj.weight")).toEqual([1168, 256]);
    expect(shape("model.layers.0.mamba.A_log")).toEqual([16]);
    // attention heads 8, kv_heads 2, head_dim 256 / 8 = 32.
    expect(shape("model.layers.3.self_attn.q_proj.weight")).toEqual([256, 256]);
    expect(shape("model.layers.3.self_attn.k_proj.weight")).toEqual([64, 256]);
    expect(shape("model.layers.3.feed_forward.gate_proj.weight")).toEqual([768, 256]);
    // By hand: a mamba2 layer is 256 (norm) + 1168*256 + 640*4 + 640 (conv) + 3*16 + 512 (gated norm)
    // + 256*512 = 434,096; an attn + ffn layer is 256 + (256+64+64+256)*256 + 256 + 3*768*256
    // = 754,176; plus the embedding 256*256 and the final norm 256 (tied: no lm_head).
    expect(m.parameters).toBe(12 * 434_096 + 4 * 754_176 + 256 * 256 + 256);
    // Tied: every listed tensor is counted once.
    expect(Number.isSafeInteger(m.parameters)).toBe(true);
    expect(m.parameters).toBe(m.weights.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0));
  });

  it("prints a readable form: name, parameters, numbered layers, weights", () => {
    const r = hybridc(["expand", SPEC_3TO1]);
    expect(r.code).toBe(0);
    const json = JSON.parse(hybridc(["expand", "--json", SPEC_3TO1]).stdout) as ExpandJson;
    const m = json.models[0]!;
    expect(r.stdout).toMatch(/^model hybrid_3to1\n/);
    expect(r.stdout).toContain(`  parameters  ${m.parameters.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",")}\n`);
    expect(r.stdout).toContain("  layers      16\n");
    expect(r.stdout).toContain("\n     0  ssm\n");
    expect(r.stdout).toContain("\n     3  attn + ffn\n");
    expect(r.stdout).toContain("\n    15  attn + ffn\n");
    expect(r.stdout).toMatch(/\n    model\.embed_tokens\.weight +\[256, 256\]\n/);
  });

  it("-o DIR writes DIR/<model>.json and prints only the paths", () => {
    const out = join(dir, "gen", "nested");
    const r = hybridc(["expand", SPEC_3TO1, "-o", out]);
    expect(r.code).toBe(0);
    const file = join(out, "hybrid_3to1.json");
    expect(r.stdout).toBe(`${file}\n`);
    expect(readFileSync(file, "utf8")).toBe(hybridc(["expand", "--json", SPEC_3TO1]).stdout);
  });

  it("refuses two models of one name with -o", () => {
    const r = hybridc(["expand", SPEC_3TO1, SPEC_3TO1, "-o", join(dir, "dup")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("model 'hybrid_3to1' is defined in both");
    expect(existsSync(join(dir, "dup"))).toBe(false);
  });

  it("prints diagnostics on stderr and no model when the file has errors", () => {
    fixture("bad.hyb", BAD);
    const out = join(dir, "never");
    const r = hybridc(["expand", "--no-color", "bad.hyb", "-o", out], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^bad\.hyb:2:14: error\[HYB0004\]: /);
    expect(existsSync(out)).toBe(false);
    expect(hybridc(["expand", "--json", "bad.hyb"], { cwd: dir }).stdout).toBe("");
  });
});

describe("fmt", () => {
  // Trailing blanks, runs of empty lines, a ragged indent: not canonical under any layout.
  const MESSY = "model messy {   \n      vocab = 256\n\n\n\n  d_model = 64   \n  ssm = mamba1()\n  layers = 2 * ssm\n}\n\n\n";

  it("prints canonical text and never touches the file without --write", () => {
    const file = fixture("messy.hyb", MESSY);
    const path = join(dir, file);
    const before = statSync(path).mtimeMs;
    const r = hybridc(["fmt", file], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).not.toBe(MESSY);
    expect(r.stdout).not.toMatch(/[ \t]$/m);
    const check = hybridc(["fmt", "--check", file], { cwd: dir });
    expect(check.code).toBe(1);
    expect(check.stdout).toBe(`${file}\n`);
    expect(check.stderr).toContain("1 of 1 file is not formatted");
    expect(readFileSync(path, "utf8")).toBe(MESSY);
    expect(statSync(path).mtimeMs).toBe(before);
  });

  it("--write rewrites a messy file to the printed text, and is idempotent", () => {
    const file = fixture("messy2.hyb", MESSY);
    const canonical = hybridc(["fmt", file], { cwd: dir }).stdout;
    const r = hybridc(["fmt", "--write", file], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${file}\n`);
    expect(readFileSync(join(dir, file), "utf8")).toBe(canonical);
    expect(hybridc(["fmt", "--check", file], { cwd: dir }).code).toBe(0);
    const again = hybridc(["fmt", "--write", file], { cwd: dir });
    expect(again.code).toBe(0);
    expect(again.stdout).toBe("");
    expect(hybridc(["fmt", file], { cwd: dir }).stdout).toBe(canonical);
  });

  it("never rewrites a file with syntax errors", () => {
    const file = fixture("bad-messy.hyb", `${BAD}   \n\n\n`);
    const path = join(dir, file);
    const before = readFileSync(path, "utf8");
    const r = hybridc(["fmt", "--write", "--no-color", file], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^bad-messy\.hyb:2:14: error\[HYB0004\]/);
    expect(readFileSync(path, "utf8")).toBe(before);
  });

  it("refuses --write with --check", () => {
    const r = hybridc(["fmt", "--write", "--check", SPEC_3TO1]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("cannot be combined");
  });
});

describe("explain", () => {
  it("prints the catalogue entry, whatever the case", () => {
    for (const arg of ["HYB1004", "hyb1004", "1004"]) {
      const r = hybridc(["explain", arg]);
      expect(r.code, arg).toBe(0);
      expect(r.stdout).toBe(`HYB1004: ${CODES.HYB1004.title}\nseverity: error\n\n${CODES.HYB1004.explain}\n`);
    }
  });

  it("rejects an unknown code, suggesting a close one", () => {
    const near = hybridc(["explain", "HYB1040"]);
    expect(near.code).toBe(2);
    expect(near.stderr).toMatch(/unknown diagnostic code 'HYB1040'; did you mean HYB10\d\d/);
    const far = hybridc(["explain", "banana"]);
    expect(far.code).toBe(2);
    expect(far.stderr).not.toContain("did you mean");
    expect(hybridc(["explain"]).code).toBe(2);
  });
});
