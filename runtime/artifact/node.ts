/**
 * Node-only: a built model from the file system. `readArtifact(path)` takes the directory that
 * `hybridc build -o DIR` wrote for one model (`DIR/<model>`) or its manifest.json, reads the
 * manifest and every .wgsl file it names, and validates the whole (parse.ts): a missing file, a
 * corrupt manifest or another artifact version is an ArtifactError naming the path.
 */
import { readFile, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { MANIFEST, readArtifactFiles } from "./files.ts";
import { ArtifactError } from "./parse.ts";
import type { ModelArtifact } from "./types.ts";

function reason(e: unknown): string {
  const code = typeof e === "object" && e !== null && "code" in e ? String((e as { code: unknown }).code) : "";
  if (code === "ENOENT") return "no such file or directory";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  if (code === "EISDIR") return "is a directory";
  return e instanceof Error ? e.message : String(e);
}

export async function readArtifact(path: string): Promise<ModelArtifact> {
  let dir = path;
  try {
    if (!(await stat(path)).isDirectory()) dir = dirname(path);
    else if (basename(path) === MANIFEST) dir = dirname(path);
  } catch (e) {
    throw new ArtifactError(`${path}: ${reason(e)}`);
  }
  const manifest = join(dir, MANIFEST);
  const text = await readFile(manifest, "utf8").catch((e: unknown) => {
    throw new ArtifactError(`${manifest}: ${reason(e)}${reason(e) === "no such file or directory" ? ` (give the directory \`hybridc build -o DIR\` wrote for one model: DIR/<model>)` : ""}`);
  });
  return readArtifactFiles(text, (file) => readFile(join(dir, file), "utf8"), manifest);
}
