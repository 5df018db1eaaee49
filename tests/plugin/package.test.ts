/**
 * The plugin as the package exports it (dist/, which `npm run build` writes; the packed tarball is
 * tests/package/pack.test.ts's): `hybridc/vite`, `/rollup`, `/esbuild` and `/webpack` resolve
 * through package.json `exports` in plain Node to a default export that makes the plugin (named
 * hybridc; webpack's, an object with apply); `hybridc/client` has its declarations and an empty module; and a consumer project
 * whose `node_modules/hybridc` is this package typechecks `.hyb` imports once it imports
 * `hybridc/client` (and fails without it, and on a wrong use).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const TSC = join(ROOT, "node_modules", "typescript", "bin", "tsc");
const PKG = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { exports: Record<string, { types: string; import: string }> };
const BUNDLERS = ["vite", "rollup", "esbuild", "webpack"] as const;

const dir = mkdtempSync(join(tmpdir(), "hybridc-plugin-pkg-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it("exports hybridc/vite, /rollup, /esbuild, /webpack and /client from dist/, types and modules", () => {
  for (const name of [...BUNDLERS, "client"]) {
    const e = PKG.exports[`./${name}`];
    expect(e, `package.json exports ./${name}`).toBeDefined();
    for (const path of [e!.types, e!.import]) expect(existsSync(join(ROOT, path)), `${path} (run npm run build)`).toBe(true);
  }
  expect(readFileSync(join(ROOT, PKG.exports["./client"]!.types), "utf8")).toContain('declare module "*.hyb"');
});

it("each bundler entry resolves in plain Node (no loader) to a function making the hybridc plugin", () => {
  const script = `const out = [];
for (const b of ${JSON.stringify(BUNDLERS)}) {
  const m = await import("hybridc/" + b);
  const p = m.default({ fuse: true });
  out.push(b + ":" + typeof m.default + ":" + (p.name ?? (typeof p.apply === "function" ? "apply" : "?")));
}
await import("hybridc/client");
console.log(out.join(" "));`;
  // From the repository, "hybridc/..." is the package itself (self-reference through `exports`).
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd: ROOT, encoding: "utf8" });
  expect(r.stderr).toBe("");
  // webpack takes a plugin object with apply(compiler); the others a named plugin.
  expect(r.stdout.trim()).toBe(BUNDLERS.map((b) => `${b}:function:${b === "webpack" ? "apply" : "hybridc"}`).join(" "));
});

it("a consumer typechecks `.hyb` imports with hybridc/client, and not without it", () => {
  mkdirSync(join(dir, "node_modules", "@webgpu"), { recursive: true });
  symlinkSync(ROOT, join(dir, "node_modules", "hybridc"), "dir");
  symlinkSync(join(ROOT, "node_modules", "@webgpu", "types"), join(dir, "node_modules", "@webgpu", "types"), "dir");
  writeFileSync(join(dir, "package.json"), `${JSON.stringify({ type: "module" })}\n`);
  const compilerOptions = { target: "ES2022", lib: ["ES2023", "DOM"], module: "NodeNext", moduleResolution: "NodeNext", strict: true, noEmit: true, skipLibCheck: true, types: [] };
  writeFileSync(join(dir, "env.ts"), `import "hybridc/client";\n`);
  writeFileSync(
    join(dir, "app.ts"),
    `import model, { artifact, load } from "./model.hyb";
export const name: string = model.name;
export const kernels: number = artifact.prefill.call.length + artifact.decode.call.length;
export const same: typeof load = model.load;
export async function run(device: GPUDevice, weights: Record<string, Float32Array>): Promise<number> {
  const m = await load(device, weights, { prefillChunk: 16 });
  return m.vocab;
}
`,
  );
  writeFileSync(join(dir, "wrong.ts"), `import model from "./model.hyb";\nexport const n: number = model.name;\n`);
  const tsc = (files: string[]) => {
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions, files }));
    return spawnSync(process.execPath, [TSC, "-p", dir, "--pretty", "false"], { encoding: "utf8", timeout: 240_000 });
  };
  const ok = tsc(["env.ts", "app.ts"]);
  expect(ok.stdout + ok.stderr).toBe("");
  expect(ok.status).toBe(0);
  const without = tsc(["app.ts"]);
  expect(without.stdout).toContain("app.ts(1,39): error TS2307: Cannot find module './model.hyb'");
  const wrong = tsc(["env.ts", "wrong.ts"]);
  expect(wrong.stdout).toContain("wrong.ts(2,14): error TS2322: Type 'string' is not assignable to type 'number'.");
}, 300_000);
