/**
 * Two small tokenizer.json files built here, in the two layouts Hugging Face models ship:
 *   sentencePiece  BPE over `▁`-joined text with merges and byte fallback (`<0xE6>` tokens for
 *                  what the vocabulary lacks), a `<s>` the post-processor prepends, the Llama
 *                  decoder chain (Replace ▁, ByteFallback, Fuse, Strip one leading space);
 *   byteLevel      GPT-2's byte-level BPE: every byte a printable character, merges, `Ġ` spaces.
 */

export const SP = "\u2581";

/** `<0xAB>` for byte 0xAB. */
export const byteToken = (b: number) => `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`;

const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });

/** A Llama-style BPE with byte fallback: ids 0-2 specials, 3-258 bytes, then the pieces. */
export function sentencePiece(): { json: Record<string, unknown>; vocab: Record<string, number> } {
  const vocab: Record<string, number> = { "<unk>": 0, "<s>": 1, "</s>": 2 };
  for (let b = 0; b < 256; b++) vocab[byteToken(b)] = 3 + b;
  const pieces = [SP, "h", "e", "l", "o", "w", "r", "d", "el", "lo", `${SP}h`, `${SP}hel`, `${SP}hello`, `${SP}w`, "or", `${SP}wor`, "ld", `${SP}world`];
  for (const p of pieces) vocab[p] = Object.keys(vocab).length;
  const merges = ["e l", "l o", `${SP} h`, `${SP}h el`, `${SP}hel lo`, `${SP} w`, "o r", `${SP}w or`, "l d", `${SP}wor ld`];
  const json = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [special(0, "<unk>"), special(1, "<s>"), special(2, "</s>")],
    normalizer: { type: "Sequence", normalizers: [{ type: "Prepend", prepend: SP }, { type: "Replace", pattern: { String: " " }, content: SP }] },
    pre_tokenizer: null,
    post_processor: {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
      pair: [{ Sequence: { id: "A", type_id: 0 } }, { Sequence: { id: "B", type_id: 1 } }],
      special_tokens: { "<s>": { id: "<s>", ids: [1], tokens: ["<s>"] } },
    },
    decoder: {
      type: "Sequence",
      decoders: [{ type: "Replace", pattern: { String: SP }, content: " " }, { type: "ByteFallback" }, { type: "Fuse" }, { type: "Strip", content: " ", start: 1, stop: 0 }],
    },
    model: { type: "BPE", dropout: null, unk_token: "<unk>", continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, vocab, merges },
  };
  return { json, vocab };
}

/** GPT-2's map of bytes to printable characters (`Ġ` is the space). */
export function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (bs.includes(b)) continue;
    bs.push(b);
    cs.push(256 + n++);
  }
  const out: string[] = [];
  bs.forEach((b, i) => (out[b] = String.fromCodePoint(cs[i]!)));
  return out;
}

/** A GPT-2-style byte-level BPE: ids 0-255 the bytes, then merged pieces, then <|endoftext|>. */
export function byteLevel(): { json: Record<string, unknown>; vocab: Record<string, number> } {
  const U = bytesToUnicode();
  const vocab: Record<string, number> = {};
  U.forEach((c, b) => (vocab[c] = b));
  const enc = (s: string) => [...new TextEncoder().encode(s)].map((b) => U[b]).join("");
  const e = enc("é");
  const merges: [string, string][] = [["h", "e"], ["l", "l"], ["he", "ll"], ["hell", "o"], [enc(" "), "w"], ["o", "r"], [`${enc(" ")}w`, "or"], [e[0]!, e[1]!]];
  for (const [a, b] of merges) vocab[a + b] = Object.keys(vocab).length;
  vocab["<|endoftext|>"] = Object.keys(vocab).length;
  const level = { add_prefix_space: false, trim_offsets: true, use_regex: true };
  const json = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [special(vocab["<|endoftext|>"]!, "<|endoftext|>")],
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", ...level },
    post_processor: { type: "ByteLevel", ...level },
    decoder: { type: "ByteLevel", ...level },
    model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: "", end_of_word_suffix: "", fuse_unk: false, byte_fallback: false, vocab, merges: merges.map(([a, b]) => `${a} ${b}`) },
  };
  return { json, vocab };
}

/** Texts with merges, multi-byte characters of 2, 3 and 4 bytes, and repeated spaces. */
export const TEXTS = ["hello world", "héllo wörld", "hello 日本 world", "🙂 hello  world 🙂", "wörld héllo!", "a"];
