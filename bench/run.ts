/**
 * `npm run bench`: how long the front end (parse + check, i.e. `compile()`) takes on large
 * generated specs and on the canonical ones. Prints figures; asserts nothing.
 *
 * Each case runs WARMUP times untimed (JIT, chevrotain's lazy caches), then RUNS times timed;
 * the median and the minimum are reported with the run count, and the first (cold) run apart.
 *
 * Then the start-up of the `hybridc` executable (bench/startup.ts: `--version` and `check`, spawned),
 * and the bundler plugin's compile per import of each canonical spec (bench/plugin.ts).
 *
 * Then the performance section (bench/perf.ts: roofline, PyTorch baseline, fused vs unfused
 * kernels, per-spec figures; writes bench/results.json), and the GPU section (bench/gpu.ts):
 * every canonical spec's fused and unfused programs on the WebGPU adapter. Flags (`npm run bench -- FLAG`): `--gpu-only` runs only the GPU section,
 * `--no-gpu` skips it, `--quick` (or HYBRIDC_BENCH_QUICK=1) runs only the performance section with
 * fewer repeats, `--perf-only` only the performance section at full counts; HYBRIDC_BENCH_SPECS=a.hyb,b.hyb limits the GPU section to those specs,
 * HYBRIDC_BENCH_BREAKDOWN=c.hyb picks the spec of its per-kernel breakdown (default hybrid-130m).
 */
import { readdirSync, readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Diagnostics } from "../compiler/diag/diagnostic.ts";
import { SourceFile } from "../compiler/diag/source.ts";
import { compile } from "../compiler/index.ts";
import { parse } from "../compiler/syntax/index.ts";
import { gpuBench } from "./gpu.ts";
import { optimizerBench } from "./optimizer.ts";
import { perfBench } from "./perf.ts";
import { pluginBench } from "./plugin.ts";
import { startupBench } from "./startup.ts";
import { median } from "./stats.ts";

const WARMUP = 3;
const RUNS = 10;
const LAYERS = 10_000;

const HEADER = `  vocab   = 256
  d_model = 256
  ssm  = mamba2(d_state = 64, headdim = 32)
  attn = attention(heads = 8, kv_heads = 2, rope = 10_000)
  ffn  = mlp(swiglu, hidden = 768)
`;

/** 10,000 layers written out one per line: three `ssm`, then one `attn + ffn`, repeated. */
function explicitSpec(): string {
  const items = Array.from({ length: LAYERS }, (_, i) => (i % 4 === 3 ? "    attn + ffn," : "    ssm,"));
  return `model explicit_10k {\n${HEADER}\n  layers = [\n${items.join("\n")}\n  ]\n}\n`;
}

/** The same 10,000 layers as one ratio repeated 2,500 times. */
function ratioSpec(): string {
  return `model ratio_10k {\n${HEADER}\n  layers = ${LAYERS / 4} * (ssm : attn + ffn = 3 : 1)\n}\n`;
}

interface Timing {
  readonly median: number;
  readonly min: number;
}

function time(fn: () => void): Timing {
  for (let i = 0; i < WARMUP; i++) fn();
  const ms: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    fn();
    ms.push(performance.now() - t0);
  }
  return { median: median(ms), min: Math.min(...ms) };
}

const fmtMs = (ms: number) => `${ms.toFixed(ms < 10 ? 2 : 1)} ms`.padStart(10);

function row(name: string, text: string): void {
  const t0 = performance.now();
  const result = compile(text, { path: name });
  const cold = performance.now() - t0;
  const layers = result.models.reduce((n, m) => n + m.layers.length, 0);
  const weights = result.models.reduce((n, m) => n + m.weights.length, 0);
  const parseOnly = time(() => parse(new Diagnostics(new SourceFile(name, text))));
  const full = time(() => compile(text, { path: name }));
  const rate = layers / (full.median / 1000);
  console.log(
    `${name.padEnd(22)} ${String(layers).padStart(6)} layers ${String(weights).padStart(7)} tensors` +
      `  parse ${fmtMs(parseOnly.median)}  parse+check median ${fmtMs(full.median)} min ${fmtMs(full.min)}` +
      `  ${Math.round(rate).toLocaleString("en-US").padStart(9)} layers/s  (first run ${fmtMs(cold).trim()})`,
  );
  if (!result.ok) console.log(`  !! ${result.diagnostics.length} diagnostics: the timing above includes error paths`);
}

const root = fileURLToPath(new URL("..", import.meta.url));
const flags = new Set(process.argv.slice(2));
// `--quick` (or HYBRIDC_BENCH_QUICK=1): only the performance section (bench/perf.ts), with fewer
// repeats: a few minutes on a loaded 2-core machine. It writes bench/results.json as the full run does.
const quick = flags.has("--quick") || process.env["HYBRIDC_BENCH_QUICK"] === "1";
// `--perf-only`: the performance section alone at full counts.
if (quick || flags.has("--perf-only")) {
  await perfBench(root, quick);
  process.exit(0);
}
const specs = readdirSync(join(root, "specs")).filter((f) => f.endsWith(".hyb")).sort();
if (!flags.has("--gpu-only")) {
  console.log(`hybridc front-end benchmark: node ${process.version}, ${WARMUP} warm-up + ${RUNS} timed runs per case, load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  console.log("generated specs:");
  row("explicit-10k.hyb", explicitSpec());
  row("ratio-10k.hyb", ratioSpec());
  console.log("canonical specs:");
  for (const f of specs) row(f, readFileSync(join(root, "specs", f), "utf8"));
  optimizerBench(specs.flatMap((f) => compile(readFileSync(join(root, "specs", f), "utf8"), { path: f }).models));
  startupBench();
  pluginBench(root);
}
if (!flags.has("--no-gpu")) {
  const only = (process.env["HYBRIDC_BENCH_SPECS"] ?? "").split(",").filter((s) => s !== "");
  const chosen = specs.filter((f) => only.length === 0 || only.includes(f));
  const models = chosen.map((file) => {
    const r = compile(readFileSync(join(root, "specs", file), "utf8"), { path: file });
    return { file, model: r.models[0]!, source: r.source };
  });
  await perfBench(root, false);
  await gpuBench(models, process.env["HYBRIDC_BENCH_BREAKDOWN"]);
  // A live Dawn instance keeps Node running (performance.md §3.2).
  process.exit(0);
}
