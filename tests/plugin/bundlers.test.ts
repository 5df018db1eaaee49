/**
 * The bundler plugin builds a fixture project (tests/plugin/fixture.ts) with each bundler it
 * supports: esbuild, Rollup, Vite (production build) and webpack. For each:
 *  - the bundle, imported in Node, gives `import model from "./tiny.hyb"` as the contract says:
 *    default `{ name, artifact, load }`, named `artifact` and `load`; the artifact is exactly what
 *    the compiler's build() returns (every kernel's WGSL text inlined), `load` hands that artifact
 *    to the runtime's loadModel with the caller's device, weights and options, and
 *    `./multi.hyb?model=second` gives the second model of a two-model file;
 *  - a broken spec fails the build through the bundler's error channel with `broken.hyb:line:col`,
 *    the code, the message and the code frame, and no stack trace of the plugin;
 *  - a spec's warning arrives through the bundler's warning channel with its location and code;
 *  - a two-model file imported without a choice fails, naming both models and how to choose.
 * Also: the real runtime bundled with esbuild next to a model holds no compiler module.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as esbuild from "esbuild";
import { rollup, type RollupLog } from "rollup";
import { build as viteBuild, type Rollup } from "vite";
import webpack, { type Stats } from "webpack";
import { afterAll, describe, expect, it } from "vitest";
import hybridcEsbuild from "../../compiler/plugin/esbuild.ts";
import type { HybridcPluginOptions } from "../../compiler/plugin/module.ts";
import hybridcRollup from "../../compiler/plugin/rollup.ts";
import hybridcVite from "../../compiler/plugin/vite.ts";
import hybridcWebpack from "../../compiler/plugin/webpack.ts";
import { BROKEN_AT, expectedArtifact, makeFixture, MULTI, TINY, WARN_AT, type MainExports } from "./fixture.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const fx = makeFixture("bundlers");
afterAll(() => fx.remove());
const options = (extra: HybridcPluginOptions = {}): HybridcPluginOptions => ({ runtime: fx.runtime, ...extra });

interface Outcome {
  /** The bundle's text, when it built. */
  readonly code?: string;
  /** Every error, as the bundler reports it, flattened to text (message, location fields, frame). */
  readonly errors: string[];
  readonly warnings: string[];
}

/** Every field of a reported problem that a person could see, as one text. */
function shown(e: unknown): string {
  if (typeof e === "string") return e;
  const o = e as { message?: string; text?: string; frame?: string; loc?: { file?: string; line: number; column: number }; location?: { file: string; line: number; column: number; lineText: string }; notes?: { text: string }[] };
  const loc = o.loc ? `\nloc ${o.loc.file}:${o.loc.line}:${o.loc.column}` : "";
  const location = o.location ? `\nlocation ${o.location.file}:${o.location.line}:${o.location.column}\n${o.location.lineText}` : "";
  return [o.message ?? o.text ?? "", loc, location, o.frame ? `\n${o.frame}` : "", ...(o.notes ?? []).map((n) => `\n${n.text}`)].join("");
}

type Bundler = (entry: string, extra?: HybridcPluginOptions) => Promise<Outcome>;

