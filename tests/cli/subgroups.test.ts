/**
 * `hybridc build --subgroups`, spawned as a user runs it: the decode GEMVs of the build reduce
 * with subgroupAdd (codegen/wgsl/gemv.ts), the manifest says the artifact needs the `subgroups`
 * feature (model and kernel), the manifest reads back through readArtifact, and nothing else
 * changes: the prefill program and the other decode kernels are the same as without the flag.
 * Running such a build: tests/codegen/gemv.test.ts (kernels and decode steps against float64).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { readArtifact } from "../../runtime/artifact/node.ts";
import { cliEnv } from "./env.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "hybridc-subgroups-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function build(out: string, flags: readonly string[]): void {
  const r = spawnSync(process.execPath, [join(ROOT, "bin", "hybridc.js"), "build", join("specs", "hybrid-3to1.hyb"), "-o", out, ...flags], { cwd: ROOT, env: cliEnv(), encoding: "utf8", timeout: 120_000 });
  if (r.error) throw r.error;
  expect(r.status, r.stderr).toBe(0);
}

interface Kernel {
  name: string;
  op: string;
  file: string;
  schedule: Record<string, number>;
  features?: string[];
}
interface Manifest {
  features: string[];
  prefill: { call: Kernel[] };
  decode: { call: Kernel[] };
}

describe("hybridc build --subgroups", () => {
  build(join(tmp, "plain"), []);
  build(join(tmp, "sg"), ["--subgroups"]);
  const manifest = (dir: string): Manifest => JSON.parse(readFileSync(join(tmp, dir, "hybrid_3to1", "manifest.json"), "utf8")) as Manifest;
  const [plain, sg] = [manifest("plain"), manifest("sg")];
  const isLinear = (k: Kernel): boolean => k.op === "linear" || k.op === "fused_linear";

  it("makes every cooperative decode GEMV a subgroup reduction, and says the build needs the feature", () => {
    expect(plain.features).not.toContain("subgroups");
    expect(sg.features).toContain("subgroups");
    // A CPU build (the default target) takes the tiled GEMV behind a staged norm: no lanes to reduce.
    const [gemvs, tiled] = [sg.decode.call.filter((k) => isLinear(k) && k.schedule["coop"]! > 0), sg.decode.call.filter((k) => isLinear(k) && k.schedule["coop"] === 0)];
    expect(gemvs.length).toBeGreaterThan(0);
    expect(tiled.length).toBeGreaterThan(0);
    for (const k of tiled) expect([k.schedule["stage"], k.schedule["subgroup"], k.features], k.name).toEqual([1, 0, undefined]);
    for (const k of gemvs) {
      expect(k.schedule["subgroup"], k.name).toBe(1);
      expect(k.features, k.name).toEqual(["subgroups"]);
      const wgsl = readFileSync(join(tmp, "sg", "hybrid_3to1", k.file), "utf8");
      expect(wgsl).toContain("enable subgroups;");
      expect(wgsl).toContain("subgroupAdd(");
    }
    for (const k of plain.decode.call.filter(isLinear)) expect(k.schedule["subgroup"], k.name).toBe(0);
  });

  it("changes nothing else: the prefill program and the decode kernels that are not GEMVs", () => {
    expect(sg.prefill).toEqual(plain.prefill);
    const others = (m: Manifest) => m.decode.call.filter((k) => !isLinear(k));
    expect(others(sg)).toEqual(others(plain));
  });

  it("reads back with the kernels' features", async () => {
    const a = await readArtifact(join(tmp, "sg", "hybrid_3to1"));
    expect(a.features).toContain("subgroups");
    const gemvs = a.decode.call.filter((k) => k.op === "linear" || k.op === "fused_linear");
    for (const k of gemvs) expect(k.features?.includes("subgroups") ?? false, k.name).toBe(k.schedule["coop"]! > 0);
    expect(gemvs.some((k) => k.schedule["coop"]! > 0)).toBe(true);
  });
});
