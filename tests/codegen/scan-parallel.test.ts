/**
 * The chunk-parallel scans (passes/parallel-scan.ts, ir/chunk-ops.ts): selective_scan and ssd
 * split into *_chunk_state, scan_state_pass and *_chunk_output.
 *  - interp: the three phases composed equal the unsplit op's own interp (1e-12, float64);
 *  - GPU: the three kernels run in order on the adapter (what a phase reads of an earlier one
 *    comes from its kernel) against interp, y and the final state updated in place from a
 *    nonzero initial state;
 * at L = 1, Q - 1, Q, Q + 1 and a prime over 2Q (Q = 16: 37), and the default Q = 64 at L = 131,
 * with Mamba-1's inner norms off and on (vec4 and scalar state rows) and every SSD epilogue
 * (none, gate, gate_norm with a norm group under P, norm_gate).
 * The whole-model checks (a build with `scan: "chunked-parallel"` against the sequential
 * build, prefill then decode against step-by-step decode) are in scan-parallel-model.test.ts.
 */
import { describe, expect, it } from "vitest";
import { evaluate } from "../../compiler/interp/index.ts";
import { relError } from "../../compiler/interp/index.ts";
import { slotWords } from "../../compiler/ir/chunk-ops.ts";
import type { Graph } from "../../compiler/ir/graph.ts";
import { accesses } from "../../compiler/plan/traffic.ts";
import { layouts } from "../../compiler/plan/views.ts";
import { SCAN_CHUNK, splitScans } from "../../compiler/passes/parallel-scan.ts";
import { scanGraph, type ScanCase, type TestGraph } from "./graphs.ts";
import { runNodes } from "./harness.ts";
import { ssdGraph, type SsdCase } from "./ssd-graphs.ts";

const TOL = 1e-4;
const Q = 16;
const LENGTHS = [1, Q - 1, Q, Q + 1, 37];
const PHASES = ["selective_scan_chunk_state", "ssd_chunk_state", "scan_state_pass", "selective_scan_chunk_output", "ssd_chunk_output"];

const SCANS: readonly [string, ScanCase][] = [
  ["Mamba-1, N = 16 (vec4), R = 4", { S: "L", Di: 36, N: 16, R: 4 }],
  ["Mamba-1, N = 16, R = 3, inner norms", { S: "L", Di: 20, N: 16, R: 3, innerNorms: true }],
  ["Mamba-1, N = 6 (scalar), inner norms", { S: "L", Di: 10, N: 6, R: 2, innerNorms: true }],
];

const SSDS: readonly [string, SsdCase][] = [
  ["Mamba-2, N = 16, none", { S: "L", H: 4, P: 8, G: 1, N: 16, epilogue: "none" }],
  ["Mamba-2, N = 16, G = 2, gate", { S: "L", H: 6, P: 4, G: 2, N: 16, epilogue: "gate" }],
  ["Mamba-2, N = 16, G = 2, gate_norm (group 4 < P = 8)", { S: "L", H: 4, P: 8, G: 2, N: 16, epilogue: "gate_norm", group: 4 }],
  ["Mamba-2, N = 16, norm_gate (group 2 < P = 4)", { S: "L", H: 2, P: 4, G: 1, N: 16, epilogue: "norm_gate", group: 2 }],
  ["Mamba-2, N = 6 (scalar), gate_norm", { S: "L", H: 2, P: 4, G: 1, N: 6, epilogue: "gate_norm" }],
];

const CASES: readonly [string, TestGraph][] = [...SCANS.map(([n, c]) => [n, scanGraph(c)] as [string, TestGraph]), ...SSDS.map(([n, c]) => [n, ssdGraph(c)] as [string, TestGraph])];

/** The split graph and its three phase nodes, in order. */
function split(tg: TestGraph, chunk: number): { graph: Graph; phases: number[] } {
  const graph = splitScans(tg.graph, chunk);
  const phases = graph.nodes.filter((n) => PHASES.includes(n.op)).map((n) => n.id);
  expect(phases.map((id) => graph.nodes[id]!.op.replace(/^(selective_scan|ssd)_/, ""))).toEqual(["chunk_state", "scan_state_pass", "chunk_output"]);
  return { graph, phases };
}

