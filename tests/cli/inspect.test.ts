/**
 * `hybridc build --emit ir` and `hybridc inspect`, spawned as a user runs them: the exact JSON
 * shape, fused vs --no-fuse figures, --dump-after, --length, usage errors and help texts; a spec
 * too large for any device stops every command at the checker.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { cliEnv } from "./env.js";
import { compile } from "../../compiler/index.ts";
import { inspectJsonText, inspectModel } from "../../compiler/inspect.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SPECS = ["hybrid-130m", "hybrid-3to1", "jamba-style", "mamba-130m", "mamba-byte", "samba-style"].map((s) => join("specs", `${s}.hyb`));
const SAMBA = join("specs", "samba-style.hyb");

function hybridc(args: readonly string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, "bin", "hybridc.js"), ...args], { cwd: ROOT, env: cliEnv(), encoding: "utf8", timeout: 120_000 });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Json {
  models: {
    name: string;
    prefill: { length: number; dispatches: number; scratchBytes: number };
    decode: { dispatches: number; weightBytes: number; stateBytes: number; movedBytes: number };
    kernels: { name: string; op: string }[];
  }[];
}

const dir = mkdtempSync(join(tmpdir(), "hybridc-inspect-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("hybridc inspect", () => {
  const fused = hybridc(["inspect", "--json", ...SPECS]);
  const plain = hybridc(["inspect", "--json", "--no-fuse", ...SPECS]);

  it("prints exactly {models:[{name, prefill, decode, kernels}]} on one line", () => {
    expect(fused.code).toBe(0);
    expect(fused.stderr).toBe("");
    expect(fused.stdout.endsWith("\n")).toBe(true);
    expect(fused.stdout.trimEnd()).not.toContain("\n");
    const json = JSON.parse(fused.stdout) as Json;
    expect(Object.keys(json)).toEqual(["models"]);
    expect(json.models.map((m) => m.name)).toEqual(["hybrid_130m", "hybrid_3to1", "jamba_style", "mamba_130m", "mamba_byte", "samba_style"]);
    for (const m of json.models) {
      expect(Object.keys(m)).toEqual(["name", "prefill", "decode", "kernels"]);
      expect(Object.keys(m.prefill)).toEqual(["length", "dispatches", "scratchBytes"]);
      expect(Object.keys(m.decode)).toEqual(["dispatches", "weightBytes", "stateBytes", "movedBytes"]);
      expect(m.prefill.length).toBe(1024);
      for (const v of [...Object.values(m.prefill), ...Object.values(m.decode)]) expect(Number.isSafeInteger(v) && v > 0).toBe(true);
      expect(m.kernels.length).toBe(m.decode.dispatches); // the decode program's kernels
      for (const k of m.kernels) expect(Object.keys(k)).toEqual(["name", "op"]);
      expect(m.decode.movedBytes).toBeGreaterThanOrEqual(m.decode.weightBytes + m.decode.stateBytes);
    }
    // The same bytes as the library function.
    const file = join(ROOT, SAMBA);
    const model = compile(readFileSync(file, "utf8")).models[0]!;
    expect(hybridc(["inspect", "--json", SAMBA]).stdout).toBe(inspectJsonText([inspectModel(model, { length: 1024, fuse: true })]));
  });

  it("counts fewer dispatches and moved bytes with fusion than with --no-fuse", () => {
    expect(plain.code).toBe(0);
    const a = (JSON.parse(fused.stdout) as Json).models;
    const b = (JSON.parse(plain.stdout) as Json).models;
    a.forEach((m, i) => {
      const p = b[i]!;
      expect(m.prefill.dispatches, m.name).toBeLessThan(p.prefill.dispatches);
      expect(m.decode.dispatches, m.name).toBeLessThan(p.decode.dispatches);
      expect(m.decode.movedBytes, m.name).toBeLessThan(p.decode.movedBytes);
      expect(m.decode.weightBytes, m.name).toBe(p.decode.weightBytes); // same weights either way
      expect(m.prefill.scratchBytes, m.name).toBeLessThanOrEqual(p.prefill.scratchBytes);
    });
  });

  it("takes --length for the prefill length and the decode position, and checks it", () => {
    const r = hybridc(["inspect", "--json", "--length", "64", SAMBA]);
    expect(r.code).toBe(0);
    const short = (JSON.parse(r.stdout) as Json).models[0]!;
    const long = (JSON.parse(fused.stdout) as Json).models.find((m) => m.name === "samba_style")!;
    expect(short.prefill.length).toBe(64);
    expect(short.prefill.scratchBytes).toBeLessThan(long.prefill.scratchBytes);
    expect(short.decode.stateBytes).toBeLessThan(long.decode.stateBytes); // fewer valid KV rows to read
    for (const [arg, msg] of [
      ["0", "--length must be a positive integer, got '0'"],
      ["12x", "--length must be a positive integer, got '12x'"],
      ["8192", "--length 8192 does not fit the KV cache of model 'samba_style' (context = 8192)"],
      // A pure SSM model has no KV cache to bound it; positions are i32 on the GPU.
      ["2147483648", "--length must be at most 2147483647 (positions are 32-bit signed integers on the GPU), got '2147483648'"],
    ] as const) {
      const bad = hybridc(["inspect", "--length", arg, SAMBA]);
      expect(bad.code, arg).toBe(2);
      expect(bad.stdout).toBe("");
      expect(bad.stderr).toContain(`hybridc: ${msg}`);
    }
  });

  it("prints a readable text form", () => {
    const r = hybridc(["inspect", "--length", "64", join("specs", "mamba-byte.hyb")]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^model mamba_byte\n  prefill  L = 64: \d+ dispatches, [\d,]+ bytes of scratch\n  decode   T = 64: \d+ dispatches; bytes per token:\n    weights  /);
    expect(r.stdout).toMatch(/^ {4}state +[\d,]+$/m);
    expect(r.stdout).toMatch(/^ {2}decode kernels \(\d+\)\n {4}embeddings +embedding\n {4}layers\.0\.\S+ +\S+$/m);
  });

  it("prints nothing and exits 1 when the file has errors", () => {
    const bad = join(dir, "bad.hyb");
    writeFileSync(bad, "model m {\n  vocab = 16\n  d_model = 8\n  ssm = mamba1(d_stat = 4)\n  layers = 1 * ssm\n}\n");
    for (const cmd of ["inspect", "build"]) {
      const r = hybridc([cmd, bad]);
      expect(r.code, cmd).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr).toContain("error[HYB");
    }
  });
});

describe("a spec too large for any device (HYB2007)", () => {
  // `build -o` of this spec ran without bound (3.4 GB after 60 s) and inspect printed byte
  // counts above 2^53; every command now stops at the checker with the same diagnostic.
  it("check, expand, inspect, build -o, build --emit ir and run all report it at the argument, and print no number above 2^53", () => {
    const spec = join(dir, "big.hyb");
    writeFileSync(spec, "model big {\n  vocab = 256\n  d_model = 64\n  ssm = mamba1(d_state = 1_099_511_627_776)\n  layers = 2 * ssm\n}\n");
    const runs = [
      ["check", spec],
      ["expand", spec],
      ["inspect", spec],
      ["inspect", "--json", spec],
      ["build", spec, "-o", join(dir, "big-out")],
      ["build", "--emit", "ir", spec],
      ["run", spec, "--init", "random", "--prompt", "x"],
    ];
    for (const args of runs) {
      const r = hybridc(args);
      const text = r.stdout + r.stderr;
      expect(r.code, args.join(" ")).toBe(1);
      expect(text, args.join(" ")).toContain(`${spec}:4:16: error[HYB2007]: the SSM state of \`ssm\`, [d_inner, d_state] = [128, 1,099,511,627,776], is 562,949,953,421,312 bytes of f32`);
      for (const m of text.matchAll(/\d[\d,]*/g)) expect(Number(m[0].replaceAll(",", "")), args.join(" ")).toBeLessThanOrEqual(Number.MAX_SAFE_INTEGER);
    }
  });
});

