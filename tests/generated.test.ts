/**
 * generated/ is exactly what `npm run gen` produces today: one JSON per model of specs/*.hyb,
 * byte for byte. Regenerates into a temp dir with the same command line and compares.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, expect, it } from "vitest";
import { Diagnostics } from "../compiler/diag/diagnostic.ts";
import { SourceFile } from "../compiler/diag/source.ts";
import { parse } from "../compiler/syntax/index.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const GENERATED = join(ROOT, "generated");
const STALE = "generated/ is stale: run `npm run gen` and commit the result";

const tmp = mkdtempSync(join(tmpdir(), "hybridc-gen-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const jsonFiles = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".json")).sort() : []);

it("generated/ matches what `npm run gen` produces from specs/", () => {
  const specs = readdirSync(join(ROOT, "specs")).filter((f) => f.endsWith(".hyb")).sort().map((f) => join("specs", f));
  // The same command line as the `gen` script in package.json, into a fresh directory.
  const r = spawnSync(process.execPath, ["bin/hybridc.js", "expand", ...specs, "--json", "-o", tmp], { cwd: ROOT, encoding: "utf8" });
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);

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
});
