/**
 * `hybridc run`, spawned as a user runs it (`node bin/hybridc.js run ...`) on a tiny byte-level
 * model: the --json shape and determinism, streaming, --logits (decoded with runtime/weights'
 * reader, prompt rows against interp of the same random weights), --stop, --prompt-file, and the
 * usage, spec and weight errors (exit codes 2 and 1, never a stack trace). Then a Hugging Face
 * checkpoint folder (a tiny Bamba with a tokenizer.json): `hybridc run DIR` imports its config,
 * encodes the prompt, streams decoded text and stops at the config's eos_token_id; --tokenizer
 * and --prompt-ids; a model that is not byte-level without a tokenizer is a usage error.
 */
import { weightArtifacts } from "../../compiler/codegen/artifact.ts";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliEnv } from "../cli/env.js";
import { compile, lowerPrefill } from "../../compiler/index.ts";
import { relError } from "../../compiler/interp/index.ts";
import { argmax } from "../../runtime/sample.ts";
import { encodeSafetensors, randomCheckpoint } from "../../runtime/weights/index.ts";
import { openCheckpoint } from "../../runtime/weights/node.ts";
import { runGraph, zeroState } from "../ir/fixtures.ts";
import { FOLDERS, writeFolder } from "../import/folders.ts";
import { sentencePiece } from "../tokenizer/fixtures.ts";
import { loadTokenizer } from "../../runtime/tokenizer.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BIN = join(ROOT, "bin", "hybridc.js");
const STACK_FRAME = /^\s+at .+:\d+:\d+\)?$/m;

const SPEC = `model tiny_bytes {
  vocab = 256
  d_model = 16
  context = 64
  ssm = mamba1(d_state = 8, expand = 2, d_conv = 4, dt_rank = 2)
  attn = attention(heads = 2, rope = rope(theta = 10_000))
  layers = [ssm, attn]
}
`;

interface Run {
  readonly code: number | null;
  readonly stdout: Buffer;
  readonly stderr: string;
}

function hybridc(args: readonly string[], extraEnv: NodeJS.ProcessEnv = {}): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, env: cliEnv(extraEnv), timeout: 120_000 });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.toString("utf8") };
}

let dir: string;
let spec: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "hybridc-run-"));
  spec = join(dir, "tiny.hyb");
  writeFileSync(spec, SPEC);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const json = (r: Run) => JSON.parse(r.stdout.toString("utf8")) as { tokens: number[]; text: string };

