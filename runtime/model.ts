/**
 * A compiled model on a GPU, ready to generate: `loadModel` uploads the weights (one tensor at a
 * time) and builds two programs over the same weights and state (runtime/memory.ts):
 *   decode   L = 1: one token at position pos
 *   prefill  L = prefillChunk: a prompt runs chunk by chunk, each chunk continuing the state and
 *            position of the one before; the last, shorter chunk runs the same program with fewer
 *            tokens (the kernels take the length as a uniform)
 * The SSM/conv state and KV cache stay on the GPU; only logits are read back. Sampling is on the
 * CPU (runtime/sample.ts). The KV cache is a ring of `context` rows (artifact/kv-ring.ts): a
 * model whose attention is all windowed runs past `context`, a prefill chunk then taking at most
 * context - window + 1 tokens; a model with a full-causal layer stops at `context` (ContextError).
 *
 *   const model = await loadModel(device, artifact, checkpoint, { onProgress });
 *   for await (const { token } of model.generate("Hello", { maxTokens: 32, temperature: 0 })) ...
 *
 * The artifact is what the compiler built (`build()` in `hybridc`, or `hybridc build -o DIR` read
 * back by readArtifact / parseArtifact); nothing here knows the spec or any op.
 *
 * Calls are serialized (one GPU call at a time per model), so overlapping calls are safe but not
 * parallel.
 */
import { maxCallTokens, positionLimit } from "./artifact/kv-ring.ts";
import { validArtifact } from "./artifact/parse.ts";
import { LIMIT_NAMES, type ModelArtifact } from "./artifact/types.ts";
import { GpuRuntime } from "./device.ts";
import { GpuModelMemory, type TensorSource, type WeightSource } from "./memory.ts";
import { GpuProgram, lengthLimit } from "./program.ts";
import { createRng, sample, checkSampleOptions, type SampleOptions } from "./sample.ts";
import { byteTokenizer, TextStream, type TextTokenizer } from "./text.ts";
import { checkCheckpoint, WeightError, type Checkpoint } from "./weights/index.ts";
import { shapeText, type WeightProblem } from "./weights/errors.ts";

export interface LoadProgress {
  /** `weights`: bytes uploaded; `compile`: programs built (their pipelines compiled in parallel). */
  readonly phase: "weights" | "compile";
  readonly loaded: number;
  readonly total: number;
}

export interface LoadOptions {
  readonly onProgress?: (p: LoadProgress) => void;
  /**
   * Tokens per prefill call (default 128), at most `context` for a model with attention and at
   * most what the device's buffer limits allow (the logits of a 50,280-token vocabulary fit a
   * 128 MiB binding up to 667 tokens); `model.prefillChunk` is the chunk used.
   */
  readonly prefillChunk?: number;
  /**
   * Aborting stops loading between tensors (at most 50 ms apart: the upload gives the event loop
   * a turn) or between the two programs' compilations, with `signal.reason`; nothing stays allocated.
   */
  readonly signal?: AbortSignal;
  /**
   * Load weights holding NaN or ±Inf (as stored on the GPU). By default such weights fail the
   * load with a NonFiniteWeightError naming each tensor, the count and the first element.
   */
  readonly allowNonFinite?: boolean;
}

/** Tensor shapes by checkpoint name: what typed bindings (`hybridc build --emit ts`) know of a model's weights. */
export type WeightShapes = { readonly [name: string]: readonly number[] };

/** One tensor's values, float32 row-major, with its shape (checked against the artifact's when loaded). */
export interface Tensor<Shape extends readonly number[] = readonly number[]> {
  readonly shape: Shape;
  readonly data: ArrayLike<number>;
}

/** Every tensor of a model by name, each with its shape. */
export type TensorMap<S extends WeightShapes = WeightShapes> = { readonly [K in keyof S]: Tensor<S[K]> };