const BUNDLERS: Record<string, Bundler> = {
  async esbuild(entry, extra) {
    try {
      const r = await esbuild.build({ entryPoints: [fx.file(entry)], bundle: true, format: "esm", write: false, logLevel: "silent", plugins: [hybridcEsbuild(options(extra))] });
      return { code: r.outputFiles[0]!.text, errors: [], warnings: r.warnings.map(shown) };
    } catch (e) {
      const f = e as esbuild.BuildFailure;
      return { errors: f.errors.map(shown), warnings: f.warnings.map(shown) };
    }
  },
  async rollup(entry, extra) {
    const warnings: string[] = [];
    try {
      const b = await rollup({ input: fx.file(entry), plugins: [hybridcRollup(options(extra))], onwarn: (w: RollupLog) => void warnings.push(shown(w)) });
      const { output } = await b.generate({ format: "es" });
      return { code: output[0].code, errors: [], warnings };
    } catch (e) {
      return { errors: [shown(e)], warnings };
    }
  },
  async vite(entry, extra) {
    const warnings: string[] = [];
    try {
      const r = (await viteBuild({
        root: fx.dir,
        configFile: false,
        logLevel: "silent",
        plugins: [hybridcVite(options(extra))],
        build: { write: false, minify: false, lib: { entry: fx.file(entry), formats: ["es"], fileName: "out" }, rollupOptions: { onwarn: (w) => void warnings.push(shown(w)) } },
      })) as Rollup.RollupOutput | Rollup.RollupOutput[];
      const out = Array.isArray(r) ? r[0]! : r;
      return { code: out.output[0].code, errors: [], warnings };
    } catch (e) {
      return { errors: [shown(e)], warnings };
    }
  },
  async webpack(entry, extra) {
    const out = fx.file(`webpack-${entry}-out`);
    mkdirSync(out, { recursive: true });
    const stats = await new Promise<Stats>((resolve, reject) =>
      webpack(
        {
          context: fx.dir,
          mode: "production",
          entry: fx.file(entry),
          output: { path: out, filename: "out.mjs", library: { type: "module" } },
          experiments: { outputModule: true },
          optimization: { minimize: false },
          plugins: [hybridcWebpack(options(extra))],
        },
        (err, s) => (err || !s ? reject(err ?? new Error("webpack gave no stats")) : resolve(s)),
      ),
    );
    const j = stats.toJson({ all: false, errors: true, warnings: true });
    const errors = (j.errors ?? []).map(shown);
    return { ...(errors.length === 0 ? { code: readFileSync(join(out, "out.mjs"), "utf8") } : {}), errors, warnings: (j.warnings ?? []).map(shown) };
  },
};

/** Imports a bundle's text as a module. */
async function importBundle(code: string, name: string): Promise<MainExports> {
  const path = fx.file(`${name}.bundle.mjs`);
  writeFileSync(path, code);
  return (await import(/* @vite-ignore */ pathToFileURL(path).href)) as MainExports;
}

