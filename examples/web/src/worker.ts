/**
 * The generation worker: everything that touches the GPU runs here, so the page stays responsive
 * while weights are generated or uploaded, pipelines compile and tokens are sampled.
 *   ready     on start: the catalog, and the adapter or why there is none
 *   run       import the model's chunk, get a device for its limits, open the weights, loadModel
 *             (reused while spec and weights stay the same), then stream tokens
 *   stop      abort the run in flight (the download, the upload or the generation)
 * Every failure comes back as one `error` message of a kind the page words for a person.
 */
import { ContextError, DeviceLostError, DeviceMismatchError, deviceMismatch, NonFiniteError, WeightError, type HybridModel, type ModelArtifact } from "hybridc/runtime";
import { CATALOG, findEntry, importModel, type HybModule } from "./catalog.ts";
import { FetchError, forgetCache } from "./cache.ts";
import type { ErrorKind, FromWorker, ModelInfo, Progress, RunRequest, ToWorker } from "./protocol.ts";
import { TokenText } from "./text.ts";
import { countingReads, openWeights, weightsKey } from "./weights.ts";

interface WorkerScope {
  readonly navigator: { readonly gpu?: GPU };
  readonly location: { readonly href: string };
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  postMessage(m: FromWorker): void;
}
const scope = self as unknown as WorkerScope;
const post = (m: FromWorker) => scope.postMessage(m);

/** A failure the page shows with its kind. */
class AppError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
  ) {
    super(message);
  }
}

export const NO_WEBGPU =
  "This browser has no WebGPU (navigator.gpu is missing), which hybridc needs to run models. Use a browser with WebGPU: Chrome or Edge 113 or later, or Safari or Firefox with WebGPU enabled.";
export const NO_ADAPTER =
  "WebGPU is present, but the browser offers no GPU adapter (requestAdapter() returned null): WebGPU may be disabled or the GPU blocklisted. In Chrome, enable chrome://flags/#enable-unsafe-webgpu (on Linux, start it with --enable-unsafe-webgpu).";

let adapterPromise: Promise<GPUAdapter> | undefined;
let device: GPUDevice | null = null;
/** Devices this worker destroyed on purpose (a model needing other limits): their loss is no news. */
const retired = new WeakSet<GPUDevice>();
let loaded: { readonly key: string; readonly model: HybridModel; readonly info: ModelInfo } | null = null;
let controller: AbortController | null = null;
let running = false;

function adapter(): Promise<GPUAdapter> {
  adapterPromise ??= (async () => {
    const gpu = scope.navigator.gpu;
    if (gpu === undefined) throw new AppError("no-webgpu", NO_WEBGPU);
    const a = await gpu.requestAdapter();
    if (a === null) throw new AppError("no-webgpu", NO_ADAPTER);
    return a;
  })();
  return adapterPromise;
}

function describe(a: GPUAdapter): string {
  const i = a.info;
  return [i.vendor, i.architecture, i.device, i.description].filter((s) => s).join(" ") || "unnamed adapter";
}

/** A device with the limits and features the artifact's kernels were generated for (as far as the adapter has them). */
async function deviceFor(artifact: ModelArtifact): Promise<GPUDevice> {
  if (device !== null && deviceMismatch(artifact, device).length === 0) return device;
  dropModel();
  if (device !== null) {
    retired.add(device);
    device.destroy();
    device = null;
  }
  const a = await adapter();
  const limits = a.limits as unknown as Record<string, number>;
  const requiredLimits: Record<string, number> = {};
  for (const [name, need] of Object.entries(artifact.limits)) requiredLimits[name] = Math.min(need, limits[name] ?? need);
  const requiredFeatures = artifact.features.filter((f) => a.features.has(f)) as GPUFeatureName[];
  const d = await a.requestDevice({ requiredLimits, requiredFeatures });
  d.lost.then((info) => {
    if (retired.has(d)) return;
    if (device === d) {
      device = null;
      loaded = null;
    }
    // A run in flight reports the loss itself (the runtime rejects its GPU call with DeviceLostError).
    if (!running) post({ type: "error", kind: "device-lost", message: lostMessage(`${info.reason}: ${info.message || "no message"}`) });
  });
  device = d;
  return d;
}

function lostMessage(detail: string): string {
  return `The GPU device was lost (${detail}). Press Generate to load the model again on a new device; if it keeps happening, the model may be too large for this GPU.`;
}

function dropModel(): void {
  loaded?.model.destroy();
  loaded = null;
}

const parameters = (a: ModelArtifact) => a.weights.reduce((s, w) => s + w.shape.reduce((x, y) => x * y, 1), 0);

/** Progress messages at most every 50 ms (a download reports every chunk), and always the last. */
function throttled(): (p: Progress) => void {
  let last = 0;
  return (p) => {
    const now = performance.now();
    if (now - last < 50 && p.loaded < p.total) return;
    last = now;
    post({ type: "progress", progress: p });
  };
}

