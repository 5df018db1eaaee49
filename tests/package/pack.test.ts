/**
 * The npm package as a user gets it. A copy of the package's sources is packed (`npm pack`: its
 * prepack script builds dist/ from scratch), the tarball is installed into a fresh project with
 * no network (`npm install --offline`: the tarball's dependencies are copied from this
 * repository's node_modules first, so npm has nothing to fetch), and then:
 *  (a) plain Node imports `hybridc` (ESM, no loader) and builds a canonical spec; without the
 *      optional `webgpu` package, the Node runtime and `hybridc run` say how to install it;
 *  (b) a consumer's .ts file using `build` and `loadModel` typechecks with tsc --strict under
 *      default module settings, and in a project from `tsc --init`;
 *  (c) the installed `hybridc` executable runs --version, check and build;
 *  (d) the tarball holds dist (.js, .d.ts, maps), bin, README and LICENSE, and no tests or sources.
 * Every failure message ends with the tarball's file list. The tarball's size and file count are
 * printed.
 */
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const PKG = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string; dependencies: Record<string, string> };
const TSC = join(ROOT, "node_modules", "typescript", "bin", "tsc");
const SPEC = "hybrid-3to1.hyb";
/** The README's `hybridc run` spec (byte-level, small). */
const RUN_SPEC = "mamba-byte.hyb";
/** What `npm pack` needs to build and pack the package (the `files` and the build's inputs). */
const PACKAGE_SOURCES = ["package.json", "README.md", "LICENSE", "tsconfig.json", "tsconfig.build.json", ".ci/fix-dts.mjs", "bin", "compiler", "runtime"];

interface PackResult {
  readonly filename: string;
  readonly size: number;
  readonly unpackedSize: number;
  readonly entryCount: number;
  readonly files: readonly { readonly path: string; readonly size: number }[];
}

let work = "";
let project = "";
let pack: PackResult | undefined;

/** The tarball's contents, appended to every failure message. */
function contents(): string {
  if (!pack) return "(npm pack did not run)";
  return `npm pack contents (${pack.entryCount} files, ${pack.size} bytes packed):\n${pack.files.map((f) => `  ${f.path} (${f.size} B)`).join("\n")}`;
}

function failure(what: string, r?: SpawnSyncReturns<string>): string {
  const out = r ? `\nexit ${r.status}${r.error ? ` (${r.error.message})` : ""}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}` : "";
  return `${what}${out}\n\n${contents()}`;
}