describe("hybridc build --emit ir", () => {
  it("prints the optimized prefill and decode programs of each model", () => {
    const r = hybridc(["build", "--emit", "ir", SAMBA]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/^graph samba_style\.prefill \{\n/);
    expect(r.stdout).toContain("\n}\n\ngraph samba_style.decode {\n");
    expect(r.stdout).toMatch(/= attention\(.*\{scale=0\.125, window=512, theta=10000, rotaryDim=64\}  \/\/ samba-style\.hyb:\d+:\d+/);
    // Decode attention over the 512-key window: flash-decoding, 4 blocks of 128 keys, then the merge.
    expect(r.stdout).toMatch(/= attention_decode_partial\(.*\{scale=0\.125, window=512, theta=10000, rotaryDim=64, block=128, blocks=4\}/);
    expect(r.stdout).toContain("= attention_merge(");
    expect(r.stdout).not.toContain("attn_scores");
    expect(hybridc(["build", SAMBA]).stdout).toBe(r.stdout); // --emit ir is the default
  });

  it("--no-fuse keeps the primitive ops; --length binds L", () => {
    const plain = hybridc(["build", "--emit", "ir", "--no-fuse", SAMBA]);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toContain("= attn_scores(");
    expect(plain.stdout).not.toContain("= attention(");
    const bound = hybridc(["build", "--emit", "ir", "--length", "16", SAMBA]);
    expect(bound.code).toBe(0);
    expect(bound.stdout).toContain("$tokens: i32[16]");
    expect(bound.stdout).not.toMatch(/[[,]L[\],]/);
  });

  it("--dump-after PASS prints the programs after that pass", () => {
    const r = hybridc(["build", "--emit", "ir", "--dump-after", "dce", SAMBA]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("= attn_scores("); // dce runs before any fusion
    expect(r.stdout).toContain("graph samba_style.decode {");
    const after = hybridc(["build", "--dump-after", "fuse-attention", SAMBA]);
    expect(after.stdout).toContain("= attention(");
  });

  it("rejects an unknown pass (with a suggestion), a fusion under --no-fuse, and --emit other than ir", () => {
    const cases = [
      [["--dump-after", "fuse-atention"], /^hybridc: unknown pass 'fuse-atention'; did you mean 'fuse-attention'\? \(passes: dce, /m],
      [["--dump-after", "fuse-attention", "--no-fuse"], /^hybridc: --dump-after fuse-attention: that pass is a fusion, which --no-fuse skips$/m],
      [["--emit", "wgsl"], /^hybridc: --emit wgsl writes files: give the output directory with -o DIR$/m],
      [["--emit", "asm"], /^hybridc: unknown --emit 'asm' \(expected wgsl, ts or ir\)$/m],
    ] as const;
    for (const [args, msg] of cases) {
      const r = hybridc(["build", ...args, SAMBA]);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(msg);
      expect(r.stderr).toContain("Run 'hybridc build --help' for usage.");
    }
  });
});

describe("help", () => {
  it("lists build and inspect, and documents their options", () => {
    const top = hybridc(["--help"]);
    expect(top.stdout).toMatch(/^ {2}build {4}compile each model/m);
    expect(top.stdout).toMatch(/^ {2}inspect {2}print the cost of each model/m);
    const build = hybridc(["build", "--help"]);
    expect(build.code).toBe(0);
    expect(build.stdout).toMatch(/^Usage: hybridc build /);
    for (const flag of ["--emit KIND", "--dump-after PASS", "--no-fuse", "--length N"]) expect(build.stdout).toContain(flag);
    expect(build.stdout).toMatch(/passes, in order: dce, .*fuse-attention/);
    const inspect = hybridc(["inspect", "--help"]);
    expect(inspect.code).toBe(0);
    expect(inspect.stdout).toMatch(/^Usage: hybridc inspect /);
    expect(inspect.stdout).toContain("kernels are the decode program's");
    expect(inspect.stdout).toContain("--length N             prefill length and decode position T (default 1024)");
    expect(hybridc(["help", "inspect"]).stdout).toBe(inspect.stdout);
  });
});
