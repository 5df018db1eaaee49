/**
 * Node only (`hybridc/hf`): a Hugging Face checkpoint folder as it comes from the Hub
 * (`config.json`, `model.safetensors` or a sharded `model.safetensors.index.json`, and
 * optionally `tokenizer.json` / `tokenizer_config.json`) to a spec, its checkpoint and its
 * tokenizer; `loadHfModel` also builds the spec for the device and loads it.
 *
 *   const { model, tokenizer } = await loadHfModel(await createNodeDevice(), "mamba-130m-hf");
 *   for await (const { text } of model.generate("The capital of France", { tokenizer })) ...
 *
 * Checkpoints of one family name a few tensors in more than one way (Nemotron-H: `backbone.` on
 * the Hub, `model.` in transformers' own saves; mamba_ssm: `backbone.embedding`): the checkpoint
 * is read under the spec's names where only the prefix differs.
 */
import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { buildModel } from "../index.ts";
import { compile } from "../compile.ts";
import { problemDiagnostics } from "../build.ts";
import { renderDiagnostics } from "../diag/render.ts";
import type { ResolvedModel } from "../check/model.ts";
import type { SourceFile } from "../diag/source.ts";
import { weightArtifacts } from "../codegen/artifact.ts";
import { GpuRuntime } from "../../runtime/device.ts";
import { loadModel, type HybridModel, type LoadOptions } from "../../runtime/model.ts";
import { checkCheckpoint, WeightError, type Checkpoint } from "../../runtime/weights/index.ts";
import { openCheckpoint } from "../../runtime/weights/node.ts";
import { loadTokenizer, TokenizerError, type HfTokenizer } from "../../runtime/tokenizer.ts";
import { parseConfigText } from "./config.ts";
import { identifier, importConfig, ImportError, type ImportOptions } from "./index.ts";

export { ImportError, importConfig, type ImportOptions, type ImportResult } from "./index.ts";
export { TokenizerError } from "../../runtime/tokenizer.ts";

export interface HfFolderOptions extends Pick<ImportOptions, "name" | "context"> {
  /** A tokenizer.json to use instead of the folder's own. */
  readonly tokenizer?: string;
}

export interface HfFolder {
  readonly dir: string;
  /** The config's model_type. */
  readonly family: string;
  /** The imported .hyb text (what `hybridc import` prints). */
  readonly spec: string;
  readonly model: ResolvedModel;
  readonly source: SourceFile;
  /** The folder's tensors, under the spec's names; checked against it. Close it when done. */
  readonly checkpoint: Checkpoint;
  /** The folder's tokenizer.json (or options.tokenizer), when there is one. */
  readonly tokenizer?: HfTokenizer;
  /** config.json's eos_token_id(s): generation may stop at them. */
  readonly eosTokenIds: readonly number[];
}

/** Is `dir` a checkpoint folder (it holds a config.json)? */
export function isHfFolder(dir: string): boolean {
  return existsSync(join(dir, "config.json"));
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new ImportError(`cannot read ${what} ${path}: ${code === "ENOENT" ? "no such file" : e instanceof Error ? e.message : String(e)}`);
  }
}

