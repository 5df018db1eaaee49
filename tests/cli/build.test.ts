/**
 * `hybridc build -o DIR` end to end, spawned as a user runs it: the files it writes (manifest
 * fields, one WGSL file per kernel in dispatch order), byte-identical output from run to run and
 * from any working directory, never writing over files it did not write, the option errors, and
 * codegen errors as diagnostics with a code frame (exit 1, no stack trace, nothing written).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ARTIFACT_VERSION } from "../../runtime/artifact/types.ts";
import { cliEnv } from "./env.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BIN = join(ROOT, "bin", "hybridc.js");
const VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
const STACK_FRAME = /^\s+at .+:\d+:\d+\)?$/m;

// d_inner = 32: every kernel fits the WebGPU defaults.
const TINY = `model tiny {
  vocab = 50
  d_model = 16
  ssm = mamba1(d_state = 8, expand = 2, d_conv = 4, dt_rank = 2)
  layers = 2 * ssm
}
`;

function hybridc(args: readonly string[], cwd = ROOT): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, env: cliEnv(), encoding: "utf8", timeout: 120_000 });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Every file under dir, by path relative to it, with its text. */
function tree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(relative(dir, p), readFileSync(p, "utf8"));
    }
  };
  walk(dir);
  return out;
}

let dir: string;
let spec: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "hybridc-build-"));
  spec = join(dir, "tiny.hyb");
  writeFileSync(spec, TINY);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Program = { name: string; load: { name: string; file: string }[]; call: { name: string; op: string; file: string; locations: string[] }[] };
interface Manifest {
  format: string;
  version: number;
  hybridc: string;
  model: string;
  source: string;
  vocab: number;
  context: number;
  limits: Record<string, number>;
  weights: { name: string; shape: number[]; dtype: string; init: { kind: string } }[];
  prefill: Program;
  decode: Program;
}