async function loadFor(req: RunRequest, mod: HybModule, trainedUrl: string | undefined, signal: AbortSignal): Promise<HybridModel> {
  const artifact = mod.artifact;
  const key = `${req.spec}\n${weightsKey(req.weights)}`;
  if (loaded?.key === key && device !== null) {
    post({ type: "loaded", info: { ...loaded.info, reused: true } });
    return loaded.model;
  }
  dropModel();
  const start = performance.now();
  const d = await deviceFor(artifact);
  const progress = throttled();
  const opened = await openWeights(req.weights, artifact, trainedUrl, (loaded, total) => progress({ phase: "download", loaded, total }), signal);
  let tensors = 0;
  let bytes = { loaded: 0, total: 0 };
  const weightsProgress = () => progress({ phase: "weights", ...bytes, tensors, totalTensors: artifact.weights.length });
  try {
    const model = await mod.load(
      d,
      countingReads(opened.checkpoint, (n) => {
        tensors = n;
        weightsProgress();
      }),
      {
        signal,
        onProgress: (p) => {
          if (p.phase === "weights") {
            bytes = { loaded: p.loaded, total: p.total };
            weightsProgress();
          } else post({ type: "progress", progress: { phase: "compile", loaded: p.loaded, total: p.total } });
        },
      },
    );
    const info: ModelInfo = {
      model: artifact.model,
      vocab: artifact.vocab,
      parameters: parameters(artifact),
      tensors: artifact.weights.length,
      weights: opened.fromCache ? `${opened.label} (from the cache)` : opened.notCached ? `${opened.label} (not cached: ${opened.notCached})` : opened.label,
      fromCache: opened.fromCache,
      loadMs: performance.now() - start,
      reused: false,
    };
    loaded = { key, model, info };
    post({ type: "loaded", info });
    return model;
  } finally {
    await opened.checkpoint.close();
  }
}

async function run(req: RunRequest): Promise<void> {
  controller?.abort(new DOMException("superseded by a new run", "AbortError"));
  const own = new AbortController();
  controller = own;
  const signal = own.signal;
  running = true;
  let count = 0;
  let firstTokenMs: number | null = null;
  let tokensPerSecond: number | null = null;
  let text: TokenText | null = null;
  // The end of the text: U+FFFD for a character whose bytes did not all come.
  const flush = () => {
    const tail = text?.end() ?? "";
    if (tail !== "") post({ type: "tokens", text: tail, tokens: [], count, firstTokenMs: firstTokenMs ?? 0, tokensPerSecond });
  };
  try {
    const entry = findEntry(req.spec);
    if (entry === undefined) throw new AppError("input", `no model named ${req.spec}; the models are ${CATALOG.map((e) => e.id).join(", ")}`);
    const mod = await importModel(entry);
    const trained = entry.weightsUrl === undefined ? undefined : new URL(entry.weightsUrl, scope.location.href).href;
    const model = await loadFor(req, mod, trained, signal);
    text = new TokenText(mod.artifact.vocab);
    const start = performance.now();
    let firstAt = start;
    for await (const { token } of model.generate(req.prompt, { maxTokens: req.maxTokens, temperature: req.temperature, topK: req.topK, topP: req.topP, seed: req.seed, signal })) {
      const now = performance.now();
      count += 1;
      if (firstTokenMs === null) {
        firstTokenMs = now - start;
        firstAt = now;
      }
      tokensPerSecond = count > 1 ? ((count - 1) * 1000) / (now - firstAt) : null;
      post({ type: "tokens", text: text.push([token]), tokens: [token], count, firstTokenMs, tokensPerSecond });
      if (req.loseDeviceAfter === count) device?.destroy();
    }
    flush();
    post({ type: "done", stopped: false, count, firstTokenMs, tokensPerSecond });
  } catch (e) {
    flush();
    if (signal.aborted && !(e instanceof DeviceLostError)) post({ type: "done", stopped: true, count, firstTokenMs, tokensPerSecond });
    else post({ type: "error", ...classify(e, req) });
  } finally {
    running = false;
    if (controller === own) controller = null;
  }
}

function classify(e: unknown, req: RunRequest): { kind: ErrorKind; message: string } {
  if (e instanceof AppError) return { kind: e.kind, message: e.message };
  if (e instanceof DeviceLostError) {
    dropModel();
    return { kind: "device-lost", message: lostMessage(e.message.replace(/^GPU device lost \(([^)]*)\): /, "$1: ").replace(/; recreate the device.*$/, "")) };
  }
  if (e instanceof WeightError) {
    const lines = e.message.split("\n");
    const shown = lines.length > 12 ? [...lines.slice(0, 12), `... and ${lines.length - 12} more problems`] : lines;
    return { kind: "weights", message: `These weights do not fit ${req.spec}:\n${shown.join("\n")}` };
  }
  if (e instanceof DeviceMismatchError) return { kind: "device", message: e.message };
  if (e instanceof FetchError || e instanceof ContextError || e instanceof NonFiniteError || e instanceof RangeError) return { kind: "input", message: e.message };
  return { kind: "other", message: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
}

scope.onmessage = (e) => {
  const m = e.data;
  switch (m.type) {
    case "run":
      void run(m.request);
      return;
    case "stop":
      controller?.abort(new DOMException("stopped", "AbortError"));
      return;
    case "forget-cache":
      void forgetCache().then((entries) => post({ type: "cache-forgotten", entries }));
      return;
  }
};

adapter().then(
  (a) => post({ type: "ready", catalog: CATALOG, adapter: describe(a), problem: null }),
  (e: unknown) => post({ type: "ready", catalog: CATALOG, adapter: null, problem: e instanceof Error ? e.message : String(e) }),
);
