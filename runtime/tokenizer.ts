/**
 * `hybridc/tokenizer`: a Hugging Face `tokenizer.json` (BPE, WordPiece, Unigram; byte-level and
 * byte-fallback models) as a TextTokenizer for `generate(prompt, { tokenizer })`, through
 * `@huggingface/tokenizers` (pure JS, no dependencies, runs in browsers). Its own entry, so the
 * runtime bundle carries the library only for apps that import it.
 *
 *   const tokenizer = loadTokenizer(await (await fetch(".../tokenizer.json")).text());
 *   for await (const { text } of model.generate("Hello", { tokenizer })) out.write(text);
 */
import { Tokenizer } from "@huggingface/tokenizers";
import type { TextTokenizer } from "./text.ts";

export { TextStream, byteTokenizer, type TextTokenizer } from "./text.ts";

/** A tokenizer.json that cannot be loaded, or text it cannot encode. */
export class TokenizerError extends Error {
  override name = "TokenizerError";
}

export interface HfTokenizer extends TextTokenizer {
  /** The largest token id the tokenizer can produce, plus one (added tokens included). */
  readonly vocabSize: number;
  /** The token's string (`Ġthe`, `<0xE2>`), or undefined for an id it does not have. */
  idToToken(id: number): string | undefined;
}

export interface TokenizerOptions {
  /** tokenizer_config.json, when there is one (special tokens, clean-up of spaces). */
  readonly config?: object;
  /** Add the special tokens the post-processor adds (a BOS, for many models); default true. */
  readonly addSpecialTokens?: boolean;
  /** Leave special tokens (`<|endoftext|>`) out of decoded text; default true. */
  readonly skipSpecialTokens?: boolean;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A tokenizer.json, as text or parsed; a TokenizerError when it is not one the library can run. */
export function loadTokenizer(json: string | object, options: TokenizerOptions = {}): HfTokenizer {
  let parsed: unknown;
  try {
    parsed = typeof json === "string" ? JSON.parse(json) : json;
  } catch (e) {
    throw new TokenizerError(`tokenizer.json is not valid JSON: ${message(e)}`);
  }
  if (typeof parsed !== "object" || parsed === null || !("model" in parsed)) throw new TokenizerError("not a tokenizer.json: it has no `model`");
  let tok: Tokenizer;
  try {
    tok = new Tokenizer(parsed, options.config ?? {});
  } catch (e) {
    throw new TokenizerError(`cannot load tokenizer.json: ${message(e)}`);
  }
  const vocab = tok.get_vocab(true);
  let vocabSize = 0;
  for (const id of vocab.values()) vocabSize = Math.max(vocabSize, id + 1);
  const add_special_tokens = options.addSpecialTokens ?? true;
  const skip_special_tokens = options.skipSpecialTokens ?? true;
  return {
    vocabSize,
    encode: (text) => {
      try {
        return tok.encode(text, { add_special_tokens }).ids;
      } catch (e) {
        throw new TokenizerError(`cannot encode the text: ${message(e)}`);
      }
    },
    // The library refuses an empty list; its text is empty.
    decode: (ids) => (ids.length === 0 ? "" : tok.decode([...ids], { skip_special_tokens })),
    idToToken: (id) => tok.id_to_token(id),
  };
}
