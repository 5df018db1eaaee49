/**
 * The weights of a run as a runtime Checkpoint: seeded random (randomCheckpoint: bit-identical to
 * what the Node runtime and `hybridc run --init random` make for the same seed), a local
 * `.safetensors` file, or one at a URL (fetched and cached, cache.ts). Every source is checked against
 * the artifact's tensors by loadModel before anything reaches the GPU.
 */
import { blobSource, openSafetensors, randomCheckpoint, WeightError, type Checkpoint, type ModelArtifact } from "hybridc/runtime";
import { cachedFetch } from "./cache.ts";
import type { WeightsChoice } from "./protocol.ts";

export interface OpenedWeights {
  readonly checkpoint: Checkpoint;
  /** What the page says the weights are: `random(seed=1)`, a file name, a URL. */
  readonly label: string;
  readonly fromCache: boolean;
  readonly notCached?: string;
}

const lastSegment = (url: string) => decodeURIComponent(new URL(url).pathname.split("/").pop() || url);

/** Open the chosen weights; `onBytes` reports a download's progress. */
export async function openWeights(
  choice: WeightsChoice,
  artifact: ModelArtifact,
  trainedUrl: string | undefined,
  onBytes: (loaded: number, total: number) => void,
  signal: AbortSignal,
): Promise<OpenedWeights> {
  switch (choice.kind) {
    case "trained":
      if (trainedUrl === undefined) throw new WeightError([{ file: artifact.source, message: "the app ships no trained weights for this model: choose random weights, a file or a URL" }]);
      return { ...(await openUrl(trainedUrl, onBytes, signal)), label: `trained (${lastSegment(trainedUrl)})` };
    case "random":
      return { checkpoint: randomCheckpoint(artifact, choice.seed), label: `random(seed=${choice.seed})`, fromCache: false };
    case "files":
      return { checkpoint: await openFiles(choice.files), label: choice.files.map((f) => f.name).join(", "), fromCache: false };
    case "url":
      return openUrl(choice.url, onBytes, signal);
  }
}

async function openFiles(files: readonly File[]): Promise<Checkpoint> {
  if (files.length !== 1) throw new WeightError([{ file: files.map((f) => f.name).join(", ") || "(none)", message: "choose one .safetensors file" }]);
  return openSafetensors(blobSource(files[0]!), files[0]!.name);
}

async function openUrl(url: string, onBytes: (loaded: number, total: number) => void, signal: AbortSignal): Promise<OpenedWeights> {
  const got = await cachedFetch(url, onBytes, signal);
  const checkpoint = await openSafetensors(blobSource(got.blob), lastSegment(url));
  return { checkpoint, label: url, fromCache: got.fromCache, ...(got.notCached ? { notCached: got.notCached } : {}) };
}

/** The same checkpoint, reporting each tensor read (the upload reads each once). */
export function countingReads(c: Checkpoint, onTensor: (read: number) => void): Checkpoint {
  let read = 0;
  return {
    label: c.label,
    tensors: c.tensors,
    metadata: c.metadata,
    close: () => c.close(),
    read: async (name) => {
      const t = await c.read(name);
      onTensor(++read);
      return t;
    },
  };
}

/** A key that is equal for two runs exactly when they load the same weights. */
export function weightsKey(choice: WeightsChoice): string {
  switch (choice.kind) {
    case "random":
      return `random:${choice.seed}`;
    case "url":
      return `url:${choice.url}`;
    case "trained":
      return "trained";
    case "files":
      return `files:${choice.files.map((f) => `${f.name}:${f.size}:${f.lastModified}`).join("|")}`;
  }
}