/**
 * Weights: a checkpoint (checked against the spec first), any TensorSource, every tensor with its
 * shape (a TensorMap, checked against the artifact when loaded), or a record of arrays.
 */
export type ModelWeights = Checkpoint | TensorSource | TensorMap | WeightSource;

/**
 * The weights typed bindings' `load` takes, given the model's shapes: a checkpoint, a TensorSource,
 * or a TensorMap whose names and shapes are the model's, so a wrong tensor name, a wrong shape or
 * a missing tensor is a type error (a plain record of arrays carries no shapes: loadModel takes it).
 */
export type ShapedWeights<S extends WeightShapes> = Checkpoint | TensorSource | TensorMap<S>;

/**
 * A compiled model as a module: the default export of a `.hyb` file imported through the bundler
 * plugin, and of the typed bindings. `load` is loadModel with this artifact.
 */
export interface CompiledModel<W = ModelWeights> {
  readonly name: string;
  readonly artifact: ModelArtifact;
  load(device: GPUDevice | GpuRuntime, weights: W, options?: LoadOptions): Promise<HybridModel>;
}

export interface GenerateOptions extends Partial<SampleOptions> {
  /** Stop after this many generated tokens (default 128). */
  readonly maxTokens?: number;
  /** Seeds the sampler (default 0); the same seed gives the same tokens. */
  readonly seed?: number;
  /**
   * Stop once the generated tokens end with this sequence (a string is UTF-8 bytes; with a
   * `tokenizer`, once the generated text ends with it); it is yielded too.
   */
  readonly stop?: Uint8Array | string | readonly number[];
  /**
   * Encodes a string prompt and decodes the generated tokens into `text` (a tokenizer.json:
   * `loadTokenizer` of `hybridc/tokenizer`). Without one, a byte-level model (vocab = 256) takes
   * and gives UTF-8; any other model takes token ids and yields no text.
   */
  readonly tokenizer?: TextTokenizer;
  /** Aborting rejects the iteration with `signal.reason` before the next GPU call (between prefill chunks too). */
  readonly signal?: AbortSignal;
  /** Append the prompt to the current state instead of starting a new sequence (default false). */
  readonly keepState?: boolean;
  /** Receives the prefill logits, [prompt length, vocab] row-major, before the first token. */
  readonly onPrefill?: (logits: Float32Array) => void;
}

export interface GeneratedToken {
  readonly token: number;
  /**
   * The text this token completes, decoded incrementally: "" while a character or a merged
   * piece is incomplete, then all of it at once; the last token also carries what was held back.
   * The concatenation of every `text` is the generated text. Always "" for a model without a
   * tokenizer that is not byte-level.
   */
  readonly text: string;
  /** The logits it was sampled from, [vocab]. */
  readonly logits: Float32Array;
}

/** A GPU copy of the state and the position; `model.restore(s)` returns to it (any number of times). */
export interface ModelSnapshot {
  readonly position: number;
  /** Frees the snapshot's GPU buffers. */
  destroy(): void;
}

/** A prompt or generation that would pass the KV cache's `context` rows. */
export class ContextError extends Error {
  override name = "ContextError";
}

/**
 * Logits holding NaN or ±Inf: sampling from them would be noise (a greedy argmax of NaN logits is
 * token 0 forever), so generate() stops. `position` is the sequence position whose logits they are.
 */
export class NonFiniteError extends Error {
  override name = "NonFiniteError";
  constructor(
    readonly position: number,
    message: string,
  ) {
    super(message);
  }
}

const DEFAULT_CHUNK = 128;
const DEFAULT_MAX_TOKENS = 128;

/** The device lacks a limit or feature the artifact's kernels were generated for. */
export class DeviceMismatchError extends Error {
  override name = "DeviceMismatchError";
}

/**
 * What the device lacks of what the artifact needs: a limit below the one the kernels were
 * generated for, or a feature they use; one line each (empty when it can run).
 */
