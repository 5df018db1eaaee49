/**
 * `hybridc run --scan chunked-parallel`, spawned as a user runs it: the trained kjv-byte
 * (Mamba-2 + attention, F16 weights) generates the same greedy bytes from a 138-byte prompt
 * (three chunks of 64) as with the sequential scan.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { cliEnv } from "../cli/env.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

describe("hybridc run --scan", () => {
  it("run: the trained kjv-byte generates the same greedy bytes with either scan", () => {
    const prompt = "In the beginning God created the heaven and the earth. And the earth was without form, and void; and darkness was upon the face of the deep.";
    const gen = (scan: string) => {
      const args = ["run", join("specs", "kjv-byte.hyb"), "--weights", join("specs", "kjv-byte.safetensors"), "--prompt", prompt, "--max-tokens", "24", "--temperature", "0", "--json", "--scan", scan];
      const r = spawnSync(process.execPath, [join(ROOT, "bin", "hybridc.js"), ...args], { cwd: ROOT, env: cliEnv(), encoding: "utf8", timeout: 300_000 });
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(r.stdout.trim().split("\n").pop()!) as { tokens: number[] };
    };
    expect(prompt.length).toBeGreaterThan(2 * 64);
    const seq = gen("sequential");
    expect(seq.tokens).toHaveLength(24);
    expect(gen("chunked-parallel").tokens).toEqual(seq.tokens);
  }, 600_000);

});
