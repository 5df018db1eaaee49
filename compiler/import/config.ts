/**
 * Reading a Hugging Face `config.json`: the text as Python's json module writes it (it writes
 * `Infinity`, `-Infinity` and `NaN` bare, as in `"time_step_limit": [0.0, Infinity]`), and typed
 * accessors that apply transformers' default for an absent key and name the key when a value is
 * of the wrong kind. Every refusal is an ImportError: one line naming the feature and the key.
 */

/** Why a config cannot be imported: one line that names the config key (and the feature). */
export class ImportError extends Error {
  override name = "ImportError";
  constructor(
    message: string,
    /** The config key the refusal is about, when there is one. */
    readonly key?: string,
  ) {
    super(message);
  }
}

const BARE = { Infinity: Infinity, "-Infinity": -Infinity, NaN: NaN } as const;
const SENTINEL = "\u0000hybridc:";

/**
 * JSON.parse, also accepting the bare `Infinity`, `-Infinity` and `NaN` Python writes. They are
 * swapped for sentinel strings outside string literals, then restored by the reviver.
 */
export function parseConfigText(text: string): unknown {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      // Copy a string literal as it is, escapes included.
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    const word = (["-Infinity", "Infinity", "NaN"] as const).find((w) => text.startsWith(w, i));
    if (word !== undefined) {
      out += JSON.stringify(SENTINEL + word);
      i += word.length;
      continue;
    }
    out += c;
    i++;
  }
  try {
    return JSON.parse(out, (_k, v: unknown) => (typeof v === "string" && v.startsWith(SENTINEL) ? BARE[v.slice(SENTINEL.length) as keyof typeof BARE] : v));
  } catch (e) {
    throw new ImportError(`not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
}

type Json = unknown;

/** Typed reads of one config object; `absent` values are transformers' defaults for the family. */
export class Config {
  constructor(
    readonly raw: Readonly<Record<string, Json>>,
    /** The model_type, for messages. */
    readonly family: string,
  ) {}

  has(key: string): boolean {
    return Object.hasOwn(this.raw, key) && this.raw[key] !== null && this.raw[key] !== undefined;
  }

  /** The value, or `fallback` when the key is absent or null (as transformers treats None). */
  private get(key: string): Json {
    return this.has(key) ? this.raw[key] : undefined;
  }

  private bad(key: string, what: string, v: Json): never {
    throw new ImportError(`\`${key}\` must be ${what}, got ${JSON.stringify(v) ?? String(v)}`, key);
  }

  /** A positive integer (a size or a count). */
  size(key: string, fallback: number | undefined): number {
    const v = this.get(key) ?? fallback;
    if (v === undefined) throw new ImportError(`\`${key}\` is missing, and ${this.family} has no default for it`, key);
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) this.bad(key, "a positive integer", v);
    return v;
  }

  /** A non-negative integer (an index or an offset). */
  index(key: string, fallback: number): number {
    const v = this.get(key) ?? fallback;
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) this.bad(key, "an integer >= 0", v);
    return v;
  }

  /** A finite number. */
  number(key: string, fallback: number): number {
    const v = this.get(key) ?? fallback;
    if (typeof v !== "number" || !Number.isFinite(v)) this.bad(key, "a finite number", v);
    return v;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.get(key) ?? fallback;
    if (typeof v !== "boolean") this.bad(key, "true or false", v);
    return v;
  }

  string(key: string, fallback: string): string {
    const v = this.get(key) ?? fallback;
    if (typeof v !== "string") this.bad(key, "a string", v);
    return v;
  }

  /** A size, or the string `auto` (then `auto()`). */
  sizeOrAuto(key: string, fallback: number | "auto", auto: () => number): number {
    const v = this.get(key) ?? fallback;
    if (v === "auto") return auto();
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) this.bad(key, 'a positive integer or "auto"', v);
    return v;
  }

  /** A list of strings, or undefined when absent. */
  strings(key: string): string[] | undefined {
    const v = this.get(key);
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) this.bad(key, "a list of strings", v);
    return v as string[];
  }

  /** A list of integers >= 0, or undefined when absent. */
  indices(key: string): number[] | undefined {
    const v = this.get(key);
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.some((x) => typeof x !== "number" || !Number.isSafeInteger(x) || x < 0)) this.bad(key, "a list of layer indices", v);
    return v as number[];
  }

  /** A pair of numbers (Infinity allowed), or undefined when absent. */
  range(key: string): readonly [number, number] | undefined {
    const v = this.get(key);
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.length !== 2 || v.some((x) => typeof x !== "number" || Number.isNaN(x))) this.bad(key, "a pair of numbers", v);
    return [v[0] as number, v[1] as number];
  }

  /** An object, or undefined when absent. */
  object(key: string): Readonly<Record<string, Json>> | undefined {
    const v = this.get(key);
    if (v === undefined) return undefined;
    if (typeof v !== "object" || Array.isArray(v)) this.bad(key, "an object", v);
    return v as Record<string, Json>;
  }

  /** Refuse a feature the .hyb language cannot express: `feature` in words, the key and its value. */
  refuse(key: string, feature: string): never {
    const v = this.raw[key];
    const shown = v === undefined ? "" : ` = ${JSON.stringify(v) ?? String(v)}`;
    throw new ImportError(`${feature} (config key \`${key}\`${shown})`, key);
  }
}

/** `expand` as the .hyb language has it: an integer with expand * d_model = d_inner; else refused. */
export function integerExpand(dInner: number, dModel: number, keys: readonly string[]): number {
  if (dInner % dModel !== 0) {
    throw new ImportError(
      `the SSM's inner width ${keys.map((k) => `\`${k}\``).join(" * ")} = ${dInner} is not a whole multiple of \`hidden_size\` = ${dModel}: the .hyb language sizes it as expand * d_model with an integer expand`,
      keys[0],
    );
  }
  return dInner / dModel;
}