export function deviceMismatch(artifact: Pick<ModelArtifact, "limits" | "features">, device: Pick<GPUDevice, "limits" | "features">): string[] {
  const lines: string[] = [];
  for (const name of LIMIT_NAMES) {
    const need = artifact.limits[name];
    const have = device.limits[name];
    if (have < need) lines.push(`${name}: the kernels were generated for ${need}, the device allows ${have}`);
  }
  for (const f of artifact.features) if (!device.features.has(f)) lines.push(`feature ${f}: the kernels use it, the device was created without it`);
  return lines;
}

/**
 * Load a built model onto a GPU: check the device against the artifact's limits and features and
 * the checkpoint against its weights, upload the weights, build the decode and prefill programs
 * (their pipelines compiled in parallel) and run their load-time kernels.
 */
export async function loadModel(device: GPUDevice | GpuRuntime, artifact: ModelArtifact | string, weights: ModelWeights, options: LoadOptions = {}): Promise<HybridModel> {
  const a = validArtifact(artifact);
  const rt = device instanceof GpuRuntime ? device : new GpuRuntime(device);
  const missing = deviceMismatch(a, rt.device);
  if (missing.length > 0) {
    throw new DeviceMismatchError(
      `model ${a.model} cannot run on this device:\n${missing.map((l) => `  ${l}`).join("\n")}\n` +
        "Request the device with these limits and features (requiredLimits / requiredFeatures), or rebuild the model for this device's limits (`hybridc build --limit NAME=N`).",
    );
  }
  if (isCheckpoint(weights)) {
    const { errors } = checkCheckpoint(a, weights);
    if (errors.length > 0) throw new WeightError(errors);
  }
  const source = isCheckpoint(weights) || typeof (weights as Partial<TensorSource>).read === "function" ? (weights as Checkpoint | TensorSource) : recordWeights(a, weights as WeightSource | TensorMap);
  const chunk = Math.min(options.prefillChunk ?? DEFAULT_CHUNK, a.attention.length > 0 ? a.context : Infinity);
  if (!Number.isInteger(chunk) || chunk < 1) throw new RangeError(`prefillChunk must be an integer >= 1, got ${options.prefillChunk}`);
  // Buffers stay within the binding size the artifact was built for (so it runs alike on every
  // device it targets) and within the device's.
  const maxBytes = Math.min(a.limits.maxStorageBufferBindingSize, rt.device.limits.maxStorageBufferBindingSize, rt.device.limits.maxBufferSize);
  const fits = (p: ModelArtifact["prefill"], L: number): number => {
    const fit = lengthLimit(p, maxBytes);
    if (fit.L < 1) throw new RangeError(`${p.name}: buffer ${fit.buffer} needs more than the device's ${maxBytes} bytes per storage binding even for 1 token`);
    return Math.min(L, fit.L);
  };
  const decodeL = fits(a.decode, 1);
  const prefillL = fits(a.prefill, chunk);
  const progress = options.onProgress ?? (() => {});
  const memory = await GpuModelMemory.upload(rt, a, source, {
    onProgress: (loaded, total) => progress({ phase: "weights", loaded, total }),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.allowNonFinite ? { allowNonFinite: true } : {}),
  });
  let decode: GpuProgram | undefined;
  try {
    options.signal?.throwIfAborted();
    progress({ phase: "compile", loaded: 0, total: 2 });
    // One program at a time: each compiles its kernels in parallel inside one error scope.
    decode = await GpuProgram.fromArtifact(memory, a.decode, decodeL);
    options.signal?.throwIfAborted();
    progress({ phase: "compile", loaded: 1, total: 2 });
    const prefill = await GpuProgram.fromArtifact(memory, a.prefill, prefillL);
    progress({ phase: "compile", loaded: 2, total: 2 });
    return new HybridModel(a, memory, prefill, decode);
  } catch (e) {
    decode?.destroy();
    memory.destroy();
    throw e;
  }
}

