/**
 * attention (prefill) / attention_decode on the adapter against interp: the output and both
 * caches (updated in place, rows (pos + s) mod T written with k after RoPE), for L = 1, 7, 64, 67
 * at pos 0 and after a filled cache, MHA / GQA / MQA, RoPE none / full / partial, windows
 * none / 1 / 3, head dims 8, 32, 64 (and 128), and the decode step; also separate q/k/v buffers,
 * caches written out of place, other schedules, RoPE at position ~40000, and a ring cache
 * (windowed attention at positions past T). q, k, v are column windows of one fused
 * q|k|v row.
 */
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_LIMITS } from "../../compiler/codegen/index.ts";
import { attentionGraph, type AttentionCase } from "./attention-graphs.ts";
import { runNode } from "./harness.ts";

const TOL = 1e-4;
const LENGTHS = [1, 7, 64, 67];

type Shape = Omit<AttentionCase, "S" | "T">;
const CASES: readonly [string, Shape][] = [
  ["MHA, D = 8, full RoPE", { H: 2, Hkv: 2, D: 8, rotary: 8 }],
  ["GQA 4/2, D = 32, partial RoPE, window 3", { H: 4, Hkv: 2, D: 32, rotary: 16, window: 3 }],
  ["MQA 3/1, D = 64, no RoPE", { H: 3, Hkv: 1, D: 64 }],
  ["MQA 4/1, D = 64, full RoPE, window 1", { H: 4, Hkv: 1, D: 64, rotary: 64, window: 1 }],
  ["GQA 6/3, D = 8, partial RoPE (2 dims), window 3", { H: 6, Hkv: 3, D: 8, rotary: 2, window: 3 }],
];

const T = 150;

/** The largest error of each result over the file (printed at the end, for the record). */
const worst = [0, 0, 0];
afterAll(() => console.log(`attention: worst normwise errors o ${worst[0]!.toExponential(2)}, k cache ${worst[1]!.toExponential(2)}, v cache ${worst[2]!.toExponential(2)}`));

async function check(c: AttentionCase, L: number, pos: number, schedule?: Record<string, number>): Promise<number[]> {
  const tg = attentionGraph(c);
  const r = await runNode(tg.graph, tg.node, tg.feedAt(L, pos, 7000 + 31 * L + pos), schedule ? { schedule } : {});
  const caches = r.spec.bindings.filter((b) => b.access !== "uniform" && b.buffer.startsWith("state:"));
  if (!c.outOfPlace) expect(caches).toMatchObject([{ access: "read_write" }, { access: "read_write" }]);
  r.errors.forEach((e, i) => (worst[i] = Math.max(worst[i]!, e)));
  expect(r.errors[0], "o").toBeLessThanOrEqual(TOL);
  expect(r.errors[1], "k cache").toBeLessThanOrEqual(TOL);
  expect(r.errors[2], "v cache").toBeLessThanOrEqual(TOL);
  return [...r.errors];
}