/** The tokenizer at `path` (and the tokenizer_config.json beside it, if any); a TokenizerError names the file. */
export function readTokenizer(path: string): HfTokenizer {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new TokenizerError(`cannot read ${path}: ${code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : e instanceof Error ? e.message : String(e)}`);
  }
  const configPath = join(path, "..", "tokenizer_config.json");
  let config: object | undefined;
  if (existsSync(configPath)) {
    try {
      config = JSON.parse(readFileSync(configPath, "utf8")) as object;
    } catch {
      config = undefined;
    }
  }
  try {
    return loadTokenizer(text, config !== undefined ? { config } : {});
  } catch (e) {
    throw new TokenizerError(`${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Other spellings of a tensor name that checkpoints of these families use. */
function aliases(name: string): string[] {
  const out: string[] = [];
  if (name.startsWith("backbone.")) out.push(`model.${name.slice("backbone.".length)}`);
  if (name === "backbone.embeddings.weight") out.push("backbone.embedding.weight", "model.embedding.weight");
  return out;
}

/** `ckpt` with each tensor the spec names found under an alias also visible under the spec's name. */
export function withSpecNames(ckpt: Checkpoint, names: readonly string[]): Checkpoint {
  const rename = new Map<string, string>();
  for (const n of names) {
    if (ckpt.tensors.has(n)) continue;
    const alias = aliases(n).find((a) => ckpt.tensors.has(a));
    if (alias !== undefined) rename.set(n, alias);
  }
  if (rename.size === 0) return ckpt;
  const taken = new Set(rename.values());
  const tensors = new Map([...ckpt.tensors].filter(([n]) => !taken.has(n)));
  for (const [n, a] of rename) tensors.set(n, ckpt.tensors.get(a)!);
  return { ...ckpt, tensors, read: (name) => ckpt.read(rename.get(name) ?? name), close: () => ckpt.close() };
}

/**
 * The folder's checkpoint under the spec's names. A folder with only PyTorch pickles
 * (pytorch_model.bin) is a WeightError that says so: hybridc reads safetensors.
 */
export async function openFolderCheckpoint(dir: string, names: readonly string[]): Promise<Checkpoint> {
  const safetensors = ["model.safetensors", "model.safetensors.index.json"].some((f) => existsSync(join(dir, f)));
  const pickle = ["pytorch_model.bin", "pytorch_model.bin.index.json"].find((f) => existsSync(join(dir, f)));
  if (!safetensors && pickle !== undefined) {
    throw new WeightError([{ file: join(dir, pickle), message: "hybridc reads safetensors, not PyTorch pickles: use the model's safetensors release, or convert it (safetensors' convert script)" }]);
  }
  return withSpecNames(await openCheckpoint(dir), names);
}

/** config.json's eos_token_id, one or a list (none when absent or not ids). */
export function eosTokenIds(configText: string): number[] {
  let v: unknown;
  try {
    v = (parseConfigText(configText) as Record<string, unknown> | null)?.["eos_token_id"];
  } catch {
    return [];
  }
  return (Array.isArray(v) ? v : [v]).filter((x): x is number => typeof x === "number" && Number.isSafeInteger(x) && x >= 0);
}

/**
 * Import the folder's config, open its checkpoint under the spec's names and check it, and read
 * its tokenizer. ImportError (the config), WeightError (the tensors), TokenizerError (tokenizer.json).
 */
export async function openHfFolder(dir: string, options: HfFolderOptions = {}): Promise<HfFolder> {
  const configFile = join(dir, "config.json");
  const configText = readText(configFile, "the config");
  const imported = importConfig(configText, {
    source: `${basename(dir)}/config.json`,
    defaultName: identifier(basename(dir)),
    ...(options.name !== undefined ? { name: options.name } : {}),
    ...(options.context !== undefined ? { context: options.context } : {}),
  });
  const compiled = compile(imported.text, { path: `${imported.model.name}.hyb` });
  const model = compiled.models[0]!;
  const tokenizerPath = options.tokenizer ?? (existsSync(join(dir, "tokenizer.json")) ? join(dir, "tokenizer.json") : undefined);
  const tokenizer = tokenizerPath !== undefined ? readTokenizer(tokenizerPath) : undefined;
  if (tokenizer !== undefined && tokenizer.vocabSize > model.vocab) {
    throw new TokenizerError(`${tokenizerPath}: its ids go up to ${tokenizer.vocabSize - 1}, past the model's vocab_size of ${model.vocab}`);
  }
  const checkpoint = await openFolderCheckpoint(dir, model.weights.map((w) => w.name));
  const { errors } = checkCheckpoint({ model: model.name, weights: weightArtifacts(model), weightsScheme: model.weightsScheme, tied: model.tied }, checkpoint);
  if (errors.length > 0) {
    await checkpoint.close();
    throw new WeightError(errors);
  }
  return { dir, family: imported.family, spec: imported.text, model, source: compiled.source, checkpoint, ...(tokenizer ? { tokenizer } : {}), eosTokenIds: eosTokenIds(configText) };
}

export interface HfModel {
  readonly model: HybridModel;
  readonly tokenizer?: HfTokenizer;
  readonly spec: string;
  readonly eosTokenIds: readonly number[];
}

/** openHfFolder, then the spec built for this device and loaded with the folder's weights. */
export async function loadHfModel(device: GPUDevice | GpuRuntime, dir: string, options: HfFolderOptions & LoadOptions & { readonly fuse?: boolean } = {}): Promise<HfModel> {
  const folder = await openHfFolder(dir, options);
  try {
    const limits = device instanceof GpuRuntime ? device.device.limits : device.limits;
    const built = buildModel(folder.model, folder.source, { limits, fuse: options.fuse ?? true });
    if (!built.ok) throw new ImportError(renderDiagnostics(problemDiagnostics(folder.source, built.problems), { color: false }));
    const model = await loadModel(device, built.artifact, folder.checkpoint, options);
    return { model, spec: folder.spec, eosTokenIds: folder.eosTokenIds, ...(folder.tokenizer ? { tokenizer: folder.tokenizer } : {}) };
  } finally {
    await folder.checkpoint.close();
  }
}
