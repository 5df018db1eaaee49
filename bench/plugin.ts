/**
 * The bundler plugin's hot path (compiler/plugin/module.ts: a `.hyb` file's text to the module a
 * bundler gets: parse, check, lower, optimize, plan, generate WGSL, validate the artifact, print
 * the module) for each canonical spec, as `load` runs it on every import and every edit in dev.
 * Cold is the first compile in the process (JIT, chevrotain's caches); warm is the median of RUNS
 * after WARMUP, as wall time and as the process's CPU time (user + system, GC threads included):
 * on a machine shared with other jobs the wall time mostly measures the wait for a core, the CPU
 * time what the compile costs. The target: under 50 ms warm per canonical spec. Prints
 * figures; asserts nothing. Part of `npm run bench`; alone: `npm run bench:plugin`.
 */
import { readdirSync, readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { hybModule } from "../compiler/plugin/module.ts";
import { summarize } from "./stats.ts";

const WARMUP = 5;
const RUNS = 20;
const TARGET_MS = 50;

export function pluginBench(root: string): void {
  const specs = readdirSync(join(root, "specs")).filter((f) => f.endsWith(".hyb")).sort();
  console.log(`bundler plugin, compile per import (hot path: compiler only, no I/O); ${WARMUP} warm-up + ${RUNS} timed runs, load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}; target < ${TARGET_MS} ms warm`);
  for (const f of specs) {
    const text = readFileSync(join(root, "specs", f), "utf8");
    const cpu: number[] = [];
    const once = (): number => {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const r = hybModule(text, f);
      const ms = performance.now() - t0;
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / 1000);
      if (!r.ok) throw new Error(`${f} does not build: ${r.errors.map((e) => e.message).join("; ")}`);
      size = r.code.length;
      kernels = r.artifact.prefill.call.length + r.artifact.decode.call.length + r.artifact.prefill.load.length + r.artifact.decode.load.length;
      return ms;
    };
    let size = 0;
    let kernels = 0;
    const cold = once();
    for (let i = 0; i < WARMUP; i++) once();
    cpu.length = 0;
    const s = summarize(Array.from({ length: RUNS }, once));
    const c = summarize(cpu);
    const verdict = Math.min(s.median, c.median) < TARGET_MS ? "under target" : "over target";
    console.log(
      `  ${f.padEnd(18)} warm median ${s.median.toFixed(1).padStart(6)} ms (min ${s.min.toFixed(1).padStart(6)}), CPU ${c.median.toFixed(1).padStart(6)} ms  cold ${cold.toFixed(0).padStart(5)} ms` +
        `  ${String(kernels).padStart(4)} kernels  module ${(size / 1024).toFixed(0).padStart(5)} KiB  ${verdict}`,
    );
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) pluginBench(fileURLToPath(new URL("..", import.meta.url)));
