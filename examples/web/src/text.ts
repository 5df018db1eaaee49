/**
 * Generated token ids as text, as they stream in. A byte-level model (vocab 256) writes UTF-8
 * bytes: a character split over two tokens appears when its last byte arrives, and invalid bytes
 * become U+FFFD, exactly as a one-shot `TextDecoder` decodes the whole sequence. Other models
 * have a tokenizer the app does not ship, so their ids are shown as `⟨id⟩`.
 */
export class TokenText {
  private readonly decoder = new TextDecoder("utf-8");

  constructor(private readonly vocab: number) {}

  /** The text that `tokens` add (empty while a character is incomplete). */
  push(tokens: readonly number[]): string {
    if (this.vocab !== 256) return tokens.map((t) => `⟨${t}⟩`).join("");
    return this.decoder.decode(Uint8Array.from(tokens), { stream: true });
  }

  /** What is left at the end: U+FFFD for an incomplete character. */
  end(): string {
    return this.vocab === 256 ? this.decoder.decode() : "";
  }
}
