/**
 * `importConfig`: a Hugging Face `config.json` (its text, or the parsed object) to a formatted
 * `.hyb` spec for the families of families.ts, or an ImportError whose one-line message names
 * what the .hyb language cannot express and the config key. Pure: no file system (the CLI and
 * import/node.ts read the files). The spec is compiled before it is returned (spec.ts).
 */
import type { ResolvedModel } from "../check/model.ts";
import { VERSION } from "../version.ts";
import { Config, ImportError, parseConfigText } from "./config.ts";
import { FAMILIES } from "./families.ts";
import { layerSummary, specText } from "./spec.ts";

export { ImportError } from "./config.ts";

/** The model_type values importConfig knows (some of them refused: falcon_h1, zamba2 hybrids). */
export const IMPORT_FAMILIES = Object.keys(FAMILIES);

export interface ImportOptions {
  /** The model's name in the spec; made an identifier. */
  readonly name?: string;
  /** The name when neither `name` nor the config's `_name_or_path` gives one (default: the model_type). */
  readonly defaultName?: string;
  /** What the header comment says the spec came from (default `config.json`). */
  readonly source?: string;
  /** `context` for models with attention (default: max_position_embeddings, at most 2048). */
  readonly context?: number;
}

export interface ImportResult {
  /** The formatted .hyb text. */
  readonly text: string;
  /** The config's model_type. */
  readonly family: string;
  /** The spec's model, as the checker resolved it. */
  readonly model: ResolvedModel;
}

const DEFAULT_CONTEXT = 2048;

/** A name usable as a .hyb identifier: `state-spaces/mamba-130m-hf` -> `mamba_130m_hf`. */
export function identifier(name: string): string {
  const base = name.split(/[\\/]/).filter(Boolean).pop() ?? "";
  const id = base.replace(/[^A-Za-z0-9_]+/g, "_").replace(/^_+|_+$/g, "");
  if (id === "") return "imported";
  if (KEYWORDS.has(id)) return `${id}_`;
  return /^[0-9]/.test(id) ? `m_${id}` : id;
}

/** The .hyb words that cannot name a model. */
const KEYWORDS = new Set(["model", "none", "true", "false"]);

/**
 * transformers builds the embedding with vocab_size rows as the config says; only mamba_ssm pads
 * it up to pad_vocab_size_multiple (its -hf configs carry the padded size already).
 */
function vocabNote(obj: Record<string, unknown>, vocab: number): string[] {
  const m = obj["pad_vocab_size_multiple"];
  if (typeof m !== "number" || !Number.isSafeInteger(m) || m < 1) return [];
  return [`vocab = vocab_size as transformers builds the embedding (it does not pad to pad_vocab_size_multiple = ${m}${vocab % m === 0 ? "; the size is a multiple of it already" : ", which mamba_ssm would"})`];
}

/** The config (text or parsed) as a spec; an ImportError when it cannot be one. */
export function importConfig(config: string | unknown, options: ImportOptions = {}): ImportResult {
  const raw = typeof config === "string" ? parseConfigText(config) : config;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new ImportError("a config.json holds one JSON object");
  const obj = raw as Record<string, unknown>;
  const type = obj["model_type"];
  if (type === undefined) {
    const hint = "d_model" in obj && "n_layer" in obj ? " (this looks like a mamba_ssm config; use the Hugging Face -hf checkpoint of the model)" : "";
    throw new ImportError(`no \`model_type\`: not a Hugging Face transformers config${hint}`, "model_type");
  }
  if (typeof type !== "string" || !Object.hasOwn(FAMILIES, type)) {
    throw new ImportError(`model_type ${JSON.stringify(type)} is not one hybridc imports (it imports ${IMPORT_FAMILIES.join(", ")})`, "model_type");
  }
  const cfg = new Config(obj, type);
  const plan = FAMILIES[type]!(cfg);
  const source = options.source ?? "config.json";
  const named = options.name ?? (typeof obj["_name_or_path"] === "string" && obj["_name_or_path"] !== "" ? obj["_name_or_path"] : (options.defaultName ?? type));
  const hasAttention = plan.blocks.some((b) => b.kind === "attention");
  const context = options.context ?? (hasAttention ? Math.min(plan.maxPositions ?? DEFAULT_CONTEXT, DEFAULT_CONTEXT) : undefined);
  const name = identifier(named);
  const { text, model } = specText(
    {
      name,
      header: [
        `Imported by hybridc ${VERSION} from ${source} (model_type "${type}", ${plan.architecture}).`,
        ...layerSummary(plan.layers),
        ...(hasAttention ? [`context: the KV cache's rows (max_position_embeddings = ${plan.maxPositions ?? "not set"}); raise it to run longer`] : []),
      ],
      vocab: plan.vocab,
      dModel: plan.dModel,
      eps: plan.eps,
      tied: plan.tied,
      weights: plan.weights,
      ...(context !== undefined && hasAttention ? { context } : {}),
      blocks: plan.blocks,
      layers: plan.layers,
      notes: [...vocabNote(obj, plan.vocab), ...plan.notes],
    },
    `${name}.hyb`,
  );
  return { text, family: type, model };
}
