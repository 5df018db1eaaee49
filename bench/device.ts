/**
 * The performance section (bench/perf.ts) alone, for a lent GPU machine: tools/device-kit
 * bundles this file with esbuild and runs it there from the repository root (no npm, no tsx
 * there). `--quick` uses the quick counts. It writes bench/results.json under the current
 * directory, as `npm run bench -- --perf-only` does.
 */
import { perfBench } from "./perf.ts";

await perfBench(process.cwd(), process.argv.includes("--quick"));
// A live Dawn instance keeps Node running (performance.md §3.2).
process.exit(0);
