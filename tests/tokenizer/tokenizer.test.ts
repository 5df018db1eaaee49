/**
 * tokenizer.json through `hybridc/tokenizer` (@huggingface/tokenizers) on two tokenizers built in
 * tests/tokenizer/fixtures.ts, and TextStream, the incremental decoder generate() uses:
 *   - round trips: decode(encode(text)) is the text, merges and byte fallback as the files say;
 *   - streamed decoding, one token at a time: the pieces concatenate to the text, no piece holds
 *     U+FFFD, and a character split over byte tokens appears whole with its last byte;
 *   - the prompt's tokens as context: a generated word keeps its leading space;
 *   - UTF-8 bytes (byte-level models, no tokenizer) stream the same way;
 *   - bad tokenizer.json files are a TokenizerError; the runtime bundle does not carry the library.
 */
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";
import { byteTokenizer, TextStream, type TextTokenizer } from "../../runtime/text.ts";
import { loadTokenizer, TokenizerError } from "../../runtime/tokenizer.ts";
import { byteLevel, byteToken, sentencePiece, SP, TEXTS } from "./fixtures.ts";

const TOKENIZERS: readonly [string, TextTokenizer][] = [
  ["BPE with byte fallback (SentencePiece layout)", loadTokenizer(JSON.stringify(sentencePiece().json))],
  ["byte-level BPE (GPT-2 layout)", loadTokenizer(byteLevel().json)],
  ["UTF-8 bytes (byte-level models)", byteTokenizer],
];

/** Push every id through a TextStream; the pieces (flush last). */
function stream(t: TextTokenizer, ids: readonly number[], context: readonly number[] = []): string[] {
  const s = new TextStream(t, context);
  return [...ids.map((id) => s.push(id)), s.flush()];
}

describe.each(TOKENIZERS)("%s", (_, tok) => {
  it.each(TEXTS)("round trip and streamed decoding of %j", (text) => {
    const ids = tok.encode(text);
    expect(tok.decode(ids)).toBe(text);
    const pieces = stream(tok, ids);
    expect(pieces.join("")).toBe(text);
    expect(pieces.filter((p) => p.includes("\uFFFD"))).toEqual([]);
    // Every multi-byte character comes out whole, in one piece.
    for (const ch of [...text].filter((c) => new TextEncoder().encode(c).length > 1)) expect(pieces.some((p) => p.includes(ch))).toBe(true);
  });

  it("a generated word keeps the space before it when the prompt is the stream's context", () => {
    const prompt = tok.encode("hello");
    const all = tok.encode("hello world");
    const generated = all.slice(prompt.length);
    expect(stream(tok, generated, prompt).join("")).toBe(" world");
  });
});

describe("the tokenizer files as built", () => {
  const sp = sentencePiece();
  const spTok = loadTokenizer(sp.json);
  const bl = byteLevel();
  const blTok = loadTokenizer(bl.json);

  it("merges: SentencePiece BPE gives <s> ▁hello ▁world; byte-level BPE hello Ġwor l d", () => {
    expect(spTok.encode("hello world")).toEqual([1, sp.vocab[`${SP}hello`], sp.vocab[`${SP}world`]]);
    expect(blTok.encode("hello world")).toEqual([bl.vocab["hello"], bl.vocab["\u0120wor"], "l".charCodeAt(0), "d".charCodeAt(0)]);
    expect(spTok.vocabSize).toBe(Object.keys(sp.vocab).length);
    expect(blTok.vocabSize).toBe(Object.keys(bl.vocab).length);
  });

  it("byte fallback: a character the vocabulary lacks is its UTF-8 bytes, and streams as nothing until its last byte", () => {
    const ids = spTok.encode("日");
    const bytes = [0xe6, 0x97, 0xa5].map((b) => sp.vocab[byteToken(b)]!);
    expect(ids).toEqual([1, sp.vocab[SP], ...bytes]);
    expect(stream(spTok, ids)).toEqual(["", "", "", "", "日", ""]);
    // GPT-2's bytes: é is one merged token, ö two byte tokens (the first alone is no character).
    const o = blTok.encode("ö");
    expect(o).toHaveLength(2);
    expect(stream(blTok, o)).toEqual(["", "ö", ""]);
    expect(blTok.encode("é")).toHaveLength(1);
  });

  it("special tokens stay out of decoded text; flush prints an incomplete character as U+FFFD", () => {
    expect(spTok.decode([1, sp.vocab[`${SP}hello`]!, 2])).toBe("hello");
    expect(blTok.decode([bl.vocab["<|endoftext|>"]!])).toBe("");
    expect(stream(byteTokenizer, [0x68, 0xe6, 0x97])).toEqual(["h", "", "", "\uFFFD"]);
    expect(stream(byteTokenizer, [0xf0, 0x9f, 0x99, 0x82])).toEqual(["", "", "", "🙂", ""]);
  });

  it("a tokenizer.json that is not one is a TokenizerError saying why", () => {
    expect(() => loadTokenizer("{ nope")).toThrow(TokenizerError);
    expect(() => loadTokenizer("{ nope")).toThrow(/tokenizer\.json is not valid JSON/);
    expect(() => loadTokenizer("{}")).toThrow(/not a tokenizer\.json: it has no `model`/);
    expect(() => loadTokenizer({ model: { type: "Nope" } })).toThrow(/cannot load tokenizer\.json/);
  });
});

describe("the runtime bundle", () => {
  it("hybridc/runtime does not carry @huggingface/tokenizers; hybridc/tokenizer does", async () => {
    const inputs = async (entry: string) => {
      const r = await build({ entryPoints: [entry], absWorkingDir: fileURLToPath(new URL("../..", import.meta.url)), bundle: true, format: "esm", platform: "browser", write: false, metafile: true, logLevel: "silent" });
      return Object.keys(r.metafile.inputs);
    };
    expect((await inputs("runtime/index.ts")).filter((p) => p.includes("@huggingface"))).toEqual([]);
    expect((await inputs("runtime/tokenizer.ts")).some((p) => p.includes("@huggingface/tokenizers"))).toBe(true);
  });
});