/**
 * A record of weights, its TensorMap entries (`{ shape, data }`) checked against the artifact:
 * a name the model does not have, a shape other than the tensor's, or data of another length is
 * a WeightError naming every such tensor; plain arrays pass as they are (the upload checks their lengths).
 */
function recordWeights(a: ModelArtifact, record: WeightSource | TensorMap): WeightSource {
  const shapes = new Map(a.weights.map((w) => [w.name, w.shape]));
  const problems: WeightProblem[] = [];
  const values: Record<string, ArrayLike<number>> = {};
  for (const [name, v] of Object.entries(record)) {
    if (!isTensor(v)) {
      values[name] = v;
      continue;
    }
    const expected = shapes.get(name);
    const count = v.shape.reduce((n, d) => n * d, 1);
    if (expected === undefined) problems.push({ file: "weights", tensor: name, message: `model ${a.model} has no such tensor` });
    else if (v.shape.length !== expected.length || v.shape.some((d, i) => d !== expected[i])) problems.push({ file: "weights", tensor: name, message: `expected shape ${shapeText(expected)}, found ${shapeText(v.shape)}` });
    else if (v.data.length !== count) problems.push({ file: "weights", tensor: name, message: `shape ${shapeText(v.shape)} holds ${count} elements, the data has ${v.data.length}` });
    values[name] = v.data;
  }
  if (problems.length > 0) throw new WeightError(problems);
  return values;
}

function isTensor(v: ArrayLike<number> | Tensor): v is Tensor {
  return typeof v === "object" && v !== null && Array.isArray((v as Partial<Tensor>).shape) && typeof (v as Partial<Tensor>).data === "object";
}

function isCheckpoint(w: ModelWeights): w is Checkpoint {
  return typeof (w as Partial<Checkpoint>).read === "function" && (w as Partial<Checkpoint>).tensors instanceof Map;
}

/**
 * A prompt as token ids: a string goes through the tokenizer, or without one is its UTF-8 bytes,
 * which only a byte-level model (vocab = 256) reads as text.
 */
export function promptTokens(prompt: string | Uint8Array | readonly number[], vocab: number, tokenizer?: TextTokenizer): number[] {
  if (typeof prompt === "string") {
    if (tokenizer !== undefined) return tokenizer.encode(prompt);
    if (vocab !== 256) {
      throw new RangeError(
        `this model's vocabulary has ${vocab} tokens, not the 256 bytes of a byte-level model: a text prompt needs its tokenizer ` +
          "(generate(prompt, { tokenizer }), loadTokenizer from hybridc/tokenizer), or pass the prompt's token ids",
      );
    }
    return byteTokenizer.encode(prompt);
  }
  return [...prompt];
}

export class HybridModel {
  private pos = 0;
  private queue: Promise<unknown> = Promise.resolve();
  /** Bumped by every generate(); an older generation stops at its next GPU call. */
  private generation = 0;

  /** @internal Use loadModel. */
  constructor(
    /** What the model was built from: its name, sizes, weights and programs. */
    readonly artifact: ModelArtifact,
    private readonly memory: GpuModelMemory,
    private readonly prefillProgram: GpuProgram,
    private readonly decodeProgram: GpuProgram,
  ) {
    this.context = positionLimit(artifact.attention, artifact.context);
  }

  /**
   * The most tokens a sequence may hold: the KV cache's rows (`context` in the spec) when a layer
   * attends to the whole past; Infinity when every attention layer is windowed within the cache
   * (the cache is a ring: position p lives in row p mod context) or there is no attention.
   */
  readonly context: number;

  get vocab(): number {
    return this.artifact.vocab;
  }

  /** Tokens processed since the last reset. */
  get position(): number {
    return this.pos;
  }

  /** Tokens per prefill call. */
  get prefillChunk(): number {
    return this.prefillProgram.L;
  }

