/**
 * The scan rows of bench/perf.ts's kernels section alone (`node --import tsx bench/scan-parallel.ts
 * [--quick]`): one Mamba-1 and one Mamba-2 layer at the 130M dims, prefill at L = 2048 (quick:
 * 1024), GPU time of the layer's kernels but the projections, fused with the sequential scan,
 * unfused, and fused with the chunk-parallel scan (passes/parallel-scan.ts). Prints only;
 * bench/results.json is written by the whole performance section (`npm run bench`).
 */
import { BenchRuntime, openBenchDevice } from "./gpu-runtime.ts";
import { kernelBench, QUICK } from "./perf.ts";
import { measureRoof } from "./roofline.ts";

const quick = process.argv.includes("--quick");
const opened = await openBenchDevice();
if (typeof opened === "string") {
  console.log(`skipped: ${opened}`);
} else {
  const rt = new BenchRuntime(opened.device);
  const c = quick ? QUICK : { ...QUICK, kernelRepeats: 3, kernelL: 2048 };
  console.log(`scan kernels: ${opened.adapter}; L = ${c.kernelL}, median of ${c.kernelRepeats}`);
  const roof = await measureRoof(rt.device, { mib: 64, repeats: 3, timestamps: opened.timestamps });
  await kernelBench(rt, roof, c, ["mamba1", "mamba2"]);
}
