/**
 * Hugging Face checkpoint folders run end to end (GPU): for each importable family a tiny folder
 * (tests/import/folders.ts: config.json, random weights under the family's own tensor names,
 * single-file, sharded with an index, or BF16) is loaded by `loadHfModel(device, dir)`, which
 * imports the config, checks the weights and builds the spec for the device; then
 *   - the spec names exactly the tensors the folder holds (Nemotron-H's `model.*` read as `backbone.*`);
 *   - chunked prefill (chunks of 4) of 9 tokens gives the float64 reference's logits at every
 *     position (the unoptimized lowered graphs in compiler/interp; norm-wise relative error <= 1e-4);
 *   - greedy generation equals argmax over the reference, step by step;
 *   - with the folder's tokenizer.json (Bamba), a text prompt is encoded and the generated text
 *     is the tokenizer's decoding of the generated ids.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lowerDecode, lowerPrefill, type ResolvedModel } from "../../compiler/index.ts";
import { relError } from "../../compiler/interp/index.ts";
import { importConfig } from "../../compiler/import/index.ts";
import { loadHfModel, type HfModel } from "../../compiler/import/node.ts";
import { argmax } from "../../runtime/sample.ts";
import { openCheckpoint } from "../../runtime/weights/node.ts";
import { runGraph, zeroState, type State } from "../ir/fixtures.ts";
import { runtime } from "../codegen/harness.ts";
import { sentencePiece } from "../tokenizer/fixtures.ts";
import { FOLDERS, writeFolder } from "../import/folders.ts";
import { readFileSync } from "node:fs";

const TOL = 1e-4;
const tmp = mkdtempSync(join(tmpdir(), "hybridc-hf-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The folder's name for a spec tensor: transformers' own Nemotron-H saves say `model.` where the spec says `backbone.`. */
const folderName = (family: string, name: string) => (family === "nemotron_h" ? name.replace(/^backbone\./, "model.") : name);

/** float64 reference: prefill, then greedy decode steps; logits of the prompt and of each step. */
function reference(m: ResolvedModel, w: Record<string, Float64Array>, prompt: readonly number[], steps: number): { prefill: Float64Array; tokens: number[] } {
  const p = runGraph(lowerPrefill(m), m, w, prompt, 0, zeroState(m));
  const decode = lowerDecode(m);
  let logits = p.logits.subarray((prompt.length - 1) * m.vocab);
  let state: State = p.state;
  const tokens: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t = argmax(logits);
    tokens.push(t);
    const r = runGraph(decode, m, w, [t], prompt.length + i, state);
    logits = r.logits;
    state = r.state;
  }
  return { prefill: p.logits, tokens };
}

describe.each(FOLDERS)("$family: a checkpoint folder runs from its config.json", (f) => {
  const dir = join(tmp, f.family);
  const tokenizerJson = f.family === "bamba" ? JSON.stringify(sentencePiece().json) : undefined;
  writeFolder(dir, f, tokenizerJson !== undefined ? { "tokenizer.json": tokenizerJson } : {});
  const model = importConfig(readFileSync(join(dir, "config.json"), "utf8")).model;
  const weights: Record<string, Float64Array> = {};
  let hf: HfModel;

  beforeAll(async () => {
    // The reference reads what the folder stores (BF16 values as rounded), by the test's own names.
    const raw = await openCheckpoint(dir);
    for (const w of model.weights) weights[w.name] = Float64Array.from(await raw.read(folderName(f.family, w.name)));
    await raw.close();
    hf = await loadHfModel(await runtime(), dir, { prefillChunk: 4 });
  }, 600_000);

  afterAll(() => hf?.model.destroy());

  it("the spec names exactly the folder's tensors", () => {
    expect(model.weights.map((w) => folderName(f.family, w.name)).sort()).toEqual(f.tensors.map(([n]) => n).sort());
    expect(model.weights.map((w) => w.shape)).toEqual(model.weights.map((w) => f.tensors.find(([n]) => n === folderName(f.family, w.name))![1]));
  });

  // The float64 reference of a few layers takes seconds on a loaded machine: no tight timeout.
  it("chunked prefill of 9 tokens and 4 greedy tokens equal the float64 reference", { timeout: 600_000 }, async () => {
    const prompt = [3, 17, 5, 42, 8, 1, 29, 11, 60];
    const ref = reference(model, weights, prompt, 4);
    await hf.model.reset();
    const gpu = await hf.model.prefill(prompt);
    expect(relError(Float64Array.from(gpu), ref.prefill)).toBeLessThanOrEqual(TOL);
    const got: number[] = [];
    for await (const t of hf.model.generate(prompt, { maxTokens: 4, temperature: 0 })) got.push(t.token);
    expect(got).toEqual(ref.tokens);
  });

  // Registered for the folder that has a tokenizer.json only (Bamba).
  if (tokenizerJson === undefined) return;
  it("with the folder's tokenizer.json: a text prompt in, the decoded text out", { timeout: 600_000 }, async () => {
    const tok = hf.tokenizer!;
    expect(tok).toBeDefined();
    expect(hf.eosTokenIds).toEqual([2]);
    const prompt = "hello wörld";
    const ids = tok.encode(prompt);
    expect(ids[0]).toBe(1);
    const ref = reference(model, weights, ids, 6);
    const got: number[] = [];
    const upTo: string[] = [];
    let text = "";
    for await (const t of hf.model.generate(prompt, { maxTokens: 6, temperature: 0, tokenizer: tok })) {
      got.push(t.token);
      text += t.text;
      upTo.push(text);
    }
    expect(got).toEqual(ref.tokens);
    // The text continues the prompt's: what decoding prompt + generated adds to the prompt alone
    // (a first word keeps its leading space, which decoding it alone would strip).
    const whole = tok.decode([...ids, ...got]);
    expect(whole.startsWith(tok.decode(ids))).toBe(true);
    expect(text).toBe(whole.slice(tok.decode(ids).length));
    expect(text.length).toBeGreaterThan(0);
    // A string stop with a tokenizer is text: generation ends once the text ends with it.
    const stop = upTo.find((t) => t.length > 0)!;
    const until = upTo.findIndex((t) => t.endsWith(stop)) + 1;
    const stopped: number[] = [];
    for await (const t of hf.model.generate(prompt, { maxTokens: 6, temperature: 0, tokenizer: tok, stop })) stopped.push(t.token);
    expect(stopped).toEqual(got.slice(0, until));
  });
});

describe("a folder whose weights do not fit its config", () => {
  it("is a WeightError naming the tensor and both shapes", async () => {
    const f = FOLDERS[0]!;
    const dir = join(tmp, "wrong");
    writeFolder(dir, { ...f, config: { ...f.config, state_size: 4 } });
    await expect(loadHfModel(await runtime(), dir)).rejects.toThrow(/backbone\.layers\.0\.mixer\.A_log: expected shape \[32, 4\], found \[32, 8\]/);
  });
});