  /**
   * Run `tokens` after the current position; the logits at every one of them, [n, vocab]
   * row-major. Aborting `options.signal` rejects with its reason before the next chunk; the
   * chunks already run stay in the state (`position` says how far it got).
   */
  prefill(tokens: readonly number[], options: { readonly signal?: AbortSignal } = {}): Promise<Float32Array> {
    return this.exclusive(async () => {
      this.checkTokens(tokens);
      const out = new Float32Array(tokens.length * this.vocab);
      for (let at = 0; at < tokens.length; ) {
        options.signal?.throwIfAborted();
        // A windowed ring may take fewer tokens at once than the program's chunk: the new rows must
        // not replace keys the call's own queries still see.
        const n = Math.min(this.prefillChunk, maxCallTokens(this.artifact.attention, this.artifact.context, this.pos));
        const chunk = tokens.slice(at, at + n);
        out.set(await this.prefillProgram.run(chunk, this.pos), at * this.vocab);
        this.pos += chunk.length;
        at += chunk.length;
      }
      return out;
    });
  }

  /** Run one token at the current position; its logits, [vocab]. */
  step(token: number): Promise<Float32Array> {
    return this.exclusive(async () => {
      this.checkTokens([token]);
      const logits = await this.decodeProgram.run([token], this.pos);
      this.pos += 1;
      return logits;
    });
  }

  /** Start a new sequence: zero state, position 0. */
  reset(): Promise<void> {
    return this.exclusive(async () => {
      this.memory.resetState();
      this.pos = 0;
    });
  }

  /** A GPU copy of the current state and position. */
  snapshot(): Promise<ModelSnapshot> {
    return this.exclusive(async () => {
      const buffers = this.memory.snapshotState();
      return new Snapshot(this.pos, buffers, this.memory);
    });
  }

  /** Return to a snapshot of this model. */
  restore(s: ModelSnapshot): Promise<void> {
    return this.exclusive(async () => {
      if (!(s instanceof Snapshot) || s.owner !== this.memory) throw new Error("restore: the snapshot belongs to another model");
      if (s.destroyed) throw new Error("restore: the snapshot was destroyed");
      this.memory.restoreState(s.buffers);
      this.pos = s.position;
    });
  }

  /**
   * Prefill the prompt, then sample and decode up to `maxTokens` tokens, yielding each as it is
   * produced. Ends at maxTokens or after the stop sequence; rejects with `signal.reason` when
   * aborted (checked between prefill chunks and between tokens), with ContextError when the
   * next token would pass `context`, with NonFiniteError when logits hold NaN or ±Inf. The last yielded token
   * is not fed back (the state holds the prompt and every yielded token but the last). A later
   * generate() on the same model supersedes this one: it then rejects at its next GPU call.
   */
  async *generate(prompt: string | Uint8Array | readonly number[], options: GenerateOptions = {}): AsyncGenerator<GeneratedToken, void, undefined> {
    const tokens = promptTokens(prompt, this.vocab, options.tokenizer);
    if (tokens.length === 0) throw new RangeError("the prompt is empty: generation needs at least one token to start from");
    const opts: SampleOptions = { temperature: options.temperature ?? 1, topK: options.topK ?? 0, topP: options.topP ?? 1 };
    checkSampleOptions(opts);
    const maxTokens = options.maxTokens ?? DEFAULT_MAX_TOKENS;
    if (!Number.isInteger(maxTokens) || maxTokens < 0) throw new RangeError(`maxTokens must be an integer >= 0, got ${maxTokens}`);
    const textStop = typeof options.stop === "string" && options.tokenizer !== undefined ? options.stop : undefined;
    const stop = options.stop === undefined || textStop !== undefined ? [] : promptTokens(options.stop, 256);
    const decoder = options.tokenizer ?? (this.vocab === 256 ? byteTokenizer : undefined);
    const stream = decoder && new TextStream(decoder, tokens);
    let text = "";
    const rng = createRng(options.seed ?? 0);
    const signal = options.signal;
    const id = ++this.generation;
    const check = () => {
      signal?.throwIfAborted();
      if (this.generation !== id) throw new Error("this generation was superseded by a later generate() on the same model");
    };

    check();
    if (!options.keepState) await this.reset();
    check();
    const start = this.pos;
    const all = await this.prefill(tokens, signal ? { signal } : {});
    options.onPrefill?.(all);
    let logits = all.subarray((tokens.length - 1) * this.vocab);
    const out: number[] = [];
    while (out.length < maxTokens) {
      check();
      // Every prompt row before the first sample (a NaN from the prompt's first token names it).
      if (out.length === 0) checkFinite(all, this.vocab, start, (row) => `prompt token ${row + 1} of ${tokens.length}`);
      else checkFinite(logits, this.vocab, this.pos - 1, () => `after generated token ${out.length}`);
      const token = sample(logits, opts, rng);
      out.push(token);
      let piece = stream?.push(token) ?? "";
      text += piece;
      const last = out.length === maxTokens || endsWith(out, stop) || (textStop !== undefined && textStop !== "" && text.endsWith(textStop));
      if (last) piece += stream?.flush() ?? "";
      yield { token, logits, text: piece };
      if (last) return;
      check();
      if (this.pos >= this.context) {
        throw new ContextError(`the context of ${this.context} tokens is full after ${out.length} generated tokens (prompt: ${tokens.length}); raise \`context\` in the spec or generate fewer tokens`);
      }
      logits = await this.step(token);
    }
  }

