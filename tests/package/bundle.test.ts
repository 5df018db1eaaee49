/**
 * The runtime is thin: `hybridc/runtime` bundled for a browser (esbuild, minified, ESM, browser
 * platform, so a Node built-in would fail the build) holds no module of the compiler, neither
 * chevrotain nor lodash, and stays under 60 KB minified. The size is printed (the README states
 * it); the limit is a guard against the compiler creeping back in, not a timing.
 */
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const LIMIT = 60 * 1024;

async function bundle(entry: string) {
  const r = await build({
    entryPoints: [entry],
    absWorkingDir: ROOT,
    bundle: true,
    minify: true,
    format: "esm",
    platform: "browser",
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  const inputs = Object.keys(r.metafile.inputs);
  const output = Object.values(r.metafile.outputs)[0]!;
  const largest = Object.entries(output.inputs)
    .sort((a, b) => b[1].bytesInOutput - a[1].bytesInOutput)
    .slice(0, 8)
    .map(([path, i]) => `${path} ${i.bytesInOutput} B`);
  return { bytes: r.outputFiles[0]!.contents.length, inputs, largest };
}

describe("the runtime bundle", () => {
  it.each(["runtime/index.ts", "dist/runtime/index.js"])("%s: no compiler, no chevrotain, no lodash, under 60 KB minified", async (entry) => {
    const b = await bundle(entry);
    console.log(`${entry}: ${b.bytes} bytes minified (${(b.bytes / 1024).toFixed(1)} KiB) from ${b.inputs.length} modules; largest: ${b.largest.join(", ")}`);
    expect(b.inputs.filter((p) => /(^|\/)compiler\//.test(p)), "compiler modules in the runtime bundle").toEqual([]);
    expect(b.inputs.filter((p) => /chevrotain|lodash|fastest-levenshtein|picocolors|webgpu\//.test(p)), "compiler or Node dependencies in the runtime bundle").toEqual([]);
    // The runtime's own modules are there (the bundle is not empty by accident).
    expect(b.inputs.some((p) => /runtime\/(model|device)\.(ts|js)$/.test(p))).toBe(true);
    expect(b.bytes).toBeLessThan(LIMIT);
  });
});
