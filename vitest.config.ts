import { defineConfig } from "vitest/config";

// `.ci/run` sets HYBRIDC_TEST_REPORT to a path to also get a JSON report it can count.
const report = process.env["HYBRIDC_TEST_REPORT"];

export default defineConfig({
  test: {
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Dawn reads it natively; without it the Vulkan loader warns on every adapter request.
    env: { XDG_RUNTIME_DIR: process.env["XDG_RUNTIME_DIR"] ?? "/tmp" },
    reporters: report ? ["default", "json"] : ["default"],
    ...(report ? { outputFile: { json: report } } : {}),
    projects: [
      { extends: true, test: { name: "unit", include: ["tests/**/*.test.ts"], exclude: ["tests/gpu/**", "tests/codegen/**", "tests/runtime/**"] } },
      // One process owns the GPU: Dawn copes with several, but one is simpler to reason about.
      // tests/codegen runs every generated kernel on the adapter, tests/runtime whole models: both live here.
      { extends: true, test: { name: "gpu", include: ["tests/gpu/**/*.test.ts", "tests/codegen/**/*.test.ts", "tests/runtime/**/*.test.ts"], maxWorkers: 1, testTimeout: 60_000 } },
    ],
  },
});
