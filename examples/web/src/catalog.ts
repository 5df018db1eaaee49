/**
 * The models the app offers: every spec in the repository's specs/, each compiled at build time by
 * the hybridc plugin (`import model from "./x.hyb"`: the artifact, WGSL inlined, and `load`) into a
 * chunk of its own that the worker imports only when that model is chosen. A spec with weights
 * beside it (`specs/NAME.safetensors`: a trained model) ships them as an asset.
 */
import { specKey, type CatalogEntry } from "./protocol.ts";
import type { HybridModel, LoadOptions, ModelArtifact, ModelWeights } from "hybridc/runtime";

/** What the plugin makes of a `.hyb` file. */
export interface HybModule {
  readonly artifact: ModelArtifact;
  load(device: GPUDevice, weights: ModelWeights, options?: LoadOptions): Promise<HybridModel>;
}

const specs = import.meta.glob<HybModule>("../../../specs/*.hyb");
// Not the reference outputs a trained model may keep beside its weights (NAME.reference.safetensors).
const weights = import.meta.glob<string>(["../../../specs/*.safetensors", "!../../../specs/*.*.safetensors"], { query: "?url", import: "default", eager: true });

const stem = (path: string) => path.split("/").pop()!.replace(/\.[^.]*$/, "");

/** Trained models first (they have weights), then the rest by name. */
export const CATALOG: readonly CatalogEntry[] = Object.keys(specs)
  .map((path): CatalogEntry => {
    const url = Object.entries(weights).find(([w]) => stem(w) === stem(path))?.[1];
    return url === undefined ? { id: stem(path) } : { id: stem(path), weightsUrl: url };
  })
  .sort((a, b) => Number(b.weightsUrl !== undefined) - Number(a.weightsUrl !== undefined) || a.id.localeCompare(b.id));

export function findEntry(name: string): CatalogEntry | undefined {
  return CATALOG.find((e) => specKey(e.id) === specKey(name));
}

/** The compiled model of an entry (its chunk is fetched on first use). */
export function importModel(entry: CatalogEntry): Promise<HybModule> {
  const path = Object.keys(specs).find((p) => stem(p) === entry.id)!;
  return specs[path]!();
}
