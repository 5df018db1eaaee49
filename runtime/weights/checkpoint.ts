/**
 * Checkpoint: the tensors of one model, by name, over one safetensors file or several shards
 * (`model.safetensors.index.json`). Opening reads each file's header once; `read` then fetches
 * one tensor's bytes. Browser-safe: files come in as ByteSources from an `open` callback.
 */
import { fail, WeightError, type WeightProblem } from "./errors.ts";
import { readHeader, readTensor, type SafetensorsHeader } from "./safetensors.ts";
import type { ByteSource } from "./source.ts";

export interface TensorMeta {
  /** The safetensors dtype as stored (`F32`, `BF16`, `I64`, ...). */
  readonly dtype: string;
  readonly shape: readonly number[];
  /** The shard holding it (sharded checkpoints only). */
  readonly file?: string;
}

export interface Checkpoint {
  /** What messages name: the file, the index, or a description (`random(seed=1)`). */
  readonly label: string;
  readonly tensors: ReadonlyMap<string, TensorMeta>;
  /** The metadata of the file (of the first shard for sharded checkpoints). */
  readonly metadata: Readonly<Record<string, string>>;
  /** The tensor as float32, row-major; a WeightError for an unknown name or an unsupported dtype. */
  read(name: string): Promise<Float32Array<ArrayBuffer>>;
  /** Release every file handle; a later read fails. */
  close(): Promise<void>;
}

interface Opened {
  readonly file: string;
  readonly src: ByteSource;
  readonly header: SafetensorsHeader;
}

function fromFiles(label: string, files: readonly Opened[], sharded: boolean): Checkpoint {
  const where = new Map<string, Opened>();
  const tensors = new Map<string, TensorMeta>();
  const problems: WeightProblem[] = [];
  for (const f of files) {
    for (const [name, t] of f.header.tensors) {
      const prev = where.get(name);
      if (prev !== undefined) {
        problems.push({ file: label, tensor: name, message: `in two shards: ${prev.file} and ${f.file}` });
        continue;
      }
      where.set(name, f);
      tensors.set(name, sharded ? { dtype: t.dtype, shape: t.shape, file: f.file } : { dtype: t.dtype, shape: t.shape });
    }
  }
  if (problems.length > 0) throw new WeightError(problems);
  let closed = false;
  return {
    label,
    tensors,
    metadata: files[0]?.header.metadata ?? {},
    read: async (name) => {
      if (closed) return fail(label, "the checkpoint is closed", name);
      const f = where.get(name);
      if (f === undefined) return fail(label, "no such tensor in the checkpoint", name);
      return readTensor(f.src, f.header, name, f.file);
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await Promise.all(files.map((f) => f.src.close?.()));
    },
  };
}

/** A checkpoint over one safetensors file; `file` names it in messages. Closes `src` on failure. */
export async function openSafetensors(src: ByteSource, file: string): Promise<Checkpoint> {
  try {
    return fromFiles(file, [{ file, src, header: await readHeader(src, file) }], false);
  } catch (e) {
    await src.close?.();
    throw e;
  }
}

/**
 * Parse a `model.safetensors.index.json`: its `weight_map` (tensor -> shard file name). Shard
 * names must be plain relative paths (no `..`, not absolute).
 */
export function parseIndex(text: string, file: string): ReadonlyMap<string, string> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return fail(file, `not valid JSON (it begins ${JSON.stringify(text.slice(0, 40))})`);
  }
  const map = typeof json === "object" && json !== null ? (json as Record<string, unknown>)["weight_map"] : undefined;
  if (typeof map !== "object" || map === null || Array.isArray(map)) fail(file, `no "weight_map" object: a sharded checkpoint index maps each tensor name to its shard file`);
  const out = new Map<string, string>();
  const problems: WeightProblem[] = [];
  for (const [name, shard] of Object.entries(map as Record<string, unknown>)) {
    if (typeof shard !== "string" || shard === "") problems.push({ file, tensor: name, message: `the shard must be a file name, found ${JSON.stringify(shard)}` });
    else if (shard.startsWith("/") || /^[A-Za-z]:/.test(shard) || shard.split(/[\\/]/).includes("..")) problems.push({ file, tensor: name, message: `shard "${shard}" is not a path relative to the index` });
    else out.set(name, shard);
  }
  if (problems.length > 0) throw new WeightError(problems);
  if (out.size === 0) fail(file, `"weight_map" is empty`);
  return out;
}

/**
 * A sharded checkpoint: `open(shard)` gives each shard's bytes (called once per shard), and
 * `label(shard)` its name in messages and in TensorMeta.file (default: as the index writes it). Every
 * tensor the index lists must be in its shard; a tensor in two shards is an error. The tensors
 * are those of the shards (as Hugging Face loads them).
 */
export async function openSharded(
  indexText: string,
  indexFile: string,
  open: (shard: string) => Promise<ByteSource>,
  label: (shard: string) => string = (shard) => shard,
): Promise<Checkpoint> {
  const map = parseIndex(indexText, indexFile);
  const shards = [...new Set(map.values())].sort();
  const opened: Opened[] = [];
  const byShard = new Map<string, Opened>();
  try {
    for (const shard of shards) {
      const src = await open(shard);
      const file = label(shard);
      const header = await readHeader(src, file).catch(async (e: unknown) => {
        await src.close?.();
        throw e;
      });
      opened.push({ file, src, header });
      byShard.set(shard, opened[opened.length - 1]!);
    }
    const problems: WeightProblem[] = [];
    for (const [name, shard] of map) {
      if (!byShard.get(shard)!.header.tensors.has(name)) problems.push({ file: indexFile, tensor: name, message: `listed in shard ${shard}, which does not hold it` });
    }
    if (problems.length > 0) throw new WeightError(problems);
    return fromFiles(indexFile, opened, true);
  } catch (e) {
    await Promise.all(opened.map((o) => o.src.close?.()));
    throw e;
  }
}

/** A checkpoint over in-memory arrays (tests, programmatic weights); dtype F32. */
export function memoryCheckpoint(label: string, tensors: ReadonlyMap<string, { readonly shape: readonly number[]; readonly data: Float32Array }>): Checkpoint {
  const meta = new Map<string, TensorMeta>([...tensors].map(([n, t]) => [n, { dtype: "F32", shape: t.shape }]));
  return {
    label,
    tensors: meta,
    metadata: {},
    read: async (name) => {
      const t = tensors.get(name);
      if (t === undefined) return fail(label, "no such tensor in the checkpoint", name);
      return t.data.slice();
    },
    close: async () => {},
  };
}
