/**
 * Portability: hybridc on Deno, whose `navigator.gpu` is wgpu with naga as its WGSL compiler, a
 * WebGPU implementation independent of Node's Dawn (deno-run.ts runs portable-run.ts there).
 *   - every kernel of every spec in specs/ (fused and --no-fuse, prefill and decode) passes
 *     naga's validation and becomes a compute pipeline; a module that must fail does fail, so a
 *     silent validator cannot pass this test;
 *   - the tiny models of portable.ts (every block kind; windowed attention past its context),
 *     fused and unfused, built in Node and loaded in Deno with seeded random weights through the
 *     public runtime API (no compiler in Deno):
 *     prefill logits and greedy generation match the step-by-step float64 reference.
 * Deno runs with `--cached-only`: it resolves everything from node_modules, never the network.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canonicalSpecs, expectMatchesReference, MODELS, portableJob } from "./portable.ts";
import type { PortableJob, PortableResult } from "./portable-run.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const DENO = join(ROOT, "node_modules", ".bin", "deno");

const specs = canonicalSpecs();

let dir: string;
let result: PortableResult;
let job: PortableJob;

beforeAll(() => {
  if (!existsSync(DENO)) throw new Error(`Deno is not installed at ${DENO}: it is a devDependency of hybridc; run \`npm ci\` (or \`bash .ci/install\`)`);
  dir = mkdtempSync(join(tmpdir(), "hybridc-deno-"));
  const jobFile = join(dir, "job.json");
  job = portableJob(true);
  writeFileSync(jobFile, JSON.stringify(job));
  const r = spawnSync(DENO, ["run", "--cached-only", "--unstable-webgpu", "--allow-read", "--allow-env", join(ROOT, "tests", "runtime", "deno-run.ts"), jobFile], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 540_000,
    maxBuffer: 256 << 20,
    env: { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
  });
  if (r.error) throw r.error;
  const last = r.stdout.trim().split("\n").pop() ?? "";
  if (r.status !== 0 || !last.startsWith("{")) throw new Error(`deno exited with ${r.status}:\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-4000)}`);
  result = JSON.parse(last) as PortableResult;
}, 600_000);

afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));

describe("Deno (wgpu / naga)", () => {
  it("compiles every kernel of every spec, fused and --no-fuse, into a pipeline", () => {
    console.log(`deno: ${result.adapter}: ${result.kernels.modules} distinct WGSL modules of ${specs.length} specs validated and compiled`);
    expect(result.kernels.probe.length, "the invalid probe module must be reported").toBeGreaterThan(0);
    expect(result.kernels.failures).toEqual([]);
    expect(result.kernels.modules).toBe(job.modules.length);
    expect(job.modules.length).toBeGreaterThan(1000);
  });

  describe.each(Object.keys(MODELS))("%s", (name) => {
    it.each([true, false])("fuse = %s: prefill logits and greedy generation match the float64 reference", (fuse) => expectMatchesReference(result.runs, name, fuse));
  });
});
