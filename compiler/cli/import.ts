/**
 * `hybridc import CONFIG [-o FILE] [--force] [--name NAME] [--context N]`: a Hugging Face
 * `config.json` (or a checkpoint folder holding one) to a formatted .hyb spec (compiler/import).
 * Prints the spec, or writes it to FILE; an existing FILE is replaced only with --force.
 * Exit codes: 0 written, 1 the config cannot be imported (one line: the feature and the config
 * key), 2 usage errors and files that cannot be read or written.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { ImportError, importConfig, IMPORT_FAMILIES, identifier } from "../import/index.ts";
import { EXIT, HELP, UsageError, err, fsReason, isErrno, out, writeFileOrFail, type Command, type ExitCode, type Invocation } from "./shared.ts";

export const importCommand: Command = {
  help: `Usage: hybridc import CONFIG [-o FILE] [--force] [--name NAME] [--context N]

Writes the .hyb spec of a Hugging Face model from its config.json (CONFIG may also be the
checkpoint folder holding it): the weight naming scheme, every size, the layer list, norms and
their eps, RoPE, tied embeddings. Model types: ${IMPORT_FAMILIES.join(", ")}. What the .hyb language
cannot express (mixture-of-experts layers, Falcon-H1's parallel attention and Mamba-2, Zamba2's
shared transformer blocks, ...) is an error naming the feature and the config key; no spec is
written then.

Options:
-o, --out FILE         write the spec to FILE instead of printing it
--force                replace FILE when it exists
--name NAME            the model's name in the spec (default: the config's _name_or_path,
                       else the folder's name)
--context N            the KV cache's rows for models with attention (default:
                       max_position_embeddings, at most 2048)
-h, --help             show this help

Exit status: 0 ok, 1 the config cannot be imported, 2 usage error or a file that cannot be
read or written.`,
  options: { out: { type: "string", short: "o" }, force: { type: "boolean" }, name: { type: "string" }, context: { type: "string" }, help: HELP },
  arity: [1, 1],
  run: runImport,
};

/** CONFIG, or CONFIG/config.json when CONFIG is a folder. */
export function configPath(path: string): string {
  try {
    return statSync(path).isDirectory() ? join(path, "config.json") : path;
  } catch {
    return path;
  }
}

/** The model's default name: the folder's (`mamba-130m-hf/config.json` -> `mamba_130m_hf`). */
export function folderName(config: string): string | undefined {
  const dir = basename(dirname(config) === "." ? process.cwd() : dirname(config));
  return dir === "" ? undefined : identifier(dir);
}

function runImport(inv: Invocation): ExitCode {
  const file = configPath(inv.files[0]!);
  const target = typeof inv.values["out"] === "string" ? inv.values["out"] : undefined;
  const name = typeof inv.values["name"] === "string" ? inv.values["name"] : undefined;
  if (inv.values["force"] && target === undefined) throw new UsageError("--force only applies to -o FILE", "import");
  if (name !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new UsageError(`--name must be an identifier ([A-Za-z_][A-Za-z0-9_]*), got '${name}'`, "import");
  const rawContext = inv.values["context"];
  const context = typeof rawContext === "string" ? Number(rawContext) : undefined;
  if (context !== undefined && !(/^\d+$/.test(String(rawContext)) && Number.isSafeInteger(context) && context >= 1)) {
    throw new UsageError(`--context must be an integer >= 1, got '${String(rawContext)}'`, "import");
  }
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    if (!isErrno(e)) throw e;
    err(`hybridc: cannot read ${file}: ${fsReason(e)}\n`);
    return EXIT.usage;
  }
  let spec: string;
  try {
    const folder = folderName(file);
    spec = importConfig(text, {
      source: `${basename(resolve(dirname(file)))}/${basename(file)}`,
      ...(name !== undefined ? { name } : {}),
      ...(folder !== undefined ? { defaultName: folder } : {}),
      ...(context !== undefined ? { context } : {}),
    }).text;
  } catch (e) {
    if (!(e instanceof ImportError)) throw e;
    err(`hybridc: cannot import ${file}: ${e.message}\n`);
    return EXIT.errors;
  }
  if (target === undefined) {
    out(spec);
    return EXIT.ok;
  }
  if (existsSync(target) && !inv.values["force"]) {
    if (statSync(target).isDirectory()) throw new UsageError(`-o ${target}: is a directory; give the spec file's path`, "import");
    throw new UsageError(`refusing to replace ${target}: it exists; use --force to replace it, or choose another file`, "import");
  }
  writeFileOrFail(target, spec);
  out(`${target}\n`);
  return EXIT.ok;
}