/** The environment of a child npm or node: without the npm run-script context of the `npm test` that runs this file. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.toLowerCase().startsWith("npm_") && k !== "INIT_CWD" && k !== "NODE_OPTIONS") env[k] = v;
  }
  return { ...env, npm_config_update_notifier: "false", npm_config_fund: "false", npm_config_audit: "false", NO_COLOR: "1" };
}

function sh(cmd: string, args: readonly string[], cwd: string, timeout = 180_000): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, env: cleanEnv(), encoding: "utf8", timeout });
}

function ok(r: SpawnSyncReturns<string>, what: string): SpawnSyncReturns<string> {
  if (r.status !== 0) throw new Error(failure(what, r));
  return r;
}

/** The package's production dependencies, transitively, from the lock file (optional peers, such as webgpu, left out). */
function dependencyClosure(): string[] {
  const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as {
    packages: Record<string, { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string>; peerDependencies?: Record<string, string>; peerDependenciesMeta?: Record<string, { optional?: boolean }> }>;
  };
  const seen = new Set<string>();
  const queue = Object.keys(PKG.dependencies);
  while (queue.length > 0) {
    const name = queue.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    const entry = lock.packages[`node_modules/${name}`];
    if (!entry) throw new Error(`package-lock.json has no node_modules/${name} (run npm install)`);
    queue.push(...Object.keys({ ...entry.dependencies, ...entry.optionalDependencies }));
    for (const peer of Object.keys(entry.peerDependencies ?? {})) if (!entry.peerDependenciesMeta?.[peer]?.optional) queue.push(peer);
  }
  return [...seen].sort();
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "hybridc-pack-"));
  // Pack a copy, so the build writes its own dist/ (the repository's may be in use by other tests).
  const src = join(work, "src");
  for (const p of PACKAGE_SOURCES) cpSync(join(ROOT, p), join(src, p), { recursive: true });
  symlinkSync(join(ROOT, "node_modules"), join(src, "node_modules"), "dir");
  const r = ok(sh("npm", ["pack", "--json", "--pack-destination", work], src), "npm pack failed");
  pack = (JSON.parse(r.stdout) as PackResult[])[0]!;
  console.log(`npm pack: ${pack.filename}: ${pack.size} bytes packed, ${pack.unpackedSize} bytes unpacked, ${pack.entryCount} files`);

  // A fresh ESM project with the tarball's dependencies already in node_modules: npm then
  // installs the tarball with nothing to fetch (--offline: never the network).
  project = join(work, "project");
  mkdirSync(join(project, "node_modules"), { recursive: true });
  writeFileSync(join(project, "package.json"), `${JSON.stringify({ name: "consumer", private: true, type: "module" }, null, 2)}\n`);
  for (const dep of dependencyClosure()) {
    mkdirSync(dirname(join(project, "node_modules", dep)), { recursive: true });
    cpSync(join(ROOT, "node_modules", dep), join(project, "node_modules", dep), { recursive: true, dereference: true });
  }
  ok(sh("npm", ["install", "--offline", "--no-audit", "--no-fund", "--no-package-lock", join(work, pack.filename)], project), "npm install of the tarball failed");
  for (const spec of [SPEC, RUN_SPEC]) cpSync(join(ROOT, "specs", spec), join(project, spec));
}, 600_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("the packed package", () => {
  it("(d) holds dist with declarations and maps, bin, README and LICENSE; no tests, no TypeScript sources", () => {
    const paths = pack!.files.map((f) => f.path);
    for (const p of ["LICENSE", "README.md", "package.json", "bin/hybridc.js", "bin/resolve-hooks.js"]) {
      expect(paths.includes(p), failure(`the tarball lacks ${p}`)).toBe(true);
    }
    for (const entry of ["compiler/index", "runtime/index", "runtime/node", "compiler/cli/index"]) {
      for (const ext of [".js", ".js.map", ".d.ts", ".d.ts.map"]) {
        expect(paths.includes(`dist/${entry}${ext}`), failure(`the tarball lacks dist/${entry}${ext}`)).toBe(true);
      }
    }
    const unwanted = paths.filter((p) => p.startsWith("tests/") || p.includes("/tests/") || (p.endsWith(".ts") && !p.endsWith(".d.ts")) || p.endsWith(".tsbuildinfo"));
    expect(unwanted, failure("the tarball holds tests, TypeScript sources or build state")).toEqual([]);
    const outside = paths.filter((p) => !/^(dist\/|bin\/|LICENSE$|README\.md$|package\.json$)/.test(p));
    expect(outside, failure("the tarball holds files outside dist/ and bin/")).toEqual([]);
  });

  it("(d) its declarations import .js, never .ts", () => {
    const dist = join(project, "node_modules", "hybridc", "dist");
    const bad: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name.endsWith(".d.ts")) {
          for (const m of readFileSync(p, "utf8").matchAll(/(?:from|import)\s*\(?\s*["'](\.\.?\/[^"']*)["']/g)) {
            if (!m[1]!.endsWith(".js")) bad.push(`${p.slice(dist.length + 1)}: ${m[1]}`);
          }
        }
      }
    };
    walk(dist);
    expect(bad, failure("relative specifiers in the installed .d.ts files that are not .js")).toEqual([]);
  });

  it("(a) plain Node imports it with no loader and builds a spec", () => {
    writeFileSync(
      join(project, "plain.mjs"),
      `import { readFileSync } from "node:fs";
import { build } from "hybridc";
import * as runtime from "hybridc/runtime";
import * as node from "hybridc/runtime/node";
const r = build(readFileSync(${JSON.stringify(SPEC)}, "utf8"), { path: ${JSON.stringify(SPEC)} });
console.log(JSON.stringify({ ok: r.ok, models: r.artifacts.map((a) => a.model), hybridc: r.artifacts[0]?.hybridc, loadModel: typeof runtime.loadModel, createNodeDevice: typeof node.createNodeDevice }));
`,
    );
    const r = ok(sh(process.execPath, ["plain.mjs"], project), "node plain.mjs failed");
    expect(JSON.parse(r.stdout), failure("plain.mjs printed something else", r)).toEqual({
      ok: true,
      models: ["hybrid_3to1"],
      hybridc: PKG.version,
      loadModel: "function",
      createNodeDevice: "function",
    });
  });

  it("(a) without the optional webgpu package, the Node runtime and `hybridc run` say how to install it", () => {
    // webgpu (Dawn) is an optional peer dependency, not installed here; runtime/node.ts loads it
    // only when a device is created.
    expect(existsSync(join(project, "node_modules", "webgpu")), failure("webgpu was installed, but it is an optional peer dependency")).toBe(false);
    const script = `import { createNodeDevice } from "hybridc/runtime/node";
createNodeDevice().then(() => console.log("{}"), (e) => console.log(JSON.stringify({ name: e.name, message: e.message })));`;
    const r = ok(sh(process.execPath, ["--input-type=module", "-e", script], project), "createNodeDevice() script failed");
    const e = JSON.parse(r.stdout) as { name?: string; message?: string };
    expect(e.name, failure("createNodeDevice() without webgpu", r)).toBe("NoAdapterError");
    expect(e.message, failure("createNodeDevice() without webgpu", r)).toMatch(/npm (i|install) webgpu/);
    const run = sh(join(project, "node_modules", ".bin", "hybridc"), ["run", RUN_SPEC, "--init", "random", "--prompt", "hi", "--max-tokens", "1"], project);
    expect(run.status, failure("hybridc run without webgpu", run)).toBe(1);
    expect(run.stderr, failure("hybridc run without webgpu", run)).toMatch(/npm (i|install) webgpu/);
  });

  it("(b) a consumer's TypeScript using build and loadModel typechecks under --strict", () => {
    writeFileSync(
      join(project, "consumer.ts"),
      `import { build, type Diagnostic } from "hybridc";
import { loadModel, type HybridModel, type ModelWeights } from "hybridc/runtime";
import { createNodeDevice } from "hybridc/runtime/node";

const SPEC = \`model tiny {
  vocab = 256
  d_model = 64
  ssm = mamba1(d_state = 16)
  layers = 2 * ssm
}
\`;

export async function load(weights: ModelWeights, device?: GPUDevice): Promise<HybridModel> {
  const result = build(SPEC, { path: "tiny.hyb" });
  if (!result.ok) throw new Error(result.diagnostics.map((d: Diagnostic) => d.message).join("\\n"));
  const artifact = result.artifacts[0];
  if (artifact === undefined) throw new Error("no model");
  return loadModel(device ?? (await createNodeDevice()), artifact, weights);
}
`,
    );
    // The settings of a modern ESM project: TypeScript's defaults with --strict and --module
    // nodenext (what `tsc --init` sets; the default lib includes the DOM's WebGPU types), and the
    // whole tsconfig.json that `tsc --init` writes (TypeScript 6: exactOptionalPropertyTypes,
    // noUncheckedIndexedAccess, verbatimModuleSyntax, types [], skipLibCheck, ...).
    const typecheck = (args: readonly string[]): void => {
      const r = sh(process.execPath, [TSC, ...args], project);
      const errors = `${r.stdout}${r.stderr}`.split("\n").filter((l) => l.includes("error TS"));
      expect(r.status, failure(`tsc ${args.join(" ")}: the first 20 errors:\n${errors.slice(0, 20).join("\n")}`, r)).toBe(0);
    };
    typecheck(["--strict", "--module", "nodenext", "--noEmit", "consumer.ts"]);
    ok(sh(process.execPath, [TSC, "--init"], project), "tsc --init failed");
    typecheck(["-p", "tsconfig.json", "--noEmit"]);
  });

  it("(c) the installed executable runs --version, check and build (its version is the package's)", () => {
    const bin = join(project, "node_modules", ".bin", "hybridc");
    const version = sh(bin, ["--version"], project);
    expect(version.status, failure("hybridc --version", version)).toBe(0);
    expect(version.stdout, failure("hybridc --version", version)).toBe(`hybridc ${PKG.version}\n`);
    const check = sh(bin, ["check", SPEC], project);
    expect(check.status, failure("hybridc check", check)).toBe(0);
    expect(check.stdout, failure("hybridc check", check)).toContain("no problems");
    const build = sh(bin, ["build", SPEC, "-o", "out"], project);
    expect(build.status, failure("hybridc build -o out", build)).toBe(0);
    const manifest = join(project, "out", "hybrid_3to1", "manifest.json");
    expect(existsSync(manifest), failure(`hybridc build -o out wrote no ${manifest}`, build)).toBe(true);
    // The version an artifact records (compiler/version.ts) is the package's.
    expect((JSON.parse(readFileSync(manifest, "utf8")) as { hybridc?: unknown }).hybridc, failure("manifest.json's hybridc version")).toBe(PKG.version);
  });
});
