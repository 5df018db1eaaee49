/**
 * The bundler plugin: one unplugin for Vite, Rollup, esbuild and webpack (`hybridc/vite`,
 * `hybridc/rollup`, `hybridc/esbuild`, `hybridc/webpack`, each a default export taking
 * HybridcPluginOptions). Importing a `.hyb` file (`import model from` its path) compiles it
 * (module.ts) into a module holding the artifact, WGSL inlined, and a `load` that hands it to the
 * runtime.
 *
 * A spec's errors fail the build through the bundler's own error channel, its warnings through the
 * warning channel (report.ts): Rollup and Vite get `loc` and `frame` (Vite's overlay points at the
 * spec's line), esbuild gets Messages with `lineText` from a native `onLoad` (unplugin's adapter
 * would drop the line text, so the frame), webpack an Error whose message is the rendered text.
 * Vite re-runs `load` when a `.hyb` file changes in dev, so an edit re-compiles and the update
 * reaches the page through the importers (HMR); a broken edit shows the overlay.
 */
import { readFile } from "node:fs/promises";
import { dirname, isAbsolute, relative, resolve } from "node:path";
import type { OnLoadResult, PluginBuild } from "esbuild";
import { createUnplugin, type UnpluginFactory } from "unplugin";
import { checkOptions, hybModule, parseId, type HybridcPluginOptions, type ModuleResult } from "./module.ts";
import { esbuildMessage, problemsText, reported, rollupProblem } from "./report.ts";

export type { HybridcPluginOptions } from "./module.ts";

const NAME = "hybridc";
/** A `.hyb` module id, with or without a query (`?model=NAME`, Vite's `?import`, `?t=...`). */
const HYB_ID = /\.hyb(?:\?.*)?$/;

/** The path diagnostics print: relative to the working directory when inside it (as esbuild and tsc print them). */
function shownPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel) ? rel : file;
}

/**
 * The last results of one plugin instance, by file, model and text: a file imported twice (Vite's
 * client and SSR environments, a watch rebuild that did not touch it) compiles once; an edit
 * changes the text, so it compiles again. At most CACHED entries (a module is up to 1.5 MB).
 */
const CACHED = 16;

function compiler(options: HybridcPluginOptions): (id: string) => Promise<{ file: string; result: ModuleResult }> {
  const cache = new Map<string, ModuleResult>();
  return async (id) => {
    const { file, model } = parseId(id);
    const text = await readFile(file, "utf8");
    const key = `${file}\0${model ?? ""}\0${text}`;
    let result = cache.get(key);
    if (result === undefined) {
      result = hybModule(text, shownPath(file), options, model);
      if (cache.size >= CACHED) cache.delete(cache.keys().next().value!);
      cache.set(key, result);
    }
    return { file, result };
  };
}

export const unpluginFactory: UnpluginFactory<HybridcPluginOptions | undefined> = (rawOptions, meta) => {
  const options = rawOptions ?? {};
  checkOptions(options);
  const compileId = compiler(options);
  if (meta.framework === "esbuild") return { name: NAME, esbuild: { setup: (build) => esbuildSetup(build, compileId) } };
  const webpackLike = meta.framework === "webpack" || meta.framework === "rspack";
  return {
    name: NAME,
    enforce: "pre",
    // Rollup resolves `./x.hyb?model=NAME` to no file (the query is part of the name): keep the query on the resolved path.
    resolveId: {
      filter: { id: /\.hyb\?/ },
      handler(source, importer) {
        if (meta.framework !== "rollup" || importer === undefined || !/^\.\.?\//.test(source)) return null;
        return resolve(dirname(parseId(importer).file), source);
      },
    },
    load: {
      filter: { id: HYB_ID },
      async handler(id) {
        const { file, result } = await compileId(id);
        const warnings = result.warnings.map(reported);
        const errors = result.ok ? [] : result.errors.map(reported);
        if (webpackLike) {
          // webpack keeps only an Error's message: it carries the location, the code and the frame.
          for (const w of warnings) this.warn(problemsText([w]));
          if (errors.length > 0) throw traceless(problemsText(errors));
        } else {
          for (const w of warnings) this.warn(rollupProblem([w], file));
          // Thrown rather than passed to this.error, whose error would carry the bundler's stack trace.
          if (errors.length > 0) throw Object.assign(traceless(problemsText(errors)), rollupProblem(errors, file));
        }
        return result.ok ? { code: result.code, map: null } : null;
      },
    },
  };
};

/** An Error whose stack is its message: a bundler that prints the stack prints no trace of the plugin's code. */
function traceless(message: string): Error {
  const e = new Error(message);
  e.stack = `${e.name}: ${message}`;
  return e;
}

/** esbuild: a native onLoad, so errors and warnings keep their line text (esbuild draws the frame). */
function esbuildSetup(build: PluginBuild, compileId: ReturnType<typeof compiler>): void {
  build.onLoad({ filter: /\.hyb$/ }, async (args): Promise<OnLoadResult> => {
    const { file, result } = await compileId(args.path + (args.suffix ?? ""));
    const shown = shownPath(file);
    const warnings = result.warnings.map((w) => esbuildMessage(reported(w), shown));
    if (!result.ok) return { errors: result.errors.map((e) => esbuildMessage(reported(e), shown)), warnings, watchFiles: [file] };
    return { contents: result.code, loader: "js", resolveDir: dirname(file), warnings, watchFiles: [file] };
  });
}

export const hybridc = /* #__PURE__ */ createUnplugin(unpluginFactory);
export default hybridc;