describe.each(Object.keys(BUNDLERS))("%s", (name) => {
  const bundle = BUNDLERS[name]!;

  it("bundles `import model from './tiny.hyb'`: the compiled artifact with its WGSL, and a load that hands it to the runtime", async () => {
    const r = await bundle("main.js");
    expect(r.errors).toEqual([]);
    expect(r.code).toContain("@compute @workgroup_size(");
    const m = await importBundle(r.code!, name);
    const tiny = expectedArtifact(TINY, "tiny.hyb");
    expect(m.artifact).toEqual(tiny);
    expect(m.tiny.name).toBe("tiny");
    expect(m.tiny.artifact).toBe(m.artifact);
    expect(m.tiny.load).toBe(m.load);
    // Every kernel's module is the compiler's text, byte for byte.
    const kernels = [...m.artifact.prefill.call, ...m.artifact.decode.call];
    expect(kernels.length).toBeGreaterThan(4);
    for (const k of kernels) expect(k.wgsl).toMatch(/^\/\/ kernel .*@compute @workgroup_size\(\d+\)/s);
    const device = { kind: "device" };
    const weights = { "backbone.embeddings.weight": new Float32Array(4) };
    const called = m.load(device, weights, { prefillChunk: 7 });
    expect(called.device).toBe(device);
    expect(called.artifact).toBe(m.artifact);
    expect(called.weights).toBe(weights);
    expect(called.options).toEqual({ prefillChunk: 7 });
    // The query picks a model of a multi-model file.
    expect(m.second.name).toBe("second");
    expect(m.second.artifact).toEqual(expectedArtifact(MULTI, "multi.hyb", "second"));
  });

  it("fails on a broken spec with broken.hyb:line:col, the code, the message and the code frame", async () => {
    const r = await bundle("broken.js");
    expect(r.code).toBeUndefined();
    const text = r.errors.join("\n");
    expect(text).toContain(`error[${BROKEN_AT.code}]: unknown argument \`bogus\` for \`mamba2\``);
    // The frame: the spec's line, and a caret under `bogus`.
    expect(text).toContain(BROKEN_AT.text);
    if (name === "esbuild") {
      // esbuild draws the frame itself from the line text, at a 0-based byte column.
      expect(text).toContain(`broken.hyb:${BROKEN_AT.line}:${BROKEN_AT.col - 1}\n${BROKEN_AT.text}`);
    } else {
      expect(text).toContain(`${" ".repeat(BROKEN_AT.col - 1)}^^^^^ unknown argument`);
      expect(text).toContain(`broken.hyb:${BROKEN_AT.line}:${BROKEN_AT.col}`);
    }
    if (name === "rollup" || name === "vite") expect(text).toContain(`:${BROKEN_AT.line}:${BROKEN_AT.col - 1}`); // loc: Rollup's 0-based column
    expect(text, "a stack trace of the plugin").not.toMatch(/\n\s+at .*compiler\/plugin/);
  });

  it("passes a spec's warning through the warning channel, with its location and code", async () => {
    const r = await bundle("warn.js");
    expect(r.errors).toEqual([]);
    const text = r.warnings.join("\n");
    expect(text).toContain(WARN_AT.code);
    expect(text).toContain("`extra` is defined but never used");
    expect(text).toContain(name === "esbuild" ? `warn.hyb:${WARN_AT.line}:${WARN_AT.col - 1}` : `warn.hyb:${WARN_AT.line}:${WARN_AT.col}`);
  });

  it("refuses a two-model file imported without a choice, naming the models and the query; the `model` option chooses", async () => {
    const r = await bundle("multi-unchosen.js");
    const text = r.errors.join("\n");
    // At the second model's name, in the bundler's own form.
    expect(text).toContain(name === "esbuild" ? "multi.hyb:8:6" : "multi.hyb:8:7");
    expect(text).toContain("multi.hyb defines 2 models (first, second): import one as './multi.hyb?model=first', or set the plugin's `model` option");
    const other = await bundle("multi-unchosen.js", { model: "third" });
    expect(other.errors.join("\n")).toContain("multi.hyb defines 2 models (first, second) (none is the plugin's `model` option, 'third'): import one as");
    const chosen = await bundle("multi-unchosen.js", { model: "first" });
    expect(chosen.errors).toEqual([]);
    const m = (await importBundle(chosen.code!, `${name}-chosen`)) as unknown as { default: { name: string } };
    expect(m.default.name).toBe("first");
  });
});

it("the real runtime bundled next to a model: loadModel is in, no compiler module is", async () => {
  const r = await esbuild.build({
    entryPoints: [fx.file("main.js")],
    bundle: true,
    format: "esm",
    platform: "browser",
    write: false,
    metafile: true,
    logLevel: "silent",
    plugins: [hybridcEsbuild({ runtime: join(ROOT, "runtime/index.ts") })],
  });
  const inputs = Object.keys(r.metafile.inputs);
  expect(inputs.some((p) => p.endsWith("runtime/model.ts"))).toBe(true);
  expect(inputs.filter((p) => /(^|\/)compiler\//.test(p) || /chevrotain/.test(p))).toEqual([]);
  expect(r.outputFiles[0]!.text).toContain("@compute @workgroup_size(");
});

it("a misspelled limit is an error when the plugin is made", () => {
  expect(() => hybridcVite({ limits: { maxStorageBuffersPerShaderStag: 10 } as never })).toThrow("hybridc plugin: unknown limit 'maxStorageBuffersPerShaderStag'; did you mean 'maxStorageBuffersPerShaderStage'?");
});
