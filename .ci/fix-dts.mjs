// Second step of `npm run build`, after `tsc -p tsconfig.build.json`. tsc rewrites the sources'
// relative `.ts` imports to `.js` in the JavaScript it emits (rewriteRelativeImportExtensions),
// but not in the .d.ts files (microsoft/TypeScript#61037, still so in 6.0.3). TypeScript itself
// resolves `.ts` specifiers in declaration files; other tools (editors, API extractors, bundlers
// following `types`) do not. This rewrites them to `.js`: same length, so the declaration maps
// stay exact. Idempotent (an incremental build that emits nothing leaves the files as they are).
//
// The runtime's declarations name WebGPU's globals (GPUDevice, ...) without a
// `/// <reference types="@webgpu/types" />`: TypeScript 6's lib.dom declares them, and
// @webgpu/types 0.1.74 next to lib.dom conflicts (TS6200, TS2403). A project without the DOM lib
// (Node: `"lib": ["es2023"]`) adds `"types": ["@webgpu/types"]` (a dependency of hybridc).
//
// tsc emits no hand-written declaration file (compiler/plugin/client.d.ts, the types of `.hyb`
// imports): this copies every one under compiler/ and runtime/ to the same place in dist/.
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../", import.meta.url));
const dist = fileURLToPath(new URL("../dist/", import.meta.url));

for (const dir of ["compiler", "runtime"]) {
  for (const file of declarations(join(root, dir))) copyFileSync(file, join(dist, relative(root, file)));
}

// `from "./x.ts"`, `import "./x.ts"`, `import("../x.ts")`: relative specifiers only.
const SPECIFIER = /(\b(?:from|import)\s*\(?\s*)(["'])(\.\.?\/[^"'\n]*?)\.ts\2/g;

function* declarations(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* declarations(p);
    else if (e.name.endsWith(".d.ts")) yield p;
  }
}

for (const file of declarations(dist)) {
  const text = readFileSync(file, "utf8");
  const fixed = text.replace(SPECIFIER, (_, head, q, path) => `${head}${q}${path}.js${q}`);
  if (fixed !== text) writeFileSync(file, fixed);
}
