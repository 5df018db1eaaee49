/**
 * Acceptance on the canonical specs (specs/*.hyb, as shipped): each model, with random weights
 * from a fixed seed, runs on the adapter as its optimized (fused) GPU program and is compared
 * with `interp` of the unoptimized lowered graphs in float64:
 *   - prefill logits of a 5-token prompt and the state it leaves (SSM, conv, KV cache);
 *   - two decode steps continuing on the GPU state;
 *   - the GPU's prefill-then-decode equals the GPU's token-by-token decode from an empty state;
 *   - the `--no-fuse` GPU program (every primitive op its own kernel) gives the fused program's
 *     prefill logits and next decode step, for the two specs that between them hold every block
 *     kind (Mamba-1 and Mamba-2, full and windowed attention, GQA and MQA, RoPE, SwiGLU): the
 *     unfused kernels differ between specs only in their sizes, their numerics are checked on tiny
 *     models of every kind in unfused-program.test.ts, and Deno and Chromium compile every
 *     unfused kernel of every spec; each one here costs a cold lavapipe a pipeline compile.
 * Tolerance: normwise max|gpu - ref| <= 1e-4 * max|ref| (float32 through 8-24 layers).
 * The specs are split over two test files (specs.test.ts, specs-130m.test.ts), so the two large
 * models (their float64 reference costs most of the time) run beside the others.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { lowerDecode, lowerPrefill } from "../../compiler/index.ts";
import { relError } from "../../compiler/interp/index.ts";
import { randomTokens, randomWeights, runGraph, zeroState, type State } from "../ir/fixtures.ts";
import { GpuProgram } from "../../runtime/program.ts";
import { built, programsOf, spec, type Spec } from "../runtime/built.ts";

const SPECS = join(import.meta.dirname, "../../specs");
const TOL = 1e-4;
const PROMPT = 5;
const STEPS = 2;
/** The specs whose --no-fuse programs also run (see the header). */
const UNFUSED = new Set(["hybrid-3to1.hyb", "samba-style.hyb"]);

function load(file: string): Spec {
  return spec(readFileSync(join(SPECS, file), "utf8"), file);
}

const err = (gpu: ArrayLike<number>, ref: Float64Array): number => relError(Float64Array.from(gpu), ref);

/** Every canonical spec file, sorted. */
export const CANONICAL = readdirSync(SPECS).filter((f) => f.endsWith(".hyb")).sort();

/** The acceptance tests of these spec files. */
export function specAcceptance(files: readonly string[]): void {
  describe.each(files)("%s", (file) => {
    it(`fused GPU program matches interp (prefill, decode after it, decode from empty state)${UNFUSED.has(file) ? "; --no-fuse matches fused" : ""}`, async () => {
      const s = load(file);
      const m = s.model;
      const f64: Record<string, Float64Array> = {};
      const f32: Record<string, Float32Array> = {};
      for (const [name, a] of Object.entries(randomWeights(m, 2026))) {
        f32[name] = Float32Array.from(a);
        f64[name] = Float64Array.from(f32[name]!);
      }
      const fused = await programsOf(await built(s), f32, [PROMPT]);
      const { memory, decode } = fused;
      const prefill = fused.prefill.get(PROMPT)!;
      try {
        const tokens = randomTokens(m, PROMPT, 7);
        const ref = runGraph(lowerPrefill(m), m, f64, tokens, 0, zeroState(m));
        const logits = await prefill.run(tokens, 0);
        expect(err(logits, ref.logits), "prefill logits").toBeLessThanOrEqual(TOL);
        const gpuState = await decode.readState();
        for (const [name, v] of Object.entries(ref.state)) expect(err(gpuState[name]!, v), `state ${name} after prefill`).toBeLessThanOrEqual(TOL);

        const refDecode = lowerDecode(m);
        let state: State = ref.state;
        const continued: Float32Array[] = [];
        for (let i = 0; i < STEPS; i++) {
          const t = (31 * i + 5) % m.vocab;
          const gpu = await decode.run([t], PROMPT + i);
          continued.push(gpu);
          const d = runGraph(refDecode, m, f64, [t], PROMPT + i, state);
          state = d.state;
          expect(err(gpu, d.logits), `decode step ${i} after prefill`).toBeLessThanOrEqual(TOL);
        }

        // The same sequence token by token from an empty state, all on the GPU.
        memory.resetState();
        const sequence = [...tokens, ...Array.from({ length: STEPS }, (_, i) => (31 * i + 5) % m.vocab)];
        let last: Float32Array = new Float32Array(0);
        for (let i = 0; i < sequence.length; i++) {
          last = await decode.run([sequence[i]!], i);
          if (i === PROMPT - 1) expect(err(last, Float64Array.from(logits.subarray((PROMPT - 1) * m.vocab))), "decode from empty state vs prefill's last row").toBeLessThanOrEqual(TOL);
        }
        expect(err(last, Float64Array.from(continued[STEPS - 1]!)), "token-by-token decode vs prefill + decode").toBeLessThanOrEqual(TOL);

        if (!UNFUSED.has(file)) return;
        // --no-fuse on the GPU: the same logits as the fused program (the same weight layout, so the same memory).
        const unfused = await built(s, { fuse: false });
        expect(unfused.weightBuffers).toEqual(fused.artifact.weightBuffers);
        const uPrefill = await GpuProgram.fromArtifact(memory, unfused.prefill, PROMPT);
        const uDecode = await GpuProgram.fromArtifact(memory, unfused.decode, 1);
        try {
          memory.resetState();
          expect(err(await uPrefill.run(tokens, 0), Float64Array.from(logits)), "--no-fuse prefill vs fused").toBeLessThanOrEqual(TOL);
          expect(err(await uDecode.run([5], PROMPT), Float64Array.from(continued[0]!)), "--no-fuse decode vs fused").toBeLessThanOrEqual(TOL);
        } finally {
          uPrefill.destroy();
          uDecode.destroy();
        }
      } finally {
        fused.destroy();
      }
      // The 130M models' float64 reference takes most of a minute on an idle core; on a cold,
      // loaded machine (their kernels compiled afresh, a CPU hog beside) it took over 300 s.
    }, /130m/.test(file) ? 900_000 : 300_000);
  });
}
