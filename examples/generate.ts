/**
 * Generate text from a .hyb spec with the hybridc API, in Node (the README's "API" example).
 *   node --import tsx examples/generate.ts [SPEC] [MAX_TOKENS]
 * Builds the spec (the artifact the runtime runs; `hybridc build -o DIR` writes the same, and
 * readArtifact reads it back), loads seeded random weights onto the GPU (a real checkpoint:
 * openCheckpoint), then streams the sampled bytes as they come; a 60 s AbortSignal bounds the run.
 */
import { readFileSync } from "node:fs";
import { build, renderDiagnostics } from "hybridc";
import { loadModel, randomCheckpoint } from "hybridc/runtime";
import { createNodeDevice } from "hybridc/runtime/node";

const path = process.argv[2] ?? "specs/mamba-byte.hyb";
const maxTokens = Number(process.argv[3] ?? 32);

const built = build(readFileSync(path, "utf8"), { path });
if (!built.ok) {
  process.stderr.write(renderDiagnostics(built.diagnostics));
  process.exit(1);
}
const artifact = built.artifacts[0]!; // plain data: kernels (WGSL), buffers, weights

const device = await createNodeDevice(); // Dawn; keeps its instance alive until process.exit()
const model = await loadModel(device, artifact, randomCheckpoint(artifact, 1), {
  onProgress: (p) => process.stderr.write(`\r${p.phase} ${p.loaded}/${p.total}`),
});
process.stderr.write("\n");

const text: number[] = [];
for await (const { token } of model.generate("The state space ", {
  maxTokens,
  temperature: 0.8,
  topK: 40,
  seed: 7,
  signal: AbortSignal.timeout(60_000),
})) {
  text.push(token);
  process.stdout.write(Uint8Array.of(token)); // byte-level model: tokens are UTF-8 bytes
}
process.stdout.write(`\n${text.length} tokens, position ${model.position}\n`);
model.destroy();
process.exit(0);
