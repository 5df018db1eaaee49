/**
 * Helpers of the f16 tests: f16 rounding of weights, a graph whose weights are stored in f16
 * (what lowering emits for `dtype = f16`), and small derived versions of the canonical specs.
 */
import type { Graph, Node } from "../../compiler/ir/graph.ts";
import { verify } from "../../compiler/ir/verify.ts";
import { f16ToNumber, f32ToF16 } from "../../runtime/artifact/dtypes.ts";

/** x rounded to the nearest IEEE half (ties to even), as a number. */
export const toHalf = (x: number): number => f16ToNumber(f32ToF16(x));

/** Every value of every array rounded to f16 (the weights as an f16 model stores them). */
export function halfValues<T extends Float64Array | Float32Array>(weights: Readonly<Record<string, T>>): Record<string, Float64Array> {
  return Object.fromEntries(Object.entries(weights).map(([k, v]) => [k, Float64Array.from(v, toHalf)]));
}

const VIEWS = new Set(["reshape", "slice", "broadcast_to"]);

/**
 * `g` with every weight stored in f16: weight nodes f16, views of them f16 too (they are windows
 * of the same buffer); every computed value keeps its f32 type (f16 computes in f32). Verified.
 */
export function halfWeights(g: Graph): Graph {
  const half = new Set<number>();
  const nodes = g.nodes.map((n): Node => {
    if (n.op === "weight") {
      half.add(n.id);
      const type = { ...n.attrs.type, dtype: "f16" as const };
      return { ...n, attrs: { ...n.attrs, type }, results: [type] };
    }
    if (VIEWS.has(n.op) && half.has(n.inputs[0]!.node)) {
      half.add(n.id);
      return { ...n, results: n.results.map((t) => ({ ...t, dtype: "f16" as const })) } as Node;
    }
    return n;
  });
  const out = { ...g, nodes };
  verify(out);
  return out;
}

/**
 * A canonical spec made small enough for a test (d_model 96, 2 repeats of its layer pattern,
 * context 64, MLP hidden 128, window 16), keeping every block kind and option it uses, with
 * `dtype` set. 96 is divisible by every head count of the specs (12, 8, 4) and, expanded, by
 * every headdim (32, 64).
 */
export function derivedSpec(text: string, dtype: "f32" | "f16"): string {
  const out = text
    .replace(/d_model = \d+/, `d_model = 96\n  dtype = ${dtype}`)
    .replace(/context = \d+/, "context = 64")
    .replace(/hidden = \d+/g, "hidden = 128")
    .replace(/window = \d+/g, "window = 16")
    .replace(/layers = \d+ \*/, "layers = 2 *");
  if (!out.includes(`dtype = ${dtype}`)) throw new Error("derivedSpec: the spec has no d_model line");
  return out;
}
