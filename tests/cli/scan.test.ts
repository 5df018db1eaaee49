/**
 * `--scan chunked-parallel` (passes/parallel-scan.ts) on the command line, spawned as a user runs
 * it: `inspect` counts two more prefill dispatches per scan layer and the same decode program,
 * `build --dump-after parallel-scan` shows the three phases, and the option's usage errors
 * (`run --scan` on the GPU: tests/runtime/cli-scan.test.ts); and `build --target gpu`, which
 * takes the chunk-parallel scans and the GPU-shaped decode GEMVs unless --scan says otherwise.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { cliEnv } from "./env.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SPECS = ["mamba-byte", "hybrid-3to1"].map((s) => join("specs", `${s}.hyb`));

function hybridc(args: readonly string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, "bin", "hybridc.js"), ...args], { cwd: ROOT, env: cliEnv(), encoding: "utf8", timeout: 120_000 });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Inspected {
  models: { name: string; prefill: { dispatches: number; scratchBytes: number }; decode: { dispatches: number; movedBytes: number }; kernels: { name: string; op: string }[] }[];
}

describe("hybridc --scan", () => {
  it("inspect: two more prefill dispatches per scan layer, more scratch (the slots), the same decode", () => {
    const seq = hybridc(["inspect", "--json", "--length", "300", ...SPECS]);
    const par = hybridc(["inspect", "--json", "--length", "300", "--scan", "chunked-parallel", ...SPECS]);
    expect(seq.code, seq.stderr).toBe(0);
    expect(par.code, par.stderr).toBe(0);
    const [a, b] = [JSON.parse(seq.stdout) as Inspected, JSON.parse(par.stdout) as Inspected];
    a.models.forEach((m, i) => {
      const p = b.models[i]!;
      const scans = m.kernels.filter((k) => k.op === "selective_state_update" || k.op === "ssd_state_update").length;
      expect(scans).toBeGreaterThan(0);
      expect(p.prefill.dispatches, m.name).toBe(m.prefill.dispatches + 2 * scans);
      expect(p.prefill.scratchBytes, m.name).toBeGreaterThan(m.prefill.scratchBytes);
      expect(p.decode, m.name).toEqual(m.decode);
      expect(p.kernels, m.name).toEqual(m.kernels);
    });
  });

  it("build --dump-after parallel-scan prints the three phases in place of each scan", () => {
    const r = hybridc(["build", "--scan", "chunked-parallel", "--dump-after", "parallel-scan", "--length", "200", SPECS[0]!]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/= selective_scan_chunk_state\(.*\{innerNormEps=none, chunk=64\}/);
    expect(r.stdout).toMatch(/= scan_state_pass\(%\d+, @backbone\.layers\.0\.mixer\.A_log, \$layers\.0\.ssm\) \{chunk=64\}/);
    expect(r.stdout).toMatch(/= selective_scan_chunk_output\(/);
    expect(r.stdout).not.toMatch(/= selective_scan\(/);
  });

  it("usage errors: an unknown algorithm, and --dump-after parallel-scan without it", () => {
    const bad = hybridc(["inspect", "--scan", "fast", SPECS[0]!]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown --scan 'fast' \(expected sequential or chunked-parallel\)/);
    const off = hybridc(["build", "--dump-after", "parallel-scan", SPECS[0]!]);
    expect(off.code).toBe(2);
    expect(off.stderr).toMatch(/that pass runs only with --scan chunked-parallel/);
  });
});

describe("hybridc build --target", () => {
  interface Manifest {
    prefill: { call: { name: string; op: string }[] };
    decode: { call: { name: string; op: string; schedule: Record<string, number>; dispatch: { times: number } }[] };
  }
  const manifestOf = (args: readonly string[]): Manifest => {
    const dir = mkdtempSync(join(tmpdir(), "hybridc-target-"));
    try {
      const r = hybridc(["build", "-o", dir, ...args, SPECS[0]!]);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(readFileSync(join(dir, "mamba_byte", "manifest.json"), "utf8")) as Manifest;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const inProj = (m: Manifest) => m.decode.call.find((k) => k.name === "layers.0.mixer.in_proj+conv1d")!;

  it("gpu: chunk-parallel prefill scans and decode GEMVs of 4 tiles x 32 lanes; --scan still chooses the scans", () => {
    const cpu = manifestOf([]);
    const gpu = manifestOf(["--target", "gpu"]);
    expect(inProj(cpu).schedule).toMatchObject({ coop: 0, stage: 1, tileCols: 4 });
    expect(inProj(gpu).schedule).toMatchObject({ coop: 32, wgCols: 4, tileCols: 2 });
    expect(inProj(gpu).dispatch.times).toBeGreaterThan(inProj(cpu).dispatch.times);
    expect(cpu.prefill.call.some((k) => k.op === "selective_scan")).toBe(true);
    expect(gpu.prefill.call.some((k) => k.op === "selective_scan")).toBe(false);
    expect(gpu.prefill.call.some((k) => k.op === "selective_scan_chunk_state")).toBe(true);
    const sequential = manifestOf(["--target", "gpu", "--scan", "sequential"]);
    expect(sequential.prefill.call.some((k) => k.op === "selective_scan")).toBe(true);
    expect(inProj(sequential).schedule).toMatchObject({ coop: 32 });
  });

  it("an unknown target is a usage error", () => {
    const bad = hybridc(["build", "--target", "tpu", SPECS[0]!]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown --target 'tpu' \(expected cpu or gpu\)/);
  });
});
