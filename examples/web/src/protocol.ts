/**
 * The messages between the page (main.ts) and the generation worker (worker.ts). Everything is
 * structured-clone data: a local file travels as its File objects, never as bytes.
 */

/** Where the weights come from. */
export type WeightsChoice =
  | { readonly kind: "random"; readonly seed: number }
  | { readonly kind: "files"; readonly files: readonly File[] }
  | { readonly kind: "url"; readonly url: string }
  /** The weights the app ships for the model (a trained model's `specs/NAME.safetensors`). */
  | { readonly kind: "trained" };

export interface RunRequest {
  /** A catalog id (the spec's file name without `.hyb`). */
  readonly spec: string;
  readonly weights: WeightsChoice;
  readonly prompt: string;
  readonly maxTokens: number;
  /** 0: greedy. */
  readonly temperature: number;
  readonly topK: number;
  readonly topP: number;
  /** Seeds the sampler. */
  readonly seed: number;
  /** Destroy the GPU device after this many tokens: shows what a lost device looks like (`?loseDevice=N`). */
  readonly loseDeviceAfter?: number;
}

export type ToWorker = { readonly type: "run"; readonly request: RunRequest } | { readonly type: "stop" } | { readonly type: "forget-cache" };

export interface CatalogEntry {
  readonly id: string;
  /** Weights shipped with the app (a trained model's safetensors), as a URL. */
  readonly weightsUrl?: string;
}

/** What went wrong, so the page can say it in its own words. */
export type ErrorKind = "no-webgpu" | "device-lost" | "weights" | "device" | "input" | "other";

export type LoadPhase = "download" | "weights" | "compile";

export interface Progress {
  readonly phase: LoadPhase;
  readonly loaded: number;
  readonly total: number;
  /** Weights: tensors read so far and in all. */
  readonly tensors?: number;
  readonly totalTensors?: number;
}

export interface ModelInfo {
  readonly model: string;
  readonly vocab: number;
  readonly parameters: number;
  readonly tensors: number;
  /** Where the weights came from: `random(seed=1)`, `network`, `cache`, a file name. */
  readonly weights: string;
  readonly fromCache: boolean;
  readonly loadMs: number;
  /** True when this run reused the model loaded by an earlier run. */
  readonly reused: boolean;
}

export type FromWorker =
  | { readonly type: "ready"; readonly catalog: readonly CatalogEntry[]; readonly adapter: string | null; readonly problem: string | null }
  | { readonly type: "progress"; readonly progress: Progress }
  | { readonly type: "loaded"; readonly info: ModelInfo }
  | { readonly type: "tokens"; readonly text: string; readonly tokens: readonly number[]; readonly count: number; readonly firstTokenMs: number; readonly tokensPerSecond: number | null }
  | { readonly type: "done"; readonly stopped: boolean; readonly count: number; readonly firstTokenMs: number | null; readonly tokensPerSecond: number | null }
  | { readonly type: "error"; readonly kind: ErrorKind; readonly message: string }
  | { readonly type: "cache-forgotten"; readonly entries: number };

/** `samba-style`, `samba_style` and `samba-style.hyb` name the same model. */
export function specKey(name: string): string {
  return name.replace(/\.hyb$/, "").replace(/_/g, "-");
}
