/**
 * generated/ is exactly what `npm run gen` produces today, byte for byte: per model of
 * specs/*.hyb, the expanded JSON (`<model>.json`) and the build (`<model>/manifest.json`, one
 * WGSL file per kernel under `<model>/prefill/` and `<model>/decode/`, and the typed bindings
 * `<model>/index.ts`). Regenerates into a temp dir with the command lines of the `gen` script in
 * package.json (read from it, so the two cannot drift) and compares.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, expect, it } from "vitest";
import { cliEnv } from "./cli/env.js";
import { Diagnostics } from "../compiler/diag/diagnostic.ts";
import { SourceFile } from "../compiler/diag/source.ts";
import { parse } from "../compiler/syntax/index.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const GENERATED = join(ROOT, "generated");
const STALE = "generated/ is stale: run `npm run gen` and commit the result";

const tmp = mkdtempSync(join(tmpdir(), "hybridc-gen-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const jsonFiles = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".json")).sort() : []);

/** Every file under `dir/sub`, as paths relative to dir, sorted. */
function filesUnder(dir: string, sub: string): string[] {
  const at = join(dir, sub);
  if (!existsSync(at)) return [];
  if (!statSync(at).isDirectory()) return [sub];
  return readdirSync(at).sort().flatMap((e) => filesUnder(dir, join(sub, e)));
}

it("generated/ matches what `npm run gen` produces from specs/", () => {
  const specs = readdirSync(join(ROOT, "specs")).filter((f) => f.endsWith(".hyb")).sort().map((f) => join("specs", f));
  // The `gen` script's hybridc command lines, into a fresh directory.
  const gen = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts["gen"]!;
  const PREFIX = "node bin/hybridc.js ";
  const commands = gen.split("&&").map((c) => c.trim()).filter((c) => c.startsWith(PREFIX));
  expect(commands.map((c) => c.split(" ")[2])).toEqual(["build", "expand"]);
  const argsOf = (c: string) => c.slice(PREFIX.length).split(/\s+/).flatMap((a) => (a === "specs/*.hyb" ? specs : a === "generated" ? [tmp] : [a]));
  expect(commands.every((c) => argsOf(c).includes(tmp))).toBe(true);
  for (const args of commands.map(argsOf)) {
    const r = spawnSync(process.execPath, ["bin/hybridc.js", ...args], { cwd: ROOT, env: cliEnv(), encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  }

  // One file per model declared in the specs (counted from the syntax alone).
  const modelNames = specs.flatMap((path) => {
    const diags = new Diagnostics(new SourceFile(path, readFileSync(join(ROOT, path), "utf8")));
    return parse(diags).models.map((m) => `${m.name.name}.json`);
  });
  const fresh = jsonFiles(tmp);
  expect(fresh).toEqual(modelNames.sort());

  expect(jsonFiles(GENERATED), STALE).toEqual(fresh);
  for (const f of fresh) {
    expect(readFileSync(join(GENERATED, f), "utf8"), `${STALE} (${f} differs)`).toBe(readFileSync(join(tmp, f), "utf8"));
  }

  // The build: a directory per model, nothing else.
  const built = readdirSync(tmp).filter((f) => !f.endsWith(".json")).sort();
  expect(built).toEqual(fresh.map((f) => f.slice(0, -".json".length)));
  expect(readdirSync(GENERATED).filter((f) => !f.endsWith(".json")).sort(), STALE).toEqual(built);
  for (const model of built) {
    const files = filesUnder(tmp, model);
    expect(files).toContain(join(model, "manifest.json"));
    expect(files).toContain(join(model, "index.ts"));
    expect(filesUnder(GENERATED, model), `${STALE} (${model}/ has other files)`).toEqual(files);
    for (const f of files) expect(readFileSync(join(GENERATED, f), "utf8"), `${STALE} (${f} differs)`).toBe(readFileSync(join(tmp, f), "utf8"));
  }
}, 600_000);