  /** Free every GPU buffer of the model (weights, state, programs). */
  destroy(): void {
    this.prefillProgram.destroy();
    this.decodeProgram.destroy();
    this.memory.destroy();
  }

  private checkTokens(tokens: readonly number[]): void {
    const bad = tokens.findIndex((t) => !Number.isInteger(t) || t < 0 || t >= this.vocab);
    if (bad >= 0) throw new RangeError(`token ${tokens[bad]} at index ${bad} is not an id of this model's vocabulary (0..${this.vocab - 1})`);
    if (this.pos + tokens.length > this.context) {
      throw new ContextError(`${tokens.length} tokens at position ${this.pos} pass the model's context of ${this.context} tokens (its KV cache rows); raise \`context\` in the spec or use a shorter prompt`);
    }
  }

  /** Runs `f` after every earlier call of this model has settled. */
  private exclusive<T>(f: () => Promise<T>): Promise<T> {
    const run = this.queue.then(f, f);
    this.queue = run.catch(() => {});
    return run;
  }
}

class Snapshot implements ModelSnapshot {
  destroyed = false;
  constructor(
    readonly position: number,
    readonly buffers: ReadonlyMap<string, GPUBuffer>,
    readonly owner: GpuModelMemory,
  ) {}

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const b of this.buffers.values()) b.destroy();
  }
}

/**
 * Throws a NonFiniteError at the first row of `logits` ([rows, vocab], the first at position
 * `start`) that holds NaN or ±Inf; `where(row)` says what ran there (a prompt token, a generated one).
 */
function checkFinite(logits: Float32Array, vocab: number, start: number, where: (row: number) => string): void {
  for (let i = 0; i < logits.length; i++) {
    if (Number.isFinite(logits[i]!)) continue;
    const row = Math.floor(i / vocab);
    let count = 0;
    for (let j = row * vocab; j < (row + 1) * vocab; j++) if (!Number.isFinite(logits[j]!)) count++;
    throw new NonFiniteError(
      start + row,
      `the logits at position ${start + row} (${where(row)}) are not finite (${count} of ${vocab} are NaN or ±Inf): ` +
        "the weights or the activations hold NaN or ±Inf; generation stopped",
    );
  }
}

function endsWith(seq: readonly number[], tail: readonly number[]): boolean {
  if (tail.length === 0 || seq.length < tail.length) return false;
  return tail.every((t, i) => seq[seq.length - tail.length + i] === t);
}