describe("generation", () => {
  const base = ["--init", "random", "--prompt", "héllo", "--max-tokens", "12"];

  it("--json prints {tokens, text} on one line, the same for the same seed", () => {
    const a = hybridc(["run", "tiny.hyb", ...base, "--seed", "1", "--temperature", "3", "--json"]);
    expect(a.stderr).not.toMatch(STACK_FRAME);
    expect(a.code, a.stderr).toBe(0);
    const out = a.stdout.toString("utf8");
    expect(out.endsWith("}\n")).toBe(true);
    expect(out.trim().split("\n")).toHaveLength(1);
    const j = json(a);
    expect(Object.keys(j)).toEqual(["tokens", "text"]);
    expect(j.tokens).toHaveLength(12);
    expect(j.tokens.every((t) => Number.isInteger(t) && t >= 0 && t < 256)).toBe(true);
    expect(j.text).toBe(new TextDecoder().decode(Uint8Array.from(j.tokens)));
    const b = hybridc(["run", "tiny.hyb", ...base, "--seed", "1", "--temperature", "3", "--json"]);
    expect(json(b)).toEqual(j);
    // Without --json the same bytes are streamed to stdout, and nothing else.
    const s = hybridc(["run", "tiny.hyb", ...base, "--seed", "1", "--temperature", "3"]);
    expect(s.code, s.stderr).toBe(0);
    expect([...s.stdout]).toEqual(j.tokens);
  });

  it("--logits writes the prefill and sampled logits; prompt rows equal interp; greedy tokens are their argmax", async () => {
    const out = join(dir, "logits.safetensors");
    const r = hybridc(["run", "tiny.hyb", ...base, "--seed", "5", "--temperature", "0", "--json", "--logits", out, "--verbose"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("\nhybridc: context 64 tokens (the KV cache's rows), prefill chunks of up to 64 tokens\n");
    expect(r.stderr).toMatch(/^hybridc: prefill 6 tokens in \d+\.\d ms \(\d+\.\d tokens\/s\)$/m);
    expect(r.stderr).toMatch(/^hybridc: decode 11 tokens in \d+\.\d ms \(\d+\.\d tokens\/s\)$/m);
    const { tokens } = json(r);
    const ckpt = await openCheckpoint(out);
    expect(ckpt.tensors.get("logits")).toMatchObject({ dtype: "F32", shape: [6, 256] });
    expect(ckpt.tensors.get("generated_logits")).toMatchObject({ dtype: "F32", shape: [12, 256] });
    const logits = await ckpt.read("logits");
    const gen = await ckpt.read("generated_logits");
    await ckpt.close();
    // The first token is sampled from the last prompt row; each token is the argmax of its row.
    expect(gen.subarray(0, 256)).toEqual(logits.subarray(5 * 256));
    tokens.forEach((t, i) => expect(argmax(gen.subarray(i * 256, (i + 1) * 256)), `token ${i}`).toBe(t));
    // The same random weights (--seed 5) through the float64 interpreter.
    const m = compile(SPEC).models[0]!;
    const rand = randomCheckpoint({ weights: weightArtifacts(m) }, 5);
    const w: Record<string, Float64Array> = {};
    for (const t of m.weights) w[t.name] = Float64Array.from(await rand.read(t.name));
    const ref = runGraph(lowerPrefill(m), m, w, [0x68, 0xc3, 0xa9, 0x6c, 0x6c, 0x6f], 0, zeroState(m));
    expect(relError(Float64Array.from(logits), ref.logits)).toBeLessThanOrEqual(1e-4);
  });

  it("--stop ends after the stop bytes; --prompt-file reads raw bytes", () => {
    const free = json(hybridc(["run", "tiny.hyb", ...base, "--temperature", "0", "--json"])).tokens;
    // An ASCII byte the free run generates (a string option cannot carry a lone byte >= 0x80).
    const stop = free.find((t) => t >= 0x20 && t < 0x7f);
    expect(stop, `no printable ASCII byte in ${JSON.stringify(free)}`).toBeDefined();
    const first = free.indexOf(stop!);
    const stopFile = join(dir, "stop.txt");
    writeFileSync(stopFile, Uint8Array.of(0x68, 0xc3, 0xa9, 0x6c, 0x6c, 0x6f));
    const r = hybridc(["run", "tiny.hyb", "--init", "random", "--prompt-file", "stop.txt", "--max-tokens", "12", "--temperature", "0", "--json", "--stop", String.fromCharCode(stop!)]);
    expect(r.code, r.stderr).toBe(0);
    expect(json(r).tokens).toEqual(free.slice(0, first + 1));
  });

  it("a model whose attention is all windowed generates past its context (the KV cache is a ring)", () => {
    writeFileSync(join(dir, "ring.hyb"), SPEC.replace("tiny_bytes", "ring").replace("context = 64", "context = 16").replace("theta = 10_000)", "theta = 10_000), window = 4"));
    const r = hybridc(["run", "ring.hyb", "--init", "random", "--prompt", "x".repeat(34), "--max-tokens", "20", "--temperature", "0", "--json", "--verbose"]);
    expect(r.code, r.stderr).toBe(0);
    expect(json(r).tokens).toHaveLength(20);
    expect(r.stderr).toContain("\nhybridc: context unbounded (every attention layer is windowed; the KV cache is a ring of 16 rows), prefill chunks of up to 16 tokens\n");
  });

  it("a prompt longer than the context is an error naming the context (exit 1)", () => {
    const r = hybridc(["run", "tiny.hyb", "--init", "random", "--prompt", "x".repeat(65), "--max-tokens", "1"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("hybridc: error: 65 tokens at position 0 pass the model's context of 64 tokens");
    expect(r.stderr).not.toMatch(STACK_FRAME);
  });
});

describe("errors", () => {
  it.each([
    [["--prompt", "a"], "give exactly one of --weights W and --init random"],
    [["--init", "random", "--weights", "w.safetensors", "--prompt", "a"], "give exactly one of --weights W and --init random"],
    [["--init", "zeros", "--prompt", "a"], "--init takes 'random', got 'zeros'"],
    [["--init", "random"], "give exactly one of --prompt TEXT, --prompt-file F and --prompt-ids IDS"],
    [["--init", "random", "--prompt", "a", "--prompt-ids", "1"], "give exactly one of --prompt TEXT, --prompt-file F and --prompt-ids IDS"],
    [["--init", "random", "--prompt-ids", "1,x"], "--prompt-ids takes token ids separated by commas (1,2,3), got 'x'"],
    [["--init", "random", "--prompt-ids", "1,256"], "prompt token 256 is not an id of model tiny_bytes's vocabulary (0..255)"],
    [["--init", "random", "--prompt", ""], "the prompt is empty"],
    [["--init", "random", "--prompt-file", "nope.txt"], "cannot read the prompt file nope.txt: no such file or directory"],
    [["--init", "random", "--prompt", "a", "--temperature=-1"], "--temperature must be a number >= 0, got '-1'"],
    [["--init", "random", "--prompt", "a", "--top-p", "1.5"], "--top-p must be a number in (0, 1], got '1.5'"],
    [["--init", "random", "--prompt", "a", "--top-k", "2.5"], "--top-k must be an integer >= 0 (0 keeps every token), got '2.5'"],
    [["--init", "random", "--prompt", "a", "--max-tokens", "ten"], "--max-tokens must be an integer >= 0, got 'ten'"],
    [["--init", "random", "--prompt", "a", "--model", "tiny_byte"], "tiny.hyb has no model 'tiny_byte'; did you mean 'tiny_bytes'? (models: tiny_bytes)"],
  ])("usage: %j", (args, message) => {
    const r = hybridc(["run", "tiny.hyb", ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`hybridc: ${message}`);
    expect(r.stderr).toContain("Run 'hybridc run --help' for usage.");
    expect(r.stdout.length).toBe(0);
  });

  it("--help prints the usage (exit 0); a missing FILE is a usage error", () => {
    const h = hybridc(["run", "--help"]);
    expect(h.code).toBe(0);
    expect(h.stdout.toString("utf8")).toMatch(/^Usage: hybridc run FILE \(--weights W \| --init random\) \(--prompt TEXT \| --prompt-file F\)/);
    const r = hybridc(["run", "--init", "random", "--prompt", "a"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("hybridc: missing FILE argument");
  });

  it("no GPU adapter: exit 1 with the lavapipe install instructions", () => {
    const r = hybridc(["run", "tiny.hyb", "--init", "random", "--prompt", "a"], { VK_ICD_FILENAMES: "/nonexistent/icd.json", VK_DRIVER_FILES: "/nonexistent/icd.json" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("hybridc: no WebGPU adapter");
    expect(r.stderr).toContain("apt-get install -y -t bookworm-backports mesa-vulkan-drivers");
    expect(r.stderr).not.toMatch(STACK_FRAME);
  });

  it("a spec error is a diagnostic (exit 1)", () => {
    writeFileSync(join(dir, "bad.hyb"), SPEC.replace("d_model = 16", "d_model = 16\n  d_model = 8"));
    const r = hybridc(["run", "bad.hyb", "--init", "random", "--prompt", "a"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^bad\.hyb:\d+:\d+: error\[HYB\d+\]/m);
    expect(r.stderr).not.toMatch(STACK_FRAME);
  });

  it("weight errors are one line per problem (exit 1)", () => {
    const missing = hybridc(["run", "tiny.hyb", "--weights", "none.safetensors", "--prompt", "a"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe("hybridc: error: none.safetensors: no such file or directory");
    const m = compile(SPEC).models[0]!;
    const tensors = m.weights.map((w) => ({ name: w.name, dtype: "F32" as const, shape: [...w.shape], data: new Float32Array(w.shape.reduce((a, b) => a * b, 1)) }));
    // Tensor 2 (a [64, 16] in_proj) flattened to [1024], tensor 3 left out.
    const wrong = tensors.map((t, i) => (i === 2 ? { ...t, shape: [t.data.length] } : t)).filter((_, i) => i !== 3);
    writeFileSync(join(dir, "w.safetensors"), encodeSafetensors(wrong));
    const r = hybridc(["run", "tiny.hyb", "--weights", "w.safetensors", "--prompt", "a"]);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(l.startsWith("hybridc: error: w.safetensors: ")).toBe(true);
    expect(r.stderr).toContain(`${tensors[2]!.name}: expected shape [64, 16], found [1024]`);
    expect(r.stderr).toContain(`${tensors[3]!.name}: missing`);
    expect(r.stderr).not.toMatch(STACK_FRAME);
  });
});

describe("a Hugging Face checkpoint folder, and tokenizers", () => {
  const bamba = FOLDERS.find((f) => f.family === "bamba")!;
  const tokenizerJson = JSON.stringify(sentencePiece().json);
  const tok = loadTokenizer(tokenizerJson);
  const run = ["--prompt", "hello wörld", "--max-tokens", "6", "--temperature", "0"];
  beforeAll(() => {
    writeFolder(join(dir, "bamba"), bamba, { "tokenizer.json": tokenizerJson });
    writeFileSync(join(dir, "tokenizer.json"), tokenizerJson);
  });

  it("run DIR: the config imported, the prompt encoded by its tokenizer.json, the text streamed as decoded", () => {
    const j = hybridc(["run", "bamba", ...run, "--json"]);
    expect(j.code, j.stderr).toBe(0);
    expect(j.stderr).not.toContain("hybridc:");
    const { tokens, text } = json(j);
    expect(tokens).toHaveLength(6);
    const ids = tok.encode("hello wörld");
    expect(text).toBe(tok.decode([...ids, ...tokens]).slice(tok.decode(ids).length));
    const streamed = hybridc(["run", "bamba", ...run]);
    expect(streamed.code, streamed.stderr).toBe(0);
    expect(streamed.stdout.toString("utf8")).toBe(text);
    // The same prompt as ids gives the same tokens.
    expect(json(hybridc(["run", "bamba", "--prompt-ids", ids.join(","), "--max-tokens", "6", "--temperature", "0", "--json"])).tokens).toEqual(tokens);
  });

  it("generation stops at the config's eos_token_id, which is not printed", () => {
    const first = json(hybridc(["run", "bamba", ...run, "--json"])).tokens;
    writeFolder(join(dir, "bamba-eos"), { ...bamba, config: { ...bamba.config, eos_token_id: [99999, first[2]!] } }, { "tokenizer.json": tokenizerJson });
    const r = hybridc(["run", "bamba-eos", ...run, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(json(r).tokens).toEqual(first.slice(0, 2));
  });

  it("a spec that is not byte-level: --tokenizer FILE or the one beside the weights, or --prompt-ids printing ids; none is a usage error saying what to pass", () => {
    const spec = join(dir, "bamba.hyb");
    const imported = hybridc(["import", "bamba", "-o", spec]);
    expect(imported.code, imported.stderr).toBe(0);
    // The weights alone, in a directory without a tokenizer.json.
    mkdirSync(join(dir, "bare-weights"));
    writeFileSync(join(dir, "bare-weights", "model.safetensors"), readFileSync(join(dir, "bamba", "model.safetensors")));
    const weights = ["--weights", "bare-weights/model.safetensors"];
    const withTok = hybridc(["run", spec, ...weights, "--tokenizer", "tokenizer.json", ...run, "--json"]);
    expect(withTok.code, withTok.stderr).toBe(0);
    const viaFolder = json(hybridc(["run", "bamba", ...run, "--json"]));
    expect(json(withTok)).toEqual(viaFolder);
    // The tokenizer.json beside the weights is found (a file, or the directory holding it).
    expect(json(hybridc(["run", spec, "--weights", "bamba/model.safetensors", ...run, "--json"]))).toEqual(viaFolder);
    expect(json(hybridc(["run", spec, "--weights", "bamba", ...run, "--json"]))).toEqual(viaFolder);
    const ids = hybridc(["run", spec, ...weights, "--prompt-ids", tok.encode("hello wörld").join(","), "--max-tokens", "6", "--temperature", "0"]);
    expect(ids.code, ids.stderr).toBe(0);
    expect(ids.stdout.toString("utf8")).toBe(`${viaFolder.tokens.join(" ")}\n`);
    const none = hybridc(["run", spec, ...weights, "--prompt", "hello"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("hybridc: model bamba has vocab = 280, not the 256 bytes of a byte-level model, so a text prompt needs its tokenizer: pass --tokenizer tokenizer.json");
    expect(none.stderr).toContain("--prompt-ids 1,2,3");
    expect(none.stdout.length).toBe(0);
  });

  it("folders that cannot run: a config the .hyb language cannot express, no config.json, a tokenizer past the vocabulary", () => {
    writeFolder(join(dir, "falcon"), { ...bamba, config: { model_type: "falcon_h1", num_attention_heads: 8 } });
    const falcon = hybridc(["run", "falcon", "--prompt", "a"]);
    expect(falcon.code).toBe(1);
    expect(falcon.stderr).toMatch(/^hybridc: cannot import falcon\/config\.json: parallel mixers: .*config key `num_attention_heads`/);
    const empty = hybridc(["run", ".", "--prompt", "a"]);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain("is a directory without config.json");
    writeFolder(join(dir, "small"), { ...bamba, config: { ...bamba.config, vocab_size: 64 }, tensors: bamba.tensors.map(([n, s]) => [n, s[0] === 280 ? [64, s[1]!] : s]) }, { "tokenizer.json": tokenizerJson });
    const small = hybridc(["run", "small", "--prompt", "a"]);
    expect(small.code).toBe(1);
    expect(small.stderr).toContain("tokenizer.json: its ids go up to 276, past model small's vocab of 64");
    // A folder of PyTorch pickles, and one with no weights at all.
    mkdirSync(join(dir, "pickled"));
    writeFileSync(join(dir, "pickled", "config.json"), JSON.stringify(bamba.config));
    writeFileSync(join(dir, "pickled", "pytorch_model.bin"), "");
    const pickled = hybridc(["run", "pickled", "--prompt-ids", "1"]);
    expect(pickled.code).toBe(1);
    expect(pickled.stderr).toContain("pytorch_model.bin: hybridc reads safetensors, not PyTorch pickles");
    rmSync(join(dir, "pickled", "pytorch_model.bin"));
    const bare = hybridc(["run", "pickled", "--prompt-ids", "1"]);
    expect(bare.code).toBe(1);
    expect(bare.stderr).toContain("the directory holds neither model.safetensors.index.json nor model.safetensors");
    for (const r of [falcon, empty, small, pickled, bare]) expect(r.stderr).not.toMatch(STACK_FRAME);
  });
});
