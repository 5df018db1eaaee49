/**
 * Node-only: open a checkpoint from the file system. `openCheckpoint(path)` takes a
 * `.safetensors` file, a `model.safetensors.index.json` (its shards are next to it), or a
 * directory holding either (the index wins). Files are read through FileHandles with ranged
 * reads and stay open until `close()`.
 */
import { open, readFile, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { openSafetensors, openSharded, type Checkpoint } from "./checkpoint.ts";
import { fail } from "./errors.ts";
import type { ByteSource } from "./source.ts";

export const INDEX_FILE = "model.safetensors.index.json";
export const SINGLE_FILE = "model.safetensors";

function code(e: unknown): string | undefined {
  return typeof e === "object" && e !== null && "code" in e ? String((e as { code: unknown }).code) : undefined;
}

function fsMessage(e: unknown): string {
  switch (code(e)) {
    case "ENOENT":
      return "no such file or directory";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EISDIR":
      return "is a directory";
    default:
      return e instanceof Error ? e.message : String(e);
  }
}

/**
 * A ByteSource over a file, read with positioned reads; `label` names it in errors. A directory
 * (which Linux opens for reading, failing only at the first read) or a failed read is a WeightError.
 */
export async function fileSource(path: string, label = path): Promise<ByteSource> {
  const fh = await open(path, "r").catch((e: unknown) => fail(label, fsMessage(e)));
  const st = await fh.stat();
  if (st.isDirectory()) {
    await fh.close();
    return fail(label, "is a directory, not a safetensors file");
  }
  const size = st.size;
  return {
    size,
    read: async (offset, length) => {
      const buf = new Uint8Array(Math.max(0, Math.min(length, size - offset)));
      let got = 0;
      while (got < buf.length) {
        const { bytesRead } = await fh.read(buf, got, buf.length - got, offset + got).catch((e: unknown) => fail(label, `cannot read: ${fsMessage(e)}`));
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return got === buf.length ? buf : buf.subarray(0, got);
    },
    close: () => fh.close(),
  };
}

async function kind(path: string): Promise<"file" | "dir" | undefined> {
  try {
    return (await stat(path)).isDirectory() ? "dir" : "file";
  } catch (e) {
    if (code(e) === "ENOENT") return undefined;
    return fail(path, fsMessage(e));
  }
}

async function openIndex(path: string): Promise<Checkpoint> {
  const text = await readFile(path, "utf8").catch((e: unknown) => fail(path, fsMessage(e)));
  const dir = dirname(path);
  return openSharded(text, path, (shard) => fileSource(join(dir, shard)), (shard) => join(dir, shard));
}

/** Open the checkpoint at `path` (see the header); a WeightError names the path on failure. */
export async function openCheckpoint(path: string): Promise<Checkpoint> {
  const k = await kind(path);
  if (k === undefined) return fail(path, "no such file or directory");
  if (k === "dir") {
    if ((await kind(join(path, INDEX_FILE))) === "file") return openIndex(join(path, INDEX_FILE));
    if ((await kind(join(path, SINGLE_FILE))) === "file") return openSafetensors(await fileSource(join(path, SINGLE_FILE)), join(path, SINGLE_FILE));
    return fail(path, `the directory holds neither ${INDEX_FILE} nor ${SINGLE_FILE}`);
  }
  if (basename(path).endsWith(".json")) return openIndex(path);
  return openSafetensors(await fileSource(path), path);
}
