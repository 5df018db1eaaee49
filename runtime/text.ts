/**
 * Text <-> token ids, as the runtime sees it: a `TextTokenizer` is anything with `encode` and
 * `decode` (`hybridc/tokenizer` wraps a Hugging Face tokenizer.json; `byteTokenizer` is UTF-8
 * bytes for byte-level models, vocab = 256). No tokenizer library is imported here, so the
 * runtime bundle stays small; an app that needs tokenizer.json imports `hybridc/tokenizer`.
 *
 * `TextStream` decodes generated ids as they come without ever printing a broken character:
 * a multi-byte UTF-8 character split over tokens (byte fallback, byte-level BPE) decodes to a
 * trailing U+FFFD until its last byte arrives, and a token whose text depends on its neighbours
 * (a SentencePiece space, a merged piece) is decoded in a window with the tokens before it.
 */

export interface TextTokenizer {
  /** Text to token ids. */
  encode(text: string): number[];
  /** Token ids to text. */
  decode(ids: readonly number[]): string;
}

const REPLACEMENT = "\uFFFD";

/** UTF-8 bytes as tokens: the tokenizer of byte-level models (vocab = 256). */
export const byteTokenizer: TextTokenizer = {
  encode: (text) => [...new TextEncoder().encode(text)],
  decode: (ids) => new TextDecoder("utf-8", { fatal: false }).decode(Uint8Array.from(ids, (id) => (id >= 0 && id < 256 ? id : 0x3f))),
};

/** Tokens of context kept before the window that is re-decoded (a SentencePiece space needs one). */
const CONTEXT_TOKENS = 5;

/**
 * Incremental decoding: `push(id)` returns the text that id completes ("" while a character is
 * still incomplete), `flush()` what is left at the end. The concatenation of every returned
 * string equals the decoding of all the pushed ids (after `context`, the prompt's ids, which
 * are decoded only to get the first generated token's spacing right).
 *
 * Each push decodes two short windows that start at the same token: the text already printed
 * and the text with the new tokens; the difference is printed once it does not end in U+FFFD.
 */
export class TextStream {
  /** The window: printed tokens (context for the next ones), then `ids[read...]`, not yet printed. */
  private readonly ids: number[];
  private read: number;

  constructor(
    private readonly tokenizer: Pick<TextTokenizer, "decode">,
    context: readonly number[] = [],
  ) {
    this.ids = context.slice(-CONTEXT_TOKENS);
    this.read = this.ids.length;
  }

  /** The text `id` completes; "" while it ends inside a character. */
  push(id: number): string {
    this.ids.push(id);
    return this.advance(false);
  }

  /** The text still held back (an incomplete character at the end is printed as U+FFFD). */
  flush(): string {
    return this.advance(true);
  }

  private advance(final: boolean): string {
    if (this.read === this.ids.length) return "";
    const printed = this.tokenizer.decode(this.ids.slice(0, this.read));
    const all = this.tokenizer.decode(this.ids);
    if (!final && (all.length <= printed.length || all.endsWith(REPLACEMENT))) return "";
    // Decoders are prefix-stable over a window that starts at the same token; where one is not
    // (it rewrote text already printed), print from where the two differ rather than lose text.
    let common = 0;
    while (common < printed.length && printed[common] === all[common]) common++;
    // Keep the last printed tokens as the next window's context.
    this.ids.splice(0, Math.max(0, this.ids.length - CONTEXT_TOKENS));
    this.read = this.ids.length;
    return all.slice(common);
  }
}
