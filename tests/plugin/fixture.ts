/**
 * A fixture project for the bundler plugin's tests, written into a temp directory: small specs
 * (one model; two models; one with an unused binding, a warning; one with an error at a known
 * place), a stand-in runtime whose `loadModel` returns its arguments (so a bundle runs in Node
 * and shows what `load` handed over), and entry modules that import the specs.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "../../compiler/index.ts";
import type { ModelArtifact } from "../../runtime/artifact/types.ts";

export const TINY = `// one Mamba-2 model, small
model tiny {
  vocab   = 256
  d_model = 64
  ssm     = mamba2(d_state = 16, headdim = 16, chunk = 16)
  layers  = 2 * ssm
}
`;

export const MULTI = `model first {
  vocab   = 256
  d_model = 32
  ssm     = mamba1(d_state = 4)
  layers  = 1 * ssm
}

model second {
  vocab   = 256
  d_model = 64
  attn    = attention(heads = 2)
  ffn     = mlp(swiglu, hidden = 96)
  layers  = 1 * [attn + ffn]
}
`;

/** `extra` is never used in `layers`: HYB1010, a warning, at line 6, column 3. */
export const WARN = `model warned {
  vocab   = 256
  d_model = 32
  ssm     = mamba1(d_state = 4)
  layers  = 1 * ssm
  extra   = mlp(gelu, hidden = 64)
}
`;

/** `bogus` is no argument of mamba2: HYB1004 on line 5. */
export const BROKEN = `// the argument on line 5 does not exist
model broken {
  vocab   = 256
  d_model = 64
  ssm     = mamba2(d_state = 16, headdim = 16, bogus = 1)
  layers  = 2 * ssm
}
`;
const BROKEN_LINE = BROKEN.split("\n")[4]!;
export const BROKEN_AT = { line: 5, col: BROKEN_LINE.indexOf("bogus") + 1, code: "HYB1004", text: BROKEN_LINE };
export const WARN_AT = { line: 6, col: 3, code: "HYB1010" };

/** The stand-in runtime: `load` must call it with the module's own artifact. */
const STUB = `export function loadModel(device, artifact, weights, options) { return { device, artifact, weights, options }; }\n`;

/** What the fixture's main entry exports, once bundled and imported. */
export const MAIN = `export { default as tiny, artifact, load } from "./tiny.hyb";
export { default as second } from "./multi.hyb?model=second";
`;

export interface Fixture {
  readonly dir: string;
  /** The stand-in runtime's absolute path: the plugin's `runtime` option in these tests. */
  readonly runtime: string;
  file(name: string): string;
  write(name: string, text: string): void;
  remove(): void;
}

export function makeFixture(prefix: string): Fixture {
  const dir = mkdtempSync(join(tmpdir(), `hybridc-${prefix}-`));
  const file = (name: string) => join(dir, name);
  const write = (name: string, text: string) => writeFileSync(file(name), text);
  write("tiny.hyb", TINY);
  write("multi.hyb", MULTI);
  write("warn.hyb", WARN);
  write("broken.hyb", BROKEN);
  write("runtime-stub.js", STUB);
  write("main.js", MAIN);
  write("multi-unchosen.js", `export { default } from "./multi.hyb";\n`);
  write("warn.js", `export { default } from "./warn.hyb";\n`);
  write("broken.js", `export { default } from "./broken.hyb";\n`);
  return { dir, runtime: file("runtime-stub.js"), file, write, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The artifact the compiler builds for a spec's model (what a bundle must hold, exactly). */
export function expectedArtifact(text: string, file: string, model?: string): ModelArtifact {
  const r = build(text, { path: file });
  if (!r.ok) throw new Error(`fixture spec ${file} does not build`);
  const a = model === undefined ? r.artifacts[0] : r.artifacts.find((x) => x.model === model);
  if (!a) throw new Error(`fixture spec ${file} has no model ${model}`);
  return a;
}

/** The main entry's exports, as the bundled module gives them. */
export interface MainExports {
  readonly tiny: { readonly name: string; readonly artifact: ModelArtifact; readonly load: (...args: unknown[]) => unknown };
  readonly artifact: ModelArtifact;
  readonly load: (device: unknown, weights: unknown, options: unknown) => { device: unknown; artifact: unknown; weights: unknown; options: unknown };
  readonly second: { readonly name: string; readonly artifact: ModelArtifact };
}