describe("attention family", () => {
  describe.each(CASES)("%s", (_, c) => {
    it.each(LENGTHS)("attention, L = %i, pos = 0", async (L) => void (await check({ ...c, S: "L", T }, L, 0)));
    it.each(LENGTHS)("attention, L = %i, pos = 19 (filled cache)", async (L) => void (await check({ ...c, S: "L", T }, L, 19)));
    it("attention_decode at pos 0 and 83", async () => {
      await check({ ...c, S: 1, T }, 1, 0);
      await check({ ...c, S: 1, T }, 1, 83);
    });
  });

  it("decode at the last cache row; prefill filling the cache exactly", async () => {
    await check({ H: 4, Hkv: 2, D: 32, rotary: 32, window: 3, S: 1, T: 40 }, 1, 39);
    await check({ H: 4, Hkv: 2, D: 32, rotary: 32, S: "L", T: 70 }, 67, 3);
  });

  it("a ring cache: windowed attention far past its T rows (row = position mod T)", async () => {
    // Needs min(pos, W - 1) + S <= T: 4 + 7 = 11 of 12 rows; 4 + 8 = 12 exactly.
    await check({ H: 4, Hkv: 2, D: 32, rotary: 16, window: 5, S: "L", T: 12 }, 7, 30);
    await check({ H: 4, Hkv: 2, D: 32, rotary: 16, window: 5, S: "L", T: 12 }, 8, 29);
    await check({ H: 3, Hkv: 1, D: 64, window: 5, outOfPlace: true, S: "L", T: 12 }, 7, 33);
    await check({ H: 4, Hkv: 1, D: 8, rotary: 8, window: 12, S: 1, T: 12 }, 1, 1000);
    await check({ H: 2, Hkv: 2, D: 8, window: 3, outOfPlace: true, S: 1, T: 5 }, 1, 17);
  });

  it("head dim 128, split over 4 invocations of 32 dims (the default), GQA 8/2, partial RoPE", async () => {
    await check({ H: 8, Hkv: 2, D: 128, rotary: 64, S: "L", T }, 67, 19);
    await check({ H: 8, Hkv: 2, D: 128, rotary: 64, window: 3, S: 1, T }, 1, 100);
    // and unsplit: one invocation holding all 128 dims (the schedule before the split)
    await check({ H: 8, Hkv: 2, D: 128, rotary: 64, S: "L", T }, 67, 19, { ds: 1, bk: 8 });
  });

  it("head splits agree with the whole head: D = 96 in 3, D = 32 in 2 and 8, decode, windows, prime lengths", async () => {
    await check({ H: 2, Hkv: 1, D: 96, rotary: 32, window: 3, S: "L", T }, 67, 19);
    await check({ H: 4, Hkv: 2, D: 32, rotary: 16, S: "L", T }, 67, 0, { ds: 2 });
    await check({ H: 4, Hkv: 2, D: 32, rotary: 32, window: 3, S: "L", T }, 7, 19, { ds: 8, tq: 2, bk: 3 });
    await check({ H: 3, Hkv: 1, D: 8, S: 1, T }, 1, 83, { ds: 2 });
    await check({ H: 4, Hkv: 2, D: 32, rotary: 16, outOfPlace: true, S: "L", T: 90 }, 1, 30, { ds: 4 });
  });

  it("the head split: 1 up to D = 64, then at most 32 dims per invocation", async () => {
    const { headSplit } = await import("../../compiler/codegen/wgsl/attention.ts");
    expect([8, 64, 80, 96, 128, 256].map(headSplit)).toEqual([1, 1, 4, 3, 4, 8]);
  });

  it("separate q, k, v buffers and caches written out of place", async () => {
    await check({ H: 4, Hkv: 2, D: 8, rotary: 4, window: 3, separate: true, S: "L", T: 90 }, 67, 11);
    await check({ H: 4, Hkv: 1, D: 32, rotary: 32, outOfPlace: true, S: "L", T: 90 }, 7, 30);
    await check({ H: 2, Hkv: 2, D: 8, outOfPlace: true, S: 1, T: 20 }, 1, 5);
  });

  it("other schedules agree: one query per workgroup, small key blocks", async () => {
    await check({ H: 4, Hkv: 2, D: 32, rotary: 16, window: 3, S: "L", T }, 67, 19, { tq: 1, bk: 1 });
    await check({ H: 3, Hkv: 1, D: 64, S: "L", T }, 64, 19, { tq: 2, bk: 4 });
    await check({ H: 4, Hkv: 1, D: 8, rotary: 8, S: 1, T }, 1, 70, { bk: 3 });
  });

  it("RoPE stays exact far into the context (angles reduced mod 2 pi in integer arithmetic)", async () => {
    const [, kErr] = await check({ H: 2, Hkv: 1, D: 32, rotary: 32, S: "L", T: 40000 }, 7, 39990);
    expect(kErr).toBeLessThanOrEqual(1e-6);
  });

  it("head dims fit workgroup memory at the default limits", async () => {
    const { attentionProblem, attentionSchedule } = await import("../../compiler/codegen/wgsl/attention.ts");
    const { requestFromGraph } = await import("../../compiler/codegen/index.ts");
    for (const D of [8, 64, 128, 256]) {
      const tg = attentionGraph({ H: 8, Hkv: 2, D, S: "L", T: 16 });
      const s = attentionSchedule(DEFAULT_LIMITS, attentionProblem(requestFromGraph(tg.graph, tg.node)), []);
      const WG = s.tq * 4 * s.ds;
      expect(s.bk * D * 8 + (s.ds > 1 ? 4 * WG * s.bk : 0)).toBeLessThanOrEqual(DEFAULT_LIMITS.maxComputeWorkgroupStorageSize);
      expect(WG).toBeLessThanOrEqual(DEFAULT_LIMITS.maxComputeInvocationsPerWorkgroup);
      expect(D / s.ds).toBeLessThanOrEqual(D <= 64 ? 64 : 32);
    }
  });
});
