import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

// `.ci/run` sets HYBRIDC_TEST_REPORT to a path to also get a JSON report it can count.
const report = process.env["HYBRIDC_TEST_REPORT"];

const GPU_WORKERS = Math.max(1, Math.min(4, availableParallelism()));

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
    projects: [
      { extends: true, test: { name: "unit", include: ["tests/**/*.test.ts"], exclude: ["tests/gpu/**", "tests/codegen/**", "tests/runtime/**"], sequence: { groupOrder: 0 } } },
      // tests/codegen runs every generated kernel on the adapter, tests/runtime whole models: both
      // live here. Each worker process opens its own Dawn device. On lavapipe, loading is compiling
      // pipelines (LLVM, one thread per pipeline; with a cold Mesa shader cache that is most of
      // the time), so files run in parallel, up to 4 at once, each process on its own core. Its
      // own worker count needs its own group (vitest): the unit tests run first, then these.
      // Time limits are generous because a cold shader cache makes the first dispatch of each
      // pipeline cost seconds (measured on 2 cores: the whole suite ~20 min cold, ~4 min warm).
      { extends: true, test: { name: "gpu", include: ["tests/gpu/**/*.test.ts", "tests/codegen/**/*.test.ts", "tests/runtime/**/*.test.ts"], maxWorkers: GPU_WORKERS, testTimeout: 300_000, hookTimeout: 600_000, sequence: { groupOrder: 1 } } },
    ],
  },
});