/** y and the final state of a graph's outputs. */
function outputs(g: Graph, feed: ReturnType<TestGraph["feed"]>): Float64Array[] {
  const values = evaluate(g, feed);
  return ["y", "layers.0.ssm"].map((name) => {
    const o = g.outputs.find((x) => x.name === name)!.value;
    return values[o.node]![o.index]!.data;
  });
}

describe("chunk-parallel scans", () => {
  describe.each(CASES)("%s", (_, tg) => {
    it(`interp: the three phases equal the unsplit op (Q = ${Q} at L = ${LENGTHS.join(", ")}; Q = ${SCAN_CHUNK} at L = 131)`, () => {
      for (const [chunk, L] of [...LENGTHS.map((L) => [Q, L] as const), [SCAN_CHUNK, 131] as const]) {
        const feed = tg.feed(L, 5000 + L);
        const [y, h] = outputs(tg.graph, feed);
        const [y2, h2] = outputs(split(tg, chunk).graph, feed);
        expect(relError(y2!, y!), `y, Q = ${chunk}, L = ${L}`).toBeLessThanOrEqual(1e-12);
        expect(relError(h2!, h!), `state, Q = ${chunk}, L = ${L}`).toBeLessThanOrEqual(1e-12);
      }
    });

    it.each([...LENGTHS.map((L) => [Q, L]), [SCAN_CHUNK, 131]])("GPU: Q = %i, L = %i", async (chunk, L) => {
      const { graph, phases } = split(tg, chunk!);
      const r = await runNodes(graph, phases, tg.feed(L!, 6000 + L!));
      expect(r.spec.bindings.filter((b) => b.access !== "uniform" && b.buffer === "state:layers.0.ssm")).toMatchObject([{ access: "read_write", role: "state" }]);
      expect(r.errors[0], "y").toBeLessThanOrEqual(TOL);
      expect(r.errors[1], "state").toBeLessThanOrEqual(TOL);
    });
  });

  it("traffic: the phases touch only the slots in use; chunk_state reads no C, z or state, chunk_output h0 only with one chunk", () => {
    const tg = ssdGraph({ S: "L", H: 2, P: 4, G: 1, N: 8, epilogue: "gate" });
    const { graph, phases } = split(tg, Q);
    const slot = 4 * slotWords([2, 4, 8], Q);
    const at = (L: number) => {
      const lay = layouts(graph, L);
      return phases.map((id) => accesses(graph, lay, graph.nodes[id]!, 0));
    };
    // L = 37: nc = 3, so 2 local states, 3 incoming states.
    const [state, pass, output] = at(37);
    const bytes = (xs: typeof state, write: boolean) => xs!.filter((x) => x.write === write).reduce((n, x) => n + x.bytes, 0);
    expect(bytes(state, true)).toBe(2 * slot);
    expect(state!.filter((x) => !x.write)).toHaveLength(5);
    expect(bytes(pass, true)).toBe(3 * slot);
    expect(output!.filter((x) => !x.write)).toHaveLength(tg.graph.nodes[tg.node]!.inputs.length); // all but h0, plus inc
    // L = 7: one chunk, no slots; the output reads h0.
    const [state1, pass1, output1] = at(7);
    expect(bytes(state1, true)).toBe(0);
    expect(pass1).toEqual([]);
    expect(output1!.filter((x) => !x.write).some((x) => x.bytes === 4 * 2 * 4 * 8)).toBe(true);
  });

  it("leaves decode and prefill scans no longer than a chunk alone", () => {
    const decode = scanGraph({ S: 1, Di: 8, N: 4, R: 2 }).graph;
    expect(splitScans(decode)).toBe(decode);
    const short = ssdGraph({ S: Q, H: 2, P: 4, G: 1, N: 4, epilogue: "none" }).graph;
    expect(splitScans(short, Q).nodes.some((n) => n.op === "ssd")).toBe(true);
    expect(splitScans(short, Q / 2).nodes.some((n) => n.op === "ssd")).toBe(false);
  });
});
