/**
 * Start-up of the `hybridc` executable (issue 9, item 7): wall time of a whole process, spawned as
 * a user runs it (`node bin/hybridc.js ...`: the compiled CLI in dist/, which `npm run bench`
 * rebuilds first), for `--version` and for `check` of a canonical spec. One untimed warm-up run
 * each (the OS file cache), then RUNS timed runs; the median and the minimum are printed beside
 * the figures of the CLI before the change (BEFORE) and the targets. Prints figures; asserts
 * nothing (a timed test would fail on a loaded machine). Alone: `node --import tsx bench/startup.ts`.
 */
import { spawnSync } from "node:child_process";
import { loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { median } from "./stats.ts";

const RUNS = 10;
const SPEC = "specs/hybrid-3to1.hyb";

/**
 * The CLI before the change, measured 2026-12-02 with the same method (median of 10 spawns) on
 * this machine (2 cores, Node 20.20.2, load average 2.5-3.9: a GPU test run in the background):
 * bin/hybridc.js registered tsx's loader and ran the TypeScript sources (tsx's transform cache
 * warm), and compiler/cli/index.ts imported every command module, the runtime's included.
 */
const BEFORE = { date: "2026-12-02", version: 740, check: 800 } as const;
/** The targets on this machine. */
const TARGET = { version: 300, check: 500 } as const;

const root = fileURLToPath(new URL("..", import.meta.url));
const bin = join(root, "bin", "hybridc.js");

/** Milliseconds for one `node ARGS` process, start to exit. */
function spawnMs(args: readonly string[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: "utf8" });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`node ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return ms;
}

function measure(args: readonly string[]): { median: number; min: number } {
  spawnMs(args);
  const ms = Array.from({ length: RUNS }, () => spawnMs(args));
  return { median: median(ms), min: Math.min(...ms) };
}

export function startupBench(): void {
  console.log(`start-up: node bin/hybridc.js (dist/), 1 warm-up + ${RUNS} spawns each, load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  const node = measure(["-e", "0"]);
  console.log(`${"node -e 0 (Node's own start)".padEnd(40)} median ${node.median.toFixed(0).padStart(4)} ms  min ${node.min.toFixed(0).padStart(4)} ms`);
  const rows = [
    { name: "hybridc --version", args: [bin, "--version"], before: BEFORE.version, target: TARGET.version },
    { name: `hybridc check ${SPEC}`, args: [bin, "check", SPEC], before: BEFORE.check, target: TARGET.check },
  ];
  for (const row of rows) {
    const t = measure(row.args);
    console.log(
      `${row.name.padEnd(40)} median ${t.median.toFixed(0).padStart(4)} ms  min ${t.min.toFixed(0).padStart(4)} ms` +
        `  | before (${BEFORE.date}, tsx) ${String(row.before).padStart(4)} ms | target < ${row.target} ms ${t.median < row.target ? "ok" : "MISSED"}`,
    );
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) startupBench();