describe("hybridc build -o DIR", () => {
  it("writes the manifest and one WGSL file per kernel, in dispatch order", () => {
    const out = join(dir, "out1");
    const r = hybridc(["build", spec, "-o", out]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${join(out, "tiny", "manifest.json")}\n`);
    const m = JSON.parse(readFileSync(join(out, "tiny", "manifest.json"), "utf8")) as Manifest;
    expect([m.format, m.version, m.hybridc, m.model, m.source, m.vocab]).toEqual(["hybridc-artifact", ARTIFACT_VERSION, VERSION, "tiny", "tiny.hyb", 50]);
    // The WebGPU defaults, written out by hand.
    expect(m.limits).toEqual({
      maxComputeInvocationsPerWorkgroup: 256,
      maxComputeWorkgroupSizeX: 256,
      maxComputeWorkgroupStorageSize: 16384,
      maxComputeWorkgroupsPerDimension: 65535,
      maxStorageBufferBindingSize: 134217728,
      maxStorageBuffersPerShaderStage: 8,
    });
    // Mamba naming: embeddings, norm_f, 10 tensors per layer, tied head.
    expect(m.weights.length).toBe(2 + 2 * 10);
    expect(m.weights[0]).toEqual({ name: "backbone.embeddings.weight", shape: [50, 16], dtype: "f32", init: { kind: "normal", std: 0.02 } });
    for (const which of ["prefill", "decode"] as const) {
      const p = m[which];
      expect(p.name).toBe(`tiny.${which}`);
      const files = readdirSync(join(out, "tiny", which)).sort();
      expect(files).toEqual([...p.load, ...p.call].map((k) => k.file.slice(which.length + 1)).sort());
      p.call.forEach((k, i) => {
        expect(k.file).toBe(`${which}/${String(i).padStart(2, "0")}-${k.name}.wgsl`);
        expect(readFileSync(join(out, "tiny", k.file), "utf8")).toMatch(new RegExp(`^// kernel ${k.name.replace(/[.+]/g, "\\$&")}: ${k.op}`));
      });
    }
    // Mamba-1 after fusion: embedding, then 5 kernels per layer, then the LM head (norm_f is its prologue).
    expect(m.prefill.call.map((k) => k.name)).toEqual([
      "embeddings",
      ...[0, 1].flatMap((l) => ["mixer.in_proj", "mixer.conv1d", "mixer.x_proj", "mixer.selective_scan", "mixer.out_proj"].map((n) => `layers.${l}.${n}`)),
      "lm_head",
    ]);
    // `ssm = mamba1(...)` is line 4, column 3.
    expect(m.prefill.call.find((k) => k.op === "selective_scan")!.locations).toContain("tiny.hyb:4:3");
  });

  it("is byte-identical from run to run and from another working directory", () => {
    const a = join(dir, "same-a");
    const b = join(dir, "same-b");
    expect(hybridc(["build", "specs/hybrid-130m.hyb", "-o", a]).code).toBe(0);
    expect(hybridc(["build", join(ROOT, "specs", "hybrid-130m.hyb"), "-o", b], dir).code).toBe(0);
    const ta = tree(a);
    expect(ta.size).toBeGreaterThan(100);
    expect(tree(b)).toEqual(ta);
    for (const text of ta.values()) {
      expect(text).not.toContain(ROOT);
      expect(text).not.toContain(dir);
    }
  });

  it("rebuilds over its own output, removing the kernel files of the earlier build", () => {
    const out = join(dir, "again");
    expect(hybridc(["build", spec, "-o", out]).code).toBe(0);
    const manifest = join(out, "tiny", "manifest.json");
    const m = JSON.parse(readFileSync(manifest, "utf8")) as Manifest;
    // An earlier build that had one more kernel.
    m.prefill.call.push({ name: "old", op: "add", file: "prefill/99-old.wgsl", locations: [] });
    writeFileSync(manifest, JSON.stringify(m));
    writeFileSync(join(out, "tiny", "prefill", "99-old.wgsl"), "// stale\n");
    const r = hybridc(["build", spec, "-o", out]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(existsSync(join(out, "tiny", "prefill", "99-old.wgsl"))).toBe(false);
    expect(tree(out)).toEqual(tree(join(dir, "out1")));
  });

  it("refuses a non-empty directory it did not write, unless --force, and never touches the user's files", () => {
    const out = join(dir, "mine");
    mkdirSync(out);
    const notes = join(out, "notes.txt");
    writeFileSync(notes, "my notes\n");
    const before = statSync(notes).mtimeMs;
    const r = hybridc(["build", spec, "-o", out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`hybridc: refusing to write into ${out}: it is not empty and holds no earlier build`);
    expect(r.stderr).toContain("--force");
    expect(r.stdout).toBe("");
    expect(readdirSync(out)).toEqual(["notes.txt"]);

    const forced = hybridc(["build", spec, "-o", out, "--force"]);
    expect(forced.code).toBe(0);
    expect(readFileSync(notes, "utf8")).toBe("my notes\n");
    expect(statSync(notes).mtimeMs).toBe(before);
    expect(existsSync(join(out, "tiny", "manifest.json"))).toBe(true);
  });

  it("refuses a model directory it did not write, even inside an earlier build", () => {
    const out = join(dir, "mixed");
    expect(hybridc(["build", spec, "-o", out]).code).toBe(0);
    const other = spec.replace("tiny.hyb", "other.hyb");
    writeFileSync(other, TINY.replace("model tiny", "model other"));
    mkdirSync(join(out, "other"));
    writeFileSync(join(out, "other", "keep.wgsl"), "// mine\n");
    const r = hybridc(["build", other, "-o", out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`refusing to write into ${join(out, "other")}: it is not empty and holds no manifest.json written by hybridc`);
    expect(readdirSync(join(out, "other"))).toEqual(["keep.wgsl"]);
  });

  it.each([
    [["--emit", "wgsl"], "--emit wgsl writes files: give the output directory with -o DIR"],
    [["--emit", "ir", "-o", "x"], "--emit ir prints the programs; -o DIR writes the WGSL build (--emit wgsl)"],
    [["-o", "x", "--length", "4"], "--length only applies to --emit ir"],
    [["-o", "x", "--dump-after", "dce"], "--dump-after only applies to --emit ir"],
    [["--emit", "spirv"], "unknown --emit 'spirv' (expected wgsl, ts or ir)"],
    [["-o", "x", "--limit", "maxStorageBuffers=9"], "--limit: unknown limit 'maxStorageBuffers'; did you mean"],
    [["-o", "x", "--limit", "maxStorageBuffersPerShaderStage"], "--limit expects NAME=N, got 'maxStorageBuffersPerShaderStage'"],
  ])("usage error: %j", (args, message) => {
    const r = hybridc(["build", spec, ...args], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`hybridc: ${message}`);
    expect(r.stderr).toContain("Run 'hybridc build --help' for usage.");
    expect(existsSync(join(dir, "x"))).toBe(false);
  });

  it("-o naming a file is a usage error", () => {
    const r = hybridc(["build", spec, "-o", spec]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`-o ${spec}: not a directory`);
  });

  it("a kernel over the limits is a diagnostic with a code frame: exit 1, no stack trace, nothing written", () => {
    const out = join(dir, "limited");
    const r = hybridc(["build", spec, "-o", out, "--limit", "maxStorageBuffersPerShaderStage=3"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    // The LM head comes from the model as a whole; the layers' kernels from the block definition.
    const at = spec.replace(/[.+]/g, "\\$&");
    expect(r.stderr).toMatch(new RegExp(`^${at}:1:1: error\\[HYB5002\\]: kernel lm_head `));
    expect(r.stderr).toMatch(new RegExp(`^${at}:4:3: error\\[HYB5002\\]: kernel layers\\.0\\.mixer\\.selective_scan `, "m"));
    expect(r.stderr).toContain("  ssm = mamba1(d_state = 8, expand = 2, d_conv = 4, dt_rank = 2)");
    expect(r.stderr).toContain("allows 3 per stage (and 1 more kernel of the same lines)");
    expect(r.stderr).not.toMatch(STACK_FRAME);
    expect(existsSync(out)).toBe(false);
    expect(hybridc(["explain", "HYB5002"]).stdout).toMatch(/^HYB5002: kernel does not fit the device limits\nseverity: error\n/);
  });

  it("--no-fuse builds the primitive-op programs", () => {
    const out = join(dir, "unfused");
    const r = hybridc(["build", spec, "-o", out, "--no-fuse"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const m = JSON.parse(readFileSync(join(out, "tiny", "manifest.json"), "utf8")) as Manifest;
    const fused = JSON.parse(readFileSync(join(dir, "out1", "tiny", "manifest.json"), "utf8")) as Manifest;
    expect(m.prefill.call.length).toBeGreaterThan(fused.prefill.call.length);
    expect(r.stderr).not.toMatch(STACK_FRAME);
  });

  it("documents -o, --emit, --force and --limit in its help", () => {
    const r = hybridc(["build", "--help"]);
    expect(r.code).toBe(0);
    for (const flag of ["-o, --out DIR", "--emit KIND", "--force", "--limit NAME=N", "manifest.json", "NN-<kernel>.wgsl"]) expect(r.stdout).toContain(flag);
  });
});

describe("hybridc FILE.hyb (no command)", () => {
  it("checks the file and writes its build into generated/ beside it, the same files as build -o", () => {
    const sub = join(dir, "project");
    mkdirSync(sub);
    const file = join(sub, "tiny.hyb");
    writeFileSync(file, TINY);
    const r = hybridc([file]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${join(sub, "generated", "tiny", "manifest.json")}\n${join(sub, "generated", "tiny", "index.ts")}\n`);
    // build -o's files, and the typed bindings (--emit ts is the default here; tests/bindings checks their text).
    const built = tree(join(sub, "generated"));
    expect(built.get(join("tiny", "index.ts"))).toMatch(/^\/\/ Typed bindings of model tiny /);
    built.delete(join("tiny", "index.ts"));
    expect(built).toEqual(tree(join(dir, "out1")));
    // Again: it rebuilds over its own output; --emit wgsl writes the build alone (and removes the bindings).
    expect(hybridc([file, "--emit", "wgsl"]).code).toBe(0);
    expect(tree(join(sub, "generated"))).toEqual(tree(join(dir, "out1")));
  });

  it("-o DIR writes there instead; a relative path works from the working directory", () => {
    const r = hybridc(["tiny.hyb", "-o", "elsewhere", "--emit", "wgsl"], dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${join("elsewhere", "tiny", "manifest.json")}\n`);
    expect(tree(join(dir, "elsewhere"))).toEqual(tree(join(dir, "out1")));
  });

  it("a spec with errors writes nothing and exits 1 with the diagnostics", () => {
    const sub = join(dir, "broken");
    mkdirSync(sub);
    const file = join(sub, "bad.hyb");
    writeFileSync(file, TINY.replace("d_model = 16", "d_model = 16\n  bogus = 3"));
    const r = hybridc([file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(new RegExp(`^${file.replace(/[.+]/g, "\\$&")}:4:3: error\\[HYB`, "m"));
    expect(existsSync(join(sub, "generated"))).toBe(false);
  });

  it("refuses a generated/ it did not write, and an empty -o", () => {
    const sub = join(dir, "theirs");
    mkdirSync(join(sub, "generated"), { recursive: true });
    writeFileSync(join(sub, "generated", "keep.ts"), "export {};\n");
    writeFileSync(join(sub, "tiny.hyb"), TINY);
    const r = hybridc([join(sub, "tiny.hyb")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`refusing to write into ${join(sub, "generated")}`);
    expect(readdirSync(join(sub, "generated"))).toEqual(["keep.ts"]);
    for (const args of [[spec, "-o", ""], ["build", spec, "-o", ""]]) {
      const e = hybridc(args, sub);
      expect(e.code, args.join(" ")).toBe(2);
      expect(e.stderr).toContain("-o needs a directory");
    }
    expect(readdirSync(sub).sort()).toEqual(["generated", "tiny.hyb"]);
  });

  it("a missing .hyb file is a usage error; a word that is no command and no file is one too", () => {
    const r = hybridc(["nothere.hyb"], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("hybridc: cannot read nothere.hyb: no such file or directory");
    const c = hybridc(["chek", "tiny.hyb"], dir);
    expect(c.code).toBe(2);
    expect(c.stderr).toContain("unknown command 'chek'; did you mean 'check'?");
  });
});
