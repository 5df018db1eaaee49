import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

// `.ci/run` sets HYBRIDC_TEST_REPORT to a path to also get a JSON report it can count.
const report = process.env["HYBRIDC_TEST_REPORT"];

const WORKERS = Math.max(2, Math.min(4, 2 * availableParallelism()));

export default defineConfig({
  test: {
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 60_000,
    env: {
      // Dawn reads it natively; without it the Vulkan loader warns on every adapter request.
      XDG_RUNTIME_DIR: process.env["XDG_RUNTIME_DIR"] ?? "/tmp",
      // Mesa's lavapipe compiles each pipeline with LLVM at its first dispatch, and on a fresh
      // machine (an empty shader cache) that is most of the suite's time: a flash-attention or
      // chunked-SSD kernel took over 10 s. Two settings cut it, for tests only (benchmarks time
      // the driver's defaults); either can be overridden from the environment:
      //  - GALLIVM_PERF=nopt skips LLVM's optimization passes: the same WGSL and the same IEEE
      //    operations, compiled about 1.8x faster (tests/codegen/scan.test.ts cold: 75 s -> 41 s);
      //  - LP_NATIVE_VECTOR_WIDTH=128 runs invocations 4 to a SIMD register instead of 8: much less
      //    code to compile (tests/codegen/attention.test.ts cold, with nopt: 169 s -> 70 s).
      // Both only make the kernels run slower, which tests on tiny shapes do not feel.
      GALLIVM_PERF: process.env["GALLIVM_PERF"] ?? "nopt",
      LP_NATIVE_VECTOR_WIDTH: process.env["LP_NATIVE_VECTOR_WIDTH"] ?? "128",
    },
    reporters: report ? ["default", "json"] : ["default"],
    ...(report ? { outputFile: { json: report } } : {}),
    // One pool of up to 4 worker processes runs both projects' files together: the unit tests
    // mostly wait on spawned CLIs and the GPU tests on pipeline compiles (LLVM, one thread per
    // pipeline), so four processes keep 2 cores busy. Each GPU worker opens its own Dawn device.
    projects: [
      { extends: true, test: { name: "unit", include: ["tests/**/*.test.ts"], exclude: ["tests/gpu/**", "tests/codegen/**", "tests/runtime/**", "tests/f16/**", "tests/web/**", "tests/bindings/load.test.ts"], maxWorkers: WORKERS, sequence: { groupOrder: 0 } } },
      // tests/codegen runs every generated kernel on the adapter, tests/runtime whole models,
      // tests/f16 both for f16 weights, tests/web the web app in Chromium, and the typed bindings'
      // load test a model through them.
      // Time limits are generous because a cold shader cache makes the first dispatch of each
      // pipeline cost seconds (2 cores, an empty Mesa cache and a CPU hog beside it: `npm test`
      // took 16 min; warm 5 min).
      { extends: true, test: { name: "gpu", include: ["tests/gpu/**/*.test.ts", "tests/codegen/**/*.test.ts", "tests/runtime/**/*.test.ts", "tests/f16/**/*.test.ts", "tests/web/**/*.test.ts", "tests/bindings/load.test.ts"], maxWorkers: WORKERS, testTimeout: 300_000, hookTimeout: 600_000, sequence: { groupOrder: 0 } } },
    ],
  },
});
